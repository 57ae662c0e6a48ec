"""Quality-assessment benchmark: FLAG3D++ Table 8/9-style tables on synthetic and UI-PRMD data.

Three parts, each on held-out people only (nothing is tuned on them):

1. **Synthetic** (``data source: synthetic``; the corpus of the scorer's config, people
   8:2): Eq. 1 score of every test recording - Spearman per body part (Table 8 columns)
   averaged through Fisher's z, pooled Spearman and R-l2 - for the text-free baselines
   (holistic, CoRe-style, kinematic; trained on the training people's recordings) and for
   HL-AQA (our G with ground-truth segmentation and with predicted segmentation, Table 9);
   plus per-standard accuracy / F1 of G.
2. **UI-PRMD correct vs incorrect** (``data source: UI-PRMD``, train s01-s07, test s08-s10):
   per-movement repetition accuracy of G, the kinematic baseline and the holistic baseline
   (both regress 0/1 and threshold at 0.5).
3. **UI-PRMD m01 scores** (train subjects' scored repetitions, test s08-s10): Spearman of
   each method's prediction with the scores.  G is *not* trained on the scores: its
   prediction is ``P(all three standards met)``; the baselines regress the scores.

Usage (about an hour on 2 busy cores; ``--quick`` for a smoke run)::

    .venv/bin/python benchmarks/quality.py --uiprmd runs/quality-uiprmd/best \
        --synthetic runs/quality-synthetic/best

Prints the tables and writes ``benchmarks/results/quality.json``; a run of some parts keeps
the other parts already in that file (each part records its own machine and load).  ``torch`` runs with
``--threads`` (default 2) threads.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "quality.json"
GROUPS = ["Chest & Back", "Shoulder", "Arm", "Neck & Abdomen", "Waist", "Hip", "Leg", "Whole body"]


def machine() -> Dict[str, Any]:
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__,
            "cpu_count": os.cpu_count(), "platform": platform.platform(),
            "load_avg": [round(x, 2) for x in os.getloadavg()], "torch_threads": torch.get_num_threads()}


def _fmt(v: Any, w: int = 7) -> str:
    return f"{v:{w}.4f}" if isinstance(v, (float, np.floating)) and np.isfinite(v) else f"{'-':>{w}}"


def score_table(rows: Dict[str, Dict[str, Any]]) -> str:
    """Table 8 style: Spearman per body part, Fisher mean, pooled, R-l2, n."""
    head = f"{'method':34s}" + "".join(f"{g[:12]:>13s}" for g in GROUPS) + \
        f"{'Fisher':>8s}{'pooled':>8s}{'R-l2':>8s}{'n':>5s}"
    lines = [head]
    for name, r in rows.items():
        per = r.get("per_group", {})
        cells = "".join(f"{_fmt(per.get(g, {}).get('rho'), 13)}" for g in GROUPS)
        lines.append(f"{name:34s}{cells}{_fmt(r.get('fisher_mean'), 8)}{_fmt(r.get('overall'), 8)}"
                     f"{_fmt(r.get('r_l2'), 8)}{r.get('n', 0):5d}")
    return "\n".join(lines)


def _summary(gt: List[float], pred: List[float], groups: List[str]) -> Dict[str, Any]:
    from flag3d.metrics.quality import grouped_spearman, relative_l2

    g = grouped_spearman(gt, pred, groups)
    return {"per_group": g["per_group"], "fisher_mean": g["fisher_mean"], "overall": g["overall"],
            "r_l2": relative_l2(gt, pred), "n": len(gt)}


# ------------------------------------------------------------------------- synthetic
def synthetic_part(ckpt: Path, args: argparse.Namespace) -> Dict[str, Any]:
    from flag3d.baselines.quality import Item, make_baseline
    from flag3d.config import config_from_dict
    from flag3d.skeleton.transforms import fill_missing
    from flag3d.tasks.quality import QualityConfig, build_data, evaluate_clips, evaluate_recordings, table8_group
    from flag3d.tasks.quality_clips import normalize_clip
    from flag3d.tasks.quality_infer import load_scorer

    scorer = load_scorer(ckpt)
    names = {f for f in QualityConfig.__dataclass_fields__}
    cfg = config_from_dict(QualityConfig, {k: v for k, v in scorer.config.items() if k in names},
                           [f"synthetic_n={args.synthetic_n}"] if args.synthetic_n else [])
    t0 = time.time()
    d = build_data(cfg)
    out: Dict[str, Any] = {"data": "synthetic", "split": d["split"], "synthetic_n": cfg.synthetic_n,
                           "checkpoint": str(ckpt)}
    prob = scorer.probabilities(d["test"])
    out["per_standard"] = evaluate_clips(prob, d["test"], scorer.threshold)
    canon = scorer.config.get("canonical_side", False)
    rec = evaluate_recordings(scorer.probabilities, d["test_recordings"], cfg.frames,
                              scorer.threshold, predicted=True, canonical_side=canon,
                              method="angles")
    rec_model = None
    counter = args.counter
    if counter is None:
        from flag3d.tasks.counting_infer import shipped_weights as counting_weights

        if (counting_weights() / "model.safetensors").is_file():
            counter = counting_weights()
    if counter is not None:
        rec_model = evaluate_recordings(scorer.probabilities, d["test_recordings"], cfg.frames,
                                        scorer.threshold, predicted=True, canonical_side=canon,
                                        counter_checkpoint=counter, method="model")
    rows: Dict[str, Dict[str, Any]] = {}

    def whole(r: Any) -> Item:
        j = r.seq.joints
        if r.seq.confidence is not None and (r.seq.confidence <= 0).any():
            j, _ = fill_missing(j, r.seq.confidence)
        return Item(normalize_clip(j, r.seq.layout, args.holistic_frames), r.seq.layout,
                    r.seq.num_frames / r.seq.fps, r.activity, r.score)

    train_items = [whole(r) for r in d["train_recordings"] + d["val_recordings"]]
    test_recs = d["test_recordings"]
    test_items = [whole(r) for r in test_recs]
    gt = [r.score for r in test_recs]
    groups = [table8_group(r.activity) for r in test_recs]
    timings = {}
    for name, opts in (("kinematic", {}),
                       ("holistic", {"epochs": args.epochs, "channels": cfg.channels, "strides": cfg.strides}),
                       ("core", {"epochs": args.epochs, "channels": cfg.channels, "strides": cfg.strides})):
        t1 = time.time()
        model = make_baseline(name, **opts).fit(train_items)
        pred = np.clip(model.predict(test_items), 3.0, 9.0)
        timings[name] = round(time.time() - t1, 1)
        label = {"kinematic": "Kinematic features + ridge", "holistic": "Holistic HL-GCN (no text)",
                 "core": "CoRe-style contrastive (no text)"}[name]
        rows[label] = _summary(gt, list(pred), groups)
        print(f"  synthetic {name}: {timings[name]} s", flush=True)
    variants = [("HL-AQA (ours), GT segmentation", rec["gt_seg"]),
                ("HL-AQA (ours), angle-counter seg.", rec["pred_seg"])]
    if rec_model is not None:
        variants.append(("HL-AQA (ours), counting-model seg.", rec_model["pred_seg"]))
    out["table9"] = {}
    for label, r in variants:
        if "score" in r:
            rows[label] = {**r["score"], "n": r["n"]}
            rows[label + " (soft)"] = {**r["score_soft"], "n": r["n"]}
            out["table9"][label] = {"spearman": r["score"]["overall"],
                                    "fisher_mean": r["score"]["fisher_mean"], "r_l2": r["r_l2"],
                                    "n": r["n"], "not_assessable": r["not_assessable"],
                                    "segmentation": r.get("segmentation"),
                                    "count_exact": r.get("count_exact")}
    out["table8"] = rows
    out["counter_checkpoint"] = None if counter is None else str(counter)
    out["baseline_seconds"] = timings
    out["seconds"] = round(time.time() - t0, 1)
    return out


# --------------------------------------------------------------------------- UI-PRMD
def uiprmd_part(ckpt: Path, args: argparse.Namespace) -> Dict[str, Any]:
    from flag3d.baselines.quality import Item, make_baseline
    from flag3d.metrics.quality import spearman
    from flag3d.paths import shared_data_dir
    from flag3d.tasks.quality import evaluate_clips
    from flag3d.tasks.quality_data import UIPRMD_TEST, UIPRMD_TRAIN, uiprmd_clips
    from flag3d.tasks.quality_infer import load_scorer

    scorer = load_scorer(ckpt)
    root = shared_data_dir()
    if root is None:
        return {"skipped": "shared data not found"}
    t0 = time.time()
    clips = uiprmd_clips(root / "uiprmd", scorer.frames, scores=root / "uiprmd-scores",
                         canonical_side=scorer.canonical_side)
    train = [c for c in clips if c.subject in UIPRMD_TRAIN]
    test = [c for c in clips if c.subject in UIPRMD_TEST]
    prob = scorer.probabilities(test)
    ours = evaluate_clips(prob, test, scorer.threshold)
    item = lambda c, t: Item(c.pos, "uiprmd22", c.duration, c.activity, t)  # noqa: E731
    acc: Dict[str, Dict[str, float]] = {"HL-AQA (ours)": {a: v["accuracy"] for a, v in ours["per_activity"].items()}}
    timings = {}
    for name, opts in (("kinematic", {}),
                       ("holistic", {"epochs": args.uiprmd_epochs, "channels": scorer.config["channels"],
                                     "strides": scorer.config["strides"]})):
        t1 = time.time()
        model = make_baseline(name, **opts).fit([item(c, float(c.correct)) for c in train])
        p = model.predict([item(c, float("nan")) for c in test])
        timings[name] = round(time.time() - t1, 1)
        label = {"kinematic": "Kinematic features + ridge", "holistic": "Holistic HL-GCN (no text)"}[name]
        acc[label] = {a: float(np.mean([(p[i] >= 0.5) == (c.correct == 1) for i, c in enumerate(test)
                                        if c.activity == a])) for a in sorted({c.activity for c in test})}
        print(f"  uiprmd {name}: {timings[name]} s", flush=True)
    # m01 scores
    sc_train = [c for c in train if c.activity == "m01" and np.isfinite(c.score)]
    sc_test = [c for c in test if c.activity == "m01" and np.isfinite(c.score)]
    truth = [c.score for c in sc_test]
    m01: Dict[str, float] = {}
    idx = [i for i, c in enumerate(test) if c.activity == "m01" and np.isfinite(c.score)]
    m01["HL-AQA (ours): P(all standards met), not trained on scores"] = spearman(truth, np.prod(prob[idx], axis=1))
    for name, opts in (("kinematic", {}),
                       ("holistic", {"epochs": args.epochs, "channels": scorer.config["channels"],
                                     "strides": scorer.config["strides"]}),
                       ("core", {"epochs": args.epochs, "channels": scorer.config["channels"],
                                 "strides": scorer.config["strides"]})):
        model = make_baseline(name, **opts).fit([item(c, c.score) for c in sc_train])
        m01[f"{name} (regresses the scores)"] = spearman(truth, model.predict([item(c, float('nan')) for c in sc_test]))
    return {"data": "UI-PRMD", "train_subjects": list(UIPRMD_TRAIN), "test_subjects": list(UIPRMD_TEST),
            "checkpoint": str(ckpt), "accuracy": acc,
            "mean_accuracy": {k: float(np.mean(list(v.values()))) for k, v in acc.items()},
            "ours_detail": ours, "m01_spearman": m01, "m01_n_train": len(sc_train),
            "m01_n_test": len(sc_test), "baseline_seconds": timings,
            "seconds": round(time.time() - t0, 1)}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--uiprmd", type=Path, default=None, help="UI-PRMD scorer checkpoint (default: shipped).")
    ap.add_argument("--synthetic", type=Path, default=None, help="Synthetic scorer checkpoint (default: shipped).")
    ap.add_argument("--parts", default="synthetic,uiprmd")
    ap.add_argument("--epochs", type=int, default=30, help="Epochs of the neural baselines.")
    ap.add_argument("--uiprmd-epochs", type=int, default=15, help="Epochs of the holistic UI-PRMD classifier.")
    ap.add_argument("--holistic-frames", type=int, default=64, help="Frames of a whole recording for the baselines.")
    ap.add_argument("--synthetic-n", type=int, default=0, help="Corpus size (default: the checkpoint's).")
    ap.add_argument("--counter", type=Path, default=None,
                    help="Counting checkpoint for the predicted segmentation (default: the shipped one, if any).")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="Tiny settings for a smoke run.")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    import torch

    from flag3d.tasks.quality_infer import shipped_weights

    torch.set_num_threads(args.threads)
    if args.quick:
        args.epochs, args.uiprmd_epochs, args.synthetic_n = 1, 1, 50
    parts = set(args.parts.split(","))
    res: Dict[str, Any] = {"benchmark": "quality", "machine": machine(),
                           "parameters": {k: str(v) for k, v in vars(args).items()}}
    if "synthetic" in parts:
        ck = args.synthetic or shipped_weights("flag3d")
        s = res["synthetic"] = synthetic_part(ck, args)
        print("\nSynthetic corpus (data source: synthetic), Eq. 1 score of held-out people's recordings")
        print(score_table(s["table8"]))
        for k, v in s["table9"].items():
            if v.get("segmentation"):
                print(f"{k}: {v['segmentation']}, exact count on {v['count_exact']:.3f} of recordings, "
                      f"not assessable {len(v['not_assessable'])}")
        print("\nHL-AQA per standard (synthetic test repetitions; fault = positive class)")
        for k, v in s["per_standard"]["per_standard"].items():
            print(f"  {k:10s} n={v['n']:5d} faults={v['faults']:4d}  accuracy {v['accuracy']:.4f}  "
                  f"fault F1 {v['f1']:.4f}  meets F1 {v['f1_meets']:.4f}  macro F1 {v['macro_f1']:.4f}")
    if "uiprmd" in parts:
        ck = args.uiprmd or shipped_weights("uiprmd")
        u = res["uiprmd"] = uiprmd_part(ck, args)
        if "accuracy" in u:
            print("\nUI-PRMD correct vs incorrect (data source: UI-PRMD), test subjects s08-s10, repetition accuracy")
            movs = sorted(next(iter(u["accuracy"].values())))
            print(f"{'method':30s}" + "".join(f"{m:>7s}" for m in movs) + f"{'mean':>8s}")
            for k, v in u["accuracy"].items():
                print(f"{k:30s}" + "".join(_fmt(v[m]) for m in movs) + _fmt(u["mean_accuracy"][k], 8))
            print(f"\nUI-PRMD m01 scores, Spearman on s08-s10 (n={u['m01_n_test']}; "
                  f"baselines trained on {u['m01_n_train']} scored repetitions of s01-s07)")
            for k, v in u["m01_spearman"].items():
                print(f"  {k:60s} {v:.4f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from flag3d.tasks.quality import as_json

    merged: Dict[str, Any] = {}
    if args.out.is_file():
        try:
            merged = json.loads(args.out.read_text(encoding="utf-8"))
        except ValueError:
            merged = {}
    for name in ("synthetic", "uiprmd"):  # each part keeps the parameters it ran with
        if name in res:
            res[name]["parameters"] = res["parameters"]
            res[name]["machine"] = res["machine"]
            res[name]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    merged.update(res)
    args.out.write_text(as_json(merged) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
