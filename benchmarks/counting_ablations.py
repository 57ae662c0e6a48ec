"""Counting ablations (FLAG3D++ Tables 4 and 6 style): fusion, text level, shared vs per-layer text.

Every variant is the base config (``configs/counting/hlrac.yaml``) with a few keys changed,
trained for a short fixed budget (``--minutes``; the machine is shared, so the budget is wall
time, and all variants get the same) by :func:`flag3d.tasks.counting.train_and_evaluate`,
then evaluated on the UI-PRMD counting set test subjects (s08-s10, whole recordings) with
and without 5-15 s of idle standing.  Model selection uses subject s07 only.  Variants run
``--jobs`` at a time as separate processes, one torch thread each.

Results go to ``benchmarks/results/counting_ablations.json`` (data source: UI-PRMD
counting set built from the real UI-PRMD recordings, plus the synthetic corpus in
training when the base config has it).  Short budgets mean under-trained models: compare
variants with each other, not with the shipped model.

Example:
    $ .venv/bin/python benchmarks/counting_ablations.py --minutes 12 --jobs 2
    $ .venv/bin/python benchmarks/counting_ablations.py --only fusion_add --minutes 12
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent

#: name -> overrides of the base config.
VARIANTS: Dict[str, List[str]] = {
    "fusion_mul_level1_shared": [],
    "fusion_add": ["fusion=add"],
    "fusion_xattn": ["fusion=xattn"],
    "level2": ["text_level=2"],
    "level3": ["text_level=3"],
    "hierarchical": ["text_mode=hierarchical"],
    "no_text": ["text_mode=none"],
}


def run_one(name: str, base: str, minutes: float, out: Path, epochs: int) -> Dict[str, Any]:
    from flag3d.tasks.counting import IDLE, train_and_evaluate
    from flag3d.tasks.trainer import TrainOptions

    overrides = VARIANTS[name] + [f"max_minutes={minutes}", f"epochs={epochs}"]
    opts = TrainOptions(out=out / name, progress=False)
    res = train_and_evaluate(base, opts, overrides,
                             test=[{"data": "uiprmd"}, {"data": "uiprmd", "idle": IDLE}])
    res["variant"] = name
    res["overrides"] = VARIANTS[name]
    return res


def main(argv: Optional[List[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default=str(ROOT / "configs" / "counting" / "hlrac.yaml"))
    ap.add_argument("--minutes", type=float, default=12.0)
    ap.add_argument("--epochs", type=int, default=3, help="cosine schedule length")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", default=None, help="comma-separated variant names")
    ap.add_argument("--runs", default=str(ROOT / "runs" / "counting-ablations"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "counting_ablations.json"))
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    if args.worker:  # one variant in this process
        res = run_one(args.worker, args.base, args.minutes, runs, args.epochs)
        (runs / f"{args.worker}.json").write_text(json.dumps(res, indent=2) + "\n")
        return
    names = args.only.split(",") if args.only else list(VARIANTS)
    pending, active = list(names), []
    t0 = time.time()
    while pending or active:
        while pending and len(active) < args.jobs:
            name = pending.pop(0)
            cmd = [sys.executable, __file__, "--worker", name, "--base", args.base,
                   "--minutes", str(args.minutes), "--epochs", str(args.epochs), "--runs", str(runs)]
            log = open(runs / f"{name}.log", "w")
            active.append((name, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                                  env={**os.environ, "OMP_NUM_THREADS": "1"})))
        time.sleep(5)
        active = [(n, p) for n, p in active if p.poll() is None]
    rows = {}
    for name in names:
        p = runs / f"{name}.json"
        if p.is_file():
            rows[name] = json.loads(p.read_text())
    table = []
    print(f"counting ablations, {args.minutes:g} min each; UI-PRMD test subjects s08-s10, whole "
          "recordings; MAE FLAG3D++ convention (unrounded, /(gt+0.1)), OBO@1 rounded count")
    print(f"{'variant':28s} {'MAE':>7s} {'OBO@1':>7s} {'MAE idle':>9s} {'OBO@1 idle':>11s} {'IoU':>6s}")
    for name, r in rows.items():
        plain, idle = r["results"][0], r["results"][1]
        row = {"variant": name, "overrides": r["overrides"], "train_seconds": r["train_seconds"],
               "mae": plain["flag3d"]["mae"], "obo1": plain["transrac"]["obo@1"],
               "mae_rounded": plain["transrac"]["mae"], "iou": plain["intervals"]["mean_iou"],
               "mae_idle": idle["flag3d"]["mae"], "obo1_idle": idle["transrac"]["obo@1"]}
        table.append(row)
        print(f"{name:28s} {row['mae']:7.4f} {row['obo1']:7.4f} {row['mae_idle']:9.4f} "
              f"{row['obo1_idle']:11.4f} {row['iou']:6.3f}")
    out = {"benchmark": "counting_ablations", "data_source": "uiprmd-counting (real) test s08-s10",
           "train_data": "UI-PRMD counting set s01-s06 (+ synthetic per the base config), val s07",
           "minutes_per_variant": args.minutes, "jobs": args.jobs, "base": args.base,
           "wall_seconds": round(time.time() - t0, 1), "load": list(os.getloadavg()),
           "rows": table, "full": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
