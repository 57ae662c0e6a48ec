"""Shared preprocessing of the counting baselines: one common layout, filled gaps, signals.

:func:`prepare` turns any sequence (any layout, 2D or 3D, with a person axis or not) into
``h36m17`` joints, the one layout every registered layout converts to, with missing joints
(confidence 0) filled by interpolation, or returns the reason it cannot be counted (too few
frames, all joints missing).  On top of it:

* :func:`normalized_joints`: per-frame root-centred joints divided by the body scale,
  flattened ``(T, 17 * C)``; :func:`pca_signal` its first principal component.
* :func:`angle_signals`: joint angles in degrees (knees, hips, elbows, shoulders, trunk
  inclination, neck, leg spread) and heights in percent of the trunk length (pelvis and
  shoulders); invariant to where the person stands, to their size and (angles) to 2D/3D.

Vertical is +y in 3D (metres, y up) and -y in 2D image coordinates (y down).

Example:
    >>> import numpy as np
    >>> from flag3d.skeleton import Sequence
    >>> from flag3d.baselines.features import prepare, angle_signals
    >>> prep, reason = prepare(Sequence(np.zeros((5, 17, 3)), "h36m17"))
    >>> prep is None, reason
    (True, 'too few frames (5 < 16)')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np
from scipy.ndimage import gaussian_filter1d

from flag3d.skeleton.convert import convert
from flag3d.skeleton.layouts import get_layout
from flag3d.skeleton.sequence import Sequence
from flag3d.skeleton.transforms import fill_missing

COMMON = "h36m17"
MIN_FRAMES = 16
#: Below this range (1-99 percentiles, as a share of the body scale) of every root-relative
#: joint coordinate, a sequence has no motion to count.
MIN_MOTION = 0.02
_L = get_layout(COMMON)
J = {n: _L.index(n) for n in _L.joints}


@dataclass
class Prepared:
    """A sequence ready for counting.

    Attributes:
        joints: ``(T, 17, C)`` float64 ``h36m17`` joints, gaps filled.
        valid: ``(T, 17)`` True where the joint was observed (not filled).
        fps: frames per second.
        scale: body size (median pelvis-thorax plus mean thigh length), in the data's units.
        up: unit "up" vector of the coordinate frame.
    """

    joints: np.ndarray
    valid: np.ndarray
    fps: float
    scale: float
    up: np.ndarray

    @property
    def num_frames(self) -> int:
        """Number of frames T."""
        return int(self.joints.shape[0])


def prepare(seq: Sequence, min_frames: int = MIN_FRAMES, min_motion: float = MIN_MOTION
            ) -> Tuple[Optional[Prepared], Optional[str]]:
    """``(Prepared, None)``, or ``(None, reason)`` when the sequence cannot be counted.

    Reasons: too few frames, all joints missing, no body (zero trunk and thighs), no
    motion (no root-relative joint coordinate moves ``min_motion`` of the body scale).
    """
    if seq.has_persons:
        seq = seq.person(0)
    if seq.num_frames < min_frames:
        return None, f"too few frames ({seq.num_frames} < {min_frames})"
    s = convert(seq, COMMON)
    conf = s.confidence if s.confidence is not None else np.ones(s.joints.shape[:2], np.float32)
    valid = conf > 0
    if not valid.any():
        return None, "all joints are missing (confidence 0 everywhere)"
    joints, _ = fill_missing(s.joints, conf)
    x = joints.astype(np.float64)
    trunk = np.linalg.norm(x[:, J["thorax"]] - x[:, J["pelvis"]], axis=-1)
    thigh = 0.5 * (np.linalg.norm(x[:, J["left_knee"]] - x[:, J["left_hip"]], axis=-1)
                   + np.linalg.norm(x[:, J["right_knee"]] - x[:, J["right_hip"]], axis=-1))
    scale = float(np.median(trunk + thigh))
    if not np.isfinite(scale) or scale <= 1e-9:
        return None, "no body: the trunk and thighs have zero length"
    up = np.array([0.0, 1.0, 0.0]) if x.shape[-1] == 3 else np.array([0.0, -1.0])
    prep = Prepared(x, valid, float(seq.fps), scale, up)
    rel = (x - x[:, J["pelvis"]][:, None]).reshape(len(x), -1) / scale
    spread = float((np.percentile(rel, 99, axis=0) - np.percentile(rel, 1, axis=0)).max())
    if spread < min_motion:
        return None, (f"no motion: no joint moves more than {100 * min_motion:.0f} % of the "
                      f"body size (largest {100 * spread:.1f} %)")
    return prep, None


def from_array(joints: np.ndarray, layout: str, fps: float = 30.0, **meta: object) -> Sequence:
    """A :class:`Sequence` from a raw array that may hold NaN/inf (those joints get confidence 0).

    Lets counters answer "all joints missing" for an all-NaN recording instead of failing
    validation.
    """
    x = np.asarray(joints, dtype=np.float32)
    bad = ~np.isfinite(x).all(axis=-1) if x.ndim >= 3 else np.zeros(x.shape[:-1], bool)
    conf = np.where(bad, 0.0, 1.0).astype(np.float32)
    return Sequence(np.where(np.isfinite(x), x, 0.0), layout, fps=fps, confidence=conf,
                    meta=dict(meta))


def smooth(x: np.ndarray, fps: float, seconds: float = 0.1) -> np.ndarray:
    """Gaussian low-pass along time with sigma ``seconds`` (``x`` is ``(T,)`` or ``(T, D)``)."""
    sigma = max(seconds * fps, 1e-6)
    return gaussian_filter1d(np.asarray(x, np.float64), sigma, axis=0, mode="nearest")


def normalized_joints(prep: Prepared) -> np.ndarray:
    """Root-centred joints divided by the body scale, ``(T, 17 * C)``."""
    x = prep.joints - prep.joints[:, J["pelvis"]][:, None]
    return (x / prep.scale).reshape(prep.num_frames, -1)


def body_frame_joints(prep: Prepared) -> np.ndarray:
    """Root-centred joints turned so the hips face the same way in every frame, / scale.

    In 3D each frame is rotated about the vertical so that the right-to-left hip line points
    along +x (turning on the spot does not look like motion); 2D is only centred.
    Returns ``(T, 17, C)``.
    """
    x = (prep.joints - prep.joints[:, J["pelvis"]][:, None]) / prep.scale
    if x.shape[-1] != 3:
        return x
    hips = x[:, J["left_hip"]] - x[:, J["right_hip"]]
    yaw = np.arctan2(-hips[:, 2], hips[:, 0])  # angle that brings the hip line onto +x
    c, s = np.cos(yaw), np.sin(yaw)
    out = x.copy()
    out[..., 0] = c[:, None] * x[..., 0] - s[:, None] * x[..., 2]
    out[..., 2] = s[:, None] * x[..., 0] + c[:, None] * x[..., 2]
    return out


def pca_signal(x: np.ndarray) -> Tuple[np.ndarray, float]:
    """First principal component scores of ``(T, D)`` and its share of the variance.

    Uses the ``D x D`` covariance (``D`` is small), not an SVD of the ``T x D`` data.
    The sign is fixed so that the largest loading is positive.
    """
    xc = x - x.mean(axis=0, keepdims=True)
    if not np.any(xc):
        return np.zeros(x.shape[0]), 0.0
    w, v = np.linalg.eigh(xc.T @ xc)
    axis = v[:, -1]
    axis = axis if axis[np.argmax(np.abs(axis))] >= 0 else -axis
    share = float(w[-1] / max(w.sum(), 1e-300))
    return xc @ axis, share


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees between vectors ``(T, C)``; 0 where one of them has no length."""
    na, nb = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)
    cos = np.einsum("tc,tc->t", a, b) / np.maximum(na * nb, 1e-12)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def angle_signals(prep: Prepared) -> Dict[str, np.ndarray]:
    """Per-frame joint angles (degrees) and heights (% of the body scale), raw (unsmoothed).

    Flexion angles are 0 for a straight limb; shoulder elevation is 0 with the arm down,
    180 overhead; ``trunk`` is the inclination from vertical; ``neck`` the head's angle to
    the trunk; ``leg_spread`` the angle between the thighs.
    """
    x = prep.joints

    def p(name: str) -> np.ndarray:
        return x[:, J[name]]

    trunk = p("thorax") - p("pelvis")
    out: Dict[str, np.ndarray] = {}
    for side in ("left", "right"):
        hip, knee, ankle = p(f"{side}_hip"), p(f"{side}_knee"), p(f"{side}_ankle")
        sho, elb, wri = p(f"{side}_shoulder"), p(f"{side}_elbow"), p(f"{side}_wrist")
        out[f"knee_{side}"] = 180.0 - _angle(hip - knee, ankle - knee)
        out[f"hip_{side}"] = 180.0 - _angle(trunk, knee - hip)
        out[f"elbow_{side}"] = 180.0 - _angle(sho - elb, wri - elb)
        out[f"shoulder_{side}"] = _angle(-trunk, elb - sho)
    up = np.broadcast_to(prep.up, trunk.shape)
    out["trunk"] = _angle(trunk, up)
    out["neck"] = _angle(trunk, p("head") - p("thorax"))
    out["leg_spread"] = _angle(p("left_knee") - p("left_hip"), p("right_knee") - p("right_hip"))
    height = x @ prep.up
    pelvis = height[:, J["pelvis"]]
    out["pelvis_height"] = 100.0 * (pelvis - np.median(pelvis)) / prep.scale
    sh = 0.5 * (height[:, J["left_shoulder"]] + height[:, J["right_shoulder"]])
    out["shoulder_height"] = 100.0 * (sh - height[:, J["pelvis"]]) / prep.scale
    return out


#: Left/right signal pairs (for alternating movements).
PAIRS: Tuple[Tuple[str, str], ...] = tuple(
    (f"{k}_left", f"{k}_right") for k in ("knee", "hip", "elbow", "shoulder"))
