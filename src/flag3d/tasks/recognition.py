"""Skeleton action recognition: the config, the LightningModule, ``train`` and ``evaluate``.

:class:`RecognitionConfig` is the flat config of ``configs/recognition/*.yaml`` (every key a
field).  :func:`train` builds the protocol's data (:mod:`flag3d.data.recognition`), the
recogniser (:func:`flag3d.models.recognition.build_recognizer`), and a Lightning trainer
(:func:`flag3d.tasks.trainer.make_trainer`: progress bar, CSV logs, ``last.ckpt`` to resume,
``best/`` = safetensors weights + the resolved config as JSON, DDP over ``devices`` /
``num_nodes``; also under ``torchrun``), trains, and then evaluates the exported weights on
the test split with ``num_clips`` clips.  The last epoch's weights are exported (nothing is
selected on the test split); the per-epoch ``val_top1`` in the logs is for watching only.

:func:`evaluate` is deterministic: clip 0 takes the centre frame of every segment, clips
1..K-1 use generators seeded per sample and clip; the scores of a sample are the softmax
probabilities averaged over its clips.  It writes ``results.json`` (top-1, top-5, confusion
matrix, per-class and per-body-part accuracy) and ``scores.npz`` (``ids``, ``labels``,
``scores``, ``classes``, ``stream``) for :mod:`flag3d.tasks.fusion`.  ``precision="bf16"``
evaluates under CPU bfloat16 autocast.

A sequence of another layout than the model's graph is refused before any tensor
operation, by the model's ``check_input``, naming both layouts and the conversion.

Example:
    >>> from flag3d.tasks.recognition import RecognitionConfig
    >>> cfg = RecognitionConfig(dataset="synthetic", backbone="stgcn", stream="bone")
    >>> cfg.clip_len, cfg.num_clips, cfg.train_pipeline(3).mode, cfg.test_pipeline(3).num_clips
    (64, 10, 'train', 10)
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback

from flag3d.config import config_to_dict
from flag3d.data.recognition import (
    DataSpec, RecognitionDataset, SampleSet, class_names, encode_labels, load_sets,
)
from flag3d.errors import LayoutError
from flag3d.tasks.fusion import save_scores
from flag3d.tasks.recognition_config import (  # noqa: F401  (re-exported)
    RecognitionConfig, _loader, build_model, clip_scores, load_trained, predict_scores,
)

PathLike = Union[str, "os.PathLike[str]"]


# ------------------------------------------------------------------------- data
@dataclass
class PreparedData:
    """A protocol ready for the model: sets, classes, the model's layout and channels."""

    sets: Dict[str, SampleSet]
    classes: List[str]
    layout: str
    in_channels: int
    data_layout: str


def _model_layout_check(model: Any, data_layout: str, cfg: RecognitionConfig) -> None:
    """Raise the model's one-line :class:`LayoutError` when the data does not fit its graph."""
    try:
        model.check_input(data_layout)
    except LayoutError as err:
        hint = "" if cfg.convert else "; or set convert: true in the config"
        raise LayoutError(err.problem + hint) from None


def prepare_sets(cfg: RecognitionConfig, sets: Dict[str, SampleSet],
                 classes: Optional[List[str]] = None) -> PreparedData:
    """Resolve classes and layouts (converting when ``cfg.convert``)."""
    first = next(iter(sets.values()))
    data_layout = first.layout
    for s in sets.values():
        if (s.layout, s.dims) != (first.layout, first.dims):
            raise LayoutError(f"{s.name} has layout {s.layout} ({s.dims}D) but {first.name} has "
                              f"{first.layout} ({first.dims}D)")
    layout = cfg.layout or data_layout
    if cfg.convert and layout != data_layout:
        sets = {k: s.converted(layout) for k, s in sets.items()}
    if classes is None:
        classes = class_names(list(sets.values()), cfg.label_by, cfg.label_names)
    in_channels = cfg.pipeline(first.dims, "test", 1, layout).in_channels
    return PreparedData(sets, list(classes), layout, in_channels, data_layout)


def constant_score_warning(s: SampleSet, use_score: bool, probe: int = 64) -> Optional[str]:
    """A warning when 2D training data feeds a score channel that is 1 everywhere.

    Input BatchNorm learns a zero variance for such a channel, so any real detection score
    below 1 at test time becomes a huge input.  Looks at up to ``probe`` samples.
    """
    if s.dims != 2 or not use_score or len(s) == 0:
        return None
    rows = np.linspace(0, len(s) - 1, min(probe, len(s))).astype(int)
    for r in rows:
        conf = s.sequence(int(r)).confidence
        if conf is None or not np.all(conf == 1.0):
            return None
    return (f"{s.name}: every keypoint score is 1 in the training data, so the score channel "
            "carries no information and will break on real detections; set use_score: false")


# ------------------------------------------------------------------ lightning
class RecognitionModule(L.LightningModule):
    """Cross-entropy training of a recogniser; logs ``val_top1`` with ``val_clips`` clips.

    ``model`` is the network the trainer exports; ``train_data`` gets :meth:`set_epoch` at
    the start of every epoch (fresh random clips and augmentation).
    """

    def __init__(self, cfg: RecognitionConfig, model: torch.nn.Module,
                 train_data: Optional[RecognitionDataset] = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.model = model
        self._train_data = train_data

    def on_train_epoch_start(self) -> None:
        if self._train_data is not None:
            self._train_data.set_epoch(self.current_epoch)

    def training_step(self, batch: Dict[str, Any], _: int) -> torch.Tensor:
        x, y = batch["x"], batch["label"]
        k = x.shape[1]
        logits = self.model(x.flatten(0, 1))
        y = y.repeat_interleave(k)
        loss = F.cross_entropy(logits, y, label_smoothing=self.cfg.label_smoothing)
        acc = (logits.argmax(-1) == y).float().mean()
        self.log("train_loss", loss, prog_bar=True, batch_size=len(y))
        self.log("train_top1", acc, prog_bar=True, batch_size=len(y))
        return loss

    def validation_step(self, batch: Dict[str, Any], _: int) -> None:
        scores = clip_scores(self.model, batch["x"])
        acc = (scores.argmax(-1) == batch["label"]).float().mean()
        self.log("val_top1", acc, prog_bar=True, sync_dist=True, batch_size=len(scores))

    def configure_optimizers(self) -> Any:
        cfg = self.cfg
        decay = [p for p in self.model.parameters() if p.ndim > 1]
        no_decay = [p for p in self.model.parameters() if p.ndim <= 1]
        groups = [{"params": decay, "weight_decay": cfg.weight_decay},
                  {"params": no_decay, "weight_decay": 0.0}]
        if cfg.optimizer == "sgd":
            opt = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
        else:
            opt = torch.optim.AdamW(groups, lr=cfg.lr)
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, WarmupCosine(total, int(round(cfg.warmup_epochs * total / max(cfg.epochs, 1)))))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


@dataclass(frozen=True)
class WarmupCosine:
    """Learning-rate factor per step: linear warm-up over ``warmup`` steps, then cosine to 0."""

    total: int
    warmup: int = 0

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        prog = (step - self.warmup) / max(self.total - self.warmup, 1)
        return 0.5 * (1.0 + math.cos(math.pi * min(prog, 1.0)))


def state_digest(model: torch.nn.Module, buffers: bool = False) -> str:
    """SHA-256 of a model's parameters (or buffers), in name order: equal iff bitwise equal."""
    import hashlib

    h = hashlib.sha256()
    items = model.named_buffers() if buffers else model.named_parameters()
    for name, t in sorted(items, key=lambda kv: kv[0]):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class ReplicaDigest(Callback):
    """Under DDP, every rank writes ``<out>/replicas/rank<r>.json`` with the SHA-256 of its
    ``pl_module.model`` parameters when training ends: all ranks must hold the same weights."""

    def __init__(self, folder: PathLike) -> None:
        self.folder = Path(folder)

    def on_train_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.world_size < 2:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        rec = {"rank": trainer.global_rank, "world_size": trainer.world_size,
               "global_step": trainer.global_step,
               "parameters": state_digest(module.model),
               "buffers": state_digest(module.model, buffers=True)}
        (self.folder / f"rank{trainer.global_rank}.json").write_text(json.dumps(rec) + "\n")


def _info(cfg: RecognitionConfig, data: PreparedData, task: str = "recognition") -> Dict[str, Any]:
    return {"task": task, "classes": data.classes, "layout": data.layout,
            "data_layout": data.data_layout, "in_channels": data.in_channels,
            "backbone": cfg.backbone, "stream": cfg.stream,
            "data": {"dataset": cfg.dataset, "data_path": cfg.data_path,
                     "synthetic": cfg.dataset == "synthetic",
                     **{k: len(s) for k, s in data.sets.items()}}}


def train(cfg: RecognitionConfig, opts: Any) -> Dict[str, Any]:
    """Train ``cfg`` with trainer options ``opts``; evaluate the result (rank 0).

    ``opts`` is a :class:`flag3d.tasks.trainer.TrainOptions`; its ``max_epochs`` and
    ``seed`` are taken from the config.  Returns the evaluation results (rank 0) or ``{}``.
    """
    from flag3d.tasks.trainer import make_trainer, resume_path

    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    opts = dataclasses.replace(
        opts, max_epochs=cfg.epochs, seed=cfg.seed, monitor=None,
        extra_callbacks=[*opts.extra_callbacks, ReplicaDigest(Path(opts.out) / "replicas")])
    data = prepare_sets(cfg, load_sets(DataSpec.from_config(cfg)))
    model = build_model(cfg, len(data.classes), data.layout, data.in_channels)
    _model_layout_check(model, data.sets["train"].layout, cfg)
    tr, te = data.sets["train"], data.sets["test"]
    warning = constant_score_warning(tr, cfg.use_score)
    if warning:
        warnings.warn(warning, stacklevel=2)
    train_ds = RecognitionDataset(tr, encode_labels(tr, data.classes, cfg.label_by),
                                  cfg.train_pipeline(tr.dims, data.layout))
    val_ds = RecognitionDataset(te, encode_labels(te, data.classes, cfg.label_by),
                                cfg.test_pipeline(te.dims, data.layout, cfg.val_clips))
    module = RecognitionModule(cfg, model, train_ds)
    trainer = make_trainer(opts, config_to_dict(cfg), info=_info(cfg, data))
    t0 = time.perf_counter()
    trainer.fit(module, _loader(train_ds, cfg, True), _loader(val_ds, cfg, False),
                ckpt_path=resume_path(opts))
    seconds = time.perf_counter() - t0
    if trainer.global_rank != 0:
        return {}
    out = Path(opts.out)
    (out / "train_time.json").write_text(json.dumps(
        {"seconds": seconds, "epochs": cfg.epochs, "threads": torch.get_num_threads(),
         "devices": str(opts.devices), "resumed": resume_path(opts) is not None}) + "\n")
    return evaluate(out / "best", clips=cfg.num_clips, progress=opts.progress)


# ------------------------------------------------------------------ evaluation
def default_eval_dir(checkpoint: PathLike, split: str, clips: int, precision: str) -> Path:
    """``<run>/eval/<split>-<clips>clip[-bf16]`` next to a run's ``best/`` checkpoint."""
    suffix = "" if precision == "fp32" else f"-{precision}"
    return Path(checkpoint).resolve().parent / "eval" / f"{split}-{clips}clip{suffix}"


def evaluate(checkpoint: PathLike, clips: Optional[int] = None, precision: str = "fp32",
             overrides: Tuple[str, ...] = (), out: Optional[PathLike] = None,
             batch_size: Optional[int] = None, progress: bool = False) -> Dict[str, Any]:
    """Evaluate an exported checkpoint on its config's test split (see the module docstring).

    ``overrides`` (``key=value``) change data keys, e.g. ``test_split=cross`` or another
    ``data_path``; the classes, layout and channels always come from the checkpoint.
    """
    model, cfg, info = load_trained(checkpoint, tuple(overrides))
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    model.set_precision(precision)
    clips = int(clips or cfg.num_clips)
    sets = load_sets(DataSpec.from_config(cfg), which=("test",))
    test = sets["test"]
    if test.layout != info["layout"]:
        if cfg.convert:
            test = test.converted(info["layout"])
        else:
            _model_layout_check(model, test.layout, cfg)
    labels = encode_labels(test, info["classes"], cfg.label_by)
    pipe = cfg.test_pipeline(test.dims, info["layout"], clips)
    if pipe.in_channels != int(info["in_channels"]):
        raise LayoutError(f"the data gives {pipe.in_channels} channels per joint ({test.dims}D) "
                          f"but the model takes {info['in_channels']}")
    ds = RecognitionDataset(test, labels, pipe)
    from flag3d.metrics.recognition import recognition_report

    t0 = time.perf_counter()
    scores = predict_scores(model, ds, cfg, batch_size, progress)
    seconds = time.perf_counter() - t0
    report = recognition_report(scores, labels, info["classes"])
    report.update({"checkpoint": str(checkpoint), "backbone": cfg.backbone, "stream": cfg.stream,
                   "dataset": cfg.dataset, "split": test.name, "clips": clips,
                   "precision": precision, "seconds": seconds,
                   "synthetic": cfg.dataset == "synthetic"})
    folder = Path(out) if out is not None else default_eval_dir(
        checkpoint, cfg.test_split, clips, precision)
    folder.mkdir(parents=True, exist_ok=True)
    save_scores(folder / "scores.npz", test.ids, labels, scores, info["classes"], cfg.stream)
    (folder / "results.json").write_text(json.dumps(report, indent=1) + "\n")
    report["out"] = str(folder)
    return report
