"""Recognition inference without Lightning: the config, the model, loading and scoring.

``flag3d analyze`` and ``flag3d eval recognition`` only need these; keeping them apart from the
Lightning training code (:mod:`flag3d.tasks.recognition`) keeps the analysis free of the
Lightning / torchmetrics import (several seconds at start-up).

Example:
    >>> from flag3d.tasks.recognition_config import RecognitionConfig
    >>> RecognitionConfig(backbone="ctrgcn", clip_len=32).test_pipeline(3).num_clips
    10
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

import numpy as np

from flag3d.config import config_from_dict
from flag3d.data.recognition import RecognitionDataset
from flag3d.data.recognition_pipeline import Pipeline
from flag3d.errors import Flag3dError

if TYPE_CHECKING:  # torch is imported by the functions that run the torch model
    import torch

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class RecognitionConfig:
    """Settings of one recognition experiment (the keys of ``configs/recognition/*.yaml``).

    Data: ``dataset`` (uiprmd | pyskl | store | synthetic), ``data_path``, ``train_split`` /
    ``test_split`` (split names) or ``train_subjects`` / ``test_subjects``, ``synth_*`` (the
    synthetic protocol, see :mod:`flag3d.data.synth_protocols`), ``cache``; labels
    ``label_by`` (label | activity) and ``label_names`` ("flag3d": A001..A060); the model's
    ``layout`` (default: the data's) and ``convert`` (convert the data to it).

    Pipeline: ``stream``, ``clip_len``, ``num_clips`` (test), ``val_clips``, ``normalize``,
    ``rotate_deg``, ``scale``, ``flip_prob``, ``jitter``, ``drop_prob`` (training
    augmentation), ``use_score`` (2D confidence channel),
    ``num_persons``.

    Model: ``backbone`` (stgcn, aagcn, ctrgcn, msg3d, posec3d), ``backbone_args`` (passed to
    the backbone, e.g. ``base_channels``), ``dropout``.

    Optimisation: ``epochs``, ``batch_size``, ``optimizer`` (sgd | adamw), ``lr``,
    ``momentum``, ``weight_decay``, ``warmup_epochs`` then cosine decay per step,
    ``label_smoothing``, ``seed``, ``num_workers``, ``threads`` (torch threads; 0 = default).
    """

    dataset: str = "uiprmd"
    data_path: Optional[str] = None
    train_split: str = "train"
    test_split: str = "test"
    train_subjects: Optional[List[str]] = None
    test_subjects: Optional[List[str]] = None
    synth_protocol: str = "3d"
    synth_per_pair: int = 2
    synth_seed: int = 0
    synth_reps: Tuple[int, int] = (2, 5)
    cache: bool = True
    label_by: str = "label"
    label_names: Optional[str] = None
    layout: Optional[str] = None
    convert: bool = False
    stream: str = "joint"
    clip_len: int = 64
    num_clips: int = 10
    val_clips: int = 1
    normalize: str = "auto"
    rotate_deg: float = 0.0
    scale: float = 0.0
    flip_prob: float = 0.0
    jitter: float = 0.0
    drop_prob: float = 0.0
    use_score: bool = True
    num_persons: int = 1
    backbone: str = "stgcn"
    backbone_args: Dict[str, Any] = field(default_factory=dict)
    dropout: float = 0.0
    epochs: int = 16
    batch_size: int = 32
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    seed: int = 0
    num_workers: int = 0
    threads: int = 0

    def __post_init__(self) -> None:
        if self.optimizer not in ("sgd", "adamw"):
            raise Flag3dError(f"config key 'optimizer' must be sgd or adamw, got {self.optimizer!r}")
        for key in ("clip_len", "num_clips", "val_clips", "batch_size", "epochs", "num_persons"):
            if getattr(self, key) < 1:
                raise Flag3dError(f"config key {key!r} must be >= 1, got {getattr(self, key)}")

    def pipeline(self, dims: int, mode: str, num_clips: int, layout: str = "") -> Pipeline:
        """The data pipeline of this config for ``dims``-D data of ``layout``."""
        return Pipeline(layout or self.layout or "ntu25", dims=dims, clip_len=self.clip_len,
                        num_clips=num_clips, mode=mode, stream=self.stream,
                        normalize=self.normalize, rotate_deg=self.rotate_deg, scale=self.scale,
                        flip_prob=self.flip_prob, jitter=self.jitter, drop_prob=self.drop_prob,
                        use_score=self.use_score,
                        num_persons=self.num_persons, seed=self.seed)

    def train_pipeline(self, dims: int, layout: str = "") -> Pipeline:
        """One random, augmented clip per sample."""
        return self.pipeline(dims, "train", 1, layout)

    def test_pipeline(self, dims: int, layout: str = "", clips: Optional[int] = None) -> Pipeline:
        """``num_clips`` deterministic clips per sample."""
        return self.pipeline(dims, "test", clips or self.num_clips, layout)


def build_model(cfg: RecognitionConfig, num_classes: int, layout: str, in_channels: int) -> Any:
    """The recogniser of ``cfg`` (graph of ``layout``)."""
    from flag3d.models.recognition import build_recognizer

    try:
        return build_recognizer(cfg.backbone, layout, num_classes, in_channels=in_channels,
                                num_persons=cfg.num_persons, dropout=cfg.dropout,
                                **dict(cfg.backbone_args))
    except ValueError as err:  # unknown backbone names come as ValueError
        raise Flag3dError(str(err).splitlines()[0]) from None
    except TypeError as err:  # a backbone_args key the backbone does not take
        raise Flag3dError(f"backbone {cfg.backbone}: {err}; check backbone_args") from None


def clip_scores(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Softmax scores ``(N, C)`` averaged over the clips of ``x`` ``(N, K, M, T, V, C)``."""
    import torch

    n, k = x.shape[:2]
    logits = model(x.flatten(0, 1))
    return torch.softmax(logits.float(), dim=-1).view(n, k, -1).mean(dim=1)


def _loader(ds: RecognitionDataset, cfg: RecognitionConfig, shuffle: bool,
            batch_size: Optional[int] = None) -> Any:
    from torch.utils.data import DataLoader

    return DataLoader(ds, batch_size=batch_size or cfg.batch_size, shuffle=shuffle,
                      num_workers=cfg.num_workers, drop_last=False,
                      persistent_workers=False)


def load_trained(checkpoint: PathLike, overrides: Tuple[str, ...] = ()) -> Tuple[Any, RecognitionConfig, Dict[str, Any]]:
    """``(model, config, info)`` from an exported checkpoint folder (safetensors + JSON)."""
    from flag3d.models.checkpoint import load_checkpoint, load_weights

    ckpt = Path(checkpoint)
    _, config, info = load_checkpoint(ckpt)
    cfg = config_from_dict(RecognitionConfig, config, overrides, source=ckpt / "config.json")
    for key in ("classes", "layout", "in_channels"):
        if key not in info:
            raise Flag3dError(f"info.json has no {key!r}; not a recognition checkpoint", path=ckpt)
    model = build_model(cfg, len(info["classes"]), info["layout"], int(info["in_channels"]))
    load_weights(model, ckpt)
    return model.eval(), cfg, info


def predict_scores(model: Any, ds: RecognitionDataset, cfg: RecognitionConfig,
                   batch_size: Optional[int] = None, progress: bool = False) -> np.ndarray:
    """Clip-averaged softmax scores ``(N, C)`` of every sample of ``ds`` (deterministic)."""
    import torch

    loader = _loader(ds, cfg, False, batch_size)
    out = []
    it = loader
    if progress:
        from rich.progress import track

        it = track(loader, description="evaluating", total=len(loader))
    with torch.inference_mode():
        for batch in it:
            out.append(clip_scores(model, batch["x"]).float().numpy())
    return np.concatenate(out, axis=0)
