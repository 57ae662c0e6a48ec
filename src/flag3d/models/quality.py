"""The per-repetition, per-standard scorer G(C_i, S_j) of FLAG3D++ Eq. 14.

``G`` is an HL-GCN encoder (:class:`flag3d.models.hlgcn.HLGCN`) whose graph layers are
guided by the embedding of the standard's sentence ``S_j`` (the *text points*), followed by
a small head: the encoder output is pooled over time and joints (mean and max), the
sentence embedding is projected and concatenated (so the decision itself also depends on
which standard is asked), together with the repetition's log duration (unless
``head_duration=False``: tempo differs more between people than between correct and
incorrect repetitions), and an MLP gives
one logit: ``sigmoid(logit)`` is the probability that repetition ``C_i`` meets standard
``S_j``.

With ``text_mode="none"`` and ``head_text=False`` the same network is a text-free
repetition classifier (an ablation).

Example:
    >>> import torch
    >>> from flag3d.models.quality import QualityScorer
    >>> g = QualityScorer(layout="uiprmd22", channels=(16, 16), strides=(1, 2), text_dim=8)
    >>> x, text, dur = torch.zeros(4, 9, 32, 22), torch.zeros(4, 8), torch.ones(4)
    >>> g(x, text, dur).shape
    torch.Size([4])
    >>> g.text_points(torch.zeros(1, 8)).shape  # (blocks, N, V)
    torch.Size([2, 1, 22])
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence as Seq

import torch
from torch import nn

from flag3d.models.hlgcn import HLGCN


class QualityScorer(nn.Module):
    """G(C, S): ``(N, C, T, V)`` repetition + ``(N, D)`` standard embedding -> ``(N,)`` logits.

    Args:
        layout, graph, in_channels, channels, strides, kernel, text_mode, fusion, text_dim,
            text_hidden, dropout: the HL-GCN encoder (see :class:`HLGCN`).
        head_hidden: width of the head MLP and of the projected sentence.
        head_text: concatenate the projected sentence embedding before the head.
        head_dropout: dropout inside the head.
        head_duration: give the head the repetition's log duration.
    """

    def __init__(self, layout: str = "flag3d24", graph: str = "spatial", in_channels: int = 9,
                 channels: Seq[int] = (32, 32, 64, 64), strides: Optional[Seq[int]] = (1, 2, 1, 2),
                 kernel: int = 9, text_mode: str = "hierarchical", fusion: str = "mul",
                 text_dim: int = 384, text_hidden: int = 64, dropout: float = 0.1,
                 head_hidden: int = 64, head_text: bool = True, head_dropout: float = 0.2,
                 head_duration: bool = True) -> None:
        super().__init__()
        self.encoder = HLGCN(layout=layout, graph=graph, in_channels=in_channels,
                             channels=tuple(channels),
                             strides=None if strides is None else tuple(strides),
                             kernel=kernel, text_mode=text_mode, fusion=fusion,
                             text_dim=text_dim, text_hidden=text_hidden, dropout=dropout)
        c = self.encoder.out_channels
        self.head_text = head_text
        self.head_duration = head_duration
        self.text_proj = (nn.Sequential(nn.Linear(text_dim, head_hidden), nn.LayerNorm(head_hidden))
                          if head_text else None)
        width = 2 * c + (head_hidden if head_text else 0) + (1 if head_duration else 0)
        self.head = nn.Sequential(nn.Linear(width, head_hidden), nn.ReLU(),
                                  nn.Dropout(head_dropout), nn.Linear(head_hidden, 1))

    @property
    def layout(self) -> str:
        """The joint layout the graph was built from."""
        return self.encoder.layout

    def features(self, x: torch.Tensor, text: Optional[torch.Tensor],
                 duration: torch.Tensor) -> torch.Tensor:
        """The head's input ``(N, width)``: pooled encoder output, projected text, log duration
        (when ``head_duration``)."""
        h = self.encoder(x, text)  # (N, C, T', V)
        parts = [h.mean(dim=(2, 3)), h.amax(dim=(2, 3))]
        if self.text_proj is not None:
            if text is None:
                raise ValueError("this scorer needs the standard's text embedding")
            parts.append(self.text_proj(text))
        if self.head_duration:
            parts.append(torch.log(duration.clamp_min(1e-2)).unsqueeze(1))
        return torch.cat(parts, dim=1)

    def forward(self, x: torch.Tensor, text: Optional[torch.Tensor],
                duration: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x, text, duration)).squeeze(1)

    def text_points(self, text: torch.Tensor) -> torch.Tensor:
        """Per block, the text points ``(blocks, N, V)`` of a sentence embedding (Eq. 9);
        zeros when the encoder has no text."""
        pts = self.encoder.text_points(text)
        if pts[0] is None:
            return torch.zeros(len(pts), text.shape[0], self.encoder.num_joints)
        return torch.stack([p for p in pts])  # type: ignore[misc]


#: Config keys that build a :class:`QualityScorer`.
MODEL_KEYS = ("layout", "graph", "in_channels", "channels", "strides", "kernel", "text_mode",
              "fusion", "text_dim", "text_hidden", "dropout", "head_hidden", "head_text",
              "head_dropout", "head_duration")


def scorer_from_config(cfg: Dict[str, Any]) -> QualityScorer:
    """Build the scorer from a (saved) config dict; unknown keys are ignored."""
    return QualityScorer(**{k: (tuple(v) if isinstance(v, list) else v)
                            for k, v in cfg.items() if k in MODEL_KEYS})


def score_batch(model: "QualityScorer", x: torch.Tensor, text: torch.Tensor,
                duration: torch.Tensor) -> torch.Tensor:
    """Logits ``(N, 3)`` of ``N`` clips against their three standards."""
    n, k = x.shape[0], text.shape[1]
    logits = model(x.repeat_interleave(k, 0), text.reshape(n * k, -1),
                   duration.repeat_interleave(k, 0))
    return logits.view(n, k)
