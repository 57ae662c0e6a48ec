"""Conversions between joint layouts.

Every conversion is a linear map: each target joint is a weighted sum of source joints
(a named joint, a midpoint, or a point extrapolated along a bone).  The confidence of a
target joint is the minimum confidence of the source joints it uses.  Conversions chain:
``blazepose33 -> coco17 -> h36m17`` is found and composed automatically.

Direct conversions (``~`` marks an approximation, recorded in ``meta["conversion"]``):

================================  ==========================================================
``blazepose33 -> coco17``         exact: the 17 COCO points are BlazePose landmarks
``coco17 -> h36m17``              pelvis = mid-hip, thorax = mid-shoulder, spine = their
                                  midpoint, nose = nose, head = mid-eye (MotionBERT's rule)
``ntu25 <-> kinect25``            exact: the same order
``ntu25 -> h36m17``               ~ nose = mid(neck, head); the rest named joints
``ntu25 -> flag3d24``             ~ spine1/spine3/collars interpolated, head_top extrapolated
``flag3d24 -> ntu25``             ~ hand, hand tip and thumb extrapolated along the forearm
``flag3d24 -> h36m17``            ~ nose = mid(neck, head)
``uiprmd22 -> ntu25``             ~ hand = hand tip = thumb = wrist; foot = toes
``uiprmd22 -> h36m17``            ~ thorax = chest, nose = mid(neck, head), head = head
``blazepose33 -> flag3d24``       ~ spine/neck/head interpolated from hips, shoulders, ears;
                                  feet = foot index points (for MediaPipe world landmarks)
``coco17 -> flag3d24``            ~ the same from COCO points; feet = ankles
================================  ==========================================================

Example:
    >>> import numpy as np
    >>> from flag3d.skeleton import Sequence
    >>> from flag3d.skeleton.convert import convert
    >>> s = Sequence(np.random.default_rng(0).random((5, 33, 2)), "blazepose33", fps=30)
    >>> c = convert(s, "h36m17")
    >>> c.layout, c.joints.shape, c.meta["conversion"]
    ('h36m17', (5, 17, 2), 'blazepose33>coco17>h36m17')
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, List, Sequence as Seq, Tuple, Union

import numpy as np

from flag3d.errors import LayoutError
from flag3d.skeleton.layouts import get_layout
from flag3d.skeleton.sequence import Sequence

# A target joint: a source name, or a list of (source name, weight) summing to 1.
Spec = Union[str, List[Tuple[str, float]]]


@dataclass(frozen=True)
class Conversion:
    """A direct conversion ``src -> dst`` given joint by joint."""

    src: str
    dst: str
    joints: Dict[str, Spec]
    approximate: bool
    note: str = ""

    def matrix(self) -> np.ndarray:
        """The (V_dst, V_src) weight matrix."""
        s, d = get_layout(self.src), get_layout(self.dst)
        w = np.zeros((d.num_joints, s.num_joints), dtype=np.float64)
        for name in d.joints:
            if name not in self.joints:
                raise LayoutError(f"conversion {self.src}->{self.dst} misses joint {name}")
            spec = self.joints[name]
            terms = [(spec, 1.0)] if isinstance(spec, str) else spec
            for src_name, weight in terms:
                w[d.index(name), s.index(src_name)] += weight
        if not np.allclose(w.sum(axis=1), 1.0):
            bad = d.joints[int(np.argmax(np.abs(w.sum(axis=1) - 1.0)))]
            raise LayoutError(f"conversion {self.src}->{self.dst}: weights of {bad} do not sum to 1")
        return w


def _mid(a: str, b: str) -> List[Tuple[str, float]]:
    return [(a, 0.5), (b, 0.5)]


def _along(base: str, frm: str, t: float) -> List[Tuple[str, float]]:
    """The point ``base + t * (base - frm)``: beyond ``base`` on the bone ``frm -> base``."""
    return [(base, 1.0 + t), (frm, -t)]


def _same(names: Seq[str]) -> Dict[str, Spec]:
    return {n: n for n in names}


def _mix(*terms: Tuple[List[Tuple[str, float]], float]) -> List[Tuple[str, float]]:
    """Weighted sum of specs (each a list of (joint, weight)), merged by joint name."""
    out: Dict[str, float] = {}
    for spec, w in terms:
        for name, v in spec:
            out[name] = out.get(name, 0.0) + w * v
    return [(k, v) for k, v in out.items() if abs(v) > 1e-12]


def _torso_to_flag3d24(hip_l: str, hip_r: str, sh_l: str, sh_r: str, ear_l: str, ear_r: str,
                       foot_l: str, foot_r: str) -> Dict[str, Spec]:
    """flag3d24 spine, neck and head points from hips, shoulders and ears.

    Fractions measured on the synthetic body's rest pose (``flag3d.synth``): along mid-hip
    H -> mid-shoulder S the pelvis sits at 0.175, spine1-3 at 0.39/0.59/0.79, the thorax at
    0.95; from S towards mid-ear E the neck sits at 0.35, the head at E, the head top at
    1.9; a collar sits 0.2 of the way from the thorax to its shoulder.
    """
    h, sh, e = _mid(hip_l, hip_r), _mid(sh_l, sh_r), _mid(ear_l, ear_r)

    def along_torso(f: float) -> List[Tuple[str, float]]:
        return _mix((h, 1.0 - f), (sh, f))

    def along_neck(f: float) -> List[Tuple[str, float]]:
        return _mix((sh, 1.0 - f), (e, f))

    thorax = along_torso(0.95)
    return {
        "pelvis": along_torso(0.175), "spine1": along_torso(0.39), "spine2": along_torso(0.59),
        "spine3": along_torso(0.79), "thorax": thorax, "neck": along_neck(0.35),
        "head": e, "head_top": along_neck(1.9),
        "left_collar": _mix((thorax, 0.8), ([(sh_l, 1.0)], 0.2)),
        "right_collar": _mix((thorax, 0.8), ([(sh_r, 1.0)], 0.2)),
        **_same(_LIMBS), "left_foot": foot_l, "right_foot": foot_r,
    }


_LIMBS = tuple(
    f"{side}_{part}" for side in ("left", "right")
    for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
)

_CONVERSIONS: List[Conversion] = [
    Conversion("blazepose33", "coco17", _same(get_layout("coco17").joints), approximate=False),
    Conversion("coco17", "h36m17", {
        "pelvis": _mid("left_hip", "right_hip"),
        **_same([n for n in _LIMBS]),
        "thorax": _mid("left_shoulder", "right_shoulder"),
        "spine": [("left_hip", 0.25), ("right_hip", 0.25),
                  ("left_shoulder", 0.25), ("right_shoulder", 0.25)],
        "nose": "nose",
        "head": _mid("left_eye", "right_eye"),
    }, approximate=False, note="MotionBERT's COCO to H36M rule"),
    Conversion("ntu25", "kinect25", _same(get_layout("ntu25").joints), approximate=False),
    Conversion("kinect25", "ntu25", _same(get_layout("ntu25").joints), approximate=False),
    Conversion("ntu25", "h36m17", {
        "pelvis": "spine_base", **_same(_LIMBS), "spine": "spine_mid",
        "thorax": "spine_shoulder", "nose": _mid("neck", "head"), "head": "head",
    }, approximate=True),
    Conversion("ntu25", "flag3d24", {
        "pelvis": "spine_base",
        "spine1": [("spine_base", 2 / 3), ("spine_mid", 1 / 3)],
        "spine2": "spine_mid",
        "spine3": _mid("spine_mid", "spine_shoulder"),
        "thorax": "spine_shoulder", "neck": "neck", "head": "head",
        "head_top": _along("head", "neck", 0.6),
        "left_collar": _mid("spine_shoulder", "left_shoulder"),
        "right_collar": _mid("spine_shoulder", "right_shoulder"),
        **_same(_LIMBS), "left_foot": "left_foot", "right_foot": "right_foot",
    }, approximate=True),
    Conversion("flag3d24", "ntu25", {
        "spine_base": "pelvis", "spine_mid": "spine2", "spine_shoulder": "thorax",
        "neck": "neck", "head": "head", **_same(_LIMBS),
        "left_foot": "left_foot", "right_foot": "right_foot",
        "left_hand": _along("left_wrist", "left_elbow", 0.3),
        "right_hand": _along("right_wrist", "right_elbow", 0.3),
        "left_hand_tip": _along("left_wrist", "left_elbow", 0.7),
        "right_hand_tip": _along("right_wrist", "right_elbow", 0.7),
        "left_thumb": _along("left_wrist", "left_elbow", 0.35),
        "right_thumb": _along("right_wrist", "right_elbow", 0.35),
    }, approximate=True),
    Conversion("flag3d24", "h36m17", {
        "pelvis": "pelvis", **_same(_LIMBS), "spine": "spine2", "thorax": "thorax",
        "nose": _mid("neck", "head"), "head": "head",
    }, approximate=True),
    Conversion("uiprmd22", "ntu25", {
        "spine_base": "waist", "spine_mid": "spine", "spine_shoulder": "chest",
        "neck": "neck", "head": "head", **_same(_LIMBS),
        "left_hand": "left_wrist", "right_hand": "right_wrist",
        "left_hand_tip": "left_wrist", "right_hand_tip": "right_wrist",
        "left_thumb": "left_wrist", "right_thumb": "right_wrist",
        "left_foot": "left_toes", "right_foot": "right_toes",
    }, approximate=True, note="UI-PRMD has no hand joints"),
    Conversion("blazepose33", "flag3d24", _torso_to_flag3d24(
        "left_hip", "right_hip", "left_shoulder", "right_shoulder", "left_ear", "right_ear",
        "left_foot_index", "right_foot_index"), approximate=True,
        note="spine and head interpolated from hips, shoulders and ears (MediaPipe world landmarks)"),
    Conversion("coco17", "flag3d24", _torso_to_flag3d24(
        "left_hip", "right_hip", "left_shoulder", "right_shoulder", "left_ear", "right_ear",
        "left_ankle", "right_ankle"), approximate=True, note="feet = ankles (COCO has no feet)"),
    Conversion("uiprmd22", "h36m17", {
        "pelvis": "waist", **_same(_LIMBS), "spine": "spine", "thorax": "chest",
        "nose": _mid("neck", "head"), "head": "head",
    }, approximate=True),
]

_DIRECT: Dict[Tuple[str, str], Conversion] = {(c.src, c.dst): c for c in _CONVERSIONS}


def conversion_path(src: str, dst: str) -> List[str]:
    """Shortest chain of layouts from ``src`` to ``dst`` (inclusive)."""
    src, dst = get_layout(src).name, get_layout(dst).name
    if src == dst:
        return [src]
    prev: Dict[str, str] = {src: ""}
    queue = deque([src])
    while queue:
        cur = queue.popleft()
        for (a, b) in _DIRECT:
            if a == cur and b not in prev:
                prev[b] = cur
                if b == dst:
                    path = [b]
                    while prev[path[-1]]:
                        path.append(prev[path[-1]])
                    return path[::-1]
                queue.append(b)
    reachable = sorted(k for k in prev if k != src)
    raise LayoutError(
        f"no conversion from {src} to {dst}; from {src} one can reach: "
        f"{', '.join(reachable) or 'nothing'}"
    )


def can_convert(src: str, dst: str) -> bool:
    """True when :func:`convert` can map ``src`` to ``dst``."""
    try:
        conversion_path(src, dst)
        return True
    except LayoutError:
        return False


@lru_cache(maxsize=None)
def _composed(src: str, dst: str) -> Tuple[np.ndarray, bool]:
    path = conversion_path(src, dst)
    w = np.eye(get_layout(src).num_joints)
    approx = False
    for a, b in zip(path[:-1], path[1:]):
        conv = _DIRECT[(a, b)]
        w = conv.matrix() @ w
        approx |= conv.approximate
    w[np.abs(w) < 1e-12] = 0.0
    return w, approx


def conversion_matrix(src: str, dst: str) -> np.ndarray:
    """The (V_dst, V_src) matrix mapping ``src`` joints to ``dst`` joints (a copy)."""
    return _composed(get_layout(src).name, get_layout(dst).name)[0].copy()


def convert_array(joints: np.ndarray, src: str, dst: str) -> np.ndarray:
    """Convert an array ``(..., V_src, C)`` to ``(..., V_dst, C)``."""
    w, _ = _composed(get_layout(src).name, get_layout(dst).name)
    if joints.shape[-2] != w.shape[1]:
        raise LayoutError(
            f"array has {joints.shape[-2]} joints but layout {src} has {w.shape[1]}"
        )
    return np.einsum("dv,...vc->...dc", w.astype(np.float32), joints).astype(np.float32)


def convert(seq: Sequence, dst: str) -> Sequence:
    """Convert a sequence to layout ``dst`` (identity when it is already there).

    The result records the chain in ``meta["conversion"]`` and sets
    ``meta["conversion_approximate"]`` when any step is approximate.
    """
    dst = get_layout(dst).name
    if seq.layout == dst:
        return seq
    w, approx = _composed(seq.layout, dst)
    joints = convert_array(seq.joints, seq.layout, dst)
    conf = None
    if seq.confidence is not None:
        used = w != 0
        masked = np.where(used[None, :, :], seq.confidence[..., None, :], np.inf)
        conf = masked.min(axis=-1).astype(np.float32)
    meta = dict(seq.meta)
    meta["conversion"] = ">".join(conversion_path(seq.layout, dst))
    if approx:
        meta["conversion_approximate"] = True
    return seq.replace(joints=joints, layout=dst, confidence=conf, meta=meta)
