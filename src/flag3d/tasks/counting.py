"""Repetition counting (HL-RAC): train, evaluate, count.

* :func:`train` - train a counting model from a config (``configs/counting/*.yaml``) with the
  shared Lightning plumbing (:mod:`flag3d.tasks.trainer`); exports ``<out>/best/`` (weights,
  config, info, and ``texts.safetensors``: the activity text embeddings the model was
  trained with, so counting never needs the text encoder for known activities).
* :func:`evaluate` - count every sequence of a test set and score it: MAE / OBO in both
  conventions (FLAG3D++ release: unrounded, ``/(gt + 0.1)``; TransRAC: rounded, ``/gt``)
  and the interval IoU of the repetitions.  ``protocol="full"`` counts whole recordings as
  users will (working frame rate, overlapping windows); ``protocol="flag3d128"`` is the
  paper's view (the sequence interval-sampled to 128 frames).
* :func:`train_and_evaluate` - both, for ablations (fusion, text level, shared vs
  hierarchical projection, with or without text): returns a metrics dict.
* :func:`count_sequence` - count one recording with the shipped model or a checkpoint
  (:mod:`flag3d.tasks.counting_infer`, numpy engine).

Nothing heavy is imported at module import: ``count_sequence`` stays fast.

Example:
    >>> from flag3d.tasks.counting import count_sequence, CountResult
    >>> from flag3d.skeleton import Sequence
    >>> import numpy as np
    >>> r = count_sequence(Sequence(np.zeros((5, 24, 3)), "flag3d24"))
    >>> r.count, r.reason
    (0, 'too few frames to count (5 frames, 0.17 s; need at least 8 frames and 0.5 s)')
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence as Seq, Tuple, Union

import numpy as np

from flag3d.data.counting import WINDOW, protocol_indices, window_features
from flag3d.data.counting_dataset import CountingItem
from flag3d.errors import Flag3dError
from flag3d.tasks.counting_config import CountingConfig
from flag3d.tasks.counting_infer import (
    Counter, CountResult, Repetition, count_sequence, load_counter, shipped_weights,
)

PathLike = Union[str, "os.PathLike[str]"]

__all__ = [
    "CountResult", "CountingConfig", "Counter", "Repetition", "build_items", "count_sequence",
    "evaluate", "load_counter", "shipped_weights", "text_table", "train", "train_and_evaluate",
]

#: The 5-15 s of standing used for the idle variants of the UI-PRMD counting set.
IDLE = (5.0, 15.0)


# --------------------------------------------------------------------------- text
def text_table(cfg: CountingConfig) -> Tuple[Dict[str, np.ndarray], int]:
    """Embeddings of every taxonomy activity (FLAG3D and UI-PRMD) at ``cfg.text_level``.

    Returns ``(activity id -> vector, dim)``; empty for ``text_mode="none"``.
    """
    if cfg.text_mode == "none":
        return {}, cfg.text_dim
    from flag3d.taxonomy import activities
    from flag3d.text import encode_activities, get_encoder

    enc = get_encoder(cfg.text_encoder)
    ids = [a.id for a in activities("flag3d")] + [a.id for a in activities("uiprmd")]
    vecs = encode_activities(ids, cfg.text_level, enc)
    return {i: v.astype(np.float32) for i, v in zip(ids, vecs)}, int(enc.dim)


# --------------------------------------------------------------------------- data
def build_items(cfg: CountingConfig) -> Tuple[List[CountingItem], List[CountingItem]]:
    """Training and validation sequences of a config (see :class:`CountingConfig`)."""
    from flag3d.data.counting_dataset import rac_items, store_items, synthetic_items, uiprmd_items

    train: List[CountingItem] = []
    val: List[CountingItem] = []
    val_subj = set(cfg.val_subjects)
    for src in cfg.train_sources:
        if src == "uiprmd":
            its = uiprmd_items("train", n_per_pair=cfg.uiprmd_n_per_pair, seed=cfg.uiprmd_seed)
            if cfg.uiprmd_idle_n_per_pair > 0:
                its += uiprmd_items("train", n_per_pair=cfg.uiprmd_idle_n_per_pair,
                                    seed=cfg.uiprmd_seed + 1, idle=IDLE)
            train += [it for it in its if it.subject not in val_subj]
            if cfg.val_source == "uiprmd":
                val += [it for it in its if it.subject in val_subj]
        elif src == "synthetic":
            train += synthetic_items(cfg.synthetic_n, seed=cfg.synthetic_seed,
                                     reps=tuple(cfg.synthetic_reps),
                                     idle=tuple(cfg.synthetic_idle))
        elif src.startswith("rac:"):
            train += rac_items(src[4:], split="train")
        elif src.startswith("store:"):
            train += store_items(src[6:], split="train")
        else:
            raise Flag3dError(f"unknown train source {src!r}; use uiprmd, synthetic, "
                              "rac:<folder> or store:<folder>")
    if cfg.val_source == "synthetic":
        val = synthetic_items(max(25, cfg.synthetic_n // 10), seed=cfg.synthetic_seed + 1000,
                              reps=tuple(cfg.synthetic_reps), idle=tuple(cfg.synthetic_idle))
    elif cfg.val_source.startswith("rac:"):
        val = rac_items(cfg.val_source[4:], split="val")
    if not train:
        raise Flag3dError("the config selects no training sequences")
    return train, val


def eval_items(data: str = "uiprmd", idle: Optional[Tuple[float, float]] = None,
               n_per_pair: int = 4, seed: int = 0, synthetic_n: int = 100) -> List[CountingItem]:
    """Test sequences: ``uiprmd`` (s08-s10), ``synthetic`` (a held-out seed), ``rac:<dir>``,
    ``store:<dir>``."""
    from flag3d.data.counting_dataset import rac_items, store_items, synthetic_items, uiprmd_items

    if data == "uiprmd":
        return uiprmd_items("test", n_per_pair=n_per_pair, seed=seed, idle=idle)
    if data == "synthetic":
        return synthetic_items(synthetic_n, seed=10_000 + seed, reps=(2, 20),
                               idle=idle or (0.5, 2.0))
    if data.startswith("rac:"):
        return rac_items(data[4:], split="test")
    if data.startswith("store:"):
        return store_items(data[6:], split="test")
    raise Flag3dError(f"unknown test data {data!r}; use uiprmd, synthetic, rac:<folder> or "
                      "store:<folder>")


# -------------------------------------------------------------------------- train
def _resolve(config: Union[CountingConfig, PathLike, None], overrides: Iterable[str]
             ) -> CountingConfig:
    from flag3d.config import config_from_dict, config_to_dict, load_config

    if isinstance(config, CountingConfig):
        return config_from_dict(CountingConfig, config_to_dict(config), overrides) \
            if overrides else config
    return load_config(CountingConfig, config, overrides)


def train(config: Union[CountingConfig, PathLike, None] = None, opts: Any = None,
          overrides: Iterable[str] = (), items: Optional[Tuple[List[CountingItem],
                                                               List[CountingItem]]] = None
          ) -> Path:
    """Train a counting model; returns the exported ``<out>/best`` folder.

    Args:
        config: a :class:`CountingConfig`, a YAML path, or ``None`` for the defaults.
        opts: :class:`flag3d.tasks.trainer.TrainOptions` (run folder, devices, resume ...);
            ``max_epochs`` comes from the config's ``epochs``.
        overrides: ``key=value`` strings applied to the config.
        items: ``(train, val)`` sequences instead of the config's sources (tests, ablations).
    """
    import torch
    from lightning.pytorch.callbacks import Callback, Timer
    from torch.utils.data import DataLoader

    from flag3d.data.counting_dataset import Augment, CountingWindows
    from flag3d.tasks.counting_module import CountingModule
    from flag3d.tasks.trainer import TrainOptions, fit_and_export

    cfg = _resolve(config, overrides)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    texts, dim = text_table(cfg)
    if dim != cfg.text_dim:
        cfg = dataclasses.replace(cfg, text_dim=dim)
    train_items, val_items = items if items is not None else build_items(cfg)
    opts = opts or TrainOptions()
    opts = dataclasses.replace(opts, max_epochs=cfg.epochs, seed=cfg.seed,
                               monitor="val_mae" if val_items else None, mode="min")
    if cfg.steps_per_epoch > 0 and opts.limit_train_batches == 1.0:
        opts = dataclasses.replace(opts, limit_train_batches=cfg.steps_per_epoch)
    ds = CountingWindows(train_items, crops=cfg.crops, protocol_prob=cfg.protocol_prob,
                         frames_per_rep=tuple(cfg.frames_per_rep), texts=texts,
                         text_dim=cfg.text_dim, text_drop=cfg.text_drop,
                         augment=Augment() if cfg.augment else None, seed=cfg.seed,
                         window=cfg.frames)
    loader = DataLoader(ds, batch_size=cfg.batch_size, shuffle=True, drop_last=len(ds) > cfg.batch_size,
                        num_workers=cfg.num_workers, persistent_workers=cfg.num_workers > 0)
    val_loader = None
    if val_items:
        vds = CountingWindows(val_items, crops=1, protocol_prob=1.0, texts=texts,
                              text_dim=cfg.text_dim, seed=cfg.seed + 1, window=cfg.frames)
        val_loader = DataLoader(vds, batch_size=cfg.batch_size, shuffle=False)
    steps = max(1, len(loader)) * cfg.epochs
    if isinstance(opts.limit_train_batches, int):
        steps = opts.limit_train_batches * cfg.epochs
    module = CountingModule(cfg, texts, val_items, total_steps=steps)

    class _Epoch(Callback):
        def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
            ds.set_epoch(trainer.current_epoch)

    callbacks = [_Epoch(), Timer(duration={"minutes": cfg.max_minutes}, interval="step")]
    opts = dataclasses.replace(opts, extra_callbacks=list(opts.extra_callbacks) + callbacks)
    info = {"task": "counting", "train_sequences": len(train_items),
            "val_sequences": len(val_items), "train_sources": list(cfg.train_sources),
            "text_encoder": cfg.text_encoder, "text_level": cfg.text_level}
    return fit_and_export(opts, cfg, info, module, loader, val_loader, seed=cfg.seed, texts=texts)


# ----------------------------------------------------------------------- evaluate
def _protocol_counts(counter: Counter, items: Seq[CountingItem],
                     texts: Optional[Dict[str, np.ndarray]], frames: int = WINDOW) -> List[float]:
    """FLAG3D++ view: each whole sequence interval-sampled to ``frames`` frames."""
    out = []
    for it in items:
        idx = protocol_indices(len(it.joints), frames)
        x = window_features(it.joints[idx])[None]
        text = None
        if counter.uses_text:
            vec = (texts or {}).get(str(it.activity))
            text = (np.zeros(int(counter.config["text_dim"]), np.float32) if vec is None
                    else vec)[None]
        d, _ = counter.engine(x.astype(np.float32), text)
        n_valid = min(len(it.joints), frames)
        out.append(float(d[0, :n_valid].sum()))
    return out


def score(pred: Seq[float], gt: Seq[int], pred_reps: Optional[Seq[Any]] = None,
          gt_reps: Optional[Seq[Any]] = None) -> Dict[str, Any]:
    """Counting metrics in both conventions (and interval IoU when repetitions are given)."""
    from flag3d.metrics.counting import counting_metrics, interval_metrics_many

    out: Dict[str, Any] = {
        "flag3d": counting_metrics(pred, gt, convention="flag3d").as_dict(),
        "transrac": counting_metrics(pred, gt, convention="transrac").as_dict(),
        "exact": float(np.mean(np.rint(pred) == np.asarray(gt))),
    }
    if pred_reps is not None and gt_reps is not None:
        im = interval_metrics_many(pred_reps, gt_reps)
        out["intervals"] = {"mean_iou": im.mean_iou, "precision": im.precision,
                            "recall": im.recall, "f1": im.f1}
    return out


def evaluate(checkpoint: Optional[PathLike] = None, data: str = "uiprmd",
             idle: Optional[Tuple[float, float]] = None, protocol: str = "full",
             engine: str = "torch", use_text: bool = True,
             items: Optional[Seq[CountingItem]] = None, n_per_pair: int = 4,
             seed: int = 0, limit: Optional[int] = None) -> Dict[str, Any]:
    """Count every test sequence and score the counts.

    Args:
        checkpoint: a checkpoint folder (default: the shipped model).
        data: ``uiprmd`` (test subjects s08-s10), ``synthetic``, ``rac:<folder>``,
            ``store:<folder>``; ignored when ``items`` is given.
        idle: add this range of standing still (seconds) to the UI-PRMD sequences.
        protocol: ``full`` (whole recordings) or ``flag3d128`` (128 sampled frames).
        engine: ``torch`` or ``numpy``.
        use_text: give the model the activity text (``False``: zeros, as without text).
        n_per_pair, seed: UI-PRMD counting set construction.
        limit: score only the first ``limit`` sequences (quick checks).

    Returns:
        ``{"flag3d": {...}, "transrac": {...}, "exact", "intervals" (full protocol),
        "n", "data", "protocol", "per_sequence": [...], "seconds"}``.
    """
    counter = load_counter(checkpoint, engine)
    if items is not None:
        its = list(items)
    else:
        its = eval_items(data, idle, n_per_pair, seed,
                         synthetic_n=limit if limit and data == "synthetic" else 100)
    its = its[:limit] if limit else its
    if not its:
        raise Flag3dError(f"no test sequences in {data}")
    texts = counter.texts if use_text else {}
    if counter.uses_text and use_text:
        for it in its:  # activities not in the table are encoded once
            if it.activity is not None and str(it.activity) not in texts:
                try:
                    counter.text_for(str(it.activity), strict=True)
                except Flag3dError:
                    pass
        texts = counter.texts
    t0 = time.time()
    gt = [it.count for it in its]
    if protocol == "full":
        from flag3d.tasks.counting_module import count_items

        res = count_items(counter, its, texts, use_text=use_text)
        pred = [r.count_raw for r in res]
        pred_reps = [[(r.start_frame, r.end_frame) for r in x.repetitions] for x in res]
        gt_reps = [it.reps.tolist() for it in its]
        out = score(pred, gt, pred_reps, gt_reps)
        per = [{"id": it.id, "activity": it.activity, "gt": g, "pred": round(p, 3),
                "count": r.count} for it, g, p, r in zip(its, gt, pred, res)]
    elif protocol == "flag3d128":
        pred = _protocol_counts(counter, its, texts)
        out = score(pred, gt)
        per = [{"id": it.id, "activity": it.activity, "gt": g, "pred": round(p, 3)}
               for it, g, p in zip(its, gt, pred)]
    else:
        raise Flag3dError(f"unknown protocol {protocol!r}; use full or flag3d128")
    out.update({"n": len(its), "data": data if items is None else "items",
                "idle": list(idle) if idle else None, "protocol": protocol,
                "use_text": use_text, "checkpoint": counter.source,
                "seconds": round(time.time() - t0, 2), "per_sequence": per})
    return out


def train_and_evaluate(config: Union[CountingConfig, PathLike, None] = None,
                       opts: Any = None, overrides: Iterable[str] = (),
                       test: Seq[Dict[str, Any]] = ({"data": "uiprmd"},),
                       items: Optional[Tuple[List[CountingItem], List[CountingItem]]] = None
                       ) -> Dict[str, Any]:
    """Train a config, then evaluate the best checkpoint on each entry of ``test``.

    Each entry of ``test`` holds keyword arguments of :func:`evaluate` (``data``, ``idle``,
    ``protocol``, ``use_text``, ``items``).  Returns ``{"config", "checkpoint",
    "train_seconds", "results": [...]}`` with the per-sequence lists dropped.
    """
    from flag3d.config import config_to_dict

    cfg = _resolve(config, overrides)
    t0 = time.time()
    best = train(cfg, opts, items=items)
    secs = time.time() - t0
    results = []
    for spec in test:
        r = evaluate(best, **spec)
        r.pop("per_sequence", None)
        r["spec"] = {k: v for k, v in spec.items() if k != "items"}
        results.append(r)
    return {"config": config_to_dict(cfg), "checkpoint": str(best),
            "train_seconds": round(secs, 1), "results": results}
