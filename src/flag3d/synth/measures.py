"""Kinematic measures of the standards: one number per repetition and standard.

Each measure is a plain function of the joints over one repetition (knee flexion at the
bottom, arm elevation at the top, torso inclination, knee-to-ankle width ratio ...), so
faults can be checked independently of the generator: faulty repetitions are separated
from correct ones by a threshold (see ``tests/test_synth.py`` and ``docs/synthetic.md``).
It is also a rule-based quality baseline.  ``FAULT_IS_HIGH[activity][j]`` says whether a
*high* value of measure ``j`` indicates the fault.

Works on ``flag3d24`` and ``ntu25`` 3D sequences (names as in :mod:`flag3d.synth.signals`).

Example:
    >>> from flag3d.synth import SynthConfig, generate_sequence
    >>> from flag3d.synth.measures import standard_measures
    >>> s = generate_sequence("A010", seed=0, config=SynthConfig(reps=(3, 3), views=()))
    >>> standard_measures(s.clean["flag3d24"]).shape
    (3, 3)
"""

from __future__ import annotations

from typing import Callable, Dict, Tuple

import numpy as np

from flag3d.errors import TaxonomyError
from flag3d.skeleton.sequence import Sequence
from flag3d.synth.signals import UP, JointView

Measure = Callable[[JointView, np.ndarray], np.ndarray]  # (view, reps) -> (n,)
SIDES = ("left", "right")


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _angle(u: np.ndarray, w: np.ndarray) -> np.ndarray:
    c = np.sum(_unit(u) * _unit(w), axis=-1)
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))


def _per_rep(x: np.ndarray, reps: np.ndarray, how: str) -> np.ndarray:
    out = []
    for a, b in reps:
        seg = x[a:b]
        out.append({"max": seg.max(), "min": seg.min(), "range": np.ptp(seg),
                    "dev": np.abs(seg - seg[0]).max()}[how])
    return np.asarray(out, dtype=float)


def _at_peak(x: np.ndarray, key: np.ndarray, reps: np.ndarray) -> np.ndarray:
    """``x`` at the frame where ``key`` is largest within each repetition."""
    return np.asarray([x[a + int(np.argmax(key[a:b]))] for a, b in reps], dtype=float)


# ----------------------------------------------------------------- per-frame quantities
def torso_incl(v: JointView) -> np.ndarray:
    """Signed forward inclination of the trunk (pelvis->neck) from vertical (degrees)."""
    t = v("neck") - v("pelvis")
    ang = _angle(t, np.broadcast_to(UP, t.shape))
    return np.where(np.sum(t * v.fwd_dir(), axis=1) >= 0, ang, -ang)


def arm_elev(v: JointView, side: str) -> np.ndarray:
    """Angle between the upper arm and the chest's down direction (neck -> thorax, rigid
    with the chest, so back rounding does not count), degrees."""
    return _angle(v(f"{side}_elbow") - v(f"{side}_shoulder"), v("thorax") - v("neck"))


def min_knee(v: JointView) -> np.ndarray:
    """Knee flexion of the less bent leg."""
    return np.minimum(v.knee_flexion("left"), v.knee_flexion("right"))


def knee_width_ratio(v: JointView) -> np.ndarray:
    """Knee separation along the ankle line over the ankle distance (< 1 when the knees
    cave in, negative if they cross)."""
    a = v("left_ankle") - v("right_ankle")
    n = np.maximum(np.linalg.norm(a, axis=1), 1e-6)
    return np.sum((v("left_knee") - v("right_knee")) * a, axis=1) / (n * n)


def front_knee_in(v: JointView) -> np.ndarray:
    """How far (m) the front knee of a lunge is inside its ankle, towards the midline."""
    left, fwd = v.left_dir(), v.fwd_dir()
    front_left = np.sum((v("left_ankle") - v("right_ankle")) * fwd, axis=1) > 0
    off_l = -np.sum((v("left_knee") - v("left_ankle")) * left, axis=1)
    off_r = np.sum((v("right_knee") - v("right_ankle")) * left, axis=1)
    return np.where(front_left, off_l, off_r)


def spine_curve(v: JointView) -> np.ndarray:
    """Bend between the lower (pelvis->spine2) and upper (spine2->neck) back (degrees)."""
    return _angle(v("spine2") - v("pelvis"), v("neck") - v("spine2"))


def head_frame(v: JointView) -> Tuple[np.ndarray, np.ndarray]:
    """Head up (neck->head_top) and face-forward unit vectors; ntu25 has no head top, so
    its up falls back to neck->head."""
    neck, head = v("neck"), v("head")
    top = v("head_top") if "head_top" in v.layout.joints else head
    up = _unit(top - neck)
    off = head - neck
    fwd = _unit(off - np.sum(off * up, axis=1, keepdims=True) * up)
    return up, fwd


def head_pitch(v: JointView) -> np.ndarray:
    """Head flexion relative to the trunk in the sagittal plane (degrees, + = chin down)."""
    t = _unit(v("thorax") - v("pelvis"))
    fwd = _unit(np.cross(v("left_shoulder") - v("right_shoulder"), t))
    off = v("head") - v("neck")
    return np.degrees(np.arctan2(np.sum(off * fwd, axis=1), np.sum(off * t, axis=1)))


def head_yaw_tilt(v: JointView) -> Tuple[np.ndarray, np.ndarray]:
    """Head yaw relative to the shoulders and head tilt, degrees."""
    up, fwd = head_frame(v)
    left = v.left_dir()
    tfwd = v.fwd_dir()
    yaw = np.degrees(np.arctan2(np.sum(fwd * left, axis=1), np.sum(fwd * tfwd, axis=1)))
    head_left = _unit(np.cross(np.broadcast_to(UP, fwd.shape), fwd))
    tilt = np.degrees(np.arcsin(np.clip(np.sum(up * head_left, axis=1), -1, 1)))
    return yaw, tilt


def line_twist(v: JointView) -> np.ndarray:
    """Angle between the shoulder line and the hip line (degrees)."""
    return _angle(v("left_shoulder") - v("right_shoulder"), v("left_hip") - v("right_hip"))


def _c(v: JointView, name: str) -> np.ndarray:
    return 0.5 * (v(f"left_{name}") + v(f"right_{name}"))


# -------------------------------------------------------------------------- measures
def _pushup(kneeling: bool) -> Tuple[Measure, Measure, Measure]:
    end = "knee" if kneeling else "ankle"

    def line(v: JointView, r: np.ndarray) -> np.ndarray:
        dev = 180.0 - _angle(_c(v, "shoulder") - _c(v, "hip"), _c(v, end) - _c(v, "hip"))
        return _per_rep(dev, r, "max")

    def depth(v: JointView, r: np.ndarray) -> np.ndarray:
        return _per_rep(0.5 * (v.elbow_flexion("left") + v.elbow_flexion("right")), r, "max")

    def flare(v: JointView, r: np.ndarray) -> np.ndarray:
        flat = np.array([1.0, 0.0, 1.0])
        f = 0.5 * (_angle((v("left_elbow") - v("left_shoulder")) * flat,
                          (_c(v, "hip") - _c(v, "shoulder")) * flat)
                   + _angle((v("right_elbow") - v("right_shoulder")) * flat,
                            (_c(v, "hip") - _c(v, "shoulder")) * flat))
        key = v.elbow_flexion("left") + v.elbow_flexion("right")
        return _at_peak(f, key, r)
    return line, depth, flare


def _max(f: Callable[[JointView], np.ndarray], how: str = "max") -> Measure:
    return lambda v, r: _per_rep(f(v), r, how)


def _peak_of(f: Callable[[JointView], np.ndarray], key: Callable[[JointView], np.ndarray]
             ) -> Measure:
    return lambda v, r: _at_peak(f(v), key(v), r)


def _both(f: Callable[[JointView, str], np.ndarray],
          red: Callable[..., np.ndarray] = np.maximum) -> Callable[[JointView], np.ndarray]:
    return lambda v: red(f(v, "left"), f(v, "right"))


_elbow_max = _both(lambda v, s: v.elbow_flexion(s))
_arm_max = _both(arm_elev)
_knee_max = _both(lambda v, s: v.knee_flexion(s))
_thigh_max = _both(lambda v, s: v.elevation(f"{s}_hip", f"{s}_knee"))
_abs_incl = lambda v: np.abs(torso_incl(v))  # noqa: E731
_depth = _max(min_knee)
_valgus = _peak_of(knee_width_ratio, min_knee)
_upright = _max(_abs_incl)
_still = _max(torso_incl, "dev")
_low_knee = _max(lambda v: -np.minimum(v.y("left_knee"), v.y("right_knee")))
_front_knee_in = _peak_of(front_knee_in, lambda v: -v.y("pelvis"))
_yaw = lambda v: np.abs(head_yaw_tilt(v)[0])  # noqa: E731
_tilt = lambda v: np.abs(head_yaw_tilt(v)[1])  # noqa: E731
_twist_dev = _max(line_twist, "dev")
_shoulder_rise = lambda v: _c(v, "shoulder")[:, 1] - v.y("thorax")  # noqa: E731
_knee_above_hip = _both(lambda v, s: v.y(f"{s}_knee") - v.y(f"{s}_hip"))
_ankle_h = lambda v: 0.5 * (v.y("left_ankle") + v.y("right_ankle"))  # noqa: E731
_feet_wide = lambda v: (np.linalg.norm(v("left_ankle") - v("right_ankle"), axis=1)  # noqa: E731
                        / np.linalg.norm(v("left_shoulder") - v("right_shoulder"), axis=1))


def _arm_swing(v: JointView, r: np.ndarray) -> np.ndarray:
    """Mean over the arms of the range of the signed (forward +) upper-arm elevation."""
    out = np.zeros(len(r))
    for s in SIDES:
        fwd = np.sign(np.sum((v(f"{s}_elbow") - v(f"{s}_shoulder")) * v.fwd_dir(), axis=1))
        out += 0.5 * _per_rep(arm_elev(v, s) * fwd, r, "range")
    return out


_bridge_line = _max(lambda v: _angle(_c(v, "shoulder") - _c(v, "hip"),
                                     _c(v, "knee") - _c(v, "hip")))
_bridge_knees = _peak_of(knee_width_ratio, lambda v: v.y("pelvis"))
_hip_level = _max(lambda v: np.abs(v.y("left_hip") - v.y("right_hip")))
_sit = _max(lambda v: np.degrees(np.arcsin(np.clip(_unit(v("thorax") - v("pelvis"))[:, 1], -1, 1))))
_foot_up = _max(lambda v: np.minimum(v.y("left_foot"), v.y("right_foot")) if "left_foot" in
                v.layout.joints else np.minimum(v.y("left_ankle"), v.y("right_ankle")))

#: activity -> the three measures (in the standards' order) and their fault direction.
MEASURES: Dict[str, Tuple[Measure, Measure, Measure]] = {
    "A002": _pushup(True), "A006": _pushup(False),
    "A010": (_depth, _max(_arm_max), _valgus),
    "A017": (_max(_arm_max), _max(_elbow_max), _still),
    "A020": (_max(_elbow_max), _max(_arm_max), _still),
    "A021": (_max(_elbow_max), _max(_arm_max), _still),
    "A022": (_max(lambda v: v.y("right_elbow") - v.y("right_shoulder")), _max(spine_curve),
             _twist_dev),
    "A025": (_max(_both(lambda v, s: v.elbow_flexion(s), np.minimum), "min"), _max(_arm_max),
             _max(spine_curve)),
    "A026": (_max(head_pitch, "range"), _max(_shoulder_rise, "range"), _max(torso_incl, "range")),
    "A027": (_max(_yaw), _max(_tilt), _twist_dev),
    "A028": (_max(_shoulder_rise, "dev"), _max(_elbow_max), _max(head_pitch, "dev")),
    "A036": (_bridge_line, _bridge_knees, _hip_level),
    "A042": (_sit, _max(min_knee, "min"), _max(head_pitch)),
    "A044": (_low_knee, _front_knee_in, _upright),
    "A046": (_low_knee, _front_knee_in, _upright),
    "A049": (_depth, _valgus, _upright),
    "A050": (_max(_ankle_h, "dev"), _max(_knee_max), _upright),
    "A051": (_depth, _foot_up, _valgus),
    "A052": (_depth, _max(_knee_above_hip), _valgus),
    "A053": (_max(_knee_max), _max(_thigh_max), _upright),
    "A055": (_max(_knee_max), _max(_thigh_max), _upright),
    "A057": (_max(_arm_max), _max(_feet_wide), _max(_elbow_max)),
    "A058": (_max(_thigh_max), _max(lambda v: -torso_incl(v)), _arm_swing),
    "A059": (_max(_arm_max), _max(_feet_wide), _max(_elbow_max)),
    "A060": (_max(_thigh_max), _arm_swing, _upright),
}

_H, _L = True, False
#: activity -> for each standard, True when a high measure means the fault is present.
FAULT_IS_HIGH: Dict[str, Tuple[bool, bool, bool]] = {
    "A002": (_H, _L, _H), "A006": (_H, _L, _H), "A010": (_L, _L, _L), "A017": (_L, _H, _H),
    "A020": (_L, _H, _H), "A021": (_L, _H, _H), "A022": (_L, _H, _H), "A025": (_H, _H, _H),
    "A026": (_L, _H, _H), "A027": (_L, _H, _H), "A028": (_L, _H, _H), "A036": (_L, _L, _H),
    "A042": (_L, _L, _H), "A044": (_L, _H, _H), "A046": (_L, _H, _H), "A049": (_L, _L, _H),
    "A050": (_L, _H, _H), "A051": (_L, _L, _L), "A052": (_L, _L, _L), "A053": (_L, _H, _H),
    "A055": (_L, _H, _H), "A057": (_L, _L, _H), "A058": (_L, _H, _L), "A059": (_L, _L, _H),
    "A060": (_L, _L, _H),
}


def standard_measures(seq: Sequence) -> np.ndarray:
    """``(n_reps, 3)`` measures of a clean 3D synthetic sequence (reps from its meta)."""
    act = str(seq.meta.get("activity", ""))
    if act not in MEASURES:
        raise TaxonomyError(f"no standard measures for activity {act!r}")
    reps = np.asarray(seq.meta.get("repetitions", []), dtype=int).reshape(-1, 2)
    joints = seq.joints[0] if seq.has_persons else seq.joints
    v = JointView(joints, seq.layout)
    return np.stack([np.asarray(m(v, reps), dtype=float) for m in MEASURES[act]], axis=1)
