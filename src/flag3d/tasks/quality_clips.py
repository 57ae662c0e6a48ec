"""Single-repetition clips for quality assessment: normalisation, features, the Clip record.

A *clip* is one repetition ``C_i`` (FLAG3D++ Eq. 12-14) cut from a recording.  Before the
scorer sees it, :func:`normalize_clip`

1. moves the root (the layout's root joints) of the clip's first frames to the origin,
2. turns the body about the vertical (y) axis so its hip line (right -> left hip, averaged
   over the first 5 frames) points along +x; the vertical stays vertical, so gravity-related
   faults (sagging hips, forward lean) remain visible,
3. divides by the body's torso length (median root -> neck distance), so people of
   different size look alike,
4. optionally (``canonical_side``) mirrors the clip so that the more active side is the
   right side: ``True`` / ``"motion"`` compares the path length of the left and right joints
   relative to the root (:func:`side_motion`), ``"angles"`` compares the summed ranges of the
   knee, elbow, hip and shoulder angles (:func:`side_angle_range`), which stays stable when
   the whole body travels sideways (UI-PRMD m04 side lunge: the bent knee decides the side),
5. resamples the clip to ``frames`` frames by linear interpolation (a repetition's
   duration is kept apart, as ``log`` seconds, see :attr:`Clip.duration`).

:func:`clip_features` turns the ``(frames, V, 3)`` positions into ``(9, frames, V)``
network input: positions, bone vectors (joint minus parent) and frame-to-frame motion.

Example:
    >>> import numpy as np
    >>> from flag3d.tasks.quality_clips import normalize_clip, clip_features
    >>> rng = np.random.default_rng(0)
    >>> joints = rng.normal(size=(40, 24, 3)).astype(np.float32)
    >>> pos = normalize_clip(joints, "flag3d24", frames=32)
    >>> pos.shape, clip_features(pos, "flag3d24").shape
    ((32, 24, 3), (9, 32, 24))
    >>> normalize_clip(np.zeros((1, 24, 3)), "flag3d24", 32)
    Traceback (most recent call last):
    ...
    flag3d.errors.SequenceError: a repetition needs at least 2 frames, got 1
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np

from flag3d.errors import SequenceError
from flag3d.skeleton.layouts import get_layout
from flag3d.skeleton.transforms import bone_stream

#: Channels of :func:`clip_features`.
IN_CHANNELS = 9
#: Frames used to find the clip's heading and origin.
HEAD_FRAMES = 5


def _yaw_matrix(across: np.ndarray) -> np.ndarray:
    """Rotation about +y taking the horizontal part of ``across`` onto +x (identity if none)."""
    h = np.array([across[0], 0.0, across[2]], dtype=np.float64)
    n = float(np.linalg.norm(h))
    if n < 1e-6:
        return np.eye(3)
    c, s = h[0] / n, h[2] / n
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def resample_linear(x: np.ndarray, frames: int) -> np.ndarray:
    """``(T, ...)`` resampled to ``(frames, ...)`` by linear interpolation in time."""
    t = x.shape[0]
    pos = np.linspace(0.0, t - 1.0, frames)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, t - 1)
    w = (pos - lo).reshape(-1, *([1] * (x.ndim - 1)))
    return (1.0 - w) * x[lo] + w * x[hi]


def side_motion(x: np.ndarray, layout: str) -> Tuple[float, float]:
    """Path length of the left and of the right joints relative to the root, ``(left, right)``."""
    lay = get_layout(layout)
    rel = x - x[:, list(lay.root)].mean(axis=1, keepdims=True)
    step = np.linalg.norm(np.diff(rel, axis=0), axis=-1).sum(axis=0)  # (V,)
    left = [i for i, n in enumerate(lay.joints) if n.startswith("left_")]
    right = [i for i, n in enumerate(lay.joints) if n.startswith("right_")]
    return float(step[left].sum()), float(step[right].sum())


#: Values of ``canonical_side`` that choose the rule deciding the active side.
SIDE_RULES = ("motion", "angles")


def _angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle in degrees between ``(..., 3)`` vectors (0 when one has zero length)."""
    n = np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1)
    cos = (u * v).sum(axis=-1) / np.maximum(n, 1e-9)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def side_angle_range(x: np.ndarray, layout: str) -> Tuple[float, float]:
    """Summed range over time (degrees) of the knee, elbow, hip and shoulder angles, ``(left, right)``.

    Knee: thigh vs shank; elbow: upper arm vs forearm; hip: trunk (root -> neck) vs thigh;
    shoulder: downward trunk vs upper arm.  Needs the layout's ``<side>_{hip,knee,ankle,
    shoulder,elbow,wrist}`` joints.
    """
    lay = get_layout(layout)
    root = x[:, list(lay.root)].mean(axis=1)
    trunk = x[:, lay.indices(lay.neck)].mean(axis=1) - root
    out = []
    for side in ("left", "right"):
        try:
            j = {n: x[:, lay.index(f"{side}_{n}")]
                 for n in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist")}
        except Exception as err:
            raise SequenceError(f"layout {lay.name} lacks the limb joints the 'angles' side "
                                f"rule needs ({err})") from None
        angles = (_angle(j["hip"] - j["knee"], j["ankle"] - j["knee"]),
                  _angle(j["shoulder"] - j["elbow"], j["wrist"] - j["elbow"]),
                  _angle(trunk, j["knee"] - j["hip"]),
                  _angle(-trunk, j["elbow"] - j["shoulder"]))
        out.append(float(sum(a.max() - a.min() for a in angles)))
    return out[0], out[1]


def mirror(x: np.ndarray, layout: str) -> np.ndarray:
    """Swap left and right joints and reflect x (the body's left-right axis after alignment)."""
    out = x[:, get_layout(layout).flip_index()].copy()
    out[..., 0] = -out[..., 0]
    return out


def normalize_clip(joints: np.ndarray, layout: str, frames: int,
                   canonical_side: Union[bool, str] = False) -> np.ndarray:
    """One repetition ``(T, V, 3)`` -> normalised ``(frames, V, 3)`` float32 (module docstring).

    With ``canonical_side`` the clip is mirrored when its left joints move more than its
    right ones, so a one-sided movement always works the right side, whichever side the
    person used (UI-PRMD subjects differ in the side of the hurdle step, the lunges and the
    shoulder exercises).  ``canonical_side`` is ``False``, ``True`` (= ``"motion"``) or
    ``"angles"`` (module docstring, step 4).

    Raises:
        SequenceError: fewer than 2 frames, non-finite joints, a body of zero size, or an
            unknown ``canonical_side`` rule.
    """
    rule = side_rule(canonical_side)
    lay = get_layout(layout)
    x = np.asarray(joints, dtype=np.float64)
    if x.ndim != 3 or x.shape[1] != lay.num_joints or x.shape[2] != 3:
        raise SequenceError(f"a repetition must be (T, {lay.num_joints}, 3) for layout "
                            f"{lay.name}, got {tuple(x.shape)}")
    if x.shape[0] < 2:
        raise SequenceError(f"a repetition needs at least 2 frames, got {x.shape[0]}")
    if not np.isfinite(x).all():
        raise SequenceError("a repetition contains NaN or inf joints; fill them first "
                            "(flag3d.skeleton.transforms.fill_missing)")
    k = min(HEAD_FRAMES, x.shape[0])
    root = x[:, list(lay.root)].mean(axis=1)  # (T, 3)
    x = x - root[:k].mean(axis=0)
    across = (x[:k, lay.index(lay.left_hip)] - x[:k, lay.index(lay.right_hip)]).mean(axis=0)
    x = x @ _yaw_matrix(across).T
    neck = x[:, lay.indices(lay.neck)].mean(axis=1)
    torso = float(np.median(np.linalg.norm(neck - x[:, list(lay.root)].mean(axis=1), axis=1)))
    if not np.isfinite(torso) or torso < 1e-6:
        raise SequenceError("cannot normalise a repetition whose torso has zero length")
    x = x / torso
    if rule is not None:
        left, right = (side_motion if rule == "motion" else side_angle_range)(x, lay.name)
        if left > right:
            x = mirror(x, lay.name)
    return resample_linear(x, frames).astype(np.float32)


def side_rule(canonical_side: Union[bool, str, None]) -> Optional[str]:
    """The side rule of a ``canonical_side`` value: ``None`` (no mirroring), ``"motion"`` or ``"angles"``."""
    if canonical_side is None or canonical_side is False:
        return None
    if canonical_side is True:
        return "motion"
    if isinstance(canonical_side, str) and canonical_side.lower() in SIDE_RULES:
        return canonical_side.lower()
    raise SequenceError(f"unknown canonical_side {canonical_side!r}; use true, false or one of "
                        f"{', '.join(SIDE_RULES)}")


def clip_features(pos: np.ndarray, layout: str) -> np.ndarray:
    """``(F, V, 3)`` normalised positions -> ``(9, F, V)``: position, bone, motion."""
    bone = bone_stream(pos, layout)
    motion = np.zeros_like(pos)
    motion[:-1] = (pos[1:] - pos[:-1]) * (pos.shape[0] / 8.0)
    return np.concatenate([pos, bone, motion], axis=-1).transpose(2, 0, 1).astype(np.float32)


@dataclass
class Clip:
    """One repetition ready for the scorer, with whatever labels its source has.

    Attributes:
        id: unique id (``"m01_s01_e02_inc"``, ``"A020-...#3"``).
        activity: taxonomy id (``"m01"``, ``"A020"``).
        subject: performer id (``"s01"``, ``"S004"``).
        pos: ``(frames, V, 3)`` normalised positions (:func:`normalize_clip`).
        duration: length of the repetition in seconds.
        keys: ``(3,)`` per-standard labels, 1 meets / 0 fault / -1 unknown.
        correct: 1 when the repetition meets every standard, 0 when it violates at least
            one, -1 unknown.
        score: a continuous quality score when the source has one (UI-PRMD m01), else nan.
        sequence: id of the recording the repetition comes from.
        rep: index of the repetition in that recording.
    """

    id: str
    activity: str
    subject: str
    pos: np.ndarray
    duration: float
    keys: np.ndarray
    correct: int
    score: float = float("nan")
    sequence: str = ""
    rep: int = 0
    extra: Dict[str, Any] = field(default_factory=dict)


def make_clip(joints: np.ndarray, layout: str, frames: int, fps: float, *, id: str,
              activity: str, subject: str, keys: Optional[np.ndarray] = None,
              correct: Optional[int] = None, score: float = float("nan"), sequence: str = "",
              rep: int = 0, canonical_side: Union[bool, str] = False) -> Clip:
    """Normalise one repetition and wrap it with its labels.

    ``correct`` defaults to ``min(keys)`` when all keys are known, else -1; ``keys`` default to
    ``[1, 1, 1]`` for a correct repetition and unknown otherwise.
    """
    k = np.full(3, -1, dtype=np.int64) if keys is None else np.asarray(keys, dtype=np.int64)
    if keys is None and correct == 1:
        k = np.ones(3, dtype=np.int64)
    if correct is None:
        correct = int(k.min()) if (k >= 0).all() else -1
    return Clip(id=id, activity=activity, subject=subject,
                pos=normalize_clip(joints, layout, frames, canonical_side), duration=len(joints) / fps,
                keys=k, correct=int(correct), score=float(score), sequence=sequence or id,
                rep=rep)
