"""Recognition accuracy benchmark: UI-PRMD (real) per backbone, and the synthetic protocols.

Parts (``--parts``, default all):

* ``uiprmd`` -- REAL data: UI-PRMD 10-movement recognition, cross-subject (train s01-s07,
  test s08-s10), joint stream, every backbone (``configs/recognition/uiprmd_<backbone>.yaml``).
  Per backbone: training time on this CPU, top-1/top-5 with 10-clip testing in fp32, and
  top-1 of the same weights evaluated under bf16 autocast.
* ``synth3d`` -- SYNTHETIC in-domain 3D (``synth_3d_stgcn.yaml``).
* ``synth2d`` -- SYNTHETIC cross-domain 2D: the four streams (``synth_2d_<stream>.yaml``) each
  trained on clean front/side projections, evaluated in-domain (``test``: clean front/side
  views of the test subjects) and cross-domain (``cross``: oblique camera, 6 px noise, 5 %
  dropped keypoints), then fused 2:2:1:1 on both.  The gap is in-domain minus cross-domain.
* ``oneshot`` -- one-shot recognition on REAL UI-PRMD (``oneshot_uiprmd.yaml``).

Runs go to ``--runs`` (default ``runs/bench-recognition``); ``--reuse`` skips training when a
run folder already holds its evaluation.  ``torch.set_num_threads`` comes from each config
(``threads: 1``: on this shared 2-core machine one thread per process was 4-5x faster than
two under load).  The load average is recorded before and after every run.  Results go to
``benchmarks/results/recognition_accuracy.json``.

Example:
    $ .venv/bin/python benchmarks/recognition_accuracy.py --parts uiprmd --backbones stgcn,ctrgcn
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

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs" / "recognition"
RESULTS = ROOT / "benchmarks" / "results" / "recognition_accuracy.json"
BACKBONES = ("stgcn", "ctrgcn", "aagcn", "msg3d", "posec3d")
STREAMS = ("joint", "bone", "joint_motion", "bone_motion")


def machine() -> Dict[str, Any]:
    import torch

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu": cpu,
            "logical_cpus": os.cpu_count(), "torch": torch.__version__}


def load() -> List[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_training(name: str, runs: Path, reuse: bool, overrides: List[str] = ()) -> Dict[str, Any]:
    """Train ``configs/recognition/<name>.yaml`` (or reuse the run); returns timing and results."""
    from flag3d.config import load_config
    from flag3d.tasks.recognition import RecognitionConfig, train
    from flag3d.tasks.trainer import TrainOptions

    out = runs / name
    cfg = load_config(RecognitionConfig, CONFIGS / f"{name}.yaml", list(overrides))
    evals = out / "eval" / f"{cfg.test_split}-{cfg.num_clips}clip" / "results.json"
    before = load()
    t0 = time.perf_counter()
    if reuse and evals.is_file() and (out / "train_time.json").is_file():
        report = json.loads(evals.read_text())
        reused = True
    else:
        report = train(cfg, TrainOptions(out=out, progress=False))
        reused = False
    timing = json.loads((out / "train_time.json").read_text())
    info = json.loads((out / "best" / "info.json").read_text())
    return {"config": f"configs/recognition/{name}.yaml", "run": str(out), "reused": reused,
            "train_seconds": round(timing["seconds"], 1), "epochs": cfg.epochs,
            "threads": timing["threads"], "wall_seconds": round(time.perf_counter() - t0, 1),
            "load_before": before, "load_after": load(), "parameters": info["parameters"],
            "top1": report["top1"], "top5": report["top5"], "clips": report["clips"],
            "mean_class_accuracy": report["mean_class_accuracy"],
            "per_group": {k: round(v["accuracy"], 4) for k, v in report["per_group"].items()},
            "train_samples": info["data"]["train"], "test_samples": report["samples"]}


def run_eval(run: Path, **kw: Any) -> Dict[str, Any]:
    from flag3d.tasks.recognition import evaluate

    r = evaluate(run / "best", **kw)
    return {"top1": r["top1"], "top5": r["top5"], "samples": r["samples"], "clips": r["clips"],
            "precision": r["precision"], "seconds": round(r["seconds"], 1), "out": r["out"]}


def part_uiprmd(runs: Path, reuse: bool, backbones: List[str],
                previous: Optional[Dict[str, Any]] = None, bf16: bool = True) -> Dict[str, Any]:
    out = dict((previous or {}).get("results", {}))  # keep backbones measured earlier
    for b in backbones:
        name = f"uiprmd_{b}"
        print(f"[uiprmd] {b}: training ...", flush=True)
        r = run_training(name, runs, reuse)
        if bf16:  # emulated (slow) on CPUs without avx512_bf16, see DEVELOPERS.md
            bf = run_eval(runs / name, precision="bf16")
            r["bf16_top1"] = bf["top1"]
            r["bf16_minus_fp32_points"] = round(100 * (bf["top1"] - r["top1"]), 2)
            r["bf16_eval_seconds"] = bf["seconds"]
        out[b] = r
        print(f"[uiprmd] {b}: top-1 {100 * r['top1']:.2f} %, "
              f"trained in {r['train_seconds']:.0f} s", flush=True)
    return {"data": "uiprmd (real)", "split": "train s01-s07 (1400), test s08-s10 (600)",
            "stream": "joint", "results": out}


def part_synth3d(runs: Path, reuse: bool) -> Dict[str, Any]:
    print("[synth3d] training ...", flush=True)
    r = run_training("synth_3d_stgcn", runs, reuse)
    return {"data": "synthetic", "split": "subjects S001-S007 train, S008-S010 test",
            "results": {"stgcn": r}}


def part_synth2d(runs: Path, reuse: bool, streams: List[str] = list(STREAMS)) -> Dict[str, Any]:
    from flag3d.tasks.fusion import fuse_files

    per: Dict[str, Any] = {}
    files: Dict[str, List[Path]] = {"test": [], "cross": []}
    for s in streams:
        name = f"synth_2d_{s}"
        print(f"[synth2d] {s}: training ...", flush=True)
        r = run_training(name, runs, reuse)
        cross = run_eval(runs / name, overrides=("test_split=cross",))
        per[s] = {"train_seconds": r["train_seconds"], "parameters": r["parameters"],
                  "in_domain_top1": r["top1"], "cross_domain_top1": cross["top1"],
                  "in_domain_top5": r["top5"], "cross_domain_top5": cross["top5"],
                  "gap_points": round(100 * (r["top1"] - cross["top1"]), 2),
                  "load_before": r["load_before"], "load_after": r["load_after"],
                  "test_samples": r["test_samples"], "cross_samples": cross["samples"]}
        files["test"].append(runs / name / "eval" / "test-10clip" / "scores.npz")
        files["cross"].append(Path(cross["out"]) / "scores.npz")
        print(f"[synth2d] {s}: in-domain {100 * r['top1']:.2f} %, cross-domain "
              f"{100 * cross['top1']:.2f} %", flush=True)
    if list(streams) != list(STREAMS):  # a share of the streams (two processes in parallel)
        return {"data": "synthetic", "streams": per, "partial": True}
    fused = {}
    for split, paths in files.items():
        f = fuse_files(paths)
        best = max(f.single_top1)
        fused[split] = {"coefs": f.coefs, "streams": f.streams, "top1": f.top1, "top5": f.top5,
                        "best_single_top1": best,
                        "fused_minus_best_points": round(100 * (f.top1 - best), 2)}
    return {"data": "synthetic", "train": "clean front+side 2D, subjects S001-S007",
            "test": "clean front+side 2D, S008-S010", "cross": "noisy oblique 2D, S008-S010",
            "streams": per, "fused": fused,
            "gap_fused_points": round(100 * (fused["test"]["top1"] - fused["cross"]["top1"]), 2)}


def part_oneshot(runs: Path, reuse: bool) -> Dict[str, Any]:
    from flag3d.config import load_config
    from flag3d.tasks.oneshot import OneShotConfig, evaluate_oneshot, train_oneshot
    from flag3d.tasks.trainer import TrainOptions

    out = runs / "oneshot_uiprmd"
    res = out / "eval" / "oneshot" / "results.json"
    print("[oneshot] training ...", flush=True)
    t0 = time.perf_counter()
    if reuse and res.is_file():
        r = json.loads(res.read_text())
    else:
        cfg = load_config(OneShotConfig, CONFIGS / "oneshot_uiprmd.yaml")
        train_oneshot(cfg, TrainOptions(out=out, progress=False))
        r = evaluate_oneshot(out / "best")
    r.pop("out", None)
    return {"data": "uiprmd (real)", "config": "configs/recognition/oneshot_uiprmd.yaml",
            "wall_seconds": round(time.perf_counter() - t0, 1), **r}


def table(res: Dict[str, Any]) -> str:
    lines = []
    if "uiprmd" in res:
        lines += ["UI-PRMD (real), cross-subject s01-s07 / s08-s10, joint stream, 10-clip test",
                  f"{'backbone':10s} {'params':>8s} {'top-1':>7s} {'top-5':>7s} {'bf16':>7s} "
                  f"{'train s':>8s} load"]
        for b, r in res["uiprmd"]["results"].items():
            bf = f"{100 * r['bf16_top1']:6.2f}%" if "bf16_top1" in r else f"{'-':>7s}"
            lines.append(f"{b:10s} {r['parameters']:8d} {100 * r['top1']:6.2f}% "
                         f"{100 * r['top5']:6.2f}% {bf} "
                         f"{r['train_seconds']:8.0f} {r['load_before'][0]:.1f}")
    if "synth3d" in res:
        r = res["synth3d"]["results"]["stgcn"]
        lines += ["", f"SYNTHETIC 3D in-domain (stgcn): top-1 {100 * r['top1']:.2f} %, "
                      f"top-5 {100 * r['top5']:.2f} %, trained in {r['train_seconds']:.0f} s"]
    if "synth2d" in res:
        s = res["synth2d"]
        lines += ["", "SYNTHETIC 2D: train clean front/side; in-domain = clean front/side, "
                      "cross = noisy oblique",
                  f"{'stream':14s} {'in-domain':>10s} {'cross':>8s} {'gap':>7s}"]
        for k, r in s["streams"].items():
            lines.append(f"{k:14s} {100 * r['in_domain_top1']:9.2f}% "
                         f"{100 * r['cross_domain_top1']:7.2f}% {r['gap_points']:6.2f}")
        f = s["fused"]
        lines.append(f"{'fused 2:2:1:1':14s} {100 * f['test']['top1']:9.2f}% "
                     f"{100 * f['cross']['top1']:7.2f}% {s['gap_fused_points']:6.2f}")
    if "oneshot" in res:
        o = res["oneshot"]
        lines += ["", f"one-shot UI-PRMD (real), novel {', '.join(o['novel_classes'])}: trained "
                      f"{100 * o['trained']['accuracy_mean']:.1f} +- "
                      f"{100 * o['trained']['accuracy_std']:.1f} %, untrained "
                      f"{100 * o['untrained']['accuracy_mean']:.1f} +- "
                      f"{100 * o['untrained']['accuracy_std']:.1f} %"]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="uiprmd,synth3d,synth2d,oneshot")
    ap.add_argument("--backbones", default=",".join(BACKBONES))
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "bench-recognition")
    ap.add_argument("--reuse", action="store_true", help="Reuse finished runs.")
    ap.add_argument("--no-bf16", action="store_true",
                    help="Skip the bf16-autocast evaluation (emulated and ~10x slower without "
                         "avx512_bf16).")
    ap.add_argument("--streams", default=",".join(STREAMS),
                    help="synth2d: train/evaluate only these streams (e.g. two processes in "
                         "parallel, then a --reuse run of all four fuses them).")
    args = ap.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    res: Dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    res["machine"] = machine()
    done: Dict[str, Any] = {}
    res["note"] = ("UI-PRMD results are real data; everything marked synthetic comes from "
                   "flag3d.synth. Models are small variants sized for a shared 2-core CPU.")
    for p in parts:
        if p == "uiprmd":
            res["uiprmd"] = part_uiprmd(args.runs, args.reuse,
                                        [b.strip() for b in args.backbones.split(",") if b.strip()],
                                        res.get("uiprmd"), bf16=not args.no_bf16)
        elif p == "synth3d":
            res["synth3d"] = part_synth3d(args.runs, args.reuse)
        elif p == "synth2d":
            streams = [x.strip() for x in args.streams.split(",") if x.strip()]
            r = part_synth2d(args.runs, args.reuse, streams)
            if r.get("partial"):  # kept apart from the full, fused result
                p = "synth2d_partial_" + "+".join(streams)
            res[p] = r
        elif p == "oneshot":
            res["oneshot"] = part_oneshot(args.runs, args.reuse)
        else:
            sys.exit(f"unknown part {p!r}")
        done[p] = res[p]
        # Merge into the file as it is now, so two invocations running different parts at
        # the same time do not overwrite each other's results.
        latest = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
        latest.update({"machine": res["machine"], "note": res["note"], **done})
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(latest, indent=1) + "\n")
        res = {**latest, **res}
    print(table(res))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
