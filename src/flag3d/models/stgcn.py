"""ST-GCN (Yan et al., AAAI 2018) as configured in PYSKL, in plain PyTorch.

Ten blocks ``graph conv -> temporal conv (9x1) -> + residual -> ReLU`` with channels
64-64-64-64-128-128-128-256-256-256 and temporal stride 2 at blocks 5 and 8; the first
block has no residual.  The graph convolution learns an ``importance`` mask over the K=3
adjacency subsets; the input goes through a ``data_bn`` over (joint, coordinate) features.
PYSKL's ST-GCN configs use the ST-GCN distance partition (``stgcn_spatial``), our default.

Tensors flow channels-last (see :mod:`flag3d.models.layers`), BatchNorm folds into the
convolutions in eval mode.

Example:
    >>> import torch
    >>> from flag3d.models.stgcn import STGCN
    >>> net = STGCN("coco17", in_channels=3).eval()
    >>> feats = net(torch.randn(2, 1, 20, 17, 3))  # (N, M, T, V, C)
    >>> tuple(feats.shape), net.out_channels
    ((2, 1, 256, 5, 17), 256)
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import nn

from flag3d.models.layers import (
    BlockBackbone,
    ResidualBlock,
    DataBN,
    GraphConv,
    TemporalConv,
    graph_tensor,
    stage_channels,
)


class STGCNBlock(ResidualBlock):
    """``relu(tcn(gcn(x)) + residual(x))``.

    Args:
        in_channels, out_channels: channels.
        A: ``(K, V, V)`` adjacency stack.
        stride: temporal stride of the 9x1 convolution.
        residual: add the block residual (identity, or a strided 1x1 conv + BN).
        adaptive: adjacency mode of the graph convolution (``"importance"`` in ST-GCN).
        gcn_with_res: residual inside the graph convolution (ST-GCN++ style).
        dropout: dropout after the temporal convolution.
        kernel: temporal kernel size.
    """

    def __init__(self, in_channels: int, out_channels: int, A: torch.Tensor, stride: int = 1,
                 residual: bool = True, adaptive: Optional[str] = "importance",
                 gcn_with_res: bool = False, dropout: float = 0.0, kernel: int = 9) -> None:
        super().__init__()
        self.gcn = GraphConv(in_channels, out_channels, A, adaptive=adaptive,
                             with_res=gcn_with_res)
        self.tcn = TemporalConv(out_channels, out_channels, kernel, stride=stride,
                                dropout=dropout)
        self.set_residual(in_channels, out_channels, stride, residual)


class STGCN(BlockBackbone):
    """The ST-GCN backbone: ``(N, M, T, V, C)`` -> features ``(N, M, C', T', V)``.

    Args:
        layout: joint layout name; the graph is built from it.
        in_channels: coordinates (+ score) per joint.
        num_persons: person slots M (only matters for ``data_bn="MVC"``).
        graph_mode: ``"stgcn_spatial"`` (PYSKL's ST-GCN configs) or ``"spatial"``.
        base_channels, num_stages, inflate_stages, down_stages, ch_ratio: the layout of the
            10 blocks (PYSKL's defaults).
        data_bn: ``"VC"``, ``"MVC"`` or ``None``.
        adaptive: graph adjacency mode (``"importance"``).
        gcn_with_res: residual inside each graph convolution.
        dropout: temporal dropout (not applied in the first block, as PYSKL).
    """

    def __init__(self, layout: str, in_channels: int = 3, num_persons: int = 1,
                 graph_mode: str = "stgcn_spatial", base_channels: int = 64,
                 num_stages: int = 10, inflate_stages: Sequence[int] = (5, 8),
                 down_stages: Sequence[int] = (5, 8), ch_ratio: float = 2.0,
                 data_bn: Optional[str] = "VC", adaptive: Optional[str] = "importance",
                 gcn_with_res: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        A = graph_tensor(layout, graph_mode)
        self.layout, self.graph_mode = layout, graph_mode
        self.data_bn = DataBN(A.shape[-1], in_channels, num_persons, data_bn)
        chans = stage_channels(base_channels, num_stages, inflate_stages, ch_ratio)
        blocks = []
        c_in = in_channels
        for i, c_out in enumerate(chans, start=1):
            if i == 1 and in_channels == base_channels:
                continue  # PYSKL skips the stem when the input already has base channels
            blocks.append(STGCNBlock(
                c_in, c_out, A, stride=1 + (i in down_stages), residual=i > 1,
                adaptive=adaptive, gcn_with_res=gcn_with_res,
                dropout=0.0 if i == 1 else dropout,
            ))
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = c_in
        self.num_joints = int(A.shape[-1])
