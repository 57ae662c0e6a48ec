"""Timing worker for the *reference* (PYSKL / MMAction2) skeleton backbones.

Runs inside a separate Python environment that has ``mmaction2`` (never the flag3d venv)
and answers one JSON command per line on stdin with one JSON line on stdout, so that
``benchmarks/recognition_speed.py`` can interleave reference and flag3d timings.  It holds
no model code of its own: it imports MMAction2's ``STGCN``, ``AAGCN``,
``ResNet3dSlowOnly``, ``GCNHead`` and ``I3DHead``; CTR-GCN and MS-G3D live in MMAction2's
``projects/`` folder, which the pip package does not ship: point ``--projects`` at a
folder holding them as ``mmref_projects/ctrgcn`` and ``mmref_projects/msg3d`` (see the
docstring of ``recognition_speed.py``).

Commands (JSON objects):
    {"cmd": "build", "backbone": "stgcn", "num_classes": 60, "persons": 1, "frames": 100,
     "batch": 16, "threads": 2}            -> {"params": int, "gflops": float}
    {"cmd": "infer", "iters": 3}            -> {"times": [seconds per batch, ...]}
    {"cmd": "train", "iters": 2}            -> {"times": [...]}
    {"cmd": "quit"}

Example:
    $ /tmp/refvenv/bin/python benchmarks/reference_worker.py --projects /tmp/refmods
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import types
from typing import Any, Dict, Tuple


def _patch_broken_wheel() -> None:
    """MMAction2 1.2.0's wheel lacks ``localizers/drn``; register empty modules for it."""
    for name in ("mmaction.models.localizers.drn", "mmaction.models.localizers.drn.drn"):
        mod = types.ModuleType(name)
        mod.DRN = None  # type: ignore[attr-defined]
        mod.__path__ = []  # type: ignore[attr-defined]
        sys.modules.setdefault(name, mod)


def build(backbone: str, num_classes: int, persons: int) -> Tuple[Any, Any, bool]:
    """(backbone, head, takes_heatmaps) of the reference implementation."""
    from mmaction.models.backbones import AAGCN, STGCN, ResNet3dSlowOnly
    from mmaction.models.heads import GCNHead, I3DHead

    if backbone == "stgcn":
        net = STGCN(graph_cfg=dict(layout="nturgb+d", mode="stgcn_spatial"), num_person=persons)
        return net, GCNHead(num_classes, 256), False
    if backbone == "aagcn":
        net = AAGCN(graph_cfg=dict(layout="nturgb+d", mode="spatial"), num_person=persons)
        return net, GCNHead(num_classes, 256), False
    if backbone == "ctrgcn":
        from mmref_projects.ctrgcn import CTRGCN

        net = CTRGCN(graph_cfg=dict(layout="nturgb+d", mode="spatial"), num_person=persons)
        return net, GCNHead(num_classes, 256), False
    if backbone == "msg3d":
        from mmref_projects.msg3d import MSG3D

        net = MSG3D(graph_cfg=dict(layout="nturgb+d", mode="binary_adj"), num_person=persons)
        return net, GCNHead(num_classes, 384), False
    if backbone == "posec3d":
        net = ResNet3dSlowOnly(
            depth=50, pretrained=None, in_channels=25, base_channels=32, num_stages=3,
            out_indices=(2,), stage_blocks=(4, 6, 3), conv1_stride_s=1, pool1_stride_s=1,
            inflate=(0, 1, 1), spatial_strides=(2, 2, 2), temporal_strides=(1, 1, 2),
            dilations=(1, 1, 1),
        )
        return net, I3DHead(num_classes, 512, dropout_ratio=0.0), True
    raise ValueError(f"unknown backbone {backbone}")


class Session:
    """One reference model and its input batch."""

    def __init__(self, cfg: Dict[str, Any]) -> None:
        import torch

        torch.set_num_threads(int(cfg.get("threads", 2)))
        torch.manual_seed(0)
        self.torch = torch
        self.net, self.head, heat = build(cfg["backbone"], int(cfg["num_classes"]),
                                          int(cfg["persons"]))
        from mmaction.utils import register_all_modules

        register_all_modules()  # weight initialisers such as AAGCN's ConvBranch
        if hasattr(self.net, "init_weights"):
            self.net.init_weights()
        self.model = torch.nn.ModuleDict({"backbone": self.net, "head": self.head})
        b, m, t = int(cfg["batch"]), int(cfg["persons"]), int(cfg["frames"])
        if heat:  # PoseC3D takes rendered volumes: (N, V, 48, 56, 56)
            self.x = torch.rand(b, 25, int(cfg.get("heat_frames", 48)), 56, 56)
        else:
            self.x = torch.randn(b, m, t, 25, 3)
        self.y = torch.randint(0, int(cfg["num_classes"]), (b,))
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9,
                                   nesterov=True, weight_decay=5e-4)

    def logits(self, x: Any) -> Any:
        return self.head(self.net(x))

    def info(self) -> Dict[str, Any]:
        from torch.utils._python_dispatch import TorchDispatchMode
        from torch.utils.flop_counter import flop_registry

        class Count(TorchDispatchMode):
            total = 0

            def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore
                kwargs = kwargs or {}
                rule = flop_registry.get(func._overloadpacket)
                if rule is None:  # composite ops count through their parts
                    parts = func.decompose(*args, **kwargs)
                    if parts is not NotImplemented:
                        return parts
                out = func(*args, **kwargs)
                if rule is not None:
                    Count.total += int(rule(*args, **kwargs, out_val=out))
                return out

        params = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        self.model.eval()
        with self.torch.no_grad(), Count():
            self.logits(self.x[:1])
        return {"params": int(params), "gflops": Count.total / 1e9}

    def infer(self, iters: int) -> Dict[str, Any]:
        self.model.eval()
        times = []
        with self.torch.inference_mode():
            for _ in range(iters):
                t0 = time.perf_counter()
                self.logits(self.x)
                times.append(time.perf_counter() - t0)
        return {"times": times}

    def train(self, iters: int) -> Dict[str, Any]:
        self.model.train()
        loss_fn = self.torch.nn.CrossEntropyLoss()
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            self.opt.zero_grad(set_to_none=True)
            loss = loss_fn(self.logits(self.x), self.y)
            loss.backward()
            self.opt.step()
            times.append(time.perf_counter() - t0)
        return {"times": times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", default=None,
                        help="folder holding mmref_projects/{ctrgcn,msg3d} (MMAction2 projects)")
    args = parser.parse_args()
    if args.projects:
        sys.path.insert(0, args.projects)
    _patch_broken_wheel()
    import warnings

    warnings.filterwarnings("ignore")
    reply = sys.stdout
    sys.stdout = sys.stderr  # MMEngine logs to stdout; keep the protocol channel clean
    session = None
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if cmd["cmd"] == "quit":
                break
            if cmd["cmd"] == "build":
                session = Session(cmd)
                out = session.info()
            elif cmd["cmd"] == "infer":
                out = session.infer(int(cmd.get("iters", 1)))
            elif cmd["cmd"] == "train":
                out = session.train(int(cmd.get("iters", 1)))
            else:
                out = {"error": f"unknown command {cmd['cmd']}"}
        except Exception as err:  # report to the parent instead of dying silently
            out = {"error": f"{type(err).__name__}: {err}"}
        reply.write(json.dumps(out) + "\n")
        reply.flush()


if __name__ == "__main__":
    main()
