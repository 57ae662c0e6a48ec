"""Training the scorer G: the clip dataset, the loss and the LightningModule.

**Samples.**  One sample is one repetition with the embeddings of its activity's three
standards; the network scores it against each standard (the batch is expanded to
``3N`` (clip, standard) pairs, FLAG3D++ Eq. 14).

**Loss** (:func:`quality_loss`), averaged over clips so every repetition weighs the same:

* per-standard labels known (synthetic; UI-PRMD *correct* repetitions, which meet all three
  standards): binary cross-entropy per standard, faults weighted by ``fault_weight``;
* only "violates at least one standard" known (UI-PRMD *incorrect* repetitions): a
  noisy-AND multiple-instance loss, ``-log(1 - prod_j p_j)``: at least one standard must
  fail, the data does not say which.

**Decision.**  Standard ``j`` is met when ``p_j >= threshold`` (0.5); a repetition is
correct when it meets all three.  Validation reports ``val_acc`` (repetitions), ``val_f1``
(fault F1 over the standards with known labels) and ``val_metric`` (their mean over the ones
defined), which selects the exported checkpoint.

Example:
    >>> import torch
    >>> from flag3d.tasks.quality_module import quality_loss
    >>> logits = torch.tensor([[4.0, 4.0, 4.0], [4.0, -4.0, 4.0]])
    >>> keys = torch.tensor([[1, 1, 1], [-1, -1, -1]])
    >>> correct = torch.tensor([1, 0])
    >>> round(float(quality_loss(logits, keys, correct)), 4)
    0.0178
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence as Seq

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from flag3d.models.quality import QualityScorer, score_batch  # noqa: F401  (re-exported)
from flag3d.tasks.quality_clips import Clip, clip_features, resample_linear
from flag3d.tasks.quality_data import text_key


def quality_loss(logits: torch.Tensor, keys: torch.Tensor, correct: torch.Tensor,
                 fault_weight: float = 1.0) -> torch.Tensor:
    """Mean over clips of the per-standard BCE (keys known) or the noisy-AND MIL loss."""
    known = keys >= 0
    full = known.all(dim=1)
    terms: List[torch.Tensor] = []
    if full.any():
        y = keys[full].float()
        bce = F.binary_cross_entropy_with_logits(logits[full], y, reduction="none")
        w = torch.where(y < 0.5, torch.full_like(y, fault_weight), torch.ones_like(y))
        terms.append((bce * w).sum(dim=1) / w.sum(dim=1))
    mil = (~known.any(dim=1)) & (correct == 0)
    if mil.any():
        log_p = F.logsigmoid(logits[mil]).sum(dim=1)  # log prod_j p_j
        terms.append(-torch.log(-torch.expm1(log_p.clamp(max=-1e-6))) * fault_weight)
    ok = (~known.any(dim=1)) & (correct == 1)
    if ok.any():
        terms.append(-F.logsigmoid(logits[ok]).sum(dim=1) / 3.0)
    if not terms:
        return logits.sum() * 0.0
    return torch.cat(terms).mean()


class ClipDataset(Dataset):
    """Clips -> ``{"x" (9, F, V), "text" (3, D), "keys" (3,), "correct", "duration"}``.

    With ``train=True`` every access draws a small augmentation: a rotation about the
    vertical, a scale, joint jitter and a time crop of up to ``aug_time`` at each end.
    """

    def __init__(self, clips: Seq[Clip], texts: Dict[str, np.ndarray], layout: str,
                 train: bool = False, aug_yaw: float = 0.0, aug_scale: float = 0.0,
                 aug_noise: float = 0.0, aug_time: float = 0.0, seed: int = 0) -> None:
        self.clips, self.layout, self.train = list(clips), layout, train
        self.aug = (aug_yaw, aug_scale, aug_noise, aug_time)
        self.rng = np.random.default_rng(seed)
        missing = sorted({c.activity for c in self.clips if text_key(c.activity, 0) not in texts})
        if missing:
            raise KeyError(f"no standard texts for {', '.join(missing)}")
        self.text = {c.activity: np.stack([texts[text_key(c.activity, j)] for j in range(3)])
                     for c in self.clips}

    def __len__(self) -> int:
        return len(self.clips)

    def _augment(self, pos: np.ndarray) -> np.ndarray:
        yaw, scale, noise, crop = self.aug
        rng = self.rng
        f = pos.shape[0]
        if crop > 0:
            a = int(rng.integers(0, int(crop * f) + 1))
            b = f - int(rng.integers(0, int(crop * f) + 1))
            pos = resample_linear(pos[a:max(b, a + 2)], f)
        th = np.radians(rng.uniform(-yaw, yaw))
        c, s = math.cos(th), math.sin(th)
        rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
        pos = (pos @ rot.T) * (1.0 + rng.uniform(-scale, scale))
        if noise > 0:
            pos = pos + rng.normal(0.0, noise, pos.shape)
        return pos.astype(np.float32)

    def __getitem__(self, i: int) -> Dict[str, Any]:
        c = self.clips[i]
        pos = self._augment(c.pos) if self.train else c.pos
        dur = c.duration * (1.0 + self.rng.uniform(-0.05, 0.05)) if self.train else c.duration
        return {"x": torch.from_numpy(clip_features(pos, self.layout)),
                "text": torch.from_numpy(self.text[c.activity]),
                "keys": torch.from_numpy(c.keys.astype(np.int64)),
                "correct": torch.tensor(c.correct, dtype=torch.int64),
                "duration": torch.tensor(dur, dtype=torch.float32)}


def decision_metrics(prob: np.ndarray, keys: np.ndarray, correct: np.ndarray,
                     threshold: float = 0.5) -> Dict[str, float]:
    """``acc`` (repetitions correct vs not), ``f1`` (faults, known keys) and ``metric``."""
    from flag3d.metrics.quality import binary_metrics

    out: Dict[str, float] = {}
    pred_ok = (prob >= threshold).all(axis=1).astype(int)
    has = correct >= 0
    if has.any():
        out["acc"] = float(np.mean(pred_ok[has] == correct[has]))
    known = keys >= 0
    if (keys[known] == 0).any():
        out["f1"] = binary_metrics(keys[known], (prob[known] >= threshold).astype(int))["f1"]
    vals = [v for v in out.values() if np.isfinite(v)]
    out["metric"] = float(np.mean(vals)) if vals else float("nan")
    return out


class QualityModule(L.LightningModule):
    """Trains :class:`QualityScorer` with :func:`quality_loss` (module docstring)."""

    def __init__(self, model: QualityScorer, lr: float = 2e-3, weight_decay: float = 5e-4,
                 fault_weight: float = 1.0, threshold: float = 0.5,
                 total_steps: Optional[int] = None) -> None:
        super().__init__()
        self.model = model
        self.lr, self.weight_decay = lr, weight_decay
        self.fault_weight, self.threshold = fault_weight, threshold
        self.total_steps = total_steps
        self._val: List[Dict[str, np.ndarray]] = []

    def _logits(self, batch: Dict[str, torch.Tensor]) -> torch.Tensor:
        return score_batch(self.model, batch["x"], batch["text"], batch["duration"])

    def training_step(self, batch: Dict[str, torch.Tensor], _: int) -> torch.Tensor:
        loss = quality_loss(self._logits(batch), batch["keys"], batch["correct"], self.fault_weight)
        self.log("train_loss", loss, prog_bar=True, batch_size=batch["x"].shape[0])
        return loss

    def validation_step(self, batch: Dict[str, torch.Tensor], _: int) -> None:
        logits = self._logits(batch)
        loss = quality_loss(logits, batch["keys"], batch["correct"], self.fault_weight)
        self.log("val_loss", loss, batch_size=batch["x"].shape[0])
        self._val.append({"prob": torch.sigmoid(logits).cpu().numpy(),
                          "keys": batch["keys"].cpu().numpy(),
                          "correct": batch["correct"].cpu().numpy()})

    def on_validation_epoch_end(self) -> None:
        if not self._val:
            return
        cat = {k: np.concatenate([v[k] for v in self._val]) for k in self._val[0]}
        self._val.clear()
        m = decision_metrics(cat["prob"], cat["keys"], cat["correct"], self.threshold)
        for k, v in m.items():
            if np.isfinite(v):
                self.log(f"val_{k}", float(v), prog_bar=k == "metric")

    def configure_optimizers(self) -> Any:
        opt = torch.optim.AdamW(self.model.parameters(), lr=self.lr,
                                weight_decay=self.weight_decay)
        if not self.total_steps:
            return opt
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.lr,
                                                    total_steps=max(2, self.total_steps),
                                                    pct_start=0.15)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
