"""Shared training plumbing on PyTorch Lightning: one way to build a Trainer for every task.

What every task gets from :func:`make_trainer`:

* a run folder ``<out>/`` with ``config.json`` (the resolved settings), CSV logs
  (``<out>/logs/version_N/``; TensorBoard too when ``tensorboard`` is installed), Lightning's resume
  checkpoint ``<out>/last.ckpt`` (our own file, for ``--resume`` only) and, when training
  ends or improves, an exported checkpoint folder ``<out>/best/`` (safetensors + JSON, see
  :mod:`flag3d.models.checkpoint`);
* devices / nodes / strategy from the command line: ``--devices 2`` on a CPU runs two
  processes with DDP over gloo; under ``torchrun`` Lightning reads the environment;
* a progress bar, deterministic seeding, and bf16 autocast with ``precision="bf16-mixed"``.

Tasks implement a ``LightningModule`` whose ``.model`` attribute is the network to export.

Example:
    >>> import tempfile
    >>> from flag3d.tasks.trainer import TrainOptions, make_trainer
    >>> with tempfile.TemporaryDirectory() as d:
    ...     trainer = make_trainer(TrainOptions(out=d, max_epochs=1, progress=False), config={})
    ...     trainer.max_epochs
    1
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from flag3d.models.checkpoint import save_checkpoint

PathLike = Union[str, "os.PathLike[str]"]


@dataclass
class TrainOptions:
    """How to run (not what to learn): the same for every task.

    Attributes:
        out: run folder.
        max_epochs: training epochs.
        devices: ``"auto"``, a count (``2``) or a list of ids.
        num_nodes: machines taking part (DDP across nodes).
        strategy: ``"auto"``, ``"ddp"``, ``"ddp_spawn"`` ...
        precision: ``"32-true"`` or ``"bf16-mixed"`` (CPU autocast).
        seed: global seed (``lightning.seed_everything``).
        monitor: metric that decides the best checkpoint (``None``: the last epoch).
        mode: ``"min"`` or ``"max"`` for ``monitor``.
        progress: show a progress bar.
        log_every: log every N training steps.
        resume: continue from ``<out>/last.ckpt`` when it exists.
        limit_train_batches / limit_val_batches: fraction or count, for smoke runs.
    """

    out: PathLike = "runs/default"
    max_epochs: int = 10
    devices: Any = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    seed: int = 0
    monitor: Optional[str] = None
    mode: str = "min"
    progress: bool = True
    log_every: int = 10
    resume: bool = False
    limit_train_batches: Union[int, float] = 1.0
    limit_val_batches: Union[int, float] = 1.0
    extra_callbacks: List[Callback] = field(default_factory=list)


class ExportBest(Callback):
    """Export ``pl_module.model`` as a safetensors checkpoint when the monitored metric improves
    (or at every validation when nothing is monitored) and once more at the end of training."""

    def __init__(self, folder: Path, config: Dict[str, Any], monitor: Optional[str], mode: str,
                 info: Optional[Dict[str, Any]] = None) -> None:
        self.folder, self.config, self.monitor, self.mode = folder, config, monitor, mode
        self.info = dict(info or {})
        self.best: Optional[float] = None

    def _export(self, trainer: L.Trainer, module: L.LightningModule, metrics: Dict[str, float]) -> None:
        if trainer.global_rank != 0:
            return
        info = {**self.info, "epoch": trainer.current_epoch, "global_step": trainer.global_step,
                "metrics": metrics}
        save_checkpoint(self.folder, module.model, self.config, info=info)

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()
                   if torch.is_tensor(v) and v.numel() == 1}
        if self.monitor is None:
            self._export(trainer, module, metrics)
            return
        value = metrics.get(self.monitor)
        if value is None:
            return
        better = (self.best is None or (value < self.best if self.mode == "min" else value > self.best))
        if better:
            self.best = value
            self._export(trainer, module, metrics)

    def on_train_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if not (self.folder / "model.safetensors").is_file():
            metrics = {k: float(v) for k, v in trainer.callback_metrics.items()
                       if torch.is_tensor(v) and v.numel() == 1}
            self._export(trainer, module, metrics)


def make_trainer(opts: TrainOptions, config: Dict[str, Any],
                 info: Optional[Dict[str, Any]] = None) -> L.Trainer:
    """A Lightning Trainer writing logs and checkpoints under ``opts.out``."""
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    L.seed_everything(opts.seed, workers=True, verbose=False)
    callbacks: List[Callback] = [
        ModelCheckpoint(dirpath=out, filename="last", save_last=False, save_top_k=1,
                        monitor=None, every_n_epochs=1, enable_version_counter=False),
        ExportBest(out / "best", config, opts.monitor, opts.mode, info),
        *opts.extra_callbacks,
    ]
    loggers: List[Any] = [CSVLogger(str(out), name="logs")]  # version_N per run (resume keeps old logs)
    try:
        from lightning.pytorch.loggers import TensorBoardLogger
        import tensorboard  # noqa: F401

        loggers.append(TensorBoardLogger(str(out), name="tb"))
    except ImportError:
        pass
    return L.Trainer(
        default_root_dir=str(out), max_epochs=opts.max_epochs, accelerator="cpu",
        devices=opts.devices, num_nodes=opts.num_nodes, strategy=opts.strategy,
        precision=opts.precision, logger=loggers, callbacks=callbacks,
        enable_progress_bar=opts.progress, log_every_n_steps=opts.log_every,
        deterministic=False, limit_train_batches=opts.limit_train_batches,
        limit_val_batches=opts.limit_val_batches, enable_model_summary=False,
    )


def resume_path(opts: TrainOptions) -> Optional[str]:
    """``<out>/last.ckpt`` when resuming and it exists (our own file from an earlier run)."""
    ckpt = Path(opts.out) / "last.ckpt"
    return str(ckpt) if opts.resume and ckpt.is_file() else None


def fit_and_export(opts: TrainOptions, config: Any, info: Dict[str, Any], module: Any,
                   loader: Any, val_loader: Any = None, seed: int = 0,
                   texts: Optional[Dict[str, Any]] = None) -> Path:
    """Save the config, fit (resuming when asked), and finish ``<out>/best``.

    The shared tail of the task trainers: ``config.json`` in the run folder, a seeded
    :meth:`lightning.Trainer.fit`, the text embeddings beside the exported weights
    (``best/texts.safetensors``, when given) and the wall time in ``best/info.json``.
    Returns the ``best`` folder.
    """
    import json
    import time

    import numpy as np
    from safetensors.numpy import save_file

    from flag3d.config import config_to_dict, save_config

    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / "config.json")
    trainer = make_trainer(opts, config_to_dict(config), info)
    t0 = time.time()
    torch.manual_seed(seed)
    trainer.fit(module, loader, val_loader, ckpt_path=resume_path(opts))
    best = out / "best"
    best.mkdir(parents=True, exist_ok=True)
    if texts:
        save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in texts.items()},
                  str(best / "texts.safetensors"))
    p = best / "info.json"
    if p.is_file():
        meta = json.loads(p.read_text(encoding="utf-8"))
        meta["train_seconds"] = round(time.time() - t0, 1)
        p.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return best
