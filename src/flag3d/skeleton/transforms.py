"""Transforms on skeleton sequences: centring, orientation, streams, sampling, flips.

Functions taking a :class:`Sequence` return a new validated one; the ``*_array`` helpers
and the stream functions work on plain arrays ``(..., T, V, C)`` for data pipelines.

Example:
    >>> import numpy as np
    >>> from flag3d.skeleton import Sequence
    >>> from flag3d.skeleton.transforms import center_root, bone_stream, sample_indices
    >>> s = Sequence(np.random.default_rng(0).random((8, 24, 3)), "flag3d24", fps=30)
    >>> float(np.abs(center_root(s).joints[:, 0]).max())
    0.0
    >>> bone_stream(s.joints, "flag3d24").shape
    (8, 24, 3)
    >>> sample_indices(10, 4).tolist()
    [1, 3, 6, 8]
"""

from __future__ import annotations

from typing import Dict, Iterable, Optional, Tuple

import numpy as np

from flag3d.errors import LayoutError, SequenceError
from flag3d.skeleton.layouts import Layout, get_layout
from flag3d.skeleton.sequence import Sequence

STREAMS = ("joint", "bone", "joint_motion", "bone_motion")


# ----------------------------------------------------------------------- centring
def root_position(joints: np.ndarray, layout: "str | Layout") -> np.ndarray:
    """Root point per frame (mean of the layout's root joints), shape ``(..., T, C)``."""
    lay = get_layout(layout)
    return joints[..., list(lay.root), :].mean(axis=-2)


def center_root(seq: Sequence, per_frame: bool = True) -> Sequence:
    """Subtract the root: from every frame (``per_frame``) or the first frame's root from all.

    ``per_frame=False`` keeps the global trajectory (useful for jumps and walking).
    """
    root = root_position(seq.joints, seq.layout)
    if not per_frame:
        root = np.repeat(root[..., :1, :], seq.num_frames, axis=-2)
    return seq.replace(joints=seq.joints - root[..., None, :])


def _unit(v: np.ndarray, what: str) -> np.ndarray:
    n = np.linalg.norm(v)
    if not np.isfinite(n) or n < 1e-8:
        raise SequenceError(f"cannot align orientation: the {what} has zero length")
    return v / n


def orientation_matrix(joints: np.ndarray, layout: "str | Layout", frame: int = 0) -> np.ndarray:
    """Rotation that makes the body upright and facing +z in frame ``frame``.

    The spine (root -> the layout's ``neck`` joints) becomes +y; the hip line (right hip ->
    left hip), made orthogonal to it, becomes +x; +z = x cross y (the body faces +z with
    its left side at +x).  ``joints`` is ``(T, V, 3)``; returns a 3x3 matrix ``R`` with
    ``aligned = joints @ R.T``.
    """
    lay = get_layout(layout)
    if joints.shape[-1] != 3:
        raise LayoutError("orientation alignment needs 3D joints (C = 3)")
    x = joints[frame]
    root = x[list(lay.root)].mean(axis=0)
    neck = x[lay.indices(lay.neck)].mean(axis=0)
    up = _unit(neck - root, "spine (root to neck)")
    across = x[lay.index(lay.left_hip)] - x[lay.index(lay.right_hip)]
    across = _unit(across - across.dot(up) * up, "hip line (right to left hip)")
    fwd = np.cross(across, up)
    return np.stack([across, up, fwd]).astype(np.float64)


def align_orientation(seq: Sequence, frame: int = 0, center: bool = True) -> Sequence:
    """Rotate (and by default root-centre on ``frame``) so the body stands on +y facing +z.

    Works on one person; for ``(M, T, V, C)`` the first person defines the rotation.
    """
    joints = seq.joints
    ref = joints[0] if seq.has_persons else joints
    r = orientation_matrix(ref, seq.layout, frame)
    origin = root_position(ref, seq.layout)[frame] if center else np.zeros(3)
    out = ((joints - origin) @ r.T).astype(np.float32)
    return seq.replace(joints=out)


# ------------------------------------------------------------------------ streams
def bone_stream(joints: np.ndarray, layout: "str | Layout") -> np.ndarray:
    """Each joint minus its parent (the tree root gets zeros), same shape as ``joints``."""
    lay = get_layout(layout)
    if joints.shape[-2] != lay.num_joints:
        raise LayoutError(f"array has {joints.shape[-2]} joints, layout {lay.name} has {lay.num_joints}")
    parents = np.array(lay.parents)
    src = np.where(parents < 0, np.arange(lay.num_joints), parents)
    return (joints - joints[..., src, :]).astype(np.float32)


def motion_stream(x: np.ndarray) -> np.ndarray:
    """Frame differences ``x[t+1] - x[t]`` along the time axis (-3); the last frame is 0."""
    out = np.zeros_like(x, dtype=np.float32)
    out[..., :-1, :, :] = x[..., 1:, :, :] - x[..., :-1, :, :]
    return out


def streams(joints: np.ndarray, layout: "str | Layout",
            names: Iterable[str] = STREAMS) -> Dict[str, np.ndarray]:
    """The requested input streams (joint, bone, joint_motion, bone_motion) of an array."""
    out: Dict[str, np.ndarray] = {}
    bone: Optional[np.ndarray] = None
    for name in names:
        if name not in STREAMS:
            raise ValueError(f"unknown stream {name!r}; known: {', '.join(STREAMS)}")
        if name.startswith("bone") and bone is None:
            bone = bone_stream(joints, layout)
        base = bone if name.startswith("bone") else joints.astype(np.float32)
        out[name] = motion_stream(base) if name.endswith("motion") else base
    return out


# ----------------------------------------------------------------------- sampling
def sample_indices(num_frames: int, n: int, mode: str = "test",
                   rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """Indices of ``n`` frames spread uniformly over ``num_frames``.

    The clip is cut into ``n`` equal segments and one frame is taken per segment: its
    middle (``mode="test"``, deterministic) or a random frame in it (``mode="train"``).
    When ``num_frames < n`` frames repeat (each segment still maps to a real frame), so
    the clip plays at a slower rate rather than being padded.
    """
    if num_frames <= 0:
        raise SequenceError("cannot sample from an empty sequence")
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    edges = np.linspace(0.0, num_frames, n + 1)
    if mode == "test":
        pos = (edges[:-1] + edges[1:]) / 2.0
    elif mode == "train":
        gen = rng if rng is not None else np.random.default_rng()
        pos = edges[:-1] + gen.random(n) * (edges[1:] - edges[:-1])
    else:
        raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
    return np.clip(np.floor(pos).astype(np.int64), 0, num_frames - 1)


def interval_indices(num_frames: int, n: int) -> np.ndarray:
    """FLAG3D++ counting protocol: interval sampling when longer, last-frame padding when shorter."""
    if num_frames <= 0:
        raise SequenceError("cannot sample from an empty sequence")
    if num_frames >= n:
        return np.floor(np.arange(n) * (num_frames / n)).astype(np.int64)
    return np.concatenate([np.arange(num_frames), np.full(n - num_frames, num_frames - 1)])


def resample(seq: Sequence, n: int, mode: str = "test",
             rng: Optional[np.random.Generator] = None) -> Sequence:
    """The sequence uniformly sampled to ``n`` frames (fps scaled to keep the duration)."""
    idx = sample_indices(seq.num_frames, n, mode, rng)
    joints = seq.joints[..., idx, :, :]
    conf = None if seq.confidence is None else seq.confidence[..., idx, :]
    fps = seq.fps * n / seq.num_frames
    meta = dict(seq.meta)
    meta["sampled_from"] = {"frames": seq.num_frames, "fps": seq.fps}
    return seq.replace(joints=joints, confidence=conf, times=None, fps=fps, meta=meta)


# ------------------------------------------------------------------------- flips
def flip_lr(seq: Sequence) -> Sequence:
    """Mirror left and right: swap paired joints and reflect the x coordinate.

    3D: ``x -> -x`` (mirror through the y-z plane; align the orientation first so that
    x is the body's left-right axis).  2D: ``x -> W - x`` for pixels with ``img_shape``,
    ``x -> 1 - x`` for normalised coordinates, else ``x -> -x``.
    """
    lay = seq.layout_info
    perm = lay.flip_index()
    joints = seq.joints[..., perm, :].copy()
    if seq.dims == 3:
        joints[..., 0] = -joints[..., 0]
    elif seq.meta.get("units") == "normalized":
        joints[..., 0] = 1.0 - joints[..., 0]
    elif seq.meta.get("img_shape"):
        joints[..., 0] = float(seq.meta["img_shape"][1]) - joints[..., 0]
    else:
        joints[..., 0] = -joints[..., 0]
    conf = None if seq.confidence is None else seq.confidence[..., perm]
    meta = dict(seq.meta)
    meta["flipped"] = not bool(meta.get("flipped", False))
    return seq.replace(joints=joints, confidence=conf, meta=meta)


# ----------------------------------------------------------------- missing joints
def fill_missing(joints: np.ndarray, confidence: Optional[np.ndarray] = None,
                 threshold: float = 0.0) -> Tuple[np.ndarray, np.ndarray]:
    """Fill NaN joints and joints with confidence <= ``threshold`` by linear interpolation.

    Works per joint along time (axis -3); before the first and after the last valid frame
    the nearest valid value is held; a joint never seen is set to 0.  Returns ``(joints, confidence)`` with confidence 0 wherever a value was filled.
    """
    x = np.array(joints, dtype=np.float32, copy=True)
    missing = ~np.isfinite(x).all(axis=-1)
    conf = (np.ones(x.shape[:-1], dtype=np.float32) if confidence is None
            else np.array(confidence, dtype=np.float32, copy=True))
    if confidence is not None:
        missing |= conf <= threshold
    conf[missing] = 0.0
    t = x.shape[-3]
    frames = np.arange(t)
    flat_x = x.reshape(-1, t, x.shape[-2], x.shape[-1])
    flat_m = missing.reshape(-1, t, x.shape[-2])
    for m in range(flat_x.shape[0]):
        for v in range(flat_x.shape[2]):
            miss = flat_m[m, :, v]
            if not miss.any():
                continue
            good = ~miss
            if not good.any():
                flat_x[m, :, v] = 0.0
                continue
            for c in range(flat_x.shape[3]):
                flat_x[m, miss, v, c] = np.interp(frames[miss], frames[good], flat_x[m, good, v, c])
    return flat_x.reshape(x.shape), conf
