"""Repetitions as peak-valley cycles of a 1-D signal, found with hysteresis.

:func:`detect_cycles` walks the signal once with two states.  Going *down* it tracks the
lowest value; the signal must then rise by ``threshold`` above it to start a repetition
(state *up*), where it tracks the highest value; it must fall by ``threshold`` below that
peak to complete the repetition.  Wiggles smaller than ``threshold`` never change the state,
so noise and standing still add nothing; a repetition the sequence ends inside of (risen
but not yet fallen back) is not counted.

Each repetition runs from where the signal leaves the valley before its peak to where it
comes back to the valley after it: the last frame before the peak within ``edge`` of the
rise above the left valley, and the first frame after the peak within ``edge`` above the
right valley.  Rests at the valley level therefore belong to no repetition.  When the gap
between two repetitions is shorter than ``join`` times their median duration (no real
rest, the signal turns around at the valley), both end and start move to the valley frame.

:func:`orient` decides whether repetitions are upward or downward excursions: the end the
signal starts and finishes at (and otherwise dwells at) is the rest level.

Example:
    >>> import numpy as np
    >>> from flag3d.baselines.cycles import detect_cycles
    >>> t = np.arange(200)
    >>> y = np.where((t >= 50) & (t < 150), 1 - np.cos(2 * np.pi * (t - 50) / 50), 0.0)
    >>> c = detect_cycles(y, threshold=0.7)
    >>> c.count, c.peaks.tolist(), c.intervals()
    (2, [75, 125], [[55, 100], [100, 146]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

import numpy as np


@dataclass
class Cycles:
    """Detected repetitions of a signal.

    Attributes:
        starts, ends: ``[start, end)`` frame of each repetition.
        peaks: frame of each repetition's extreme.
        amplitudes: peak value minus the higher of the two neighbouring valleys.
    """

    starts: np.ndarray
    ends: np.ndarray
    peaks: np.ndarray
    amplitudes: np.ndarray

    @property
    def count(self) -> int:
        """Number of repetitions."""
        return int(self.peaks.size)

    def intervals(self) -> List[List[int]]:
        """``[[start, end), ...]`` as Python ints."""
        return [[int(s), int(e)] for s, e in zip(self.starts, self.ends)]

    def durations(self) -> np.ndarray:
        """Frames per repetition."""
        return (self.ends - self.starts).astype(np.float64)


def robust_range(y: np.ndarray, q: float = 0.5) -> float:
    """Spread between the ``q`` and ``100 - q`` percentiles (ignores rare spikes)."""
    lo, hi = np.percentile(y, [q, 100.0 - q])
    return float(hi - lo)


def active_range(y: np.ndarray, fps: float, window_s: float = 5.0, active: float = 0.3,
                 q: float = 75.0) -> float:
    """Typical range of the signal inside the windows where it moves.

    The ranges of windows of ``window_s`` seconds (hop a fifth of that) are collected.  A
    window is active when its range reaches ``active`` times a reference: the larger of
    the 90th percentile of the window ranges and a quarter of the largest.  The ``q``-th
    percentile of the active windows' ranges is returned.  A one-off posture change
    (standing up, bending over before a set) fills few windows and does not set the
    scale; idle windows, far below the exercise, are not active.
    """
    y = np.asarray(y, dtype=np.float64)
    w = max(int(round(window_s * fps)), 2)
    if y.size <= w:
        return robust_range(y)
    hop = max(w // 5, 1)
    starts = np.arange(0, y.size - w + 1, hop)
    if starts[-1] != y.size - w:
        starts = np.append(starts, y.size - w)
    from numpy.lib.stride_tricks import sliding_window_view

    win = sliding_window_view(y, w)[starts]
    ranges = win.max(axis=1) - win.min(axis=1)
    ref = max(float(np.percentile(ranges, 90)), 0.25 * float(ranges.max()))
    return float(np.percentile(ranges[ranges >= active * ref], q))


def orient(y: np.ndarray, edge_frames: int = 10) -> int:
    """+1 when repetitions rise away from the rest level, -1 when they dip below it."""
    lo, hi = np.percentile(y, [1.0, 99.0])
    span = hi - lo
    if span <= 0:
        return 1
    z = (y - lo) / span
    k = max(1, min(edge_frames, y.size // 4))
    edge = 0.5 * (float(np.median(z[:k])) + float(np.median(z[-k:])))
    if edge < 0.35:
        return 1
    if edge > 0.65:
        return -1
    return 1 if np.mean(z < 0.3) >= np.mean(z > 0.7) else -1


def detect_cycles(y: np.ndarray, threshold: float, edge: float = 0.1,
                  min_frames: int = 3, join: float = 0.25) -> Cycles:
    """Upward excursions of ``y`` by at least ``threshold`` (see the module docstring).

    Args:
        y: the signal, repetitions pointing up (multiply by :func:`orient` first).
        threshold: the rise and fall needed, in the signal's units (> 0).
        edge: boundary level as a fraction of each side's rise/fall above its valley.
        min_frames: repetitions shorter than this are dropped.
        join: gaps shorter than this fraction of the median duration close at the valley.
    """
    y = np.asarray(y, dtype=np.float64)
    n = y.size
    empty = Cycles(*(np.zeros(0, int) for _ in range(3)), np.zeros(0))
    if n < 3 or not threshold > 0:
        return empty
    valleys: List[int] = []
    peaks: List[int] = []
    # only turning points can become valleys or peaks: walk those (same result, fewer steps)
    d = np.diff(y)
    nz = np.nonzero(d)[0]
    if nz.size == 0:
        return empty
    sign = np.sign(d[nz])
    turns = nz[:-1][sign[1:] != sign[:-1]] + 1  # first frame of each turn (plateaus too)
    pts = np.unique(np.concatenate([[0], turns, [n - 1]]))
    lo_i, hi_i, up = 0, 0, False
    for t in pts[1:]:
        v = y[t]
        if not up:
            if v < y[lo_i]:
                lo_i = t
            elif v - y[lo_i] >= threshold:
                valleys.append(lo_i)
                up, hi_i = True, t
        else:
            if v > y[hi_i]:
                hi_i = t
            elif y[hi_i] - v >= threshold:
                peaks.append(hi_i)
                up, lo_i = False, t
    if up:  # rose but never fell back: not a complete repetition
        valleys = valleys[: len(peaks)]
    # the valley after peak k is the lowest point before the next rise (or the end)
    right: List[int] = []
    for k, p in enumerate(peaks):
        stop = valleys[k + 1] + 1 if k + 1 < len(valleys) else n
        right.append(p + int(np.argmin(y[p:stop])))
    starts, ends, amps = [], [], []
    for vl, p, vr in zip(valleys, peaks, right):
        top = y[p]
        seg = y[vl:p + 1]
        s = vl + int(np.nonzero(seg <= y[vl] + edge * (top - y[vl]))[0][-1])
        seg = y[p:vr + 1]
        e = p + int(np.nonzero(seg <= y[vr] + edge * (top - y[vr]))[0][0]) + 1
        starts.append(s)
        ends.append(min(e, n))
        amps.append(top - max(y[vl], y[vr]))
    st, en = np.array(starts, int), np.array(ends, int)
    if st.size > 1:
        st[1:] = np.maximum(st[1:], en[:-1])  # neighbours may touch but not overlap
        short = (st[1:] - en[:-1]) <= join * float(np.median(en - st))
        for k in np.nonzero(short)[0]:
            st[k + 1] = en[k] = right[k]
    keep = (en - st) >= min_frames
    return Cycles(st[keep], en[keep], np.array(peaks, int)[keep], np.array(amps)[keep])
