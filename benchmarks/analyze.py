"""Benchmark of ``flag3d analyze`` end to end, split by stage.

Two inputs, run in interleaved rounds (A, B, A, B ...) so the load of this shared machine
hits both alike:

* **real video (shared data)**: ``shared/data/videos/barbell-squat-side.mp4`` (608x1080,
  29.97 fps, 20.5 s; skipped with a message when the shared data is absent);
* **synthetic**: 60 s of generated sumo squats (``flag3d.synth``, 30 fps, ``flag3d24``),
  written to an ``.npz`` file and analysed from there.

Each run is one :func:`flag3d.analysis.pipeline.analyze` call writing ``result.json`` and
``report.html`` into a temporary folder; the stage times come from its
``result["timings_s"]``: ``pose`` (video: probe, decoding and MediaPipe, which overlap in
threads) or ``load`` (skeleton file), ``recognition``, ``counting``, ``quality``, ``report``,
``total``.  For the video, the ``pose`` stage is split further with the pose extractor's own
clock (``result["input"]["video"]["pose_timings_s"]``): probe, decoding and the MediaPipe
model (thread seconds, summed over the pose workers; decoding overlaps the model, so they
do not add up to the stage) and post-processing (tracks, smoothing).  "after pose" is recognition + counting + quality + report (the acceptance budget is 1 s for
60 s of motion).  The methods that ran (shipped models or fallbacks) are recorded, since
they change the times.  ``torch.set_num_threads(2)``.

Results: a table on stdout and ``benchmarks/results/analyze.json`` (machine, load average
before and after, parameters, data source of each row).  Numbers on the synthetic input
describe generated motion.

Example:
    $ .venv/bin/python benchmarks/analyze.py --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

STAGES = ("load", "pose", "recognition", "counting", "quality", "report", "total")
AFTER_POSE = ("recognition", "counting", "quality", "report")
#: Inside the video's "pose" stage (flag3d.video.PoseResult.timings): probe, decoding and
#: MediaPipe (thread seconds summed over the workers, overlapping), tracks + smoothing.
VIDEO_PARTS = ("video_probe", "video_decode", "video_pose", "video_post")
REAL = "real video (shared data)"
SYNTH = "synthetic"


def machine() -> Dict[str, Any]:
    """Platform, CPU count and library versions."""
    import numpy
    import torch

    info: Dict[str, Any] = {"platform": platform.platform(), "python": platform.python_version(),
                            "logical_cpus": os.cpu_count(), "numpy": numpy.__version__,
                            "torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    try:
        import av
        import mediapipe

        info.update(pyav=av.__version__, mediapipe=mediapipe.__version__)
    except ImportError:
        info["video_extra"] = "not installed"
    return info


def synthetic_file(folder: Path, seconds: float = 60.0) -> Tuple[Path, int]:
    """``seconds`` of generated sumo squats (flag3d24, 30 fps) as ``synthetic-60s.npz``, and
    the number of generated repetitions that end inside them."""
    from flag3d.io import write_sequences
    from flag3d.synth import SynthConfig, generate_sequence

    cfg = SynthConfig(reps=(30, 30), views=(), fps=30.0)
    seq = generate_sequence("A049", seed=1, config=cfg).noisy["flag3d24"]
    n = int(round(seconds * seq.fps))
    if seq.num_frames < n:
        raise SystemExit(f"the generator made only {seq.duration:.1f} s; need {seconds:g} s")
    meta = {k: v for k, v in seq.meta.items() if k not in ("repetitions", "quality", "score")}
    cut = seq.replace(joints=seq.joints[:n],
                      confidence=None if seq.confidence is None else seq.confidence[:n],
                      times=None if seq.times is None else seq.times[:n], meta=meta)
    path = folder / f"synthetic-{seconds:g}s.npz"
    write_sequences(path, [cut], "npz")
    return path, sum(1 for _, end in seq.meta["repetitions"] if end <= n)


def run_once(path: Path, out: Path) -> Dict[str, Any]:
    """One ``analyze`` call; its stage times, count and the methods that ran."""
    from flag3d.analysis.pipeline import analyze

    t = time.perf_counter()
    res = analyze(path, out=out, write=True).result
    wall = time.perf_counter() - t
    tim = res["timings_s"]
    row = {s: float(tim[s]) for s in STAGES if s in tim}
    row["after_pose"] = round(sum(float(tim.get(s, 0.0)) for s in AFTER_POSE), 3)
    row["wall"] = round(wall, 3)
    row["count"] = res["counting"]["count"]
    row["repetitions_s"] = [[r["start_s"], r["end_s"]] for r in res["counting"]["repetitions"]]
    row["duration_s"] = res["input"]["duration_s"]
    video = res["input"].get("video") or {}
    for key, value in (video.get("pose_timings_s") or {}).items():
        if key in ("probe", "decode", "pose", "post"):
            row[f"video_{key}"] = float(value)
    row["methods"] = {"counting": res["counting"]["method"],
                      "recognition": res["activity"]["recognizer"],
                      "quality": res["quality"]["method"] or res["quality"]["reason"]}
    return row


def best(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Per stage, the smallest time over the rounds (the run least disturbed by the load)."""
    out: Dict[str, Any] = {}
    for key in (*STAGES, "after_pose", "wall", *VIDEO_PARTS):
        vals = [r[key] for r in rows if key in r]
        if vals:
            out[key] = round(min(vals), 3)
    return out


def table(summary: Dict[str, Dict[str, Any]]) -> str:
    """Seconds per stage, one row per input (best over the rounds)."""
    cols = ("video_decode", "video_pose", "pose", "load", "recognition", "counting", "quality",
            "report", "after_pose", "total")
    width = max(len(n) for n in summary) if summary else 10
    head = f"{'input':{width}s} " + " ".join(f"{c:>12s}" for c in cols)
    lines = [head, "-" * len(head)]
    for name, row in summary.items():
        cells = " ".join(f"{row['best'][c]:12.3f}" if c in row["best"] else f"{'-':>12s}"
                         for c in cols)
        lines.append(f"{name:{width}s} {cells}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (best is reported)")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the synthetic input")
    ap.add_argument("--skip-video", action="store_true", help="only the synthetic input")
    ap.add_argument("--cold", type=int, default=3, help="fresh-process `flag3d analyze` runs per input")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "analyze.json"))
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    from flag3d.paths import shared_data_dir

    video: Optional[Path] = None
    notes: List[str] = []
    root = shared_data_dir()
    if args.skip_video:
        notes.append("real video skipped (--skip-video)")
    elif root is None or not (root / "videos" / "barbell-squat-side.mp4").is_file():
        notes.append("real video skipped: shared/data/videos/barbell-squat-side.mp4 not found "
                     "(set FLAG3D_SHARED_DATA)")
        print(notes[-1], file=sys.stderr)
    else:
        video = root / "videos" / "barbell-squat-side.mp4"

    load_before = [round(x, 2) for x in os.getloadavg()]
    runs: Dict[str, List[Dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="flag3d-bench-") as tmp:
        folder = Path(tmp)
        synth, synth_truth = synthetic_file(folder, args.seconds)
        inputs: List[tuple] = []
        if video is not None:
            inputs.append((f"squat video 20.5 s [{REAL}]", video))
        inputs.append((f"{args.seconds:g} s skeleton [{SYNTH}]", synth))
        # warm-up: imports and model loading are not part of a job's time on a running server
        for _, path in inputs:
            run_once(path, folder / "warmup")
        for r in range(args.rounds):
            for name, path in inputs:
                row = run_once(path, folder / f"run{r}")
                runs.setdefault(name, []).append(row)
                print(f"round {r + 1}/{args.rounds} {name}: total {row['total']:.2f} s, "
                      f"count {row['count']}", file=sys.stderr)
        # a user's command: a fresh process each time (start-up, imports, model loading)
        cold: Dict[str, List[float]] = {}
        if args.cold > 0:
            import shutil
            import subprocess

            exe = shutil.which("flag3d") or str(Path(sys.executable).with_name("flag3d"))
            for r in range(args.cold):
                for name, path in inputs:
                    t0 = time.perf_counter()
                    subprocess.run([exe, "analyze", str(path), "--out", str(folder / f"cold{r}"),
                                    "--no-progress"], check=True, capture_output=True)
                    cold.setdefault(name, []).append(round(time.perf_counter() - t0, 3))
                    print(f"cold {r + 1}/{args.cold} {name}: {cold[name][-1]:.2f} s", file=sys.stderr)
    load_after = [round(x, 2) for x in os.getloadavg()]

    summary: Dict[str, Dict[str, Any]] = {}
    for name, rows in runs.items():
        summary[name] = {"source": REAL if REAL in name else SYNTH, "best": best(rows),
                         "runs": rows, "methods": rows[-1]["methods"], "count": rows[-1]["count"],
                         "duration_s": rows[-1]["duration_s"]}
        if SYNTH in name:
            summary[name]["truth_count"] = synth_truth
        if name in cold:
            summary[name]["cold_cli_seconds"] = cold[name]
    print(table(summary))
    print(f"load average before {load_before}, after {load_after}; torch threads 2; best of "
          f"{args.rounds} interleaved rounds after one warm-up run")
    for name, s in summary.items():
        truth = f" (generated: {s['truth_count']})" if "truth_count" in s else ""
        print(f"{name}: count {s['count']}{truth}; methods {s['methods']}")
        if "cold_cli_seconds" in s:
            print(f"{name}: `flag3d analyze` in a fresh process: {s['cold_cli_seconds']} s "
                  f"(best {min(s['cold_cli_seconds']):.2f}, median {sorted(s['cold_cli_seconds'])[len(s['cold_cli_seconds']) // 2]:.2f})")
    result = {
        "benchmark": "analyze", "machine": machine(), "load_average_before": load_before,
        "load_average_after": load_after,
        "parameters": {"rounds": args.rounds, "synthetic_seconds": args.seconds,
                       "synthetic_activity": "A049 (sumo squat), 30 fps, flag3d24, seed 1",
                       "torch_threads": 2, "warmup_runs": 1, "reported": "min over rounds",
                       "cold_runs": args.cold},
        "inputs": summary, "notes": notes,
        "command": "python benchmarks/analyze.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
