"""Language-guided action quality assessment (L-AQA, FLAG3D++ Sec. 4.3): train, evaluate, assess.

* :func:`train` - train the scorer G (Eq. 14) on single ground-truth repetitions from a
  config (``configs/quality/*.yaml``) with the shared Lightning plumbing; exports
  ``<out>/best/`` (weights, config, info and ``texts.safetensors``, the standards'
  embeddings); with ``tune_thresholds`` it then picks per-standard decision thresholds on
  the validation people (:mod:`flag3d.tasks.quality_threshold`).
* :func:`evaluate` - on the held-out people of the config's data:

  - ``uiprmd``: per movement, repetition accuracy (correct vs incorrect) on s08-s10, and the
    Spearman correlation of ``P(all three standards met)`` with the m01 scores;
  - ``synthetic``: per-standard accuracy / F1 (faults are the positive class), and the Eq. 1
    score of every test recording from ground-truth and from predicted segmentation
    (Table 9): Spearman per body part averaged through Fisher's z, pooled Spearman, R-l2.

* :func:`assess` (from :mod:`flag3d.tasks.quality_infer`) - one recording, the inference API.

Example:
    >>> from flag3d.tasks.quality import evaluate_recordings
    >>> from flag3d.tasks.quality_data import synthetic_recordings
    >>> recs = synthetic_recordings(n=2, seed=0, reps=(2, 3))
    >>> oracle = lambda clips: __import__("numpy").stack([c.keys for c in clips]).astype(float)
    >>> r = evaluate_recordings(oracle, recs, frames=32)
    >>> r["gt_seg"]["n"], r["gt_seg"]["r_l2"]
    (2, 0.0)
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence as Seq, Union

import numpy as np

from flag3d.errors import Flag3dError
from flag3d.tasks.quality_clips import Clip
from flag3d.tasks.quality_config import QualityConfig
from flag3d.tasks.quality_data import (
    UIPRMD_TRAIN, Recording, recording_clips, standard_texts, synthetic_clips,
    synthetic_recordings, synthetic_split, uiprmd_clips,
)
from flag3d.tasks.quality_infer import QualityResult, Scorer, assess, load_scorer, segment

PathLike = Union[str, "os.PathLike[str]"]
ProbFn = Callable[[List[Clip]], np.ndarray]

__all__ = ["QualityConfig", "QualityResult", "assess", "build_data", "evaluate",
           "evaluate_clips", "evaluate_recordings", "table8_group", "train"]

#: FLAG3D++ Table 8 column of each taxonomy body part.
TABLE8_GROUPS = {"chest": "Chest & Back", "back": "Chest & Back", "shoulder": "Shoulder",
                 "arm": "Arm", "neck": "Neck & Abdomen", "abdomen": "Neck & Abdomen",
                 "waist": "Waist", "hip": "Hip", "leg": "Leg", "whole body": "Whole body"}


def table8_group(activity: str) -> str:
    """The Table 8 body-part column of an activity."""
    from flag3d.taxonomy import get_activity

    return TABLE8_GROUPS.get(get_activity(activity).body_part, "Other")


# ------------------------------------------------------------------------------ data
def _shared(*parts: str) -> Path:
    from flag3d.paths import ENV_SHARED, shared_data_dir

    root = shared_data_dir()
    if root is None:
        raise Flag3dError(f"the shared real data was not found; set {ENV_SHARED}")
    return root.joinpath(*parts)


def build_data(cfg: QualityConfig) -> Dict[str, Any]:
    """``{"train", "val", "test"}`` clip lists (and ``"*_recordings"`` for synthetic data)."""
    if cfg.data == "uiprmd":
        scores = _shared("uiprmd-scores")
        clips = uiprmd_clips(_shared("uiprmd"), cfg.frames, cfg.movements,
                             scores=scores if scores.is_dir() else None,
                             canonical_side=cfg.canonical_side)
        val, test = set(cfg.val_subjects), set(cfg.test_subjects)
        if val & test:
            raise Flag3dError(f"validation and test subjects overlap: {sorted(val & test)}")
        train_s = set(UIPRMD_TRAIN) - val - test
        return {"train": [c for c in clips if c.subject in train_s],
                "val": [c for c in clips if c.subject in val],
                "test": [c for c in clips if c.subject in test],
                "split": {"train": sorted(train_s), "val": sorted(val), "test": sorted(test)}}
    if cfg.data == "synthetic":
        recs = synthetic_recordings(cfg.synthetic_n, cfg.synthetic_seed,
                                    tuple(cfg.synthetic_reps), cfg.synthetic_noisy,
                                    fault_rate=cfg.synthetic_fault_rate)
        tr, va, te = synthetic_split([r.subject for r in recs], 0.2, cfg.split_seed, cfg.val_people)
        out: Dict[str, Any] = {"split": {"train": tr, "val": va, "test": te}}
        for name, subs in (("train", tr), ("val", va), ("test", te)):
            rs = [r for r in recs if r.subject in subs]
            out[f"{name}_recordings"] = rs
            out[name] = synthetic_clips(rs, cfg.frames, cfg.canonical_side)
        return out
    raise Flag3dError(f"unknown quality data {cfg.data!r}; use uiprmd or synthetic")


def _resolve(config: Union[QualityConfig, PathLike, None], overrides: Iterable[str]) -> QualityConfig:
    from flag3d.config import config_from_dict, config_to_dict, load_config

    if isinstance(config, QualityConfig):
        return config_from_dict(QualityConfig, config_to_dict(config), overrides) \
            if overrides else config
    return load_config(QualityConfig, config, overrides)


# ----------------------------------------------------------------------------- train
def train(config: Union[QualityConfig, PathLike, None] = None, opts: Any = None,
          overrides: Iterable[str] = (), data: Optional[Dict[str, Any]] = None) -> Path:
    """Train G; returns the exported ``<out>/best`` folder.

    Args:
        config: a :class:`QualityConfig`, a YAML path, or ``None`` for the defaults.
        opts: :class:`flag3d.tasks.trainer.TrainOptions` (run folder, devices, resume ...);
            ``max_epochs`` comes from the config's ``epochs``.
        overrides: ``key=value`` strings applied to the config.
        data: prepared ``{"train", "val"}`` clips instead of the config's source (tests).
    """
    import torch
    from lightning.pytorch.callbacks import Timer
    from torch.utils.data import DataLoader

    from flag3d.models.quality import scorer_from_config
    from flag3d.tasks.quality_module import ClipDataset, QualityModule
    from flag3d.config import config_to_dict
    from flag3d.tasks.trainer import TrainOptions, fit_and_export

    cfg = _resolve(config, overrides)
    torch.set_num_threads(max(1, cfg.threads))
    d = data if data is not None else build_data(cfg)
    train_clips, val_clips = list(d["train"]), list(d.get("val") or [])
    if not train_clips:
        raise Flag3dError("no training repetitions")
    acts = sorted({c.activity for c in train_clips + val_clips + list(d.get("test") or [])})
    texts = standard_texts(acts, cfg.text_encoder)
    dim = int(next(iter(texts.values())).shape[0])
    cfg = dataclasses.replace(cfg, text_dim=dim, layout=cfg.layout_for_data())
    opts = opts or TrainOptions()
    opts = dataclasses.replace(opts, max_epochs=cfg.epochs, seed=cfg.seed,
                               monitor="val_metric" if val_clips else None, mode="max")
    ds = ClipDataset(train_clips, texts, cfg.layout, train=True, aug_yaw=cfg.aug_yaw,
                     aug_scale=cfg.aug_scale, aug_noise=cfg.aug_noise, aug_time=cfg.aug_time,
                     seed=cfg.seed)
    loader = DataLoader(ds, batch_size=cfg.batch_size, shuffle=True,
                        drop_last=len(ds) > cfg.batch_size)
    val_loader = (DataLoader(ClipDataset(val_clips, texts, cfg.layout), batch_size=128)
                  if val_clips else None)
    steps = max(1, len(loader)) * cfg.epochs
    if isinstance(opts.limit_train_batches, int):
        steps = min(steps, opts.limit_train_batches * cfg.epochs)
    model = scorer_from_config(config_to_dict(cfg))
    if cfg.init_weights:
        from flag3d.models.checkpoint import load_weights

        load_weights(model, cfg.init_weights)
    module = QualityModule(model, lr=cfg.lr, weight_decay=cfg.weight_decay,
                           fault_weight=cfg.fault_weight, threshold=cfg.threshold,
                           total_steps=steps)
    opts = dataclasses.replace(opts, extra_callbacks=list(opts.extra_callbacks) + [
        Timer(duration={"minutes": cfg.max_minutes}, interval="step")])
    info = {"task": "quality", "data": cfg.data, "split": d.get("split"),
            "train_repetitions": len(train_clips), "val_repetitions": len(val_clips),
            "text_encoder": cfg.text_encoder}
    if cfg.init_weights:
        info["init_weights"] = str(cfg.init_weights)
    best = fit_and_export(opts, cfg, info, module, loader, val_loader, seed=cfg.seed, texts=texts)
    labelled = [c for c in val_clips if (c.keys >= 0).all()]
    if cfg.tune_thresholds and any((c.keys == 0).any() for c in labelled):
        from flag3d.tasks.quality_threshold import tune_thresholds

        tune_thresholds(best, clips=labelled)
    return best


# -------------------------------------------------------------------------- evaluate
def evaluate_clips(prob: np.ndarray, clips: Seq[Clip],
                   threshold: Union[float, Seq[float]] = 0.5) -> Dict[str, Any]:
    """Repetition accuracy per activity, per-standard metrics, m01-style score Spearman.

    ``threshold``: one decision threshold, or one per standard.
    """
    from flag3d.metrics.quality import (
        binary_metrics, per_standard_metrics, spearman, standard_thresholds,
    )

    keys = np.stack([c.keys for c in clips])
    correct = np.array([c.correct for c in clips])
    acts = [c.activity for c in clips]
    thr = standard_thresholds(threshold, prob.shape[1])
    ok = (prob >= thr).all(axis=1).astype(int)
    per_act: Dict[str, Any] = {}
    for a in sorted(set(acts)):
        m = np.array([x == a for x in acts]) & (correct >= 0)
        if m.any():
            per_act[a] = {"n": int(m.sum()), "accuracy": float(np.mean(ok[m] == correct[m])),
                          **{k: v for k, v in binary_metrics(correct[m], ok[m]).items()
                             if k in ("f1", "precision", "recall")}}
    out: Dict[str, Any] = {"n": len(clips), "per_activity": per_act}
    if per_act:
        out["mean_accuracy"] = float(np.mean([v["accuracy"] for v in per_act.values()]))
    full = (keys >= 0).all(axis=1) & (keys == 0).any(axis=1)
    if full.any():
        known = (keys >= 0).all(axis=1)
        out["per_standard"] = per_standard_metrics(keys[known], prob[known], threshold,
                                                   ["standard0", "standard1", "standard2"])
        per_key: Dict[str, Any] = {}
        for a in sorted(set(acts)):
            m = known & np.array([x == a for x in acts])
            from flag3d.taxonomy import get_activity

            for j, s in enumerate(get_activity(a).standards):
                per_key[f"{a}:{s.key}"] = binary_metrics(keys[m, j], (prob[m, j] >= thr[j]).astype(int))
        out["per_activity_standard"] = per_key
    scored = np.array([np.isfinite(c.score) for c in clips])
    if scored.sum() >= 3:
        s = np.array([c.score for c in clips])[scored]
        p_all = np.prod(prob[scored], axis=1)
        out["score_spearman"] = {"n": int(scored.sum()), "rho_p_all": spearman(s, p_all),
                                 "rho_mean_prob": spearman(s, prob[scored].mean(axis=1))}
    return out


def evaluate_recordings(prob_fn: ProbFn, recs: Seq[Recording], frames: int = 48,
                        threshold: Union[float, Seq[float]] = 0.5, predicted: bool = False,
                        counter_checkpoint: Optional[PathLike] = None,
                        canonical_side: Union[bool, str] = False, method: str = "auto") -> Dict[str, Any]:
    """Eq. 1 scores of recordings from ground-truth (and optionally predicted) segmentation.

    ``prob_fn`` maps clips to ``(n, 3)`` probabilities.  Recordings without a predicted
    repetition are *not assessable*: they are listed and left out of the correlations.
    """
    from flag3d.metrics.quality import eq1_score, grouped_spearman, relative_l2, standard_thresholds

    thr = standard_thresholds(threshold)

    def summary(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
        ok = [r for r in rows if r["score"] is not None]
        res: Dict[str, Any] = {"n": len(ok), "not_assessable": [r["id"] for r in rows if r["score"] is None]}
        if len(ok) >= 3:
            gt = [r["gt"] for r in ok]
            for kind in ("score", "score_soft"):
                g = grouped_spearman(gt, [r[kind] for r in ok], [r["group"] for r in ok])
                res[kind] = {"fisher_mean": g["fisher_mean"], "overall": g["overall"],
                             "per_group": g["per_group"],
                             "r_l2": relative_l2(gt, [r[kind] for r in ok])}
            res["r_l2"] = res["score"]["r_l2"]
        elif ok:
            res["r_l2"] = relative_l2([r["gt"] for r in ok], [r["score"] for r in ok])
        return res

    gt_rows, pred_rows, seg_sources = [], [], set()
    for rec in recs:
        group = table8_group(rec.activity)
        clips = recording_clips(rec, frames, canonical_side=canonical_side)
        p = prob_fn(clips)
        k = (p >= thr).astype(int)
        gt_rows.append({"id": rec.id, "group": group, "gt": rec.score, "score": eq1_score(k),
                        "score_soft": eq1_score(p)})
        if predicted:
            reps, how, reason = segment(rec.seq, rec.activity, counter_checkpoint, method)
            seg_sources.add(how)
            pc = recording_clips(rec, frames, reps=reps, canonical_side=canonical_side) if len(reps) else []
            if pc:
                pp = prob_fn(pc)
                pred_rows.append({"id": rec.id, "group": group, "gt": rec.score,
                                  "score": eq1_score((pp >= thr).astype(int)),
                                  "score_soft": eq1_score(pp), "count": len(pc),
                                  "gt_count": len(rec.repetitions)})
            else:
                pred_rows.append({"id": rec.id, "group": group, "gt": rec.score, "score": None,
                                  "score_soft": None, "reason": reason or "no repetition found",
                                  "count": 0, "gt_count": len(rec.repetitions)})
    out: Dict[str, Any] = {"gt_seg": summary(gt_rows), "per_recording": gt_rows}
    if predicted:
        out["pred_seg"] = summary(pred_rows)
        out["pred_seg"]["segmentation"] = sorted(seg_sources)
        out["pred_seg"]["count_exact"] = float(np.mean([r["count"] == r["gt_count"] for r in pred_rows]))
        out["per_recording_pred"] = pred_rows
    return out


def score_head(scorer: Scorer, train: Seq[Clip], test: Seq[Clip]) -> Optional[Dict[str, Any]]:
    """Ridge regression from G's features (all three standards) to continuous scores.

    Fitted on the scored ``train`` clips (penalty by exact leave-one-out error), scored by
    Spearman on the scored ``test`` clips; ``None`` when either side has fewer than 3.
    """
    from flag3d.baselines.quality import ridge_loo
    from flag3d.metrics.quality import spearman

    tr = [c for c in train if np.isfinite(c.score)]
    te = [c for c in test if np.isfinite(c.score)]
    if len(tr) < 3 or len(te) < 3:
        return None
    x = scorer.features(tr).astype(np.float64)
    mu, sd, ym, w, alpha = ridge_loo(x, np.array([c.score for c in tr]),
                                     (1.0, 10.0, 100.0, 1000.0, 10000.0))
    pred = ym + ((scorer.features(te) - mu) / sd) @ w
    return {"rho": spearman([c.score for c in te], pred), "alpha": alpha, "n_train": len(tr),
            "n_test": len(te), "prediction": [float(p) for p in pred],
            "ids": [c.id for c in te]}


def evaluate(checkpoint: PathLike, data: Optional[str] = None, predicted: bool = True,
             counter_checkpoint: Optional[PathLike] = None,
             overrides: Iterable[str] = ()) -> Dict[str, Any]:
    """Evaluate a checkpoint on the held-out people of its data (module docstring).

    Args:
        checkpoint: a folder from :func:`train`.
        data: ``uiprmd`` or ``synthetic`` (default: the data it was trained on).
        predicted: also score synthetic recordings from predicted segmentation.
        counter_checkpoint: counting checkpoint for that segmentation.
        overrides: config ``key=value`` changes for the data (e.g. ``synthetic_n=200``).
    """
    from flag3d.config import config_from_dict

    scorer = load_scorer(checkpoint)
    base = {k: v for k, v in scorer.config.items() if k in {f.name for f in dataclasses.fields(QualityConfig)}}
    if data is not None:
        base["data"] = data
    cfg = config_from_dict(QualityConfig, base, overrides)
    t0 = time.time()
    d = build_data(cfg)
    test = d["test"]
    prob = scorer.probabilities(test)
    out: Dict[str, Any] = {"data": cfg.data, "checkpoint": str(scorer.folder),
                           "split": d.get("split"), "threshold": scorer.threshold,
                           "repetitions": evaluate_clips(prob, test, scorer.threshold)}
    if cfg.data == "uiprmd":
        head = score_head(scorer, d["train"] + d["val"], test)
        if head is not None:
            out["repetitions"].setdefault("score_spearman", {})["rho_head"] = head["rho"]
            out["score_head"] = head
    if cfg.data == "synthetic":
        out["recordings"] = evaluate_recordings(scorer.probabilities, d["test_recordings"],
                                                cfg.frames, scorer.threshold, predicted,
                                                counter_checkpoint, cfg.canonical_side)
    out["seconds"] = round(time.time() - t0, 1)
    return out


def as_json(result: Dict[str, Any]) -> str:
    """JSON text of an evaluation result (NaN written as null)."""
    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, (np.floating, float)):
            return None if not np.isfinite(v) else float(v)
        if isinstance(v, np.integer):
            return int(v)
        return v

    return json.dumps(clean(result), indent=2)
