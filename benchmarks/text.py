"""Benchmark of the text encoders (flag3d.text): load time, encode speed, cache, sanity.

For the MiniLM and the hashing encoders it measures, on the 70 taxonomy activities
(60 FLAG3D + 10 UI-PRMD):

* the MiniLM load time in a fresh process (import of transformers + reading the weights),
  split into the first ``encode`` call and the load itself;
* encode time per sentence for a batch of the 70 texts of each level (1 name, 2 description,
  3 instructions), best of ``--repeats`` runs, ``torch.set_num_threads(--threads)``: wall
  time and process CPU time (all threads; less sensitive to other jobs on a shared machine);
* the time of the same batch answered from a warm disk cache (new process-level wrapper,
  so nothing comes from memory);
* known pairs: cosine(squat text, sumo squat text) vs cosine(squat text, neck turn text);
* name -> description retrieval: for each activity, is its own level-2 text the nearest
  of the 70 to its level-1 name (top-1 accuracy; chance 1/70).

Data source: the project's own taxonomy texts (no dataset).  Results go to
``benchmarks/results/text.json``.

Example:
    $ .venv/bin/python benchmarks/text.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np

LOAD_SNIPPET = """
import time, json
t0 = time.perf_counter()
from flag3d.text import get_encoder
enc = get_encoder("minilm", cache=False)
enc.encode(["warm up"])
print(json.dumps({"first_encode_s": time.perf_counter() - t0, "load_s": enc.load_seconds}))
"""


def machine() -> Dict[str, Any]:
    import torch

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "logical_cpus": os.cpu_count(),
        "torch": torch.__version__,
        "load_average": list(os.getloadavg()),
    }


def best_time(fn: Any, repeats: int) -> Tuple[float, float]:
    """(best wall seconds, CPU seconds of that run, all threads) over ``repeats`` runs."""
    best = (float("inf"), float("inf"))
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - t0, time.process_time() - c0))
    return best


def main(argv: List[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "text.json"))
    args = ap.parse_args(argv)

    import torch

    load_start = list(os.getloadavg())
    torch.set_num_threads(args.threads)
    from flag3d.taxonomy import activities
    from flag3d.text import CachedEncoder, get_encoder

    acts = activities()
    texts = {level: [a.text(level) for a in acts] for level in (1, 2, 3)}

    load = json.loads(
        subprocess.run(
            [sys.executable, "-c", LOAD_SNIPPET], check=True, capture_output=True, text=True
        ).stdout.strip().splitlines()[-1]
    )

    results: Dict[str, Any] = {"minilm_load_fresh_process": load, "encoders": {}}
    rows = []
    for spec in ("minilm", "hash"):
        enc = get_encoder(spec, cache=False)
        enc.encode(["warm up"])
        r: Dict[str, Any] = {"dim": enc.dim}
        for level, batch in texts.items():
            t, cpu = best_time(lambda: enc.encode(batch), args.repeats)
            r[f"level{level}_ms_per_sentence"] = 1000 * t / len(batch)
            r[f"level{level}_cpu_ms_per_sentence"] = 1000 * cpu / len(batch)
        with tempfile.TemporaryDirectory() as root:
            CachedEncoder(enc, root=root).encode(texts[3])
            t, _ = best_time(lambda: CachedEncoder(enc, root=root).encode(texts[3]), args.repeats)
            r["level3_disk_cache_ms_per_sentence"] = 1000 * t / len(texts[3])
        e = {lvl: enc.encode(b) for lvl, b in texts.items()}
        sq, sumo, neck = (
            enc.encode(["Squat With Arm Lift", "Sumo Squat", "Two-way Head Turn"])
        )
        r["cos_squat_sumo"] = float(sq @ sumo)
        r["cos_squat_neck"] = float(sq @ neck)
        sim = e[1] @ e[2].T
        r["name_to_description_top1"] = float(np.mean(sim.argmax(1) == np.arange(len(acts))))
        results["encoders"][spec] = r
        rows.append((spec, r))

    results.update(
        command="benchmarks/text.py " + " ".join(argv or sys.argv[1:]),
        date=time.strftime("%Y-%m-%d %H:%M:%S"),
        machine=machine(),
        load_average_start=load_start,
        parameters={"repeats": args.repeats, "threads": args.threads, "n_texts": len(acts)},
        data_source="flag3d taxonomy texts (project's own)",
    )
    print(f"load average at start {load_start[0]:.2f}, at end {results['machine']['load_average'][0]:.2f} (2 cores)")
    print(
        f"MiniLM in a fresh process: first encode {load['first_encode_s']:.2f} s "
        f"(model load incl. transformers import {load['load_s']:.2f} s)"
    )
    cols = [
        "dim", "level1_ms_per_sentence", "level2_ms_per_sentence", "level3_ms_per_sentence",
        "level3_cpu_ms_per_sentence",
        "level3_disk_cache_ms_per_sentence", "cos_squat_sumo", "cos_squat_neck",
        "name_to_description_top1",
    ]
    print("| encoder | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for spec, r in rows:
        print(f"| {spec} | " + " | ".join(f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in cols) + " |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
