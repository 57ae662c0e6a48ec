"""Speed of the counting model: sequences per second at 128 frames, and ``flag3d count`` end to end.

Measures, with ``torch.set_num_threads(2)``:

* **model throughput**: windows of 128 frames in batches of ``--batch`` (32) through the
  shipped model (or ``--checkpoint``), with the torch engine (``torch.inference_mode``) and
  the numpy engine the command line uses; the engines run interleaved in rounds so the load
  of this shared machine hits both alike; the best round counts (and the median is kept);
* **command line end to end**: wall time of ``flag3d count FILE`` in a fresh process
  (Python start, imports, loading the weights, reading, counting, printing) on a 60 s
  recording at 30 fps (a synthetic Jumping Jacks / Sumo Squat sequence written to a
  temporary ``.npz``), ``--rounds`` times;
* the load average before and after, next to the numbers.

The inputs are synthetic motion (the speed does not depend on the data).  Results go to
``benchmarks/results/counting_speed.json``.

Example:
    $ .venv/bin/python benchmarks/counting_speed.py --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np


def load() -> List[float]:
    return [round(x, 2) for x in os.getloadavg()]


def windows(n: int) -> np.ndarray:
    """``n`` real-looking model inputs: 128-frame windows of synthetic squats at 10 fps."""
    from flag3d.data.counting import normalize, resample_rate, window_features
    from flag3d.synth import SynthConfig, generate_sequence

    seq = generate_sequence("A049", seed=1, config=SynthConfig(reps=(12, 12), views=())).clean["flag3d24"]
    prep = normalize(seq)
    work = resample_rate(prep.joints, seq.fps, 10.0)
    out = []
    for i in range(n):
        s = (i * 7) % max(1, len(work) - 128)
        out.append(window_features(work[s:s + 128]))
    return np.stack(out).astype(np.float32)


def long_file(folder: Path, seconds: float = 60.0) -> Path:
    """A ``seconds``-long synthetic recording at 30 fps as ``.npz`` (Sumo Squats)."""
    from flag3d.io import write_sequences
    from flag3d.synth import SynthConfig, generate_sequence

    reps = int(seconds / 2.6) + 2
    seq = generate_sequence("A049", seed=2, config=SynthConfig(reps=(reps, reps), views=(),
                                                                idle=(0.5, 0.5))).clean["flag3d24"]
    n = int(round(seconds * seq.fps))
    seq = seq.frames(0, min(n, seq.num_frames))
    p = folder / "sixty_seconds.npz"
    write_sequences(p, [seq], "npz")
    return p


def main(argv: Optional[List[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None, help="default: the shipped model")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "counting_speed.json"))
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    from flag3d.models.counting import count_parameters
    from flag3d.tasks.counting_infer import _numpy_engine, _torch_engine, load_counter, shipped_weights

    folder = Path(args.checkpoint) if args.checkpoint else shipped_weights()
    counter = load_counter(folder)
    settings = counter.config
    from flag3d.models.counting import build_model, model_settings

    n_params = count_parameters(build_model(model_settings(settings)))
    size_mb = (folder / "model.safetensors").stat().st_size / 1e6
    engines = {"torch": _torch_engine(folder, model_settings(settings)),
               "numpy": _numpy_engine(folder, model_settings(settings))}
    x = windows(args.batch)
    text = np.zeros((args.batch, int(settings["text_dim"])), np.float32) if counter.uses_text else None
    load_before = load()
    times: Dict[str, List[float]] = {k: [] for k in engines}
    for name, run in engines.items():  # warm-up
        run(x, text)
    for _ in range(args.rounds):
        for name, run in engines.items():
            t0 = time.perf_counter()
            run(x, text)
            times[name].append(time.perf_counter() - t0)
    throughput = {k: {"best_seq_per_s": round(args.batch / min(v), 1),
                      "median_seq_per_s": round(args.batch / statistics.median(v), 1)}
                  for k, v in times.items()}

    cli: Dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = long_file(Path(tmp))
        exe = str(Path(sys.executable).parent / "flag3d")
        cmd = [exe, "count", str(path)] + (["--checkpoint", str(folder)] if args.checkpoint else [])
        walls, last = [], ""
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            walls.append(time.perf_counter() - t0)
            if proc.returncode != 0:
                raise SystemExit(f"flag3d count failed: {proc.stderr.strip()}")
            last = proc.stdout.splitlines()[0]
        cli = {"seconds_best": round(min(walls), 3), "seconds_median": round(statistics.median(walls), 3),
               "input": "60 s at 30 fps (1800 frames), synthetic Sumo Squats", "output": last}
    load_after = load()

    result = {
        "benchmark": "counting_speed", "data_source": "synthetic",
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "logical_cpus": os.cpu_count(), "torch": torch.__version__,
                    "numpy": np.__version__, "torch_threads": torch.get_num_threads()},
        "load_before": load_before, "load_after": load_after,
        "checkpoint": str(folder), "parameters": n_params, "weights_mb": round(size_mb, 2),
        "batch": args.batch, "frames": int(settings["frames"]), "rounds": args.rounds,
        "throughput": throughput, "cli_60s": cli,
    }
    print(f"counting model {folder.name}: {n_params} parameters, {size_mb:.2f} MB; "
          f"load {load_before} -> {load_after}; torch threads 2")
    print(f"{'engine':8s} {'best seq/s':>11s} {'median seq/s':>13s}   (batch {args.batch} x 128 frames)")
    for k, v in throughput.items():
        print(f"{k:8s} {v['best_seq_per_s']:11.1f} {v['median_seq_per_s']:13.1f}")
    print(f"flag3d count, 60 s at 30 fps: best {cli['seconds_best']} s, median "
          f"{cli['seconds_median']} s  ({cli['output']})")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
