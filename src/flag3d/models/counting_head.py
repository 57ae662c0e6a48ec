"""A lean TransRAC-style counting head: multi-scale self-similarity -> conv -> transformer -> density.

From encoder features ``(N, C, T, V)``:

1. per-frame features: the mean over joints, ``(N, C, T)`` (linearly resized to ``frames``
   when the encoder strides in time);
2. for every temporal scale ``s`` (an odd window; ``1`` is the frame itself) the features
   are averaged over ``s`` frames and ``heads`` self-similarity matrices are formed as
   row-softmaxed scaled dot products of two projections (TransRAC's attention maps),
   ``(N, n_scales * heads, T, T)``;
3. a 3x3 convolution (BatchNorm, ReLU) turns them into ``conv`` channels;
4. each row (one frame against all others, ``conv * T`` numbers) is projected to
   ``d_model``, a learned position embedding is added, and a small pre-norm transformer
   encoder mixes the frames;
5. a two-layer MLP with a final softplus gives the positive density per frame (softplus,
   not ReLU: a ReLU output can die and stay at zero for good early in training; the bias
   starts at -4, a density of 0.018 per frame); the count is its sum.

The head's own transformer block (:class:`Block`) is written out so the numpy inference
engine (:mod:`flag3d.models.counting_numpy`) can mirror it exactly.

Example:
    >>> import torch
    >>> from flag3d.models.counting_head import CountingHead
    >>> head = CountingHead(in_channels=16, frames=32, scales=(1, 5))
    >>> dens, feats = head(torch.randn(2, 16, 32, 24))
    >>> dens.shape, feats.shape, bool((dens >= 0).all())
    (torch.Size([2, 32]), torch.Size([2, 16, 32]), True)
"""

from __future__ import annotations

import math
from typing import Sequence as Seq, Tuple

import torch
from torch import nn
from torch.nn import functional as F


class Block(nn.Module):
    """Pre-norm transformer encoder layer: ``x + MHA(LN(x))``, then ``x + FF(LN(x))``."""

    def __init__(self, d: int, heads: int, ff: int, dropout: float = 0.0) -> None:
        super().__init__()
        if d % heads:
            raise ValueError(f"d_model {d} must be divisible by the heads {heads}")
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.ff1 = nn.Linear(d, ff)
        self.ff2 = nn.Linear(ff, d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        h = self.heads
        qkv = self.qkv(self.ln1(x)).view(n, t, 3, h, d // h).permute(2, 0, 3, 1, 4)
        att = torch.softmax(qkv[0] @ qkv[1].transpose(-1, -2) / math.sqrt(d // h), dim=-1)
        y = (self.drop(att) @ qkv[2]).transpose(1, 2).reshape(n, t, d)
        x = x + self.drop(self.out(y))
        return x + self.drop(self.ff2(torch.relu(self.ff1(self.ln2(x)))))


class CountingHead(nn.Module):
    """Density head; see the module docstring.

    Args:
        in_channels: channels of the encoder features.
        frames: frames of the density (the window length, 128).
        scales: odd temporal window sizes of the self-similarity matrices.
        heads: similarity matrices per scale.
        sim_dim: projection width of each similarity head.
        conv: channels after the 3x3 convolution.
        d_model, layers, tf_heads, ff: the transformer.
        dropout: dropout in the transformer and before the output MLP.
    """

    def __init__(self, in_channels: int, frames: int = 128, scales: Seq[int] = (1, 5, 9),
                 heads: int = 1, sim_dim: int = 16, conv: int = 8, d_model: int = 64,
                 layers: int = 1, tf_heads: int = 4, ff: int = 128,
                 dropout: float = 0.1) -> None:
        super().__init__()
        for s in scales:
            if s < 1 or s % 2 == 0:
                raise ValueError(f"similarity scales must be odd and >= 1, got {s}")
        self.frames, self.scales, self.heads, self.sim_dim = frames, tuple(scales), heads, sim_dim
        self.sim = nn.ModuleList(
            [nn.Conv1d(in_channels, 2 * heads * sim_dim, 1) for _ in self.scales])
        n_maps = len(self.scales) * heads
        self.conv = nn.Conv2d(n_maps, conv, 3, padding=1)
        self.bn = nn.BatchNorm2d(conv)
        self.row = nn.Linear(conv * frames, d_model)
        self.pos = nn.Parameter(torch.zeros(1, frames, d_model))
        nn.init.normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList([Block(d_model, tf_heads, ff, dropout) for _ in range(layers)])
        self.ln = nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)
        self.fc1 = nn.Linear(d_model, d_model // 2)
        self.fc2 = nn.Linear(d_model // 2, 1)
        nn.init.constant_(self.fc2.bias, -4.0)

    def similarity(self, h: torch.Tensor) -> torch.Tensor:
        """Multi-scale self-similarity ``(N, n_scales * heads, T, T)`` of ``(N, C, T)``."""
        n, _, t = h.shape
        maps = []
        for s, proj in zip(self.scales, self.sim):
            hs = h if s == 1 else F.avg_pool1d(h, s, 1, s // 2, count_include_pad=False)
            qk = proj(hs).view(n, 2, self.heads, self.sim_dim, t)
            logits = qk[:, 0].transpose(-1, -2) @ qk[:, 1] / math.sqrt(self.sim_dim)
            maps.append(torch.softmax(logits, dim=-1))
        return torch.cat(maps, dim=1)

    def forward(self, feats: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Density ``(N, frames)`` and per-frame features ``(N, C, frames)``."""
        h = feats.mean(-1)
        if h.shape[-1] != self.frames:
            h = F.interpolate(h, size=self.frames, mode="linear", align_corners=False)
        n, _, t = h.shape
        z = torch.relu(self.bn(self.conv(self.similarity(h))))
        x = self.row(z.permute(0, 2, 1, 3).reshape(n, t, -1)) + self.pos
        for block in self.blocks:
            x = block(x)
        x = self.drop(self.ln(x))
        dens = F.softplus(self.fc2(torch.relu(self.fc1(x)))).squeeze(-1)
        return dens, h
