"""The :class:`Sequence` record: one skeleton recording and what it needs to be read right.

Joints are float32 with axes ``(T, V, C)`` for one person or ``(M, T, V, C)`` with a person
axis first (the PYSKL convention).  ``C`` is 2 (image coordinates) or 3 (metres unless the
metadata says otherwise).  A missing joint is marked by ``confidence == 0``; NaN and inf are
refused, so downstream code never meets them.

Construction validates and names the problem in one line (see :mod:`flag3d.errors`).

Metadata keys with a fixed meaning (all optional; readers fill what their format has):

=================  =========================================================================
``id``             sample id (the PYSKL ``frame_dir``, a file stem, ...)
``activity``       taxonomy id: ``"A001"``..``"A060"`` (FLAG3D) or ``"m01"``..``"m10"`` (UI-PRMD)
``label``          integer class index when the source has one
``subject``        performer id as a string (``"s01"``, ``"P0007"``)
``split``          ``"train"`` / ``"val"`` / ``"test"`` when the source says
``repetitions``    list of ``[start, end]`` frame indices (inclusive start, exclusive end)
``quality``        per repetition, a list of 0/1 key scores, one per standard of the activity
``score``          sequence quality score (FLAG3D++ Eq. 1) when known
``correct``        True/False for single-repetition quality labels (UI-PRMD)
``source``         where it came from: ``"uiprmd"``, ``"keraal"``, ``"pyskl"``, ``"synthetic"`` ...
``synthetic``      True for generated data; everything the generator writes sets it
``units``          ``"m"`` (3D, metres), ``"px"`` (image pixels) or ``"normalized"`` ([0, 1] image)
``img_shape``      ``[height, width]`` of the image 2D coordinates refer to
``view``/``camera``  capture view or camera id for 2D data
``domain``         e.g. ``"mocap"``, ``"rendered"``, ``"real"``
=================  =========================================================================

Example:
    >>> import numpy as np
    >>> from flag3d.skeleton.sequence import Sequence
    >>> s = Sequence(np.zeros((10, 17, 2)), layout="coco17", fps=30)
    >>> s.num_frames, s.num_joints, s.dims, s.duration
    (10, 17, 2, 0.3333333333333333)
    >>> Sequence(np.zeros((10, 18, 2)), layout="coco17", fps=30)
    Traceback (most recent call last):
    ...
    flag3d.errors.LayoutError: joints have 18 joints on axis V but layout coco17 has 17
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import numpy as np

from flag3d.errors import LayoutError, SequenceError
from flag3d.skeleton.layouts import Layout, get_layout

#: Metadata keys with a documented meaning (see the module docstring).
META_KEYS = (
    "id", "activity", "label", "subject", "split", "repetitions", "quality", "score",
    "correct", "source", "synthetic", "units", "img_shape", "view", "camera", "domain",
)

@dataclass
class Sequence:
    """A validated skeleton sequence.

    Args:
        joints: ``(T, V, C)`` or ``(M, T, V, C)`` coordinates; converted to float32.
        layout: a registered layout name (see :mod:`flag3d.skeleton.layouts`).
        fps: frames per second (> 0).
        confidence: optional per-joint confidence in [0, 1], shape ``joints.shape[:-1]``.
        times: optional time stamps in seconds, shape ``(T,)``, strictly increasing.
        meta: free JSON-serialisable metadata (``source``, ``synthetic``, ``units``,
            ``activity``, ``subject``, ``repetitions`` ...).
        path: the file the sequence came from, used to name it in error messages.
    """

    joints: np.ndarray
    layout: str
    fps: float = 30.0
    confidence: Optional[np.ndarray] = None
    times: Optional[np.ndarray] = None
    meta: Dict[str, Any] = field(default_factory=dict)
    path: Optional[str] = None

    def __post_init__(self) -> None:
        try:
            self._validate()
        except (SequenceError, LayoutError) as err:
            raise err.with_path(self.path) if self.path else err

    def _validate(self) -> None:
        lay = get_layout(self.layout)  # raises on an unknown layout
        self.layout = lay.name
        j = np.asarray(self.joints)
        if j.dtype == object or not np.issubdtype(j.dtype, np.number):
            raise SequenceError(f"joints must be numeric, got dtype {j.dtype}")
        if j.ndim not in (3, 4):
            raise SequenceError(
                f"joints must have shape (T, V, C) or (M, T, V, C), got {tuple(j.shape)}"
            )
        t, v, c = j.shape[-3:]
        if j.ndim == 4 and j.shape[0] == 0:
            raise SequenceError("joints have no person (M = 0)")
        if t == 0:
            raise SequenceError("sequence is empty (0 frames)")
        if v != lay.num_joints:
            raise LayoutError(
                f"joints have {v} joints on axis V but layout {lay.name} has {lay.num_joints}"
            )
        if c not in (2, 3):
            raise SequenceError(f"joints must have 2 or 3 coordinates per joint, got C = {c}")
        j = np.ascontiguousarray(j, dtype=np.float32)
        bad = ~np.isfinite(j)
        if bad.any():
            frames = np.unique(np.nonzero(bad.reshape(-1, t, v * c).any(axis=(0, 2)))[0])
            kind = "NaN" if np.isnan(j).any() else "inf"
            raise SequenceError(
                f"joints contain {kind} in {len(frames)} of {t} frames (first at frame "
                f"{int(frames[0])}); mark missing joints with confidence 0 or fill them "
                f"with flag3d.skeleton.transforms.fill_missing"
            )
        self.joints = j
        if self.confidence is not None:
            conf = np.asarray(self.confidence, dtype=np.float32)
            if conf.shape != j.shape[:-1]:
                raise SequenceError(
                    f"confidence has shape {tuple(conf.shape)}, expected {tuple(j.shape[:-1])}"
                )
            if not np.isfinite(conf).all():
                raise SequenceError("confidence contains NaN or inf")
            self.confidence = np.ascontiguousarray(conf)
        fps = float(self.fps)
        if not np.isfinite(fps) or fps <= 0:
            raise SequenceError(f"fps must be a positive number, got {self.fps!r}")
        self.fps = fps
        if self.times is not None:
            ts = np.asarray(self.times, dtype=np.float64)
            if ts.shape != (t,):
                raise SequenceError(f"times has shape {tuple(ts.shape)}, expected ({t},)")
            if not np.isfinite(ts).all():
                raise SequenceError("times contain NaN or inf")
            if t > 1 and not (np.diff(ts) > 0).all():
                k = int(np.nonzero(np.diff(ts) <= 0)[0][0])
                raise SequenceError(
                    f"time stamps are not increasing at frame {k + 1} "
                    f"({ts[k]:.4f} s then {ts[k + 1]:.4f} s)"
                )
            self.times = ts
        if not isinstance(self.meta, dict):
            raise SequenceError(f"meta must be a dict, got {type(self.meta).__name__}")

    # ------------------------------------------------------------------ properties
    @property
    def layout_info(self) -> Layout:
        """The :class:`Layout` object of this sequence."""
        return get_layout(self.layout)

    @property
    def has_persons(self) -> bool:
        """True when the joints carry a leading person axis ``M``."""
        return self.joints.ndim == 4

    @property
    def num_persons(self) -> int:
        """Number of people ``M`` (1 without a person axis)."""
        return self.joints.shape[0] if self.has_persons else 1

    @property
    def num_frames(self) -> int:
        """Number of frames ``T``."""
        return self.joints.shape[-3]

    @property
    def num_joints(self) -> int:
        """Number of joints ``V``."""
        return self.joints.shape[-2]

    @property
    def dims(self) -> int:
        """Coordinates per joint ``C`` (2 or 3)."""
        return self.joints.shape[-1]

    @property
    def duration(self) -> float:
        """Length in seconds (``T / fps`` or from the time stamps)."""
        if self.times is not None and self.num_frames > 1:
            return float(self.times[-1] - self.times[0]) + 1.0 / self.fps
        return self.num_frames / self.fps

    @property
    def synthetic(self) -> bool:
        """True when the metadata marks the sequence as generated, not recorded."""
        return bool(self.meta.get("synthetic", False))

    def frame_times(self) -> np.ndarray:
        """Time stamp of every frame in seconds (from ``times`` or ``fps``)."""
        if self.times is not None:
            return self.times.copy()
        return np.arange(self.num_frames, dtype=np.float64) / self.fps

    # ------------------------------------------------------------------- editing
    def replace(self, **changes: Any) -> "Sequence":
        """A validated copy with some fields changed (``meta`` is deep-copied)."""
        fields = dict(
            joints=self.joints, layout=self.layout, fps=self.fps, confidence=self.confidence,
            times=self.times, meta=copy.deepcopy(self.meta), path=self.path,
        )
        fields.update(changes)
        return Sequence(**fields)

    def person(self, m: int = 0) -> "Sequence":
        """The single-person sequence of person ``m`` (no person axis)."""
        if not self.has_persons:
            if m != 0:
                raise SequenceError(f"sequence has one person, asked for person {m}")
            return self
        if not 0 <= m < self.num_persons:
            raise SequenceError(f"sequence has {self.num_persons} persons, asked for {m}")
        conf = None if self.confidence is None else self.confidence[m]
        return self.replace(joints=self.joints[m], confidence=conf)

    def frames(self, start: int, stop: int) -> "Sequence":
        """Frames ``start:stop`` as a new sequence (times and confidence sliced too)."""
        sl = slice(start, stop)
        joints = self.joints[..., sl, :, :]
        conf = None if self.confidence is None else self.confidence[..., sl, :]
        times = None if self.times is None else self.times[sl]
        return self.replace(joints=joints, confidence=conf, times=times)

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.joints.shape)
        src = f", path={self.path!r}" if self.path else ""
        syn = ", synthetic" if self.synthetic else ""
        return f"Sequence({shape}, layout={self.layout}, fps={self.fps:g}{syn}{src})"
