"""Generation speed of the synthetic corpus (sequences per second on one core).

Each activity gets a repetition count that makes sequences of about 300 frames (10 s at
30 fps); every sample produces clean and corrupted ``flag3d24`` and ``ntu25`` and, per
requested view, a clean and a noisy 2D ``coco17`` sequence.  Run it as a module::

    python -m flag3d.synth.bench --n 500 --views front

Example:
    >>> from flag3d.synth.bench import benchmark
    >>> r = benchmark(n=25, views=("front",))  # doctest: +SKIP
    >>> sorted(r)  # doctest: +SKIP
    ['corrupt', 'cpu_seq_per_s', 'mean_frames', 'n', 'seq_per_s', 'views']
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Dict, Sequence

from flag3d.synth.activities import activity_ids, get_activity
from flag3d.synth.corpus import SynthConfig, generate_sequence


def benchmark(n: int = 250, views: Sequence[str] = ("front",), corrupt: bool = True,
              seconds: float = 5.8) -> Dict[str, Any]:
    """Generate ``n`` samples (all activities in turn) and time them.

    ``seconds`` of repetitions plus about 3 s of idle and transitions give ~300 frames.
    """
    acts = activity_ids()
    cfgs = {a: SynthConfig(reps=(max(1, round(seconds / get_activity(a).rep_seconds)),) * 2,
                           views=tuple(views), corrupt=corrupt) for a in acts}
    for a in acts:  # warm-up: imports, caches
        generate_sequence(a, 0, cfgs[a])
    frames = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        a = acts[i % len(acts)]
        frames += generate_sequence(a, 0, cfgs[a], index=i).clean["flag3d24"].num_frames
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"n": n, "views": list(views), "corrupt": corrupt, "mean_frames": frames / n,
            "seq_per_s": n / wall, "cpu_seq_per_s": n / cpu}


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: print one line per run."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=250)
    ap.add_argument("--views", default="front", help="comma-separated views, '' for none")
    ap.add_argument("--no-corrupt", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    views = tuple(v for v in args.views.split(",") if v)
    for _ in range(args.repeat):
        r = benchmark(args.n, views, not args.no_corrupt)
        print(f"{r['seq_per_s']:.1f} seq/s (cpu {r['cpu_seq_per_s']:.1f}), "
              f"mean {r['mean_frames']:.0f} frames, views={r['views']}, corrupt={r['corrupt']}")


if __name__ == "__main__":
    main()
