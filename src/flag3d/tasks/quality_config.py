"""Settings of a quality-assessment run: model, data, training, in one flat dataclass.

A config file ``configs/quality/<name>.yaml`` sets some of these keys; the rest keep the
defaults below.  The resolved settings are saved as ``config.json`` beside the weights.

Example:
    >>> from flag3d.config import config_from_dict
    >>> from flag3d.tasks.quality_config import QualityConfig
    >>> cfg = config_from_dict(QualityConfig, {"data": "synthetic"}, ["epochs=3"])
    >>> cfg.data, cfg.epochs, cfg.layout_for_data()
    ('synthetic', 3, 'flag3d24')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Union


@dataclass(frozen=True)
class QualityConfig:
    """Every setting of a quality run (see ``configs/quality/*.yaml``).

    Model (:class:`flag3d.models.quality.QualityScorer`): ``layout`` (default: from the
    data), ``graph``, ``in_channels``, ``channels``, ``strides``, ``kernel``, ``text_mode``
    (none / shared / hierarchical), ``fusion`` (mul / add / xattn), ``text_dim`` (set from
    the encoder), ``text_hidden``, ``dropout``, ``head_hidden``, ``head_text``,
    ``head_dropout``, ``head_duration`` (log duration into the head); ``frames`` per
    repetition; ``canonical_side`` (mirror every repetition so its more active side is the
    right one: ``true`` / ``motion`` or ``angles``, see :mod:`flag3d.tasks.quality_clips`).

    Text: ``text_encoder`` (``minilm``, ``hash``, a model folder).

    Data: ``data`` (``uiprmd`` or ``synthetic``); UI-PRMD: ``movements`` (default all),
    ``val_subjects`` (held out of the training subjects s01-s07 for model selection),
    ``test_subjects``; synthetic: ``synthetic_n``, ``synthetic_seed``, ``synthetic_reps``,
    ``synthetic_noisy``, ``synthetic_fault_rate``, ``split_seed``, ``val_people``.

    Training: ``batch_size``, ``lr``, ``weight_decay``, ``epochs``, ``max_minutes``,
    ``fault_weight`` (weight of the fault class in the per-standard loss), ``aug_yaw``
    (degrees), ``aug_scale``, ``aug_noise``, ``aug_time`` (fraction of frames a crop may
    drop at each end), ``threshold`` (probability at which a standard counts as met),
    ``seed``, ``threads``; ``init_weights`` (a checkpoint folder of the same architecture
    whose weights start the run: fine-tuning / continued training, recorded in ``info.json``).

    Decision thresholds: ``threshold`` (one for all standards) or ``thresholds`` (one per
    standard index 0, 1, 2; chosen on the validation people after training when
    ``tune_thresholds`` is true, or later by ``flag3d train quality-thresholds``, see
    :mod:`flag3d.tasks.quality_threshold`); the scorer uses ``thresholds`` when present.
    """

    # model
    layout: Optional[str] = None
    graph: str = "spatial"
    in_channels: int = 9
    channels: List[int] = (32, 32, 64, 64)  # type: ignore[assignment]
    strides: List[int] = (1, 2, 1, 2)  # type: ignore[assignment]
    kernel: int = 9
    text_mode: str = "hierarchical"
    fusion: str = "mul"
    text_dim: int = 384
    text_hidden: int = 64
    dropout: float = 0.1
    head_hidden: int = 64
    head_text: bool = True
    head_dropout: float = 0.2
    head_duration: bool = True
    frames: int = 48
    canonical_side: Union[bool, str] = True
    # text
    text_encoder: str = "minilm"
    # data
    data: str = "uiprmd"
    movements: Optional[List[str]] = None
    val_subjects: List[str] = ("s07",)  # type: ignore[assignment]
    test_subjects: List[str] = ("s08", "s09", "s10")  # type: ignore[assignment]
    synthetic_n: int = 500
    synthetic_seed: int = 0
    synthetic_reps: List[int] = (4, 12)  # type: ignore[assignment]
    synthetic_noisy: bool = True
    synthetic_fault_rate: float = 0.13
    split_seed: int = 0
    val_people: int = 1
    # training
    batch_size: int = 32
    lr: float = 0.002
    weight_decay: float = 0.0005
    epochs: int = 30
    max_minutes: float = 60.0
    fault_weight: float = 1.0
    aug_yaw: float = 15.0
    aug_scale: float = 0.08
    aug_noise: float = 0.01
    aug_time: float = 0.05
    threshold: float = 0.5
    thresholds: Optional[List[float]] = None
    tune_thresholds: bool = False
    init_weights: Optional[str] = None
    seed: int = 0
    threads: int = 1

    def layout_for_data(self) -> str:
        """The joint layout of the model: ``layout`` or the data's own."""
        if self.layout:
            return self.layout
        return "uiprmd22" if self.data == "uiprmd" else "flag3d24"
