"""CTR-GCN (Chen et al., ICCV 2021) as configured in PYSKL, in plain PyTorch.

Channel-wise topology refinement: for every adjacency subset k, the unit computes a
per-sample, per-channel graph ``A_k + alpha * conv4(tanh(phi(x)_u - psi(x)_v))`` (phi, psi
are 1x1 convolutions to ``C/8`` channels averaged over time) and aggregates the features
``conv3_k(x)`` of every channel over its own graph.  Ten blocks (64..256 channels, stride 2
at blocks 5 and 8), each followed by a multi-scale temporal convolution (kernel 5, dilations
1 and 2, plus max-pool and 1x1 branches).  Data BN per person slot, graph mode ``spatial``.

Speed: this unit works in (N, C, T, V) order, where every (sample, channel) owns a
contiguous ``(T, V)`` map.  ``conv1``/``conv2`` are linear, so they run after the mean over
time (on ``(N, C, V)`` instead of the whole sequence); the K ``conv3`` run as one GEMM per
sample with rows ordered (channel, subset) and without their bias (it is added after the
aggregation, through the graphs' column sums, instead of being broadcast into the GEMM
output).  Without autograd, conv3, the per-channel graphs and the aggregation run one
sample at a time (:meth:`ChannelTopologyGraphConv._aggregate_per_sample`): the aggregation is
K batched GEMMs ``(T, V) @ (V, V)`` over the channels accumulated in place into the output,
and a sample's conv3 output and graphs (a few MB) are still in the CPU cache when they are
read, where batch-wide tensors of up to 31 MB each were not (1.15-1.26x faster forward in
interleaved A/B runs).  BatchNorm folds into ``conv3`` in eval mode.

Example:
    >>> import torch
    >>> from flag3d.models.ctrgcn import CTRGCN
    >>> net = CTRGCN("coco17", in_channels=3).eval()
    >>> tuple(net(torch.randn(2, 1, 20, 17, 3)).shape)
    (2, 1, 256, 5, 17)
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch
from torch import nn

from flag3d.models.layers import (
    BlockBackbone,
    ResidualBlock,
    ConvBN,
    DataBN,
    MultiScaleTCN,
    add_,
    bn_scale_shift,
    graph_tensor,
    init_conv,
    relu_,
    stage_channels,
)


class ChannelTopologyGraphConv(nn.Module):
    """PYSKL's ``unit_ctrgcn`` (K ``CTRGC`` modules summed, BN, residual, ReLU).

    Args:
        in_channels, out_channels: channels.
        A: ``(K, V, V)`` initial adjacency (learned, shared by all channels).
        rel_reduction: ``C / rel_reduction`` relation channels (8 when ``C <= 16``).
    """

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor,
                 rel_reduction: int = 8) -> None:
        super().__init__()
        k, v = int(A.shape[0]), int(A.shape[-1])
        self.num_subsets, self.num_joints, self.out_channels = k, v, out_channels
        self.rel = 8 if in_channels <= 16 else in_channels // rel_reduction
        self.A = nn.Parameter(A.clone())
        self.alpha = nn.Parameter(torch.zeros(1))
        self.rel_conv = nn.Conv2d(in_channels, 2 * k * self.rel, 1)  # conv1/conv2 of each k
        self.feat_conv = nn.Conv2d(in_channels, k * out_channels, 1)  # conv3 of each k
        # conv4 of each k: relation channels -> out channels, a grouped 1x1 convolution.
        self.rel_weight = nn.Parameter(torch.empty(k, out_channels, self.rel))
        self.rel_bias = nn.Parameter(torch.zeros(k, out_channels))
        for conv in (self.rel_conv, self.feat_conv):
            init_conv(conv)
        nn.init.kaiming_normal_(self.rel_weight, mode="fan_out", nonlinearity="relu")
        self.down: Optional[nn.Module] = (
            ConvBN(in_channels, out_channels, 1) if in_channels != out_channels else None
        )
        self.bn = nn.BatchNorm2d(out_channels)
        nn.init.constant_(self.bn.weight, 1e-6)

    def _relations(self, x: torch.Tensor) -> torch.Tensor:
        """``tanh(phi(x)_u - psi(x)_v)`` averaged over time: ``(N, K, R, V*V)``."""
        n = x.shape[0]
        k, r, v = self.num_subsets, self.rel, self.num_joints
        # conv1/conv2 are linear, so they commute with the mean over time: average first.
        xm = x.mean(dim=2)  # (N, C, V)
        w = self.rel_conv.weight.flatten(1)
        q = torch.baddbmm(self.rel_conv.bias.view(1, -1, 1), w.expand(n, -1, -1), xm)
        q = q.view(n, 2, k, r, v)
        rel = torch.tanh(q[:, 0].unsqueeze(-1) - q[:, 1].unsqueeze(-2))  # (N, K, R, U, V)
        return rel.reshape(n, k, r, v * v)

    def _graph_terms(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(alpha * conv4 weight (K, C', R), alpha * conv4 bias + A (K, C', V*V))``: the graphs
        are ``weight @ relations + constant``, with alpha folded into the small tensors."""
        k, v = self.num_subsets, self.num_joints
        const = (self.rel_bias * self.alpha).unsqueeze(-1) + self.A.reshape(k, 1, v * v)
        return self.rel_weight * self.alpha, const

    def graphs(self, x: torch.Tensor) -> torch.Tensor:
        """Per-sample, per-channel adjacency ``(N, K, C', V*V)``, entry ``u*V + v``."""
        w4, const = self._graph_terms()
        m = torch.matmul(w4, self._relations(x))
        return add_(m, const.to(m.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()  # this unit works on (N, C, T, V) rows, one (T, V) map per channel
        n, c_in, t, v = x.shape
        k, c = self.num_subsets, self.out_channels
        w = self.feat_conv.weight.view(k, c, c_in)
        b = self.feat_conv.bias.view(k, c)
        shift = None
        if not self.training:  # BN is per output channel: fold its scale into conv3
            scale, shift = bn_scale_shift(self.bn)
            w = w * scale.view(1, c, 1)
            b = b * scale
        # conv3 of all subsets as one GEMM per sample, rows ordered (c', k), so that every
        # (sample, channel) owns K consecutive (T, V) maps.  Its bias is constant over
        # (T, V), so it goes through the aggregation as b[k, c'] * (column sums of the graph).
        w = w.permute(1, 0, 2).reshape(c * k, c_in)
        if not torch.is_grad_enabled():
            z = self._aggregate_per_sample(x, w.to(x.dtype), b.to(x.dtype))
        else:
            z = self._aggregate_batch(x, w, b)
        if self.training:
            z = self.bn(z)
        else:
            z = add_(z, shift.to(z.dtype).view(1, c, 1, 1))
        z = add_(z, self.down(x) if self.down is not None else x)
        return relu_(z)

    def _aggregate_per_sample(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor
                              ) -> torch.Tensor:
        """conv3, graphs and aggregation one sample at a time (no autograd).

        Per sample the conv3 output and the K per-channel graphs take a few MB, so they stay
        in the CPU cache between being written and being read; batch-wide they are up to
        31 MB each (256 channels) and make the unit wait on memory.
        """
        n, c_in, t, v = x.shape
        k, c = self.num_subsets, self.out_channels
        q = self._relations(x)  # (N, K, R, V*V)
        w4, const = (term.to(x.dtype) for term in self._graph_terms())
        bk = b.t().unsqueeze(-1)  # (C', K, 1)
        z: Optional[torch.Tensor] = None
        xs = x.view(n, c_in, t * v)
        for i in range(n):
            g = torch.baddbmm(const, w4, q[i]).view(k, c, v, v)  # this sample's graphs
            y = torch.mm(w, xs[i]).view(c, k, t, v)
            if z is None:  # the GEMMs' dtype (bfloat16 under autocast)
                z = y.new_empty(n, c, t, v)
            zi = z[i]
            torch.bmm(y[:, 0], g[0], out=zi)
            for j in range(1, k):
                zi.baddbmm_(y[:, j], g[j])
            # conv3 bias through the aggregation: sum_k b[k, c'] * column sums of g[k, c']
            zi.add_((g.sum(2).transpose(0, 1) * bk).sum(1).unsqueeze(1))
        assert z is not None  # n >= 1
        return z

    def _aggregate_batch(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor
                         ) -> torch.Tensor:
        """conv3, graphs and aggregation for the whole batch (differentiable)."""
        n, c_in, t, v = x.shape
        k, c = self.num_subsets, self.out_channels
        g = self.graphs(x)  # (N, K, C', V*V)
        y = torch.bmm(w.expand(n, -1, -1), x.view(n, c_in, t * v)).view(n, c, k, t, v)
        g = g.to(y.dtype).view(n, k, c, v, v)
        z = self._aggregate_autograd(y, g)
        bias_map = torch.einsum("kc,nkcu->ncu", b.to(y.dtype), g.sum(3))
        return add_(z, bias_map.unsqueeze(2))

    @staticmethod
    def _aggregate_autograd(y: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """``z[n, c] = sum_k y[n, c, k] @ g[n, k, c]``, differentiable (one copy of g)."""
        n, c, k, t, v = y.shape
        yy = y.view(n * c, k, t, v)
        gg = g.transpose(1, 2).reshape(n * c, k, v, v)
        z = torch.bmm(yy[:, 0], gg[:, 0])
        for j in range(1, k):
            z = torch.baddbmm(z, yy[:, j], gg[:, j])
        return z.view(n, c, t, v)


class CTRGCNBlock(ResidualBlock):
    """``relu(mstcn(ctrgc(x)) + residual(x))``."""

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor, stride: int = 1,
                 residual: bool = True, kernel: int = 5, dilations: Sequence[int] = (1, 2),
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.gcn = ChannelTopologyGraphConv(in_channels, out_channels, A)
        self.tcn = MultiScaleTCN(out_channels, out_channels, kernel, stride=stride,
                                 dilations=dilations, residual=False, dropout=dropout)
        self.set_residual(in_channels, out_channels, stride, residual)


class CTRGCN(BlockBackbone):
    """The CTR-GCN backbone: ``(N, M, T, V, C)`` -> features ``(N, M, C', T', V)``.

    Args:
        layout: joint layout name (graph built with ``graph_mode``, default ``spatial``).
        in_channels: coordinates (+ score) per joint.
        num_persons: person slots M (``data_bn="MVC"`` keeps statistics per slot).
        base_channels, num_stages, inflate_stages, down_stages: PYSKL's 10-block layout.
        data_bn: ``"MVC"`` (PYSKL), ``"VC"`` or ``None``.
        kernel, dilations: the multi-scale temporal convolution.
        dropout: temporal dropout (not in the first block).
    """

    contiguous_input = True  # CTR-GCN runs in (N, C, T, V) order

    def __init__(self, layout: str, in_channels: int = 3, num_persons: int = 1,
                 graph_mode: str = "spatial", base_channels: int = 64, num_stages: int = 10,
                 inflate_stages: Sequence[int] = (5, 8), down_stages: Sequence[int] = (5, 8),
                 data_bn: Optional[str] = "MVC", kernel: int = 5,
                 dilations: Sequence[int] = (1, 2), dropout: float = 0.0) -> None:
        super().__init__()
        A = graph_tensor(layout, graph_mode)
        self.layout, self.graph_mode = layout, graph_mode
        self.data_bn = DataBN(A.shape[-1], in_channels, num_persons, data_bn)
        chans = stage_channels(base_channels, num_stages, inflate_stages)
        blocks = []
        c_in = in_channels
        for i, c_out in enumerate(chans, start=1):
            blocks.append(CTRGCNBlock(c_in, c_out, A, stride=1 + (i in down_stages),
                                      residual=i > 1, kernel=kernel, dilations=dilations,
                                      dropout=0.0 if i == 1 else dropout))
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = c_in
        self.num_joints = int(A.shape[-1])
