"""Small recognition fixtures written by the tests themselves (no shared data needed).

``tiny_store`` writes a store of synthetic ntu25 (or coco17) sequences of 3 activities by
3 subjects; ``tiny_config`` writes a flat YAML config for a 2-block ST-GCN that trains on it
in seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np
import yaml

from flag3d.data.store import Store
from flag3d.skeleton import Sequence

ACTIVITIES = ("A017", "A020", "A049")


def _motion(kind: int, t: int, rng: np.random.Generator, layout: str) -> np.ndarray:
    """A standing body whose arms (0), forearms (1) or hips (2) move; plus noise."""
    from flag3d.skeleton.layouts import get_layout

    lay = get_layout(layout)
    v = lay.num_joints
    base = np.zeros((v, 3))
    for j, name in enumerate(lay.joints):
        side = 0.2 if name.startswith("left") else (-0.2 if name.startswith("right") else 0.0)
        height = 1.0
        if any(k in name for k in ("hip", "spine_base", "pelvis", "waist")):
            height = 0.9
        if any(k in name for k in ("knee",)):
            height = 0.5
        if any(k in name for k in ("ankle", "foot", "toe")):
            height = 0.05
        if any(k in name for k in ("shoulder", "neck", "spine_shoulder", "collar", "thorax", "chest")):
            height = 1.4
        if any(k in name for k in ("head", "nose", "eye", "ear")):
            height = 1.65
        if any(k in name for k in ("elbow",)):
            height = 1.15
        if any(k in name for k in ("wrist", "hand", "thumb")):
            height = 0.9
        base[j] = (side, height, 0.02 * (j % 3))
    phase = np.linspace(0, 2 * np.pi * (2 + rng.random()), t)
    x = np.repeat(base[None], t, axis=0)
    for j, name in enumerate(lay.joints):
        if kind == 0 and any(k in name for k in ("wrist", "hand", "elbow", "thumb")):
            x[:, j, 0] += np.sign(base[j, 0] + 1e-9) * 0.4 * (1 - np.cos(phase))
            x[:, j, 1] += 0.5 * (1 - np.cos(phase))
        if kind == 1 and any(k in name for k in ("wrist", "hand", "thumb")):
            x[:, j, 2] += 0.3 * (1 - np.cos(phase))
        if kind == 2:
            x[:, j, 1] -= 0.3 * (1 - np.cos(phase)) * (base[j, 1] > 0.3)
    return x + rng.normal(0, 0.005, x.shape)


def tiny_sequences(layout: str = "ntu25", per: int = 2, subjects: int = 3, seed: int = 0,
                   dims: int = 3):
    """3 activities x ``subjects`` x ``per`` sequences; subjects S001.. (the last one tests)."""
    rng = np.random.default_rng(seed)
    out = []
    for s in range(subjects):
        for a, act in enumerate(ACTIVITIES):
            for k in range(per):
                t = int(rng.integers(30, 50))
                x = _motion(a, t, rng, layout if dims == 3 else "coco17")
                meta: Dict[str, Any] = {
                    "id": f"{act}-S{s + 1:03d}-{k}", "activity": act, "label": a,
                    "subject": f"S{s + 1:03d}", "split": "test" if s == subjects - 1 else "train",
                    "synthetic": True, "source": "test",
                }
                if dims == 2:
                    uv = x[..., :2] * np.array([300.0, -300.0]) + np.array([960.0, 900.0])
                    meta.update(units="px", img_shape=[1080, 1920])
                    out.append(Sequence(uv, "coco17", fps=30, confidence=np.ones(uv.shape[:2]),
                                        meta=meta))
                else:
                    out.append(Sequence(x, layout, fps=30, meta=meta))
    return out


def tiny_store(folder: Path, **kw: Any) -> Path:
    """A store of :func:`tiny_sequences` at ``folder``."""
    with Store.create(folder) as store:
        store.append(tiny_sequences(**kw))
    return folder


def tiny_config(path: Path, data_path: Path, **over: Any) -> Path:
    """A flat YAML config of a 2-block ST-GCN trained for 1 epoch on ``data_path``."""
    cfg: Dict[str, Any] = {
        "dataset": "store", "data_path": str(data_path), "label_by": "activity",
        "clip_len": 12, "num_clips": 2, "backbone": "stgcn",
        "backbone_args": {"base_channels": 8, "num_stages": 2, "inflate_stages": [],
                          "down_stages": []},
        "epochs": 1, "batch_size": 6, "lr": 0.05, "threads": 1,
    }
    cfg.update(over)
    path.write_text(yaml.safe_dump(cfg))
    return path


def load_yaml(path: Path) -> Optional[Dict[str, Any]]:
    """Read a YAML file (tests)."""
    return yaml.safe_load(Path(path).read_text())
