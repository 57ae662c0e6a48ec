"""The counting network: HL-GCN encoder + TransRAC-style density head (HL-RAC, FLAG3D++ Sec. 4.2).

``text_mode="none"`` gives the same network without the text term (the TransRAC-style
skeleton model of the with/without-text comparison).  :func:`build_model` reads the model
keys of a counting config (a :class:`flag3d.tasks.counting_config.CountingConfig` or the
dict saved as ``config.json`` beside the weights).

Example:
    >>> import torch
    >>> from flag3d.models.counting import build_model
    >>> m = build_model({"channels": [16, 16], "text_dim": 8, "frames": 32})
    >>> m(torch.zeros(2, 6, 32, 24), torch.zeros(2, 8)).shape
    torch.Size([2, 32])
    >>> m(torch.zeros(2, 6, 32, 25), torch.zeros(2, 8))
    Traceback (most recent call last):
    ...
    flag3d.errors.LayoutError: expected input (N, C, T, 24) for layout flag3d24, got (2, 6, 32, 25); convert the skeleton to flag3d24 first
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import torch
from torch import nn

from flag3d.models.counting_head import CountingHead
from flag3d.models.counting_settings import MODEL_DEFAULTS, model_settings
from flag3d.models.hlgcn import HLGCN

__all__ = ["MODEL_DEFAULTS", "CountingModel", "build_model", "count_parameters", "model_settings"]

class CountingModel(nn.Module):
    """HL-GCN + density head: ``(N, 6, T, V)`` windows and ``(N, D)`` texts -> ``(N, T)`` density."""

    def __init__(self, **settings: Any) -> None:
        super().__init__()
        s = {**MODEL_DEFAULTS, **settings}
        self.settings = s
        self.encoder = HLGCN(
            layout=s["layout"], graph=s["graph"], in_channels=s["in_channels"],
            channels=s["channels"], strides=s["strides"], kernel=s["tcn_kernel"],
            text_mode=s["text_mode"], fusion=s["fusion"], text_dim=s["text_dim"],
            text_hidden=s["text_hidden"], dropout=s["encoder_dropout"])
        self.head = CountingHead(
            self.encoder.out_channels, frames=s["frames"], scales=s["sim_scales"],
            heads=s["sim_heads"], sim_dim=s["sim_dim"], conv=s["sim_conv"],
            d_model=s["d_model"], layers=s["tf_layers"], tf_heads=s["tf_heads"], ff=s["tf_ff"],
            dropout=s["head_dropout"])

    @property
    def uses_text(self) -> bool:
        """Whether the encoder has the text term."""
        return self.encoder.text_mode != "none"

    def forward_features(self, x: torch.Tensor, text: Optional[torch.Tensor] = None,
                         layout: Optional[str] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Density ``(N, T)`` and per-frame features ``(N, C, T)``."""
        return self.head(self.encoder(x, text, layout=layout))

    def forward(self, x: torch.Tensor, text: Optional[torch.Tensor] = None,
                layout: Optional[str] = None) -> torch.Tensor:
        return self.forward_features(x, text, layout)[0]


def build_model(cfg: Any) -> CountingModel:
    """A :class:`CountingModel` from a config dataclass or dict."""
    return CountingModel(**model_settings(cfg))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))
