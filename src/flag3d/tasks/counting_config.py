"""Settings of a counting experiment: model, data, training and inference, in one flat dataclass.

A config file ``configs/counting/<name>.yaml`` sets some of these keys; the rest keep the
defaults below.  The resolved settings are saved as ``config.json`` beside the weights, so
a checkpoint rebuilds its model and its inference (working frame rate, text) exactly.

Example:
    >>> from flag3d.config import config_from_dict
    >>> from flag3d.tasks.counting_config import CountingConfig
    >>> cfg = config_from_dict(CountingConfig, {"fusion": "add"}, ["text_level=2"])
    >>> cfg.fusion, cfg.text_level, cfg.frames
    ('add', 2, 128)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional


@dataclass(frozen=True)
class CountingConfig:
    """Every setting of a counting run (see ``configs/counting/*.yaml``).

    Model (:mod:`flag3d.models.counting`): ``layout``, ``graph``, ``in_channels``,
    ``channels``, ``strides``, ``tcn_kernel``, ``text_mode`` (none / shared /
    hierarchical), ``fusion`` (mul / add / xattn), ``text_dim``, ``text_hidden``,
    ``encoder_dropout``, ``frames``, ``sim_scales``, ``sim_heads``, ``sim_dim``,
    ``sim_conv``, ``d_model``, ``tf_layers``, ``tf_heads``, ``tf_ff``, ``head_dropout``.

    Text: ``text_encoder`` (``minilm``, ``hash``, a model folder) and ``text_level`` (1-3).

    Data: ``train_sources`` (``uiprmd``, ``synthetic``, ``rac:<folder>``,
    ``store:<folder>``), ``val_source``; UI-PRMD counting set construction
    (``uiprmd_n_per_pair``, ``uiprmd_idle_n_per_pair`` extra sequences with 5-15 s idle,
    ``uiprmd_seed``, ``val_subjects`` held out of training for model selection);
    synthetic corpus (``synthetic_n``, ``synthetic_seed``, ``synthetic_reps``,
    ``synthetic_idle``); samples (``crops``, ``protocol_prob``, ``frames_per_rep``,
    ``text_drop``, ``augment``).

    Training: ``batch_size``, ``lr``, ``weight_decay``, ``epochs``, ``max_minutes`` (stop
    after this wall time), ``steps_per_epoch`` (0: the whole data set; a smaller number
    validates and exports more often), ``schedule`` (``time``: the cosine learning rate
    decays over ``max_minutes`` of wall time, so a run on a busy shared machine still ends
    annealed; ``steps``: over ``epochs``), ``warmup_steps``, ``density_weight``, ``count_weight``,
    ``num_workers``, ``threads`` (torch threads; on a shared CPU one thread per run is
    much faster than two fighting for the cores), ``seed``.

    Inference: ``target_frames_per_rep`` (working frame rate = this / estimated period),
    ``rate_bounds``, ``hop`` (window step), ``refine`` (feature refinement radius).
    """

    # model
    layout: str = "flag3d24"
    graph: str = "spatial"
    in_channels: int = 6
    channels: List[int] = field(default_factory=lambda: [16, 32, 32])
    strides: List[int] = field(default_factory=lambda: [2, 1, 1])
    tcn_kernel: int = 9
    text_mode: str = "shared"
    fusion: str = "mul"
    text_dim: int = 384
    text_hidden: int = 64
    encoder_dropout: float = 0.0
    frames: int = 128
    sim_scales: List[int] = field(default_factory=lambda: [1, 5, 9])
    sim_heads: int = 1
    sim_dim: int = 16
    sim_conv: int = 8
    d_model: int = 64
    tf_layers: int = 1
    tf_heads: int = 4
    tf_ff: int = 128
    head_dropout: float = 0.1
    # text
    text_encoder: str = "minilm"
    text_level: int = 1
    # data
    train_sources: List[str] = field(default_factory=lambda: ["uiprmd", "synthetic"])
    val_source: str = "uiprmd"
    uiprmd_n_per_pair: int = 4
    uiprmd_idle_n_per_pair: int = 2
    uiprmd_seed: int = 0
    val_subjects: List[str] = field(default_factory=lambda: ["s07"])
    synthetic_n: int = 500
    synthetic_seed: int = 0
    synthetic_reps: List[int] = field(default_factory=lambda: [2, 20])
    synthetic_idle: List[float] = field(default_factory=lambda: [0.5, 8.0])
    crops: int = 10
    protocol_prob: float = 0.3
    frames_per_rep: List[float] = field(default_factory=lambda: [8.0, 64.0])
    text_drop: float = 0.2
    augment: bool = True
    # training
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    epochs: int = 30
    max_minutes: float = 55.0
    steps_per_epoch: int = 0
    schedule: str = "time"
    warmup_steps: int = 200
    density_weight: float = 1.0
    count_weight: float = 0.1
    num_workers: int = 0
    threads: int = 1
    seed: int = 0
    # inference
    target_frames_per_rep: float = 20.0
    rate_bounds: List[float] = field(default_factory=lambda: [4.0, 60.0])
    hop: int = 64
    refine: int = 0
    notes: Optional[str] = None

    def __post_init__(self) -> None:
        from flag3d.errors import Flag3dError

        if self.text_mode not in ("none", "shared", "hierarchical"):
            raise Flag3dError(f"config key 'text_mode' must be none, shared or hierarchical, "
                              f"got {self.text_mode!r}")
        if self.fusion not in ("mul", "add", "xattn"):
            raise Flag3dError(f"config key 'fusion' must be mul, add or xattn, got {self.fusion!r}")
        if self.text_level not in (1, 2, 3):
            raise Flag3dError(f"config key 'text_level' must be 1, 2 or 3, got {self.text_level}")
        if len(self.strides) != len(self.channels):
            raise Flag3dError("config keys 'channels' and 'strides' must have the same length")
        if self.schedule not in ("time", "steps"):
            raise Flag3dError(f"config key 'schedule' must be time or steps, got {self.schedule!r}")
        if not 0 < self.hop <= self.frames:
            raise Flag3dError(f"config key 'hop' must be in 1..frames, got {self.hop}")
