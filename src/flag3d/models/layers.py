"""Building blocks shared by the skeleton GCNs, written for speed on CPU.

Every tensor between blocks is ``(N, C, T, V)`` in PyTorch's *channels-last* memory format,
i.e. stored as ``(N, T, V, C)``.  That order makes the three costly steps fast:

* a 1x1 convolution is one GEMM over the channel axis of the ``(N*T*V, C)`` view
  (:func:`conv2d_cl`; PyTorch's own choice for small batches is a copying im2col path, and
  its NCHW 1x1 path measured several times slower here); temporal ``(k, 1)`` convolutions
  run on oneDNN's NHWC kernels, or at inference, where it is estimated to need under 40 %
  of the FLOPs (128-256 channels), through a real DFT over time
  (:mod:`flag3d.models.temporal_dft`);
* the graph step needs no copy: the conv output viewed as ``(N*T, V*K, C)`` is multiplied by
  one ``(V, V*K)`` matrix that holds all K adjacency subsets, in a single batched GEMM
  (``bmm`` on an expanded matrix: ``torch.matmul`` folds the batch into a transposed copy);
* BatchNorm is folded into the preceding weights in eval mode, on the fly (the fold costs
  one pass over the weights, so no cache can go stale after ``load_state_dict``); biases
  that only shift a channel are added after the aggregation, where the tensor is K times
  smaller; residual additions and ReLUs run in place when no gradient is recorded.

Units:

* :class:`ConvBN` — a convolution followed by BatchNorm (folded at inference).
* :class:`GraphConv` — PYSKL's ``unit_gcn`` (1x1 conv to K*C', aggregate over the K subsets,
  BN, optional residual, ReLU), with the ``importance``/``offset``/``init``/fixed adjacency.
* :class:`TemporalConv` — PYSKL's ``unit_tcn``: a ``(k, 1)`` convolution + BN (+ dropout).
* :class:`MultiScaleTCN` — the multi-branch dilated temporal convolution of CTR-GCN / MS-G3D.
* :class:`DataBN` — the input normalisation over (V, C) or (M, V, C) features.

Example:
    >>> import torch
    >>> from flag3d.models.layers import GraphConv, graph_tensor
    >>> A = graph_tensor("coco17", "spatial")
    >>> unit = GraphConv(3, 8, A).eval()
    >>> x = torch.randn(2, 3, 10, 17).contiguous(memory_format=torch.channels_last)
    >>> tuple(unit(x).shape)
    (2, 8, 10, 17)
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from flag3d.models.temporal_dft import can_use_dft, dft_temporal_conv, prefer_dft
from flag3d.skeleton.graph import build_graph

CL = torch.channels_last


def graph_tensor(layout: str, mode: str = "spatial", **kwargs: int) -> torch.Tensor:
    """The ``(K, V, V)`` adjacency stack of ``layout`` as a float32 tensor."""
    return torch.from_numpy(build_graph(layout, mode, **kwargs).copy()).float()


def to_cl(x: torch.Tensor) -> torch.Tensor:
    """``x`` in channels-last memory format (no copy when it already is)."""
    return x.contiguous(memory_format=CL)


def conv2d_cl(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
              stride: Tuple[int, int] = (1, 1), padding: Tuple[int, int] = (0, 0),
              dilation: Tuple[int, int] = (1, 1)) -> torch.Tensor:
    """A 2D convolution that keeps the memory format of ``x``; 1x1 kernels run as one GEMM.

    PyTorch picks its slow, copying im2col path for 1x1 convolutions of small batches on one
    thread.  A 1x1 convolution is a GEMM over the channel axis: ``F.linear`` on the
    ``(N, T, V, C)`` view of a channels-last ``x``, or ``W @ x[n]`` on the ``(C, T*V)`` view
    of a contiguous one; neither copies nor depends on that heuristic.
    """
    if weight.shape[-2:] == (1, 1) and tuple(padding) == (0, 0):
        nchw = x.is_contiguous() and not x.is_contiguous(memory_format=CL)
        if tuple(stride) != (1, 1):
            x = x[:, :, :: stride[0], :: stride[1]]
            x = x.contiguous() if nchw else to_cl(x)
        w2 = weight.flatten(1)
        if nchw:
            n, c, t, v = x.shape
            xs = x.view(n, c, t * v)
            if bias is None:
                return torch.bmm(w2.expand(n, -1, -1), xs).view(n, -1, t, v)
            out = torch.baddbmm(bias.view(1, -1, 1), w2.expand(n, -1, -1), xs)
            return out.view(n, -1, t, v)
        out = F.linear(x.permute(0, 2, 3, 1), w2, bias)
        return out.permute(0, 3, 1, 2)
    if (weight.shape[-1] == 1 and stride[1] == 1 and padding[1] == 0
            and can_use_dft(x, weight)
            and prefer_dft(x.shape[2], weight.shape[2], weight.shape[1], weight.shape[0],
                           stride=stride[0], padding=padding[0], dilation=dilation[0])):
        return dft_temporal_conv(x, weight, bias, padding=padding[0], dilation=dilation[0],
                                 stride=stride[0])
    return F.conv2d(x, weight, bias, stride, padding, dilation)


def bn_scale_shift(bn: nn.BatchNorm2d | nn.BatchNorm1d) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-channel ``(scale, shift)`` such that ``bn(x) == x * scale + shift`` in eval mode."""
    inv = torch.rsqrt(bn.running_var + bn.eps)
    scale = inv if bn.weight is None else bn.weight * inv
    shift = -bn.running_mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias
    return scale, shift


def init_conv(conv: nn.Module) -> None:
    """Kaiming (fan-out) weights and zero bias, as PYSKL initialises its convolutions."""
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    if getattr(conv, "bias", None) is not None:
        nn.init.zeros_(conv.bias)


class ConvBN(nn.Module):
    """``BN(conv(x))``; in eval mode one convolution with the BatchNorm folded in.

    Args:
        in_channels, out_channels: channels.
        kernel: ``(kt, kv)`` kernel (or an int for a square one).
        stride, padding, dilation: as :class:`torch.nn.Conv2d`.
        bias: give the convolution a bias (PYSKL's do).
        bn_init: initial BatchNorm weight (``1e-6`` zero-initialises a branch).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: Union[int, Tuple[int, int]] = 1,
                 stride: Union[int, Tuple[int, int]] = 1, padding: Union[int, Tuple[int, int]] = 0,
                 dilation: Union[int, Tuple[int, int]] = 1, bias: bool = True,
                 bn_init: float = 1.0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=padding,
                              dilation=dilation, bias=bias)
        self.bn = nn.BatchNorm2d(out_channels)
        init_conv(self.conv)
        nn.init.constant_(self.bn.weight, bn_init)

    def fused_weights(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Weight and bias of the single convolution equal to ``bn(conv(.))`` in eval mode."""
        scale, shift = bn_scale_shift(self.bn)
        w = self.conv.weight * scale.view(-1, 1, 1, 1)
        b = shift if self.conv.bias is None else self.conv.bias * scale + shift
        return w, b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.conv
        if self.training:
            return self.bn(conv2d_cl(x, c.weight, c.bias, c.stride, c.padding, c.dilation))
        w, b = self.fused_weights()
        return conv2d_cl(x, w, b, c.stride, c.padding, c.dilation)


class TemporalConv(nn.Module):
    """PYSKL's ``unit_tcn``: a ``(kernel, 1)`` convolution over time + BN (+ dropout).

    ``norm=False`` gives a plain convolution (the dilated branches of :class:`MultiScaleTCN`).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 9, stride: int = 1,
                 dilation: int = 1, dropout: float = 0.0, norm: bool = True) -> None:
        super().__init__()
        pad = (kernel + (kernel - 1) * (dilation - 1) - 1) // 2
        args = dict(stride=(stride, 1), padding=(pad, 0), dilation=(dilation, 1))
        if norm:
            self.unit: nn.Module = ConvBN(in_channels, out_channels, (kernel, 1), **args)
        else:
            self.unit = nn.Conv2d(in_channels, out_channels, (kernel, 1), **args)
            init_conv(self.unit)
        self.norm = norm
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.norm:
            return self.drop(self.unit(x))
        u = self.unit
        return self.drop(conv2d_cl(x, u.weight, u.bias, u.stride, u.padding, u.dilation))


class GraphConv(nn.Module):
    """PYSKL's ``unit_gcn``: ``relu(BN(sum_k A_k-aggregate(W_k x)) + res(x))``.

    The 1x1 convolution produces all K subsets at once (channels ordered (k, c)); with the
    channels-last layout its output *is* a ``(N*T, V*K, C')`` matrix stack, so the K
    aggregations are one batched GEMM with the ``(V, V*K)`` matrix ``G[w, v*K+k] = A[k, v, w]``.
    When the unit widens the features (``C < C'``) the order flips: the C input channels are
    aggregated first and one linear map of the (k, c) features follows (fewer FLOPs, the
    same function).

    Args:
        in_channels, out_channels: channels.
        A: ``(K, V, V)`` adjacency stack (``x @ A[k]`` convention of :mod:`flag3d.skeleton.graph`).
        adaptive: ``"importance"`` (learned multiplier, ST-GCN), ``"offset"`` (learned
            additive offset), ``"init"`` (A itself learned) or ``None`` (fixed).
        with_res: add a (1x1 conv + BN) or identity residual inside the unit (ST-GCN++).
        act: apply the ReLU (PYSKL's default).
    """

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor,
                 adaptive: Optional[str] = "importance", with_res: bool = False,
                 act: bool = True) -> None:
        super().__init__()
        if adaptive not in (None, "importance", "offset", "init"):
            raise ValueError(f"unknown adaptive mode {adaptive!r}")
        self.num_subsets, self.num_joints = int(A.shape[0]), int(A.shape[-1])
        self.out_channels = out_channels
        self.adaptive = adaptive
        self.act = act
        if adaptive == "init":
            self.A = nn.Parameter(A.clone())
        else:
            self.register_buffer("A", A.clone())
        if adaptive == "importance":
            self.PA = nn.Parameter(torch.ones_like(A))
        elif adaptive == "offset":
            self.PA = nn.Parameter(torch.empty_like(A).uniform_(-1e-6, 1e-6))
        self.conv = nn.Conv2d(in_channels, out_channels * self.num_subsets, 1)
        init_conv(self.conv)
        self.bn = nn.BatchNorm2d(out_channels)
        self.down: Optional[nn.Module] = None
        self.identity_res = False
        if with_res:
            if in_channels != out_channels:
                self.down = ConvBN(in_channels, out_channels, 1)
            else:
                self.identity_res = True

    def adjacency(self) -> torch.Tensor:
        """The effective ``(K, V, V)`` adjacency."""
        if self.adaptive == "importance":
            return self.A * self.PA
        if self.adaptive == "offset":
            return self.A + self.PA
        return self.A

    def _weights(self) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        """``(weight (K*C', C), bias (K*C',), shift or None)``, BN folded in eval mode."""
        k, c = self.num_subsets, self.out_channels
        w, b = self.conv.weight.flatten(1), self.conv.bias
        if self.training:
            return w, b, None
        scale, shift = bn_scale_shift(self.bn)
        w = (w.view(k, c, -1) * scale.view(1, c, 1)).view(k * c, -1)
        return w, (b.view(k, c) * scale).reshape(-1), shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c_in, t, v = x.shape
        k, c = self.num_subsets, self.out_channels
        a = self.adjacency()
        w, b, shift = self._weights()
        xl = x.permute(0, 2, 3, 1).reshape(n * t, v, c_in)  # free for channels-last x
        # The conv bias, carried through the aggregation, is a per-joint bias:
        # sum_k colsum(A_k)[w] * b_k; adding it after the aggregation touches V*C' values per
        # frame instead of V*K*C' (and spares GEMM+bias a broadcast copy of its output).
        bias_map = torch.einsum("kw,kc->wc", a.sum(1), b.view(k, c))
        if shift is not None:
            bias_map = bias_map + shift
        if c_in < c:
            # aggregate the few input channels first: z[(w,k), c] = sum_v A[k,v,w] x[v, c],
            # then one linear map of the (k, c) features
            g = a.permute(2, 0, 1).reshape(v * k, v).to(xl.dtype)
            z = torch.bmm(g.expand(n * t, -1, -1), xl).view(n, t, v, k * c_in)
            w_post = w.view(k, c, c_in).permute(1, 0, 2).reshape(c, k * c_in)
            z = add_(F.linear(z, w_post.to(z.dtype)), bias_map.to(z.dtype))
        else:
            y = F.linear(xl, w.to(xl.dtype)).view(n * t, v * k, c)
            g = a.permute(2, 1, 0).reshape(v, v * k).to(y.dtype)  # G[w, v*K + k]
            # bmm, not torch.matmul: that would fold the batch into a transposed copy of y
            z = torch.baddbmm(bias_map.to(y.dtype).unsqueeze(0), g.expand(n * t, -1, -1), y)
        z = z.view(n, t, v, c).permute(0, 3, 1, 2)  # (N, C', T, V), channels-last
        if self.training:
            z = self.bn(z)
        if self.down is not None:
            z = add_(z, self.down(x))
        elif self.identity_res:
            z = add_(z, x)
        return relu_(z) if self.act else z


def shared_bmm(g: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``g @ y[i]`` for every ``i``: ``g`` is ``(R, S)`` or per sample ``(N, R, S)`` and ``y``
    is ``(N*B, S, C)``; returns ``(N*B, R, C)``.

    One ``bmm`` on an expanded ``g``: ``torch.matmul`` would instead fold the batch into a
    transposed copy of ``y`` (several times slower here, forward and backward).
    """
    if g.dim() == 2:
        return torch.bmm(g.expand(y.shape[0], -1, -1), y)
    n = g.shape[0]
    per = y.shape[0] // n
    return torch.bmm(g.unsqueeze(1).expand(n, per, *g.shape[1:]).reshape(-1, *g.shape[1:]), y)


def add_(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a + b``, in place on ``a`` when no gradient is being recorded."""
    if torch.is_grad_enabled() and (a.requires_grad or b.requires_grad):
        return a + b
    return a.add_(b)


def relu_(a: torch.Tensor) -> torch.Tensor:
    """ReLU, in place when no gradient is being recorded."""
    if torch.is_grad_enabled() and a.requires_grad:
        return torch.relu(a)
    return a.relu_()


class ResidualBlock(nn.Module):
    """Base of the GCN blocks: ``relu(tcn(gcn(x)) + residual(x))``.

    A subclass sets ``self.gcn`` and ``self.tcn`` and calls :meth:`set_residual`; the residual
    is the identity when the shape is kept, else a strided 1x1 temporal conv + BN.
    """

    gcn: nn.Module
    tcn: nn.Module

    def set_residual(self, in_channels: int, out_channels: int, stride: int,
                     residual: bool) -> None:
        """Choose the residual branch (none, identity, or a 1x1 conv with ``stride``)."""
        self.residual: Optional[nn.Module] = None
        self.identity_res = residual and in_channels == out_channels and stride == 1
        if residual and not self.identity_res:
            self.residual = TemporalConv(in_channels, out_channels, 1, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tcn(self.gcn(x))
        if self.identity_res:
            y = add_(y, x)
        elif self.residual is not None:
            y = add_(y, self.residual(x))
        return relu_(y)


class BlockBackbone(nn.Module):
    """Base of the block-stack backbones: ``data_bn`` then ``blocks`` in order.

    ``(N, M, T, V, C)`` in, features ``(N, M, C', T', V)`` out.  A subclass sets
    ``self.data_bn`` and ``self.blocks``; ``contiguous_input`` makes the normalised input
    contiguous first (CTR-GCN runs in ``(N, C, T, V)`` order).
    """

    data_bn: nn.Module
    blocks: nn.ModuleList
    contiguous_input = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, m = x.shape[:2]
        y = self.data_bn(x)
        if self.contiguous_input:
            y = y.contiguous()
        for block in self.blocks:
            y = block(y)
        return y.reshape((n, m) + tuple(y.shape[1:]))


def temporal_max_pool3(x: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """``max_pool2d(x, (3, 1), stride=(stride, 1), padding=(1, 0))`` of ``(N, C, T, V)``.

    Two elementwise maxima of strided slices of the ``-inf``-padded input: here about 20x
    faster than PyTorch's CPU max-pool, which runs its generic path with index bookkeeping
    for these shapes.  Same values; under autograd a tie passes half the gradient to each
    side (a valid subgradient) where max-pool passes it all to one.

    Example:
        >>> x = torch.tensor([[[[1.0], [3.0], [2.0], [0.0]]]])
        >>> temporal_max_pool3(x).flatten().tolist()
        [3.0, 3.0, 3.0, 2.0]
        >>> temporal_max_pool3(x, 2).flatten().tolist()
        [3.0, 3.0]
    """
    t = x.shape[2]
    t_out = (t - 1) // stride + 1
    xp = F.pad(x, (0, 0, 1, 1), value=float("-inf"))
    end = stride * (t_out - 1) + 1
    out = torch.maximum(xp[:, :, 0:end:stride], xp[:, :, 1:end + 1:stride])
    return torch.maximum(out, xp[:, :, 2:end + 2:stride])


class MultiScaleTCN(nn.Module):
    """Multi-branch temporal convolution (CTR-GCN / MS-G3D ``MSTCN``).

    Branches: for each dilation a 1x1 conv + BN + ReLU + ``(kernel, 1)`` dilated conv + BN; a
    1x1 conv + BN + ReLU + 3x1 max-pool + BN branch; a strided 1x1 conv + BN branch.  The
    branch outputs are concatenated to ``out_channels``; an optional residual and a ReLU
    follow.

    In eval mode the leading 1x1 convolutions share one input and run as one convolution
    (their weights stacked); the max-pool is :func:`temporal_max_pool3`.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1,
                 dilations: Sequence[int] = (1, 2, 3, 4), residual: bool = True,
                 act: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        nb = len(dilations) + 2
        bc = out_channels // nb
        rem = out_channels - bc * (nb - 1)
        self.branch_channels, self.rem_channels = bc, rem
        self.dilations = tuple(dilations)
        self.act = act
        # 1x1 entries of the dilated branches and of the max-pool branch (stacked in eval).
        self.entries = nn.ModuleList(ConvBN(in_channels, bc, 1) for _ in range(nb - 1))
        self.temporal = nn.ModuleList(
            TemporalConv(bc, bc, kernel, stride=stride, dilation=d) for d in dilations
        )
        self.pool_stride = stride
        self.pool_bn = nn.BatchNorm2d(bc)
        self.point = ConvBN(in_channels, rem, 1, stride=(stride, 1))
        if not residual:
            self.residual: Optional[nn.Module] = None
            self.identity_res = False
        elif in_channels == out_channels and stride == 1:
            self.residual, self.identity_res = None, True
        else:
            self.residual = TemporalConv(in_channels, out_channels, 1, stride)
            self.identity_res = False
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def _entries(self, x: torch.Tensor) -> List[torch.Tensor]:
        if self.training:
            return [torch.relu(e(x)) for e in self.entries]
        ws, bs = zip(*(e.fused_weights() for e in self.entries))
        y = torch.relu(conv2d_cl(x, torch.cat(ws), torch.cat(bs)))
        return list(torch.split(y, self.branch_channels, dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        heads = self._entries(x)
        outs = [tc(h) for tc, h in zip(self.temporal, heads)]
        if self.training:
            outs.append(self.pool_bn(temporal_max_pool3(heads[-1], self.pool_stride)))
        else:
            scale, shift = bn_scale_shift(self.pool_bn)
            p = temporal_max_pool3(heads[-1], self.pool_stride)
            outs.append(torch.addcmul(shift.view(1, -1, 1, 1).to(p.dtype), p,
                                      scale.view(1, -1, 1, 1).to(p.dtype)))
        outs.append(self.point(x))
        out = torch.cat(outs, dim=1)
        out = to_cl(out) if x.is_contiguous(memory_format=CL) else out.contiguous()
        if self.residual is not None:
            out = add_(out, self.residual(x))
        elif self.identity_res:
            out = add_(out, x)
        if self.act:
            out = relu_(out)
        return self.drop(out)


class DataBN(nn.Module):
    """Input BatchNorm over joint coordinates, PYSKL's ``data_bn``.

    ``mode="VC"`` normalises each (joint, coordinate) feature over persons, frames and the
    batch; ``mode="MVC"`` keeps a separate feature per person slot (needs a fixed M);
    ``None`` does nothing.  Input ``(N, M, T, V, C)``; output ``(N*M, C, T, V)``
    channels-last (a view of the input layout, no transposing copy).
    """

    def __init__(self, num_joints: int, in_channels: int, num_persons: int = 1,
                 mode: Optional[str] = "VC") -> None:
        super().__init__()
        if mode not in ("VC", "MVC", None):
            raise ValueError(f"unknown data_bn mode {mode!r}")
        self.mode = mode
        self.num_persons = num_persons
        feats = num_joints * in_channels * (num_persons if mode == "MVC" else 1)
        self.bn: Optional[nn.BatchNorm1d] = nn.BatchNorm1d(feats) if mode else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, m, t, v, c = x.shape
        if self.bn is not None:
            if self.mode == "MVC":
                y = self.bn(x.permute(0, 2, 1, 3, 4).reshape(n * t, m * v * c))
                x = y.view(n, t, m, v, c).permute(0, 2, 1, 3, 4)
            else:
                x = self.bn(x.reshape(n * m * t, v * c)).view(n, m, t, v, c)
        x = x.reshape(n * m, t, v, c)
        return x.permute(0, 3, 1, 2)  # (N*M, C, T, V) stored as (N*M, T, V, C)


def stage_channels(base: int, num_stages: int, inflate: Sequence[int], ratio: float = 2.0,
                   ) -> List[int]:
    """Output channels of stages 1..num_stages (PYSKL: inflate by ``ratio`` at ``inflate``)."""
    out, times = [], 0
    for i in range(1, num_stages + 1):
        if i in inflate:
            times += 1
        out.append(int(base * ratio ** times + 1e-4))
    return out


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return int(sum(p.numel() for p in module.parameters() if p.requires_grad))


def init_classifier(fc: nn.Linear, std: float = 0.01) -> None:
    """Normal(0, std) weights and zero bias for a classifier (PYSKL's ``init_std``)."""
    nn.init.normal_(fc.weight, 0.0, std)
    nn.init.zeros_(fc.bias)


__all__ = [
    "CL", "ConvBN", "DataBN", "GraphConv", "MultiScaleTCN", "TemporalConv", "bn_scale_shift",
    "add_", "conv2d_cl", "relu_", "shared_bmm",
    "count_parameters", "graph_tensor", "init_classifier", "init_conv", "stage_channels", "to_cl",
]
