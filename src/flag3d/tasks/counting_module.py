"""The Lightning module that trains a counting model, and its validation on whole sequences.

Loss per window: the squared density error summed over the frames (TransRAC's density
MSE, scaled per window) plus ``count_weight`` times a smooth-L1 error of the count (the
density's sum).  Validation counts every validation sequence in full, as users will
(working frame rate, overlapping windows: :class:`flag3d.tasks.counting_infer.Counter`),
and logs ``val_mae`` (FLAG3D++ convention: unrounded, ``|pred - gt| / (gt + 0.1)``),
``val_obo1`` (OBO@1 of the rounded count) and ``val_loss`` on protocol windows; the best
``val_mae`` is exported as the checkpoint.

Example:
    >>> from flag3d.tasks.counting_config import CountingConfig
    >>> from flag3d.tasks.counting_module import CountingModule
    >>> m = CountingModule(CountingConfig(channels=[8, 8], strides=[1, 1], text_dim=8))
    >>> type(m.model).__name__
    'CountingModel'
"""

from __future__ import annotations

import math
import time
from typing import Any, Dict, List, Optional, Sequence as Seq

import lightning as L
import numpy as np
import torch
from torch.nn import functional as F

from flag3d.config import config_to_dict
from flag3d.data.counting import Prepared
from flag3d.data.counting_dataset import CountingItem
from flag3d.models.counting import build_model
from flag3d.tasks.counting_config import CountingConfig


def density_loss(pred: torch.Tensor, target: torch.Tensor, count_weight: float = 0.1,
                 density_weight: float = 1.0) -> Dict[str, torch.Tensor]:
    """Loss terms of a batch: ``{"loss", "density", "count"}``."""
    dens = ((pred - target) ** 2).sum(-1).mean()
    cnt = F.smooth_l1_loss(pred.sum(-1), target.sum(-1))
    return {"loss": density_weight * dens + count_weight * cnt, "density": dens, "count": cnt}


def count_items(counter: Any, items: Seq[CountingItem], texts: Dict[str, np.ndarray],
                use_text: bool = True) -> List[Any]:
    """Count each item in full with ``counter``; the item's activity text guides it."""
    out = []
    for it in items:
        text = None
        if counter.uses_text:
            vec = texts.get(str(it.activity)) if use_text else None
            text = np.zeros(int(counter.config["text_dim"]), np.float32) if vec is None else vec
        prep = Prepared(it.joints, it.fps, len(it.joints))
        out.append(counter.count_prepared(prep, text, it.activity if text is not None else None))
    return out


class CountingModule(L.LightningModule):
    """Trains :class:`flag3d.models.counting.CountingModel` on density windows.

    Args:
        cfg: the run's settings.
        texts: activity id -> text embedding (for the full-sequence validation).
        val_items: validation sequences counted in full at the end of every validation.
        total_steps: optimiser steps of the whole run (for the cosine schedule).
    """

    def __init__(self, cfg: CountingConfig, texts: Optional[Dict[str, np.ndarray]] = None,
                 val_items: Optional[Seq[CountingItem]] = None, total_steps: int = 1000) -> None:
        super().__init__()
        self.cfg = cfg
        self.model = build_model(cfg)
        self.texts = dict(texts or {})
        self.val_items = list(val_items or [])
        self.total_steps = max(1, int(total_steps))
        self._t0: Optional[float] = None

    def on_train_start(self) -> None:
        self._t0 = time.time()

    def progress(self, step: int) -> float:
        """Fraction of the run done: by wall time (``schedule="time"``) or by steps."""
        if self.cfg.schedule == "time":
            if self._t0 is None:
                return 0.0
            return min(1.0, (time.time() - self._t0) / max(1.0, 60.0 * self.cfg.max_minutes))
        warm = max(1, self.cfg.warmup_steps)
        return min(1.0, (step - warm) / max(1, self.total_steps - warm))

    def _text(self, batch: Dict[str, torch.Tensor]) -> Optional[torch.Tensor]:
        return batch["text"] if self.model.uses_text else None

    def training_step(self, batch: Dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        pred = self.model(batch["x"], self._text(batch))
        terms = density_loss(pred, batch["density"], self.cfg.count_weight,
                             self.cfg.density_weight)
        self.log("train_loss", terms["loss"], prog_bar=True, batch_size=len(pred))
        self.log("train_count_l1", terms["count"], batch_size=len(pred))
        return terms["loss"]

    def validation_step(self, batch: Dict[str, torch.Tensor], batch_idx: int) -> None:
        pred = self.model(batch["x"], self._text(batch))
        terms = density_loss(pred, batch["density"], self.cfg.count_weight,
                             self.cfg.density_weight)
        self.log("val_loss", terms["loss"], batch_size=len(pred), sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        if not self.val_items or self.trainer.sanity_checking:
            return
        from flag3d.metrics.counting import counting_metrics
        from flag3d.tasks.counting_infer import Counter

        model = self.model

        def run(x: np.ndarray, text: Optional[np.ndarray]):
            with torch.inference_mode():
                t = None if text is None else torch.from_numpy(text).to(self.device)
                d, f = model.forward_features(torch.from_numpy(x).to(self.device), t)
            return d.float().cpu().numpy(), f.float().cpu().numpy()

        was_training = model.training
        model.eval()
        counter = Counter(run, config_to_dict(self.cfg), self.texts)
        results = count_items(counter, self.val_items, self.texts)
        model.train(was_training)
        pred = [r.count_raw for r in results]
        gt = [it.count for it in self.val_items]
        m = counting_metrics(pred, gt, convention="flag3d")
        r = counting_metrics(pred, gt, convention="transrac")
        self.log("val_mae", m.mae, prog_bar=True, sync_dist=True)
        self.log("val_obo1", r.obo[1.0], prog_bar=True, sync_dist=True)
        self.log("val_mae_rounded", r.mae, sync_dist=True)

    def configure_optimizers(self) -> Any:
        opt = torch.optim.AdamW(self.model.parameters(), lr=self.cfg.lr,
                                weight_decay=self.cfg.weight_decay)
        warm = max(1, self.cfg.warmup_steps)

        def factor(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            frac = max(0.0, self.progress(step))
            return 0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * frac))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
