"""MS-G3D (Liu et al., CVPR 2020) as configured in PYSKL, in plain PyTorch.

Three stages (96, 192, 384 channels; temporal stride 2 in stages 2 and 3).  Each stage sums
two pathways and applies a multi-scale temporal convolution:

* a multi-scale spatial GCN (13 hop scales of the adjacency, ``I + [hop == d]``
  column-normalised, plus a learned offset) followed by two multi-scale TCNs;
* "G3D": the skeletons of a window of 3 (and of 5) consecutive frames form one space-time
  graph with 6 hop scales; a GCN over it, then a ``(window, 1)`` collapse back to V joints.

Speed: every GCN is one batched GEMM in the channels-last layout (its output lands in the
(scale, channel) order the following 1x1 MLP expects); the window collapse, a Conv3d in
PYSKL, is a Conv2d along the joint axis with dilation V, so all convolutions stay on oneDNN.

Example:
    >>> import torch
    >>> from flag3d.models.msg3d import MSG3D
    >>> net = MSG3D("coco17", in_channels=3, base_channels=12).eval()
    >>> tuple(net(torch.randn(2, 1, 20, 17, 3)).shape)
    (2, 1, 48, 5, 17)
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from flag3d.models.layers import ConvBN, DataBN, MultiScaleTCN, shared_bmm, to_cl
from flag3d.skeleton.graph import build_graph, normalize_columns


def hop_scales(adjacency: np.ndarray, num_scales: int) -> np.ndarray:
    """``(num_scales, V, V)``: identity, then column-normalised ``I + [hop == d]`` for d >= 1."""
    v = adjacency.shape[0]
    eye = np.eye(v)
    reach = [eye]  # reach[d]: joints within d hops (with self-loops)
    step = np.minimum(adjacency + eye, 1.0)
    for _ in range(1, num_scales):
        reach.append(np.minimum(reach[-1] @ step, 1.0))
    out = [eye]
    for d in range(1, num_scales):
        exact = reach[d] - reach[d - 1]
        out.append(normalize_columns(exact + eye))
    return np.stack(out).astype(np.float32)


class MultiScaleGraphConv(nn.Module):
    """``relu(BN(conv1x1(concat_k x @ (A_k + PA_k))))`` (+ optional residual), one GEMM.

    Args:
        in_channels, out_channels: channels.
        scales: ``(K, V, V)`` fixed multi-scale adjacency (``x @ A[k]`` convention).
        residual: add ``x`` (or a 1x1 conv + BN of it) before the ReLU.
    """

    def __init__(self, in_channels: int, out_channels: int, scales: torch.Tensor,
                 residual: bool = False) -> None:
        super().__init__()
        self.num_scales, self.num_nodes = int(scales.shape[0]), int(scales.shape[-1])
        self.register_buffer("A", scales.clone())
        self.PA = nn.Parameter(torch.empty_like(scales).uniform_(-1e-6, 1e-6))
        self.mlp = ConvBN(in_channels * self.num_scales, out_channels, 1)
        self.res: Optional[nn.Module] = None
        self.identity_res = residual and in_channels == out_channels
        if residual and not self.identity_res:
            self.res = ConvBN(in_channels, out_channels, 1)

    def aggregate(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, K*C, T, U)`` channels-last with channel index ``k*C + c``."""
        n, c, t, v = x.shape
        a = self.A + self.PA  # (K, V, U)
        g = a.permute(2, 0, 1).reshape(v * self.num_scales, v)  # G[u*K + k, v]
        xl = x.permute(0, 2, 3, 1).reshape(n * t, v, c)
        z = shared_bmm(g.to(xl.dtype), xl)  # (N*T, U*K, C)
        return z.view(n, t, v, self.num_scales * c).permute(0, 3, 1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.mlp(self.aggregate(to_cl(x)))
        if self.identity_res:
            out = out + x
        elif self.res is not None:
            out = out + self.res(x)
        return torch.relu(out)


class G3DPathway(nn.Module):
    """One G3D window size: unfold windows, space-time multi-scale GCN, collapse windows.

    Args:
        in_channels, out_channels: channels (the GCN keeps ``in_channels`` except in the
            first stage, whose input has only the coordinates).
        adjacency: ``(V, V)`` 0/1 joint adjacency.
        num_scales: hop scales of the space-time graph.
        window, stride, dilation: temporal window of the unfolding.
    """

    def __init__(self, in_channels: int, out_channels: int, adjacency: np.ndarray,
                 num_scales: int, window: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        v = adjacency.shape[0]
        self.window, self.stride, self.dilation, self.num_joints = window, stride, dilation, v
        self.pad = (window + (window - 1) * (dilation - 1) - 1) // 2
        # Every joint of every frame in the window links to itself and its neighbours in
        # all frames of the window (PYSKL's tiled ``A + I``).
        big = np.tile(adjacency + np.eye(v), (window, window))
        mid = out_channels if in_channels == 3 else in_channels
        scales = torch.from_numpy(hop_scales(big, num_scales))
        self.gcn = MultiScaleGraphConv(in_channels, mid, scales)
        # PYSKL's Conv3d (1, window, 1) == Conv2d over the (window*V) axis with dilation V.
        self.collapse = ConvBN(mid, out_channels, (1, window), dilation=(1, v))

    def unfold(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, T', window*V)`` channels-last windows of ``x`` (N, C, T, V)."""
        n, c, t, v = x.shape
        xl = F.pad(x.permute(0, 2, 3, 1), (0, 0, 0, 0, self.pad, self.pad))  # (N, T+2p, V, C)
        span = (self.window - 1) * self.dilation + 1
        t_out = (xl.shape[1] - span) // self.stride + 1
        sn, st, sv, sc = xl.stride()
        win = xl.as_strided((n, t_out, self.window, v, c),
                            (sn, st * self.stride, st * self.dilation, sv, sc))
        return win.reshape(n, t_out, self.window * v, c).permute(0, 3, 1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.collapse(self.gcn(self.unfold(x)))


class MultiWindowG3D(nn.Module):
    """Sum of G3D pathways with windows 3 and 5 (PYSKL's ``MW_MSG3DBlock``)."""

    def __init__(self, in_channels: int, out_channels: int, adjacency: np.ndarray,
                 num_scales: int, stride: int, windows: Sequence[int] = (3, 5)) -> None:
        super().__init__()
        self.paths = nn.ModuleList(
            G3DPathway(in_channels, out_channels, adjacency, num_scales, w, stride)
            for w in windows
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.paths[0](x)
        for p in self.paths[1:]:
            out = out + p(x)
        return out


class MSG3DStage(nn.Module):
    """``tcn(relu(sgcn(x) + g3d(x)))`` with ``sgcn = MS-GCN -> MS-TCN -> MS-TCN (no act)``."""

    def __init__(self, in_channels: int, out_channels: int, adjacency: np.ndarray,
                 gcn_scales: torch.Tensor, g3d_scales: int, stride: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        first = in_channels == 3
        mid = out_channels if first else in_channels
        self.g3d = MultiWindowG3D(in_channels, out_channels, adjacency, g3d_scales, stride)
        self.gcn = MultiScaleGraphConv(in_channels, mid, gcn_scales)
        self.tcn_a = MultiScaleTCN(mid, out_channels, stride=stride)
        self.tcn_b = MultiScaleTCN(out_channels, out_channels, act=False)
        self.tcn = MultiScaleTCN(out_channels, out_channels, dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.tcn_b(self.tcn_a(self.gcn(x)))
        return self.tcn(torch.relu(s + self.g3d(x)))


class MSG3D(nn.Module):
    """The MS-G3D backbone: ``(N, M, T, V, C)`` -> features ``(N, M, 4*base, T/4, V)``.

    Args:
        layout: joint layout name (its 0/1 adjacency builds every graph).
        in_channels: coordinates (+ score) per joint.
        num_persons: person slots M (``data_bn="MVC"`` keeps statistics per slot).
        base_channels: channels of stage 1 (96 in PYSKL); stages 2 and 3 double them.
        num_gcn_scales, num_g3d_scales: hop scales of the spatial and space-time graphs.
        data_bn: ``"MVC"`` (PYSKL), ``"VC"`` or ``None``.
        dropout: dropout of each stage's last temporal convolution.
    """

    def __init__(self, layout: str, in_channels: int = 3, num_persons: int = 1,
                 base_channels: int = 96, num_gcn_scales: int = 13, num_g3d_scales: int = 6,
                 data_bn: Optional[str] = "MVC", dropout: float = 0.0) -> None:
        super().__init__()
        adjacency = build_graph(layout, "adjacency")[0].astype(np.float64)
        self.layout = layout
        v = adjacency.shape[0]
        self.data_bn = DataBN(v, in_channels, num_persons, data_bn)
        gcn_scales = torch.from_numpy(hop_scales(adjacency, num_gcn_scales))
        c1, c2, c3 = base_channels, 2 * base_channels, 4 * base_channels
        self.stages = nn.ModuleList([
            MSG3DStage(in_channels, c1, adjacency, gcn_scales, num_g3d_scales, 1, dropout),
            MSG3DStage(c1, c2, adjacency, gcn_scales, num_g3d_scales, 2, dropout),
            MSG3DStage(c2, c3, adjacency, gcn_scales, num_g3d_scales, 2, dropout),
        ])
        self.out_channels = c3
        self.num_joints = v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, m = x.shape[:2]
        y = self.data_bn(x)
        for stage in self.stages:
            y = stage(y)
        return y.reshape((n, m) + tuple(y.shape[1:]))

