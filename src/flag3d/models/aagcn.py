"""2s-AGCN / AAGCN (Shi et al., CVPR 2019 / TIP 2020) as configured in PYSKL, plain PyTorch.

Ten blocks like ST-GCN (channels 64..256, temporal stride 2 at blocks 5 and 8), but the
graph unit learns its adjacency: per subset k, ``A_k + alpha * tanh(theta(x)^T phi(x))``
(a shared learned graph plus a data-dependent one), and each unit ends with the
spatial -> temporal -> channel attention of AAGCN (``y <- y * (1 + sigmoid(.))`` three
times).  Data BN per person slot (``MVC``), graph mode ``spatial``.

Speed: the K per-subset 1x1 convolutions (``conv_d``) commute with the joint mixing, so they
run as one convolution before it and the K per-sample aggregations become one batched GEMM;
the 2K embedding convolutions run as one; the three attention vectors are computed from
two reductions over the feature map and applied in two multiplications.

Example:
    >>> import torch
    >>> from flag3d.models.aagcn import AAGCN
    >>> net = AAGCN("coco17", in_channels=3).eval()
    >>> tuple(net(torch.randn(2, 1, 20, 17, 3)).shape)
    (2, 1, 256, 5, 17)
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from flag3d.models.layers import (
    BlockBackbone,
    ResidualBlock,
    ConvBN,
    DataBN,
    TemporalConv,
    add_,
    bn_scale_shift,
    graph_tensor,
    init_conv,
    relu_,
    shared_bmm,
    stage_channels,
)


class AdaptiveGraphConv(nn.Module):
    """PYSKL's ``unit_aagcn``: adaptive graph convolution + STC attention.

    Args:
        in_channels, out_channels: channels.
        A: ``(K, V, V)`` initial adjacency (learned).
        embed_ratio: ``out_channels // embed_ratio`` channels for the graph embeddings.
        adaptive: learn the data-dependent graph (else only the fixed ``A``).
        attention: apply the spatial/temporal/channel attention.
    """

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor, embed_ratio: int = 4,
                 adaptive: bool = True, attention: bool = True) -> None:
        super().__init__()
        k, v = int(A.shape[0]), int(A.shape[-1])
        self.num_subsets, self.num_joints, self.out_channels = k, v, out_channels
        self.inter = out_channels // embed_ratio
        self.adaptive, self.attention = adaptive, attention
        # conv_d of all subsets as one (K*C', C) weight; their biases add up after the sum.
        self.weight = nn.Parameter(torch.empty(k * out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(k, out_channels))
        # PYSKL's ConvBranch init: normal with std sqrt(2 / (C' * C * K)).
        nn.init.normal_(self.weight, 0.0, math.sqrt(2.0 / (out_channels * in_channels * k)))
        if adaptive:
            self.A = nn.Parameter(A.clone())
            self.alpha = nn.Parameter(torch.zeros(1))
            self.embed = nn.Conv2d(in_channels, 2 * k * self.inter, 1)  # (a_1..a_K, b_1..b_K)
            init_conv(self.embed)
        else:
            self.register_buffer("A", A.clone())
        if attention:
            ker = v if v % 2 else v - 1
            self.conv_sa = nn.Conv1d(out_channels, 1, ker, padding=(ker - 1) // 2)
            self.conv_ta = nn.Conv1d(out_channels, 1, 9, padding=4)
            self.fc1c = nn.Linear(out_channels, out_channels // 2)
            self.fc2c = nn.Linear(out_channels // 2, out_channels)
            nn.init.xavier_normal_(self.conv_sa.weight)
            nn.init.zeros_(self.conv_sa.bias)
            nn.init.zeros_(self.conv_ta.weight)
            nn.init.zeros_(self.conv_ta.bias)
            nn.init.kaiming_normal_(self.fc1c.weight)
            nn.init.zeros_(self.fc1c.bias)
            nn.init.zeros_(self.fc2c.weight)
            nn.init.zeros_(self.fc2c.bias)
        self.down: Optional[nn.Module] = (
            ConvBN(in_channels, out_channels, 1) if in_channels != out_channels else None
        )
        self.bn = nn.BatchNorm2d(out_channels)
        nn.init.constant_(self.bn.weight, 1e-6)

    def graphs(self, x: torch.Tensor) -> torch.Tensor:
        """Per-sample adjacency ``(N, K, V, V)`` (or ``(1, K, V, V)`` when not adaptive)."""
        if not self.adaptive:
            return self.A.unsqueeze(0)
        n, _, t, v = x.shape
        k, r = self.num_subsets, self.inter
        # The embedding as one GEMM per sample with output rows ordered (k, a|b, r): every
        # (sample, subset) then owns an (R*T, V) block of a and one of b, read through
        # strides; the (R, T) order of the contraction is the same for both, so no copy.
        c = x.shape[1]
        w = self.embed.weight.view(2, k, r, c).transpose(0, 1).reshape(2 * k * r, c)
        bias = self.embed.bias.view(2, k, r).transpose(0, 1).reshape(2 * k * r, 1)
        e = torch.baddbmm(bias.to(x.dtype), w.to(x.dtype).expand(n, -1, -1),
                          x.reshape(n, c, t * v))  # (N, K*2*R, T*V)
        e = e.view(n * k, 2, r * t, v)
        s = torch.bmm(e[:, 0].transpose(1, 2), e[:, 1]).view(n, k, v, v)
        s = torch.tanh(s / (t * r))
        return self.A.unsqueeze(0) + s * self.alpha

    def _attend(self, y: torch.Tensor) -> torch.Tensor:
        n, c, t, v = y.shape
        s_v = torch.sigmoid(self.conv_sa(y.mean(dim=2)))  # (N, 1, V)
        w_v = (1.0 + s_v).view(n, 1, 1, v)
        # mean over V of y * w_v, as one batched product: (N, T, 1, V) @ (N, T, V, C)
        yl = y.permute(0, 2, 3, 1)  # (N, T, V, C), free in channels-last
        m_t = torch.matmul(w_v.expand(n, t, 1, v).to(yl.dtype), yl).view(n, t, c) / v
        s_t = torch.sigmoid(self.conv_ta(m_t.transpose(1, 2)))  # (N, 1, T)
        w_t = 1.0 + s_t
        m_c = torch.bmm(w_t.to(m_t.dtype), m_t).view(n, c) / t  # mean over T of (1 + s_t) m_t
        s_c = torch.sigmoid(self.fc2c(torch.relu(self.fc1c(m_c))))
        w_tv = (w_t.view(n, 1, t, 1) * w_v).to(y.dtype)  # (N, 1, T, V)
        w_c = (1.0 + s_c).view(n, c, 1, 1).to(y.dtype)
        if torch.is_grad_enabled():
            return y * w_tv * w_c
        return y.mul_(w_tv).mul_(w_c)  # y is the unit's own fresh output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c_in, t, v = x.shape
        k, c = self.num_subsets, self.out_channels
        a = self.graphs(x)  # (N or 1, K, V, V)
        w = self.weight.flatten(1)  # (K*C', C)
        bias = self.bias.sum(0)
        if not self.training:  # fold the BN into the weights and the summed bias
            scale, shift = bn_scale_shift(self.bn)
            w = (w.view(k, c, -1) * scale.view(1, c, 1)).view(k * c, -1)
            bias = bias * scale + shift
        xl = x.permute(0, 2, 3, 1)  # (N, T, V, C), free for channels-last x
        if c_in < c:  # aggregate the input channels, then mix (k, c) -> c'
            g = a.permute(0, 3, 1, 2).reshape(a.shape[0], v * k, v)  # G[w*K + k, u]
            z = shared_bmm(g.to(xl.dtype), xl.reshape(n * t, v, c_in)).view(n, t, v, k * c_in)
            w_post = w.view(k, c, c_in).permute(1, 0, 2).reshape(c, k * c_in)
            z = F.linear(z, w_post.to(z.dtype), bias.to(z.dtype))
        else:  # mix channels of all subsets at once, then aggregate (k, u) -> w
            y = F.linear(xl, w.to(xl.dtype)).view(n * t, v * k, c)
            g = a.permute(0, 3, 2, 1).reshape(a.shape[0], v, v * k)  # G[w, u*K + k]
            z = shared_bmm(g.to(y.dtype), y).view(n, t, v, c)
            z = add_(z, bias.to(z.dtype))
        z = z.permute(0, 3, 1, 2)  # (N, C', T, V) channels-last
        if self.training:
            z = self.bn(z)
        z = relu_(add_(z, self.down(x) if self.down is not None else x))
        return self._attend(z) if self.attention else z


class AAGCNBlock(ResidualBlock):
    """``relu(tcn(gcn(x)) + residual(x))`` with the adaptive graph unit."""

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor, stride: int = 1,
                 residual: bool = True, dropout: float = 0.0, adaptive: bool = True,
                 attention: bool = True) -> None:
        super().__init__()
        self.gcn = AdaptiveGraphConv(in_channels, out_channels, A, adaptive=adaptive,
                                     attention=attention)
        self.tcn = TemporalConv(out_channels, out_channels, 9, stride=stride, dropout=dropout)
        self.set_residual(in_channels, out_channels, stride, residual)


class AAGCN(BlockBackbone):
    """The AAGCN backbone: ``(N, M, T, V, C)`` -> features ``(N, M, C', T', V)``.

    Args:
        layout: joint layout name (graph built with ``graph_mode``, default ``spatial``).
        in_channels: coordinates (+ score) per joint.
        num_persons: person slots M (``data_bn="MVC"`` keeps statistics per slot).
        base_channels, num_stages, inflate_stages, down_stages: PYSKL's 10-block layout.
        data_bn: ``"MVC"`` (PYSKL's default), ``"VC"`` or ``None``.
        adaptive, attention: the two AAGCN additions (off and off = 2s-AGCN's fixed graph).
        dropout: temporal dropout (not in the first block).
    """

    def __init__(self, layout: str, in_channels: int = 3, num_persons: int = 1,
                 graph_mode: str = "spatial", base_channels: int = 64, num_stages: int = 10,
                 inflate_stages: Sequence[int] = (5, 8), down_stages: Sequence[int] = (5, 8),
                 data_bn: Optional[str] = "MVC", adaptive: bool = True, attention: bool = True,
                 dropout: float = 0.0) -> None:
        super().__init__()
        A = graph_tensor(layout, graph_mode)
        self.layout, self.graph_mode = layout, graph_mode
        self.data_bn = DataBN(A.shape[-1], in_channels, num_persons, data_bn)
        chans = stage_channels(base_channels, num_stages, inflate_stages)
        blocks = []
        c_in = in_channels
        for i, c_out in enumerate(chans, start=1):
            if i == 1 and in_channels == base_channels:
                continue
            blocks.append(AAGCNBlock(c_in, c_out, A, stride=1 + (i in down_stages),
                                     residual=i > 1, dropout=0.0 if i == 1 else dropout,
                                     adaptive=adaptive, attention=attention))
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = c_in
        self.num_joints = int(A.shape[-1])
