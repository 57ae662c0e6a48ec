"""HL-GCN: the hierarchical language-guided graph convolutional network (FLAG3D++ Eq. 4-9).

Every graph layer adds three terms built from one shared per-subset projection ``w^k``
(a 1x1 convolution, ``y_k = W_k x``):

* ``f_a`` (Eq. 6): the fixed skeleton graph, ``sum_k y_k A_k`` with ``A`` from
  :func:`flag3d.skeleton.graph.build_graph` (``spatial`` or ``stgcn_spatial`` subsets);
* ``f_b`` (Eq. 7): a learnable adjacency ``sum_k y_k B_k`` (``B`` starts as ``A`` and is
  trained freely, the ``a_ij`` of the paper);
* ``f_c`` (Eq. 8): the text term.  The *text points* ``t = LN(e theta_1) theta_2`` (Eq. 9,
  one weight per joint from the text embedding ``e``) weight every joint's projected
  feature: ``f_c = (1/V) sum_j t_j ybar_j`` with ``ybar = mean_k y_k``;

and combines them as ``sigma(f_a + f_b + f_b * f_c)`` (Eq. 5), where ``*`` is the
``fusion``:

* ``mul``: elementwise product (``f_c`` gates the channels of ``f_b`` at every joint);
* ``add``: sum;
* ``xattn``: cross-attention - every joint's ``f_b`` queries the projected joints
  ``ybar_j``, the text points are added to the attention logits of key ``j`` (4 heads), and
  the attended values replace ``f_b * f_c``.

``sigma`` is BatchNorm + ReLU with a residual path.  A temporal convolution (kernel 9 by
default, ST-GCN style, BatchNorm, residual) follows every graph layer.  Text modes:
``hierarchical`` (a text projection per layer, Fig. 5), ``shared`` (one projection for all
layers, as in the released model) and ``none`` (no ``f_c``: the TransRAC-style skeleton
encoder, the same network without text).

Inputs are ``(N, C, T, V)`` tensors of the layout the graph was built from; a different
layout fails before any tensor operation, naming both layouts and the conversion to use
(:meth:`HLGCN.check_layout`).

Example:
    >>> import torch
    >>> from flag3d.models.hlgcn import HLGCN
    >>> enc = HLGCN(channels=(16, 16), text_mode="shared", text_dim=8)
    >>> enc(torch.zeros(2, 6, 32, 24), torch.zeros(2, 8)).shape
    torch.Size([2, 16, 32, 24])
    >>> enc.check_layout("uiprmd22")
    Traceback (most recent call last):
    ...
    flag3d.errors.LayoutError: input layout uiprmd22 does not match the model's graph layout flag3d24; convert it first: flag3d.skeleton.convert.convert(seq, 'flag3d24') (uiprmd22>ntu25>flag3d24)
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence as Seq

import numpy as np
import torch
from torch import nn

from flag3d.errors import LayoutError
from flag3d.skeleton.graph import build_graph
from flag3d.skeleton.layouts import get_layout

TEXT_MODES = ("none", "shared", "hierarchical")
FUSIONS = ("mul", "add", "xattn")


def layout_mismatch(got: str, want: str) -> LayoutError:
    """The one-line error for feeding ``got`` joints to a model built on ``want``."""
    from flag3d.skeleton.convert import can_convert, conversion_path

    if can_convert(got, want):
        how = (f"convert it first: flag3d.skeleton.convert.convert(seq, '{want}') "
               f"({'>'.join(conversion_path(got, want))})")
    else:
        how = f"there is no conversion from {got} to {want} yet; the model needs {want} joints"
    return LayoutError(f"input layout {got} does not match the model's graph layout {want}; {how}")


class TextProjector(nn.Module):
    """Eq. 9: text points ``t = LN(e theta_1) theta_2``, one weight per joint."""

    def __init__(self, text_dim: int, hidden: int, num_joints: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(text_dim, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.fc2 = nn.Linear(hidden, num_joints)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.norm(self.fc1(e)))


class HLGraphConv(nn.Module):
    """One language-guided graph convolution (Eq. 5-8) on ``(N, C, T, V)`` features."""

    def __init__(self, cin: int, cout: int, graph: np.ndarray, text: bool, fusion: str = "mul",
                 heads: int = 4) -> None:
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        k, v, _ = graph.shape
        self.k, self.cout, self.text, self.fusion = k, cout, text, fusion
        self.register_buffer("A", torch.tensor(graph, dtype=torch.float32))
        self.B = nn.Parameter(torch.tensor(graph, dtype=torch.float32))
        self.proj = nn.Conv2d(cin, k * cout, 1)
        if text and fusion == "xattn":
            if cout % heads:
                raise ValueError(f"xattn fusion needs channels divisible by {heads}, got {cout}")
            self.heads = heads
            self.q = nn.Conv2d(cout, cout, 1)
            self.kv = nn.Conv2d(cout, 2 * cout, 1)

    def forward(self, x: torch.Tensor, t: Optional[torch.Tensor] = None) -> torch.Tensor:
        n, _, T, V = x.shape
        y = self.proj(x).view(n, self.k, self.cout * T, V)
        if not self.text or t is None:  # f_a + f_b in one product: sum_k y_k (A_k + B_k)
            return torch.matmul(y, self.A + self.B).sum(1).view(n, self.cout, T, V)
        both = torch.matmul(y, torch.cat([self.A + self.B, self.B], dim=-1)).sum(1)
        fab = both[..., :V].reshape(n, self.cout, T, V)
        fb = both[..., V:].reshape(n, self.cout, T, V)
        ybar = y.view(n, self.k, self.cout, T, V).mean(1)
        if self.fusion == "xattn":
            h, d = self.heads, self.cout // self.heads
            q = self.q(fb).view(n, h, d, T, V).permute(0, 1, 3, 4, 2)  # n h T V d
            kv = self.kv(ybar).view(n, 2, h, d, T, V).permute(1, 0, 2, 4, 5, 3)  # 2 n h T V d
            logits = torch.matmul(q, kv[0].transpose(-1, -2)) / math.sqrt(d)
            logits = logits + t[:, None, None, None, :]
            att = torch.softmax(logits, dim=-1)
            fused = torch.matmul(att, kv[1]).permute(0, 1, 4, 2, 3).reshape(n, self.cout, T, V)
        else:
            fc = (ybar * t[:, None, None, :]).mean(-1, keepdim=True)  # Eq. 8, Z = V
            fused = fb * fc if self.fusion == "mul" else fb + fc
        return fab + fused


class HLBlock(nn.Module):
    """Graph convolution -> BN -> ReLU (+ residual) -> temporal conv -> BN (+ residual) -> ReLU."""

    def __init__(self, cin: int, cout: int, graph: np.ndarray, text: bool, fusion: str,
                 stride: int = 1, kernel: int = 9, residual: bool = True,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.gcn = HLGraphConv(cin, cout, graph, text, fusion)
        self.bn1 = nn.BatchNorm2d(cout)
        self.tcn = nn.Conv2d(cout, cout, (kernel, 1), (stride, 1), ((kernel - 1) // 2, 0))
        self.bn2 = nn.BatchNorm2d(cout)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.gres: nn.Module
        self.res: nn.Module
        if not residual:
            self.gres, self.res = _Zero(), _Zero()
        elif cin == cout and stride == 1:
            self.gres, self.res = nn.Identity(), nn.Identity()
        else:
            self.gres = nn.Identity() if cin == cout else _conv_bn(cin, cout, 1)
            self.res = _conv_bn(cin, cout, stride)

    def forward(self, x: torch.Tensor, t: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = torch.relu(self.bn1(self.gcn(x, t)) + self.gres(x))
        return torch.relu(self.drop(self.bn2(self.tcn(h))) + self.res(x))


class _Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D401
        return torch.zeros((), dtype=x.dtype)


def _conv_bn(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 1, (stride, 1)), nn.BatchNorm2d(cout))


class HLGCN(nn.Module):
    """The HL-GCN encoder: ``(N, C, T, V)`` skeleton features + text -> ``(N, C', T', V)``.

    Args:
        layout: joint layout of the inputs (the graph is built from it).
        graph: graph construction (``spatial``, ``stgcn_spatial``).
        in_channels: input channels per joint.
        channels: output channels of each block.
        strides: temporal stride of each block (default all 1).
        kernel: temporal kernel size.
        text_mode: ``none``, ``shared`` or ``hierarchical`` (see the module docstring).
        fusion: ``mul``, ``add`` or ``xattn``.
        text_dim: length of the text embedding.
        text_hidden: width of the text projection.
        dropout: dropout after each temporal convolution.
    """

    def __init__(self, layout: str = "flag3d24", graph: str = "spatial", in_channels: int = 6,
                 channels: Seq[int] = (32, 32, 64, 64), strides: Optional[Seq[int]] = None,
                 kernel: int = 9, text_mode: str = "shared", fusion: str = "mul",
                 text_dim: int = 384, text_hidden: int = 64, dropout: float = 0.0) -> None:
        super().__init__()
        if text_mode not in TEXT_MODES:
            raise ValueError(f"text_mode must be one of {TEXT_MODES}, got {text_mode!r}")
        lay = get_layout(layout)
        self.layout, self.num_joints = lay.name, lay.num_joints
        self.text_mode = text_mode
        a = build_graph(lay, graph)
        strides = list(strides) if strides is not None else [1] * len(channels)
        if len(strides) != len(channels):
            raise ValueError("strides and channels must have the same length")
        use_text = text_mode != "none"
        self.data_bn = nn.BatchNorm1d(in_channels * lay.num_joints)
        blocks: List[nn.Module] = []
        cin = in_channels
        for i, (c, s) in enumerate(zip(channels, strides)):
            blocks.append(HLBlock(cin, c, a, use_text, fusion, stride=s, kernel=kernel,
                                  residual=i > 0, dropout=dropout))
            cin = c
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = cin
        n_proj = {"none": 0, "shared": 1, "hierarchical": len(channels)}[text_mode]
        self.text_proj = nn.ModuleList(
            [TextProjector(text_dim, text_hidden, lay.num_joints) for _ in range(n_proj)])

    def check_layout(self, layout: str) -> None:
        """Raise a one-line :class:`LayoutError` when ``layout`` is not the model's."""
        name = get_layout(layout).name
        if name != self.layout:
            raise layout_mismatch(name, self.layout)

    def text_points(self, text: Optional[torch.Tensor]) -> List[Optional[torch.Tensor]]:
        """Per block, the text points ``(N, V)`` (``None`` without text)."""
        if self.text_mode == "none" or text is None:
            return [None] * len(self.blocks)
        if self.text_mode == "shared":
            t = self.text_proj[0](text)
            return [t] * len(self.blocks)
        return [p(text) for p in self.text_proj]

    def forward(self, x: torch.Tensor, text: Optional[torch.Tensor] = None,
                layout: Optional[str] = None) -> torch.Tensor:
        if layout is not None:
            self.check_layout(layout)
        if x.dim() != 4 or x.shape[-1] != self.num_joints:
            raise LayoutError(
                f"expected input (N, C, T, {self.num_joints}) for layout {self.layout}, got "
                f"{tuple(x.shape)}; convert the skeleton to {self.layout} first")
        n, c, T, V = x.shape
        x = self.data_bn(x.permute(0, 1, 3, 2).reshape(n, c * V, T))
        x = x.view(n, c, V, T).permute(0, 1, 3, 2).contiguous()
        for block, t in zip(self.blocks, self.text_points(text)):
            x = block(x, t)
        return x
