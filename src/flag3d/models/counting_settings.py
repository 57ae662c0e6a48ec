"""The settings of a counting model and their defaults (no torch import, for fast inference).

Example:
    >>> from flag3d.models.counting_settings import model_settings
    >>> s = model_settings({"fusion": "add", "lr": 0.1})
    >>> s["fusion"], s["frames"], "lr" in s
    ('add', 128, False)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict

#: Model settings and their defaults (keys of the counting config).
MODEL_DEFAULTS: Dict[str, Any] = {
    "layout": "flag3d24", "graph": "spatial", "in_channels": 6,
    "channels": [16, 32, 32], "strides": [2, 1, 1], "tcn_kernel": 9,
    "text_mode": "shared", "fusion": "mul", "text_dim": 384, "text_hidden": 64,
    "encoder_dropout": 0.0, "frames": 128, "sim_scales": [1, 5, 9], "sim_heads": 1,
    "sim_dim": 16, "sim_conv": 8, "d_model": 64, "tf_layers": 1, "tf_heads": 4, "tf_ff": 128,
    "head_dropout": 0.1,
}


def model_settings(cfg: Any) -> Dict[str, Any]:
    """The model keys of ``cfg`` (dataclass or mapping), defaults filled in.

    ``channels`` without ``strides`` means stride 1 in every block.
    """
    values = dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else dict(cfg)
    if "channels" in values and "strides" not in values:
        values["strides"] = [1] * len(values["channels"])
    return {k: values.get(k, d) for k, d in MODEL_DEFAULTS.items()}
