"""Temporal smoothing of per-frame pose estimates, and marked filling of short gaps.

The filter is a One Euro filter (Casiez, Roussel and Vogel, CHI 2012): a first-order
low-pass whose cut-off frequency rises with the speed of the signal, so a still joint is
smoothed strongly (jitter goes away) while a fast one is followed closely (little lag).
Video analysis is offline, so :func:`smooth_joints` runs it forwards and backwards in time
and averages the two passes: the lag of one pass cancels the lead of the other, and a step
change stays centred where it happened.

Speed is measured per joint as the length of its velocity vector, in units of ``scale``
per second; the video pipeline passes the person's median torso length (pixels for 2D,
metres for 3D), so the same parameters work for both.  Defaults (:class:`OneEuroParams`):
``min_cutoff = 1.0`` Hz (cut-off for a still joint), ``beta = 2.0`` (cut-off rises by 2 Hz
for each torso length per second of speed), ``d_cutoff = 1.0`` Hz (smoothing of the speed
estimate).  A squat moves the hips at about one torso length per second, so the cut-off is
about 3 Hz then and 1 Hz when standing still.  Chosen on synthetic signals at 15 fps
(``tests/test_video.py``): frame-to-frame jitter of a still joint drops to about a quarter,
a step change is not delayed (its half-way point stays on the step frame, 10-90 % rise
within one frame either side), and the bottom of a 1 s squat-like dip of 0.8 torso lengths
loses 3 % of its depth (5 % with ``beta = 1``).

Only frames marked valid are filtered and used; the filter restarts after a gap longer
than ``max_gap`` seconds.  :func:`fill_gaps` interpolates short runs of missing frames
linearly between valid neighbours and returns which frames it filled, so the caller can
mark them.

Example:
    >>> import numpy as np
    >>> from flag3d.video.smooth import smooth_joints
    >>> t = np.arange(60) / 15.0
    >>> x = np.random.default_rng(0).normal(0.0, 0.01, (60, 1, 2))  # jitter around 0
    >>> y = smooth_joints(x, t, np.ones(60, bool))
    >>> bool(np.std(np.diff(y, axis=0)) < 0.3 * np.std(np.diff(x, axis=0)))
    True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np


@dataclass(frozen=True)
class OneEuroParams:
    """One Euro filter parameters (frequencies in Hz, ``beta`` in Hz per scale-unit/s)."""

    min_cutoff: float = 1.0
    beta: float = 2.0
    d_cutoff: float = 1.0

    def as_dict(self) -> Dict[str, float]:
        """The parameters as a plain dict (for metadata)."""
        return asdict(self)


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


def one_euro(x: np.ndarray, times: np.ndarray, params: OneEuroParams = OneEuroParams()
             ) -> np.ndarray:
    """Causal One Euro filter of ``x`` with shape ``(T, V, C)`` sampled at ``times`` (s).

    The cut-off of each joint ``v`` follows the length of its velocity over ``C``.
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    if len(x) == 0:
        return out
    prev = x[0].copy()
    dprev = np.zeros_like(prev)
    out[0] = prev
    for i in range(1, len(x)):
        dt = float(times[i] - times[i - 1])
        if dt <= 0:
            out[i] = prev
            continue
        dx = (x[i] - prev) / dt
        dprev = dprev + _alpha(params.d_cutoff, dt) * (dx - dprev)
        speed = np.linalg.norm(dprev, axis=-1, keepdims=True)
        a = _alpha(params.min_cutoff + params.beta * speed, dt)
        prev = prev + a * (x[i] - prev)
        out[i] = prev
    return out


def one_euro_zero_phase(x: np.ndarray, times: np.ndarray,
                        params: OneEuroParams = OneEuroParams()) -> np.ndarray:
    """Mean of the forward and the time-reversed One Euro passes (no net lag)."""
    times = np.asarray(times, dtype=np.float64)
    fwd = one_euro(x, times, params)
    bwd = one_euro(x[::-1], -times[::-1], params)[::-1]
    return 0.5 * (fwd + bwd)


def segments(valid: np.ndarray, times: np.ndarray, max_gap: float,
             breaks: Optional[np.ndarray] = None) -> List[np.ndarray]:
    """Index arrays of runs of valid frames with no time gap over ``max_gap`` seconds.

    ``breaks`` (optional, bool per frame) starts a new run at the frames marked.
    """
    idx = np.flatnonzero(valid)
    if len(idx) == 0:
        return []
    cut = np.diff(times[idx]) > max_gap
    if breaks is not None:
        cut |= np.asarray(breaks, bool)[idx[1:]]
    return np.split(idx, np.flatnonzero(cut) + 1)


def smooth_joints(joints: np.ndarray, times: np.ndarray, valid: np.ndarray,
                  params: OneEuroParams = OneEuroParams(), scale: float = 1.0,
                  max_gap: float = 0.5, breaks: Optional[np.ndarray] = None) -> np.ndarray:
    """Zero-phase One Euro smoothing of ``(T, V, C)`` joints over their valid frames.

    Args:
        joints: coordinates per frame.
        times: frame times in seconds, increasing.
        valid: bool per frame; other frames are returned unchanged and not used.
        params: filter parameters (speeds in ``scale`` units per second).
        scale: the length unit of ``params.beta`` (e.g. the median torso length).
        max_gap: restart the filter after a gap longer than this (seconds).
        breaks: bool per frame; restart the filter at these frames (e.g. a new track).
    """
    joints = np.asarray(joints)
    times = np.asarray(times, dtype=np.float64)
    out = joints.astype(np.float64, copy=True)
    s = float(scale) if scale and math.isfinite(scale) and scale > 0 else 1.0
    for seg in segments(np.asarray(valid, bool), times, max_gap, breaks):
        if len(seg) > 1:
            out[seg] = one_euro_zero_phase(joints[seg] / s, times[seg], params) * s
    return out.astype(joints.dtype, copy=False)


def fill_gaps(joints: np.ndarray, confidence: np.ndarray, times: np.ndarray,
              valid: np.ndarray, max_gap: float, breaks: Optional[np.ndarray] = None,
              conf_factor: float = 0.5) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interpolate short runs of invalid frames between two valid ones.

    A run is filled only when valid frames bound it on both sides, these are at most
    ``max_gap`` seconds apart (at 15 fps, 0.25 s fills up to 2 missing frames), and no
    ``breaks`` frame
    (e.g. a switch to another tracked person) ends it.  Filled joints get
    ``conf_factor`` times the smaller confidence of the two bounding frames.

    Returns:
        (joints, confidence, filled) where ``filled`` is a bool mask of the filled frames.
    """
    joints = np.array(joints, copy=True)
    conf = np.array(confidence, copy=True)
    times = np.asarray(times, dtype=np.float64)
    valid = np.asarray(valid, bool)
    filled = np.zeros(len(valid), dtype=bool)
    idx = np.flatnonzero(valid)
    for a, b in zip(idx[:-1], idx[1:]):
        if b - a < 2 or times[b] - times[a] > max_gap + 1e-9:
            continue
        if breaks is not None and np.asarray(breaks, bool)[a + 1:b + 1].any():
            continue
        w = ((times[a + 1:b] - times[a]) / (times[b] - times[a]))[:, None, None]
        joints[a + 1:b] = (1.0 - w) * joints[a] + w * joints[b]
        conf[a + 1:b] = conf_factor * np.minimum(conf[a], conf[b])
        filled[a + 1:b] = True
    return joints, conf, filled
