"""Speed of the recognition backbones on this CPU, flag3d vs the reference PYSKL/MMAction2 code.

For every backbone (default: batch 16, T = 100, ``ntu25``, 60 classes, one person, fp32,
``torch.set_num_threads(2)``) it prints and writes to
``benchmarks/results/recognition_speed.json``: parameters, GFLOPs per sequence (counted
with PyTorch's FLOP formulas for convolutions and matrix products; "GFLOPs" is the
architecture's count with direct convolutions, "run GF" what flag3d's inference executes,
which is less where the temporal convolutions go through the DFT of
``flag3d.models.temporal_dft``), inference sequences/s
in fp32 and in bf16 (CPU autocast), and the time of one training step (forward, backward,
SGD step) — for flag3d and, side by side, for the reference implementation, with the
ratios (of the medians, and "paired": the median over batches of reference time / flag3d
time of batches run next to each other).  Timings are interleaved (flag3d, reference, flag3d, reference, ...) so that load
from other processes hits both alike; the load average is recorded before and after.
PoseC3D's flag3d time includes rendering the heatmap volumes from keypoints; the reference
is timed on ready-made volumes (25 x 48 x 56 x 56), so its numbers favour the reference.

The reference runs in its own virtual environment (never the project's), in a worker
process (``benchmarks/reference_worker.py``) that only imports MMAction2.  Create it once:

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0 mmaction2==1.2.0 mmengine "mmcv-lite==2.1.0" \
        importlib_metadata

(``mmcv-lite`` 2.1, because ``mmaction`` 1.2.0 refuses mmcv >= 2.2; the worker works around
the wheel's missing ``localizers/drn`` package.)  The wheel ships ST-GCN, AAGCN and the
PoseC3D SlowOnly; CTR-GCN and MS-G3D are in MMAction2's ``projects/ctrgcn`` and
``projects/msg3d`` folders, which are not on PyPI: place those two folders' ``models``
packages as ``<dir>/mmref_projects/ctrgcn`` and ``<dir>/mmref_projects/msg3d`` (with an
empty ``mmref_projects/__init__.py``; in MS-G3D's utils import ``MSTCN`` from the CTR-GCN
one, the two classes are identical) and pass ``--reference-projects <dir>``.  Without the
reference environment only the flag3d columns are filled.

Example:
    .venv/bin/python benchmarks/recognition_speed.py --reference-python /tmp/refvenv/bin/python \
        --reference-projects /tmp/refmods  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from flag3d.models.recognition import build_recognizer, native_bf16, parameter_count
from flag3d.models.temporal_dft import use_dft

BACKBONES = ("stgcn", "aagcn", "ctrgcn", "msg3d", "posec3d")
ROOT = Path(__file__).resolve().parent


class _FlopCount(TorchDispatchMode):
    """Adds up PyTorch's FLOP formulas (convolutions, mm/bmm/addmm/baddbmm) of every op run."""

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        rule = flop_registry.get(func._overloadpacket)
        if rule is None:  # composite ops (conv2d, linear...) count through their parts
            parts = func.decompose(*args, **kwargs)
            if parts is not NotImplemented:
                return parts
        out = func(*args, **kwargs)
        if rule is not None:
            self.flops += int(rule(*args, **kwargs, out_val=out))
        return out


def gflops_per_sequence(fn: Callable[[], Any]) -> float:
    """GFLOPs of one call of ``fn`` (which should run on a batch of one)."""
    counter = _FlopCount()
    with torch.no_grad(), counter:
        fn()
    return counter.flops / 1e9


def load_average() -> Optional[List[float]]:
    """The 1/5/15-minute load averages (None where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


class Reference:
    """The reference worker process (JSON lines over pipes)."""

    def __init__(self, python: str, projects: Optional[str]) -> None:
        cmd = [python, str(ROOT / "reference_worker.py")]
        if projects:
            cmd += ["--projects", projects]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)

    def ask(self, **cmd: Any) -> Dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("reference worker exited")
        return json.loads(line)

    def close(self) -> None:
        try:
            self.ask(cmd="quit")
        except (RuntimeError, BrokenPipeError, ValueError):
            pass
        self.proc.wait(timeout=30)


class Ours:
    """A flag3d recogniser with a fixed input batch."""

    def __init__(self, backbone: str, args: argparse.Namespace) -> None:
        torch.manual_seed(0)
        self.model = build_recognizer(backbone, args.layout, args.classes,
                                      in_channels=3, num_persons=args.persons)
        self.x = torch.randn(args.batch, args.persons, args.frames,
                             self.model.num_joints, 3)
        if backbone == "posec3d":
            self.x = torch.rand_like(self.x)
        self.y = torch.randint(0, args.classes, (args.batch,))
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9,
                                   nesterov=True, weight_decay=5e-4)

    def info(self) -> Dict[str, Any]:
        self.model.eval()
        run = lambda: self.model(self.x[:1])  # noqa: E731
        # "gflops" is the architecture's count (direct temporal convolutions), comparable with
        # the reference; "gflops_executed" is what flag3d's inference actually runs (the DFT
        # path of flag3d.models.temporal_dft does fewer FLOPs for the same function)
        previous = use_dft(False)
        try:
            nominal = gflops_per_sequence(run)
        finally:
            use_dft(previous)
        return {"params": parameter_count(self.model), "gflops": nominal,
                "gflops_executed": gflops_per_sequence(run)}

    def infer(self, iters: int, precision: str = "fp32") -> List[float]:
        self.model.eval().set_precision(precision)
        times = []
        with torch.inference_mode():
            for _ in range(iters):
                t0 = time.perf_counter()
                self.model(self.x)
                times.append(time.perf_counter() - t0)
        self.model.set_precision("fp32")
        return times

    def train(self, iters: int) -> List[float]:
        self.model.train()
        loss_fn = torch.nn.CrossEntropyLoss()
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            self.opt.zero_grad(set_to_none=True)
            loss = loss_fn(self.model(self.x), self.y)
            loss.backward()
            self.opt.step()
            times.append(time.perf_counter() - t0)
        return times


def _median(xs: List[float]) -> Optional[float]:
    return statistics.median(xs) if xs else None


def run_backbone(name: str, args: argparse.Namespace, ref: Optional[Reference]) -> Dict[str, Any]:
    """All measurements of one backbone, flag3d and reference interleaved."""
    ours = Ours(name, args)
    row: Dict[str, Any] = {"backbone": name, "ours": ours.info(), "reference": None}
    if ref is not None:
        info = ref.ask(cmd="build", backbone=name, num_classes=args.classes,
                       persons=args.persons, frames=args.frames, batch=args.batch,
                       threads=args.threads)
        row["reference"] = info if "error" not in info else None
        row["reference_error"] = info.get("error")
    have_ref = row["reference"] is not None
    bf16 = args.bf16 and name in args.bf16_backbones.split(",")
    t: Dict[str, List[float]] = {k: [] for k in
                                 ("ours_fp32", "ours_bf16", "ref_fp32", "ours_train", "ref_train")}
    errors: Dict[str, str] = {}

    def ask_ref(kind: str, iters: int) -> List[float]:
        """Reference timings of ``kind``; an error is recorded once and ends that kind."""
        if not have_ref or kind in errors:
            return []
        reply = ref.ask(cmd=kind, iters=iters)  # type: ignore[union-attr]
        if "error" in reply:
            errors[kind] = reply["error"]
            return []
        return reply["times"]

    # warm-up (first calls allocate and pick kernels)
    ours.infer(1)
    ask_ref("infer", 1)
    if bf16:
        ours.infer(1, "bf16")
    for _ in range(args.rounds):
        t["ours_fp32"] += ours.infer(args.iters)
        t["ref_fp32"] += ask_ref("infer", args.iters)
        if bf16:
            t["ours_bf16"] += ours.infer(max(1, args.iters // 2), "bf16")
        if args.train:
            t["ours_train"] += ours.train(args.train_iters)
            t["ref_train"] += ask_ref("train", args.train_iters)
    if errors:
        row["reference_errors"] = errors
    b = args.batch
    med = {k: _median(v) for k, v in t.items()}
    row["timings_s"] = t
    row["ours"]["infer_fp32_seq_s"] = b / med["ours_fp32"] if med["ours_fp32"] else None
    row["ours"]["infer_bf16_seq_s"] = b / med["ours_bf16"] if med["ours_bf16"] else None
    row["ours"]["train_step_s"] = med["ours_train"]
    if have_ref:
        row["reference"]["infer_fp32_seq_s"] = b / med["ref_fp32"] if med["ref_fp32"] else None
        row["reference"]["train_step_s"] = med["ref_train"]
        r = row["reference"]
        o = row["ours"]
        row["ratio"] = {
            "params": o["params"] / r["params"],
            "infer_fp32": (o["infer_fp32_seq_s"] / r["infer_fp32_seq_s"]
                           if r.get("infer_fp32_seq_s") else None),
            "infer_bf16": (o["infer_bf16_seq_s"] / r["infer_fp32_seq_s"]
                           if o.get("infer_bf16_seq_s") and r.get("infer_fp32_seq_s") else None),
            "train_step_speedup": (r["train_step_s"] / o["train_step_s"]
                                   if r.get("train_step_s") and o.get("train_step_s") else None),
            # batch i of ours against batch i of the reference (run next to each other):
            # the median of these ratios cancels load that drifts between rounds
            "infer_fp32_paired_median": (
                statistics.median(rt / ot for ot, rt in zip(t["ours_fp32"], t["ref_fp32"]))
                if t["ours_fp32"] and len(t["ours_fp32"]) == len(t["ref_fp32"]) else None),
        }
    return row


def _fmt(x: Any, spec: str = ".1f") -> str:
    return "-" if x is None else format(x, spec)


def print_table(rows: List[Dict[str, Any]]) -> None:
    head = (f"{'backbone':<9} {'params':>9} {'ref params':>10} {'GFLOPs':>7} {'run GF':>7} "
            f"{'ref GF':>7} "
            f"{'fp32 seq/s':>10} {'ref seq/s':>9} {'x ref':>6} {'paired':>6} {'bf16 seq/s':>10} {'x ref':>6} "
            f"{'train s':>8} {'ref train':>9} {'x ref':>6}")
    print(head)
    print("-" * len(head))
    for r in rows:
        o, ref, ra = r["ours"], r.get("reference") or {}, r.get("ratio") or {}
        print(f"{r['backbone']:<9} {o['params']:>9,} {_fmt(ref.get('params'), ','):>10} "
              f"{o['gflops']:>7.2f} {_fmt(o.get('gflops_executed'), '.2f'):>7} "
              f"{_fmt(ref.get('gflops'), '.2f'):>7} "
              f"{_fmt(o.get('infer_fp32_seq_s')):>10} {_fmt(ref.get('infer_fp32_seq_s')):>9} "
              f"{_fmt(ra.get('infer_fp32'), '.2f'):>6} "
              f"{_fmt(ra.get('infer_fp32_paired_median'), '.2f'):>6} {_fmt(o.get('infer_bf16_seq_s')):>10} "
              f"{_fmt(ra.get('infer_bf16'), '.2f'):>6} {_fmt(o.get('train_step_s'), '.2f'):>8} "
              f"{_fmt(ref.get('train_step_s'), '.2f'):>9} "
              f"{_fmt(ra.get('train_step_speedup'), '.2f'):>6}")


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description="Recognition backbone speed, flag3d vs reference.")
    p.add_argument("--backbones", default=",".join(BACKBONES))
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--persons", type=int, default=1)
    p.add_argument("--layout", default="ntu25")
    p.add_argument("--classes", type=int, default=60)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    p.add_argument("--iters", type=int, default=2, help="inference batches per round")
    p.add_argument("--train-iters", type=int, default=1, help="training steps per round")
    p.add_argument("--no-train", dest="train", action="store_false")
    p.add_argument("--no-bf16", dest="bf16", action="store_false")
    p.add_argument("--bf16-backbones", default=",".join(BACKBONES),
                   help="backbones whose bf16 mode is timed (bf16 is slow where it is emulated)")
    p.add_argument("--reference-python", default=None,
                   help="python of the reference venv (e.g. /tmp/refvenv/bin/python)")
    p.add_argument("--reference-projects", default=None,
                   help="folder holding mmref_projects/{ctrgcn,msg3d}")
    p.add_argument("--out", default=str(ROOT / "results" / "recognition_speed.json"))
    args = p.parse_args(argv)
    if args.layout != "ntu25" and args.reference_python:
        p.error("the reference models are built for ntu25 only")
    torch.set_num_threads(args.threads)
    ref = (Reference(args.reference_python, args.reference_projects)
           if args.reference_python else None)
    load_before = load_average()
    rows: List[Dict[str, Any]] = []
    try:
        for name in args.backbones.split(","):
            rows.append(run_backbone(name.strip(), args, ref))
            print(f"done {name} (load {load_average()})", file=sys.stderr, flush=True)
            save(args, rows, load_before)  # keep what is measured if a later backbone fails
    finally:
        if ref is not None:
            ref.close()
    print_table(rows)
    print(f"wrote {save(args, rows, load_before)}")


def save(args: argparse.Namespace, rows: List[Dict[str, Any]],
         load_before: Optional[List[float]]) -> Path:
    """Write the JSON report of ``rows`` measured so far."""
    result = {
        "benchmark": "recognition_speed",
        "data_source": "synthetic (random tensors; speed only)",
        "settings": {k: v for k, v in vars(args).items() if k not in ("out",)},
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                    "native_bf16": native_bf16(),
                    "cpu_count": os.cpu_count(), "torch": torch.__version__,
                    "threads": torch.get_num_threads()},
        "load_average_before": load_before, "load_average_after": load_average(),
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return out


if __name__ == "__main__":
    main()
