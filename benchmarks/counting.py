"""FLAG3D++ Table 3-style counting benchmark: every method on synthetic and UI-PRMD data.

Datasets (test splits only are scored; learned baselines fit on the train split):

* ``synthetic``: ``flag3d.synth`` corpus (``--synth-n`` sequences, ``--synth-seed``), the
  sensor-corrupted ``flag3d24`` joints, split by activity with the ``flag3d-counting``
  protocol (FLAG3D++: activities 1/6 test, seed 0).  ``--clean`` adds the clean joints.
* ``uiprmd``: the real UI-PRMD counting set (:mod:`flag3d.data.uiprmd_counting`, default
  construction, seed ``--uiprmd-seed``), train s01-s07, test s08-s10.

Both metric conventions are computed; the printed tables name theirs in the header.
Extras (``--extras``): the joint-angle counter on sequences with 5-15 s of standing before,
between and after the repetitions (does idle add counts?) and on 5-minute synthetic
sequences with 100+ repetitions.

Model rows: other code adds methods with :func:`register_method` (a function from the test
sequences and the dataset name to predictions), or pass ``--checkpoint DATASET=PATH`` to
score a trained checkpoint folder through ``flag3d.tasks.counting_infer.load_counter``.

Usage:
    .venv/bin/python benchmarks/counting.py                      # full run
    .venv/bin/python benchmarks/counting.py --synth-n 100 --methods angles,fourier --no-uiprmd
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence as Seq, Tuple

import numpy as np

from flag3d.baselines.counting import LABELS, baseline_names, make_counter, true_count
from flag3d.metrics.counting import (
    CONVENTIONS, counting_metrics, format_table, group_of, grouped_metrics,
    interval_metrics_many,
)
from flag3d.skeleton.sequence import Sequence

RESULTS = Path(__file__).resolve().parent / "results" / "counting.json"

#: ``predictor(test_sequences, dataset) -> [float | object with .count (and .repetitions)]``
Predictor = Callable[[List[Sequence], str], List[Any]]


@dataclass
class Method:
    """A row of the table."""

    name: str
    label: str
    predictor: Optional[Predictor] = None  # None: a baseline from flag3d.baselines
    datasets: Optional[Tuple[str, ...]] = None  # None: every dataset


_EXTRA: Dict[str, Method] = {}


def register_method(name: str, predictor: Predictor, label: Optional[str] = None,
                    datasets: Optional[Seq[str]] = None) -> None:
    """Add a row (e.g. a trained model): ``predictor(test_sequences, dataset_name)``.

    ``dataset_name`` is ``"synthetic"``, ``"synthetic-clean"`` or ``"uiprmd"``; return one
    prediction per sequence: a number or an object with ``.count`` and optionally
    ``.repetitions``.  ``datasets`` limits the row to some datasets.
    """
    _EXTRA[name] = Method(name, label or name, predictor, tuple(datasets) if datasets else None)


@dataclass
class _ModelPrediction:
    count: float
    repetitions: List[List[int]]
    reason: Optional[str]


def _checkpoint_predictor(path: str) -> Predictor:
    """Rows for a trained counting model via ``flag3d.tasks.counting_infer.load_counter``.

    The row's count is the model's unrounded density sum (``count_raw``), so the FLAG3D++
    convention sees it unrounded and the TransRAC convention rounds it.
    """
    try:
        from flag3d.tasks.counting_infer import load_counter
    except ImportError as err:
        raise SystemExit(f"--checkpoint needs flag3d.tasks.counting_infer ({err})") from None
    counter = load_counter(path)

    def run(seqs: List[Sequence], dataset: str) -> List[Any]:
        out = []
        for s in seqs:
            r = counter.count(s)
            raw = float(r.count_raw) if r.reason is None else 0.0
            out.append(_ModelPrediction(raw, [[x.start_frame, x.end_frame] for x in r.repetitions],
                                        r.reason))
        return out

    return run


# --------------------------------------------------------------------------- data
Split = Tuple[List[Sequence], List[Sequence]]


def synthetic_splits(n: int, seed: int, clean: bool) -> Dict[str, Split]:
    """``{"synthetic": (train, test), ...}`` from a generated corpus."""
    from flag3d.data.splits import protocol_split
    from flag3d.synth import SynthConfig, generate_corpus

    cfg = SynthConfig(n_sequences=n, seed=seed, views=())
    acts = cfg.activity_list()
    split = dict(zip(acts, protocol_split("flag3d-counting", acts)))
    out: Dict[str, Split] = {"synthetic": ([], [])}
    if clean:
        out["synthetic-clean"] = ([], [])
    for s in generate_corpus(cfg):
        k = 0 if split[s.activity] == "train" else 1
        out["synthetic"][k].append(s.noisy["flag3d24"])
        if clean:
            out["synthetic-clean"][k].append(s.clean["flag3d24"])
    return out


def uiprmd_split(seed: int, cache: Optional[str]) -> Split:
    """``(train, test)`` of the UI-PRMD counting set (built once, then cached)."""
    from flag3d.data.uiprmd_counting import cached_counting_set

    seqs = cached_counting_set(cache, seed=seed)
    return ([s for s in seqs if s.meta["split"] == "train"],
            [s for s in seqs if s.meta["split"] == "test"])


# ------------------------------------------------------------------------ scoring
def _count(p: Any) -> float:
    return float(p) if isinstance(p, (int, float, np.number)) else float(p.count)


def _reps(p: Any) -> Optional[List[List[int]]]:
    return None if isinstance(p, (int, float, np.number)) else getattr(p, "repetitions", None)


def score(method: Method, train: List[Sequence], test: List[Sequence], dataset: str
          ) -> Dict[str, Any]:
    """Fit (if needed), predict the test split, and compute every metric."""
    t0 = time.perf_counter()
    if method.predictor is None:
        counter = make_counter(method.name)
        if counter.needs_fit:
            counter.fit(train)
        fit_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        preds: List[Any] = counter.predict_many(test)
    else:
        fit_s = 0.0
        t1 = time.perf_counter()
        preds = method.predictor(test, dataset)
    pred_s = time.perf_counter() - t1
    pc = [_count(p) for p in preds]
    gt = [true_count(s) for s in test]
    row: Dict[str, Any] = {"label": method.label, "fit_s": round(fit_s, 3),
                           "ms_per_sequence": round(1000 * pred_s / max(len(test), 1), 2)}
    for conv in CONVENTIONS:
        row[conv] = counting_metrics(pc, gt, conv).as_dict()
    groups = [group_of(s.meta.get("activity")) for s in test]
    row["groups"] = {g: {"mae": m.mae, "obo@1": m.obo[1.0], "n": m.n}
                     for g, m in grouped_metrics(pc, gt, groups, "flag3d").items()}
    reps = [_reps(p) for p in preds]
    if all(r is not None for r in reps):
        truth = [s.meta["repetitions"] for s in test]
        row["intervals"] = interval_metrics_many(reps, truth).as_dict()
    row["reasons"] = sorted({str(p.reason) for p in preds if getattr(p, "reason", None)})
    row["predictions"] = [round(c, 3) for c in pc]
    return row


def print_tables(dataset: str, rows: Dict[str, Dict[str, Any]], source: str) -> None:
    """Table 3 style (both conventions), interval IoU, and the per-group Table 5 style."""
    from flag3d.metrics.counting import CountingMetrics

    for conv, label in CONVENTIONS.items():
        ms = {}
        for name, r in rows.items():
            d = r[conv]
            obo = {a: d[f"obo@{a:g}"] for a in (0.4, 0.6, 0.8, 1.0)}
            ms[r["label"]] = CountingMetrics(d["mae"], obo, d["obo@avg"], d["n"], label, conv)
        print(format_table(ms, title=f"{dataset} test ({source})"))
        print()
    print(f"{dataset}: repetition intervals (Hungarian IoU matching; P/R at IoU >= 0.5), speed")
    for name, r in rows.items():
        iv = r.get("intervals")
        ivs = (f"mean IoU {iv['mean_iou']:.3f}  P {iv['precision']:.3f}  R {iv['recall']:.3f}"
               if iv else "no intervals".ljust(42))
        print(f"  {r['label']:<34} {ivs}  {r['ms_per_sequence']:8.1f} ms/seq")
    groups = sorted({g for r in rows.values() for g in r["groups"] if g != "all"})
    print(f"\n{dataset}: MAE / OBO@1 per group [{CONVENTIONS['flag3d']}]")
    print("  " + "method".ljust(34) + "".join(g[:14].rjust(16) for g in groups))
    for r in rows.values():
        cells = "".join(f"{r['groups'][g]['mae']:7.3f}/{r['groups'][g]['obo@1']:.2f}".rjust(16)
                        for g in groups)
        print(f"  {r['label']:<34}{cells}")
    print()


# ------------------------------------------------------------------------- extras
def idle_extra(seed: int, cache: Optional[str], synth_seed: int) -> Dict[str, Any]:
    """Does standing still add counts?  The angle counter with and without 5-15 s idle."""
    from flag3d.baselines.angles import AngleCounter
    from flag3d.data.uiprmd_counting import TEST_SUBJECTS, build_counting_set, load_pool
    from flag3d.data.splits import protocol_split
    from flag3d.synth import SynthConfig, generate_sequence

    counter = AngleCounter()
    out: Dict[str, Any] = {}
    pool = load_pool(None, TEST_SUBJECTS)
    plain = build_counting_set(subjects=TEST_SUBJECTS, n_per_pair=1, seed=seed, pool=pool)
    idle = build_counting_set(subjects=TEST_SUBJECTS, n_per_pair=1, seed=seed, pool=pool,
                              idle=(5.0, 15.0))
    out["uiprmd"] = _idle_rows(counter, plain, idle)
    base = SynthConfig(views=(), reps=(2, 20))
    acts = base.activity_list()
    test_acts = [a for a, s in zip(acts, protocol_split("flag3d-counting", acts)) if s == "test"]
    long_idle = SynthConfig(views=(), reps=(2, 20), idle=(5.0, 15.0))
    p, i = [], []
    for k in range(40):
        a = test_acts[k % len(test_acts)]
        p.append(generate_sequence(a, synth_seed, base, index=k).noisy["flag3d24"])
        i.append(generate_sequence(a, synth_seed, long_idle, index=k).noisy["flag3d24"])
    out["synthetic"] = _idle_rows(counter, p, i)
    out["synthetic"]["note"] = ("synthetic: 5-15 s idle only before the first and after the "
                                "last repetition (the generator's idle setting), test activities")
    out["uiprmd"]["note"] = ("UI-PRMD test subjects, one sequence per subject and movement: "
                             "the same sequence with 5-15 s of standing added at the start, "
                             "in one gap and at the end (otherwise identical)")
    return out


def _idle_rows(counter: Any, plain: List[Sequence], idle: List[Sequence]) -> Dict[str, Any]:
    gt = [true_count(s) for s in plain]
    assert gt == [true_count(s) for s in idle]
    a = [counter.predict(s).count for s in plain]
    b = [counter.predict(s).count for s in idle]
    diff = np.asarray(b) - np.asarray(a)
    secs = [x.duration - y.duration for x, y in zip(idle, plain)]
    return {
        "n": len(gt), "added_seconds_mean": round(float(np.mean(secs)), 1),
        "without_idle": counting_metrics(a, gt).as_dict(),
        "with_idle": counting_metrics(b, gt).as_dict(),
        "count_change_mean": float(diff.mean()), "count_change_abs_max": float(np.abs(diff).max()),
        "sequences_with_more_counts": int((diff > 0).sum()),
        "sequences_with_fewer_counts": int((diff < 0).sum()),
    }


def long_extra(seed: int) -> List[Dict[str, Any]]:
    """The angle counter on 5-minute synthetic sequences with 100+ repetitions."""
    from flag3d.baselines.angles import AngleCounter
    from flag3d.synth import SynthConfig, generate_sequence

    out = []
    for act, n in (("A049", 110), ("A057", 250), ("A020", 130)):
        s = generate_sequence(act, seed, SynthConfig(views=(), reps=(n, n)), index=0)
        seq = s.noisy["flag3d24"]
        t = time.perf_counter()
        p = AngleCounter().predict(seq)
        dt = time.perf_counter() - t
        iv = interval_metrics_many([p.repetitions], [seq.meta["repetitions"]])
        out.append({"activity": act, "minutes": round(seq.duration / 60, 2),
                    "frames": seq.num_frames, "true": s.count, "predicted": p.count,
                    "seconds": round(dt, 3), "mean_iou": round(iv.mean_iou, 3)})
    return out


# --------------------------------------------------------------------------- main
def machine() -> Dict[str, Any]:
    """Machine facts for the JSON."""
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
            "numpy": np.__version__}


def main(argv: Optional[Seq[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--synth-n", type=int, default=1000, help="synthetic corpus size")
    ap.add_argument("--synth-seed", type=int, default=1)
    ap.add_argument("--uiprmd-seed", type=int, default=0)
    ap.add_argument("--methods", default=",".join(baseline_names()),
                    help="comma-separated baselines (registered methods are always added)")
    ap.add_argument("--no-synth", action="store_true")
    ap.add_argument("--no-uiprmd", action="store_true")
    ap.add_argument("--clean", action="store_true", help="also score the clean synthetic joints")
    ap.add_argument("--extras", action="store_true", help="idle and 5-minute checks")
    ap.add_argument("--checkpoint", action="append", default=[], metavar="DATASET=PATH",
                    help="score the counting checkpoint folder PATH on DATASET")
    ap.add_argument("--cache", default=None, help="folder for the UI-PRMD counting set cache")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)

    try:
        import torch

        torch.set_num_threads(2)
    except ImportError:  # pragma: no cover
        pass
    for spec in args.checkpoint:
        ds, _, path = spec.partition("=")
        register_method(f"model:{Path(path).name}:{ds}", _checkpoint_predictor(path),
                        label=f"model {Path(path).name}", datasets=[ds])
    methods = [Method(n, LABELS.get(n, n)) for n in args.methods.split(",") if n]
    methods += list(_EXTRA.values())

    data: Dict[str, Split] = {}
    sources: Dict[str, str] = {}
    if not args.no_synth:
        t = time.perf_counter()
        for k, v in synthetic_splits(args.synth_n, args.synth_seed, args.clean).items():
            data[k] = v
            sources[k] = (f"synthetic: flag3d.synth n={args.synth_n} seed={args.synth_seed}, "
                          f"{'clean' if k.endswith('clean') else 'sensor-corrupted'} flag3d24, "
                          "split by activity (flag3d-counting protocol)")
        print(f"generated synthetic corpus in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    if not args.no_uiprmd:
        data["uiprmd"] = uiprmd_split(args.uiprmd_seed, args.cache)
        sources["uiprmd"] = (f"real: UI-PRMD counting set (seed {args.uiprmd_seed}, 4 per "
                             "subject and movement), test subjects s08-s10")

    result: Dict[str, Any] = {"benchmark": "counting", "machine": machine(),
                              "parameters": vars(args), "conventions": CONVENTIONS,
                              "datasets": {}}
    for ds, (train, test) in data.items():
        rows: Dict[str, Dict[str, Any]] = {}
        for m in methods:
            if m.datasets is not None and ds not in m.datasets:
                continue
            rows[m.name] = score(m, train, test, ds)
        result["datasets"][ds] = {
            "source": sources[ds], "synthetic": ds.startswith("synthetic"),
            "n_train": len(train), "n_test": len(test),
            "test_activities": sorted({str(s.meta.get("activity")) for s in test}),
            "gt_counts": [true_count(s) for s in test], "methods": rows,
        }
        print_tables(ds, rows, "synthetic" if ds.startswith("synthetic") else "real")
    if args.extras:
        result["idle"] = idle_extra(args.uiprmd_seed, args.cache, args.synth_seed)
        result["long"] = long_extra(args.synth_seed)
        print("idle (angle counter):", json.dumps(result["idle"], indent=1))
        print("5-minute sequences (angle counter):")
        for r in result["long"]:
            print("  ", r)
    result["machine"]["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
