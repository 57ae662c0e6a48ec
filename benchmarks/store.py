"""Benchmark of the dataset store (flag3d.data.Store): import, random reads, iteration, memory.

Part 1 imports N sequences (default 10,000 of 300 frames, flag3d24) and measures import
sequences/s, random single-sequence reads/s (random ids over the whole store, Sequence
objects returned; warm and cold page cache), sequential iteration sequences/s and the peak
RSS of the process while iterating.  Part 2 builds a 200,000-sequence store (generated arrays
are reused to save time; every stored sequence is real bytes on disk) and checks that
iterating over all of it keeps the peak RSS under 1 GB.  The frame count of part 2 is chosen
from the free disk space (300 frames = 17.3 GB needs more than 40 GB free).

Results go to ``benchmarks/results/store.json``; temporary stores are deleted at the end.

Example:
    $ .venv/bin/python benchmarks/store.py            # full run (~10 min on 2 cores)
    $ .venv/bin/python benchmarks/store.py --quick    # 1,000 + 20,000 sequences
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

import numpy as np
import psutil

from flag3d.data import Store
from flag3d.skeleton import Sequence

GB = 1e9
BYTES_PER_FRAME = 24 * 3 * 4  # flag3d24, float32


class RssSampler:
    """Samples the RSS of this process in a background thread; keeps the peak."""

    def __init__(self, interval: float = 0.005) -> None:
        self.proc = psutil.Process()
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def __enter__(self) -> "RssSampler":
        self.baseline = self.proc.memory_info().rss
        self.peak = self.baseline
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


class Timed:
    """Wraps an iterator and adds up the time spent producing its items."""

    def __init__(self, items: Iterable[Sequence]) -> None:
        self.items = iter(items)
        self.seconds = 0.0
        self.count = 0
        self.frames = 0

    def __iter__(self) -> Iterator[Sequence]:
        while True:
            t0 = time.perf_counter()
            try:
                item = next(self.items)
            except StopIteration:
                self.seconds += time.perf_counter() - t0
                return
            self.seconds += time.perf_counter() - t0
            self.count += 1
            self.frames += item.num_frames
            yield item


# ------------------------------------------------------------------- sources
def random_walk(rng: np.random.Generator, frames: int) -> np.ndarray:
    """A smooth random-walk flag3d24 sequence around a rough standing pose (metres)."""
    base = np.zeros((24, 3), np.float32)
    base[:, 1] = np.linspace(0.0, 1.7, 24)  # joints spread along the vertical axis
    steps = rng.normal(0.0, 0.004, (frames, 24, 3)).astype(np.float32)
    return base + np.cumsum(steps, axis=0)


def random_meta(k: int, frames: int, rng: np.random.Generator, source: str) -> Dict[str, Any]:
    reps = int(rng.integers(2, 6))
    edges = np.linspace(0, frames, reps + 1).astype(int)
    quality = rng.integers(0, 2, (reps, 3))
    return {
        "id": f"{source}-{k:07d}", "activity": f"A{k % 60 + 1:03d}", "label": k % 60,
        "subject": f"P{k % 10 + 1:02d}", "repetitions": [[int(a), int(b)] for a, b in zip(edges, edges[1:])],
        "quality": quality.tolist(), "score": float(6 + (2 * quality.mean(axis=0) - 1).sum()),
        "source": source, "synthetic": True, "units": "m",
    }


def random_sequences(n: int, frames: int, seed: int = 0) -> Iterator[Sequence]:
    rng = np.random.default_rng(seed)
    for k in range(n):
        yield Sequence(random_walk(rng, frames), "flag3d24", fps=30.0,
                       meta=random_meta(k, frames, rng, "random"))


def synth_sequences(n: int, frames: int, seed: int = 0) -> Tuple[Optional[Iterable[Sequence]], str]:
    """Clean ``flag3d24`` sequences of ``flag3d.synth.generate_corpus``; else (None, why).

    The generator decides the length of each recording; the repetition range is chosen so
    the mean is near ``frames`` (2-4 repetitions give about 340 frames at 30 fps).
    """
    try:
        from flag3d.synth import SynthConfig, generate_corpus
    except ImportError as err:
        return None, f"flag3d.synth.generate_corpus is not available ({err})"
    reps = (max(1, round(frames / 150)), max(1, round(frames / 75)))
    try:
        cfg = SynthConfig(n_sequences=n, reps=reps, views=(), corrupt=False, seed=seed)
    except Exception as err:  # noqa: BLE001 - an API change falls back to random walks
        return None, f"flag3d.synth.SynthConfig failed ({type(err).__name__}: {err})"

    def items() -> Iterator[Sequence]:
        for sample in generate_corpus(cfg):
            yield sample.clean["flag3d24"]

    return items(), (f"flag3d.synth.generate_corpus(SynthConfig(n_sequences={n}, reps={reps}, "
                     f"views=(), corrupt=False, seed={seed})), clean flag3d24 sequences")


# ------------------------------------------------------------------ helpers
def evict(store: Store) -> None:
    """Drop this store's array files from the page cache (only ours, no root needed)."""
    for p in (store.path / "arrays").iterdir():
        fd = os.open(p, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def random_reads(store: Store, count: int, seed: int) -> Tuple[float, float]:
    """Reads/s of ``store[i]`` for random rows; returns (rate, checksum)."""
    idx = np.random.default_rng(seed).integers(0, len(store), count)
    check = 0.0
    t0 = time.perf_counter()
    for i in idx:
        seq = store[int(i)]
        check += float(seq.joints[0, 0, 1])
    return count / (time.perf_counter() - t0), check


def iterate(store: Store) -> Dict[str, Any]:
    """Iterate over the whole store once, sampling RSS; rate, peak, increase."""
    n = 0
    with RssSampler() as rss:
        t0 = time.perf_counter()
        for seq in store.iter():
            n += 1
            _ = seq.joints[0, 0, 1]
        seconds = time.perf_counter() - t0
    return {"sequences": n, "seconds": round(seconds, 2), "per_s": round(n / seconds, 1),
            "rss_baseline_mb": round(rss.baseline / 2**20, 1), "rss_peak_mb": round(rss.peak / 2**20, 1),
            "rss_increase_mb": round((rss.peak - rss.baseline) / 2**20, 1)}


def iterate_in_fresh_process(path: Path) -> Dict[str, Any]:
    """:func:`iterate` in a new Python process, so its peak RSS covers nothing else."""
    proc = subprocess.run([sys.executable, __file__, "--iterate-only", str(path)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"iteration process failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def peak_rss_kb() -> float:
    """Lifetime peak RSS of this process in kB.

    ``VmHWM`` of /proc/self/status; not ``getrusage().ru_maxrss``, which on Linux keeps the
    parent's peak across vfork + exec and so over-reports in a freshly spawned child.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # other systems


def iterate_only(path: Path) -> None:
    """Entry of the child process: open, iterate, report sampled and lifetime peak RSS."""
    res = iterate(Store.open(path))
    res["process_lifetime_peak_rss_mb"] = round(peak_rss_kb() / 1024, 1)
    res["measured_in"] = "a fresh process that only opens the store and iterates"
    print(json.dumps(res))


def iterate_memmap(store: Store) -> Dict[str, Any]:
    """The naive alternative, for comparison: np.memmap of the array file, a copy per sequence."""
    t = store.table
    offsets, frames = t.column("offset").to_numpy(), t.column("frames").to_numpy()
    mm = np.memmap(store.path / "arrays" / "flag3d24-c3.f32", np.float32, "r").reshape(-1, 24, 3)
    with RssSampler() as rss:
        t0 = time.perf_counter()
        for o, f in zip(offsets, frames):
            _ = np.array(mm[o:o + f])
        seconds = time.perf_counter() - t0
    del mm
    return {"per_s": round(len(offsets) / seconds, 1), "rss_peak_mb": round(rss.peak / 2**20, 1),
            "rss_increase_mb": round((rss.peak - rss.baseline) / 2**20, 1),
            "note": "raw arrays only (no Sequence objects); shows why the store reads with preadv"}


def machine_info(workdir: Path) -> Dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import pyarrow

    return {
        "platform": platform.platform(), "python": platform.python_version(), "cpu": cpu,
        "logical_cpus": os.cpu_count(), "ram_gb": round(psutil.virtual_memory().total / GB, 1),
        "numpy": np.__version__, "pyarrow": pyarrow.__version__,
        "workdir": str(workdir), "disk_free_gb": round(shutil.disk_usage(workdir).free / GB, 1),
    }


def choose_big_frames(free: float, count: int, wanted: int) -> Tuple[int, str]:
    """Frames per sequence for part 2 so the store fits the disk with a margin."""
    need = count * wanted * BYTES_PER_FRAME
    if free > 40 * GB and need < free * 0.5:
        return wanted, f"{wanted} frames ({need / GB:.1f} GB) fits: {free / GB:.0f} GB free"
    frames = int(free * 0.4 / (count * BYTES_PER_FRAME))
    if frames < 8:
        return 0, f"only {free / GB:.1f} GB free: part 2 skipped"
    return frames, (f"{free / GB:.0f} GB free is not enough for {wanted} frames "
                    f"({need / GB:.1f} GB): using {frames} frames "
                    f"({count * frames * BYTES_PER_FRAME / GB:.1f} GB)")


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------- parts
def npy_folder_reads(store: Store, work: Path, count: int, seed: int) -> Dict[str, Any]:
    """Baseline in the same run: one ``.npy`` per sequence (the FLAG3D++ release layout),
    random ``np.load`` + Sequence construction (joints only, no metadata to parse)."""
    folder = work / "npy-baseline"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(len(store)):
        np.save(folder / f"{i}.npy", store[i].joints)
    idx = np.random.default_rng(seed).integers(0, len(store), count)
    for i in idx[: min(2000, count)]:  # warm the page cache as for the store
        np.load(folder / f"{int(i)}.npy", allow_pickle=False)
    t0 = time.perf_counter()
    for i in idx:
        seq = Sequence(np.load(folder / f"{int(i)}.npy", allow_pickle=False), "flag3d24", fps=30.0)
        _ = seq.joints[0, 0, 1]
    rate = count / (time.perf_counter() - t0)
    shutil.rmtree(folder)
    return {"count": count, "warm_per_s": round(rate, 1),
            "note": "np.load of one .npy per sequence + Sequence(joints), warm page cache"}


def part1(work: Path, n: int, frames: int, reads: int, source: str) -> Dict[str, Any]:
    used = "random"
    note = "random-walk flag3d24 sequences generated in the benchmark"
    items: Optional[Iterable[Sequence]] = None
    if source == "synth":
        items, note = synth_sequences(n, frames)
        used = "synth" if items is not None else "random"
        if items is None:
            say(f"synth source unavailable: {note}; using random walks")
            note = f"random walks (asked for synth, but {note})"
    if items is None:
        items = random_sequences(n, frames)
    store = Store.create(work / "part1", overwrite=True)
    say(f"part 1: importing {n} sequences ({used})")
    timed = Timed(items)
    with RssSampler() as rss_import:
        t0 = time.perf_counter()
        store.append(timed)
        total = time.perf_counter() - t0
    store_s = total - timed.seconds
    on_disk = sum(p.stat().st_size for p in store.path.rglob("*") if p.is_file())
    say("part 1: random reads")
    store = Store.open(store.path)
    random_reads(store, min(2000, reads), seed=99)  # warm the manifest decoders
    warm, _ = random_reads(store, reads, seed=1)
    evict(store)
    cold, _ = random_reads(store, min(reads, 3000), seed=2)
    say("part 1: baseline, random reads from one .npy per sequence")
    npy = npy_folder_reads(store, work, reads, seed=1)
    npy["store_over_baseline"] = round(warm / npy["warm_per_s"], 2)
    say("part 1: sequential iteration (cold cache, then warm)")
    evict(store)
    it_cold = iterate(Store.open(store.path))
    it_warm = iterate(Store.open(store.path))
    evict(store)
    it_memmap = iterate_memmap(store)
    t0 = time.perf_counter()
    report = store.validate()
    validate_s = time.perf_counter() - t0
    return {
        "source": used, "source_note": note, "sequences": timed.count,
        "frames_total": timed.frames, "mean_frames": round(timed.frames / max(timed.count, 1), 1),
        "store_bytes": on_disk,
        "import": {"seconds_total": round(total, 2), "seconds_generating": round(timed.seconds, 2),
                   "seconds_storing": round(store_s, 2), "per_s": round(timed.count / store_s, 1),
                   "per_s_including_generation": round(timed.count / total, 1),
                   "rss_peak_mb": round(rss_import.peak / 2**20, 1)},
        "random_reads": {"count": reads, "warm_per_s": round(warm, 1), "cold_per_s": round(cold, 1),
                         "target_per_s": 5000, "meets_target": bool(warm >= 5000)},
        "random_reads_npy_folder_baseline": npy,
        "iterate_cold_cache": it_cold, "iterate_warm_cache": it_warm,
        "iterate_memmap_for_comparison": it_memmap,
        "validate": {"seconds": round(validate_s, 2), "ok": report.ok},
    }


def part2(work: Path, count: int, frames: int, pool: int = 64) -> Dict[str, Any]:
    rng = np.random.default_rng(7)
    arrays = [random_walk(rng, frames) for _ in range(pool)]

    def items() -> Iterator[Sequence]:
        for k in range(count):
            yield Sequence(arrays[k % pool], "flag3d24", fps=30.0,
                           meta=random_meta(k, frames, rng, "big"))

    store = Store.create(work / "part2", overwrite=True)
    say(f"part 2: importing {count} sequences of {frames} frames")
    timed = Timed(items())
    with RssSampler() as rss_import:
        t0 = time.perf_counter()
        store.append(timed, chunk_size=8192)
        total = time.perf_counter() - t0
    on_disk = sum(p.stat().st_size for p in store.path.rglob("*") if p.is_file())
    say(f"part 2: stored {on_disk / GB:.1f} GB; iterating over all of it")
    store = Store.open(store.path)
    evict(store)
    it = iterate_in_fresh_process(store.path)
    spot = [int(k) for k in np.random.default_rng(3).integers(0, count, 20)]
    correct = all(np.array_equal(store[k].joints, arrays[k % pool]) for k in spot)
    return {
        "sequences": len(store), "frames_per_sequence": frames, "store_bytes": on_disk,
        "import": {"seconds_total": round(total, 1), "seconds_generating": round(timed.seconds, 1),
                   "per_s": round(count / (total - timed.seconds), 1),
                   "rss_peak_mb": round(rss_import.peak / 2**20, 1)},
        "iterate": it,
        "under_1gb": bool(max(it["rss_peak_mb"], it["process_lifetime_peak_rss_mb"]) < 1024),
        "spot_check_equal": correct,
    }


def print_table(res: Dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    p1 = res["part1"]
    t = Table(title=f"flag3d store benchmark ({res['machine']['logical_cpus']} CPUs, "
                    f"{res['machine']['cpu']})")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_row("part 1 source", f"{p1['source']} ({p1['sequences']:,} x {p1['mean_frames']:g} frames)")
    t.add_row("import (sequences/s, storing only)", f"{p1['import']['per_s']:,.0f}")
    t.add_row("import incl. generation (sequences/s)", f"{p1['import']['per_s_including_generation']:,.0f}")
    t.add_row("random reads, warm cache (sequences/s)", f"{p1['random_reads']['warm_per_s']:,.0f}")
    t.add_row("random reads, cold cache (sequences/s)", f"{p1['random_reads']['cold_per_s']:,.0f}")
    base = p1["random_reads_npy_folder_baseline"]
    t.add_row("baseline: one .npy per sequence, warm (sequences/s)", f"{base['warm_per_s']:,.0f}")
    t.add_row("  store / baseline", f"{base['store_over_baseline']:.2f}x")
    for key, label in (("iterate_cold_cache", "cold"), ("iterate_warm_cache", "warm")):
        it = p1[key]
        t.add_row(f"iteration, {label} cache (sequences/s)", f"{it['per_s']:,.0f}")
        t.add_row("  peak RSS / increase (MB)", f"{it['rss_peak_mb']:,.0f} / {it['rss_increase_mb']:,.0f}")
    mm = p1["iterate_memmap_for_comparison"]
    t.add_row("np.memmap iteration, for comparison: RSS increase (MB)", f"{mm['rss_increase_mb']:,.0f}")
    t.add_row("validate (s)", f"{p1['validate']['seconds']:.1f}")
    p2 = res.get("part2")
    if p2:
        t.add_row("part 2 store", f"{p2['sequences']:,} x {p2['frames_per_sequence']} frames, "
                                  f"{p2['store_bytes'] / GB:.1f} GB")
        t.add_row("part 2 import (sequences/s)", f"{p2['import']['per_s']:,.0f}")
        t.add_row("part 2 iteration (sequences/s)", f"{p2['iterate']['per_s']:,.0f}")
        it2 = p2["iterate"]
        t.add_row("part 2 iteration peak RSS, fresh process (MB)",
                  f"{it2['process_lifetime_peak_rss_mb']:,.0f} "
                  f"({'under' if p2['under_1gb'] else 'OVER'} 1 GB)")
        t.add_row("  sampled: baseline after open / increase (MB)",
                  f"{it2['rss_baseline_mb']:,.0f} / {it2['rss_increase_mb']:,.0f}")
    Console().print(t)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1,000 + 20,000 sequences")
    ap.add_argument("--source", choices=("synth", "random"), default=None,
                    help="part 1 data (default: synth when flag3d.synth.generate_corpus exists)")
    ap.add_argument("--n", type=int, default=None, help="part 1 sequences (default 10000)")
    ap.add_argument("--frames", type=int, default=300, help="frames per sequence")
    ap.add_argument("--reads", type=int, default=20000, help="random reads to time")
    ap.add_argument("--big-n", type=int, default=None, help="part 2 sequences (default 200000)")
    ap.add_argument("--skip-big", action="store_true", help="run part 1 only")
    ap.add_argument("--workdir", type=Path, default=None, help="where the temporary stores go")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "store.json")
    ap.add_argument("--iterate-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.iterate_only is not None:
        iterate_only(args.iterate_only)
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still delete the temporary stores
    n = args.n or (1000 if args.quick else 10000)
    big_n = args.big_n or (20000 if args.quick else 200000)
    source = args.source or "synth"
    base = args.workdir or Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="flag3d-store-bench-", dir=base))
    started = time.time()
    res: Dict[str, Any] = {"command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
                           "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                           "machine": machine_info(work),
                           "parameters": {"n": n, "frames": args.frames, "reads": args.reads,
                                          "big_n": 0 if args.skip_big else big_n,
                                          "quick": args.quick, "source_requested": source}}
    try:
        res["part1"] = part1(work, n, args.frames, args.reads, source)
        shutil.rmtree(work / "part1", ignore_errors=True)
        if not args.skip_big:
            free = shutil.disk_usage(work).free
            frames, why = choose_big_frames(free, big_n, args.frames)
            say(f"part 2: {why}")
            res["parameters"]["big_frames_choice"] = why
            if frames:
                res["part2"] = part2(work, big_n, frames)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res["total_seconds"] = round(time.time() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print_table(res)
    print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
