"""A RepNet-style counter: periods from the temporal self-similarity matrix, training-free.

RepNet predicts, per frame, a period length ``p_t`` and a periodicity ``q_t`` from the
temporal self-similarity matrix (TSM) of learned embeddings, and counts
``sum_t [q_t > 0.5] / p_t``.  Here nothing is learned:

1. Per-frame features: the root-centred, body-scaled, hip-aligned ``h36m17`` joints
   (low-passed, sigma 0.1 s), resampled to about ``work_fps`` (15) frames per second.
2. Windows of ``window_s`` seconds (hop a quarter of that; one window when shorter).  In
   each, the TSM is an RBF kernel of the squared distances (bandwidth = their median).
   For every frame, a *local lag profile* ``a_t(l)`` is the mean of ``TSM(j, j + l)`` over
   frames ``j`` within ``neighbourhood_s`` of ``t`` (local, so tempo changes and rests
   between repetitions do not blur it, unlike one profile per window).
3. The period is a peak of ``a_t(l)`` between ``min_period_s`` and half the window, after
   the first dip; the periodicity is how far ``a`` comes back up there,
   ``(a(P) - min a[0:P]) / (a(0) - min a[0:P])``.  Multiples of the period look as
   periodic, so the shortest lag within 80 % of the best periodicity is taken.  A frame
   keeps the most periodic estimate of the windows covering it; frames where the body
   hardly moves (speed below ``still`` x its 95th percentile) get periodicity 0.
4. Count ``= sum_t [q_t >= threshold] / p_t`` (a float, like RepNet's).  Without a
   learned periodicity classifier, ``threshold`` = 0.2 was chosen on the training splits
   (synthetic training activities, UI-PRMD s01-s07).

Example:
    >>> import numpy as np
    >>> from flag3d.skeleton import Sequence
    >>> from flag3d.baselines.selfsim import SelfSimilarityCounter
    >>> t = np.arange(600) / 30.0
    >>> x = np.zeros((600, 17, 3)); x[..., 1] = np.linspace(0, 1.7, 17)
    >>> x[:, 13, 1] += 0.3 * np.sin(2 * np.pi * 0.5 * t)  # 10 cycles in 20 s
    >>> round(SelfSimilarityCounter().predict(Sequence(x, "h36m17")).count)
    10
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
from scipy.ndimage import uniform_filter1d

from flag3d.baselines.base import Counter, CountPrediction
from flag3d.baselines.features import body_frame_joints, prepare, smooth
from flag3d.skeleton.sequence import Sequence


def self_similarity(x: np.ndarray) -> np.ndarray:
    """RBF self-similarity ``(W, W)`` of features ``(W, D)`` (bandwidth: median distance)."""
    sq = np.einsum("td,td->t", x, x)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0)
    off = d2[np.triu_indices(len(x), 1)]
    bw = float(np.median(off)) if off.size else 1.0
    return np.exp(-d2 / max(bw, 1e-12))


def lag_profile(x: np.ndarray) -> np.ndarray:
    """Mean self-similarity at each lag ``0..len(x)-1`` of features ``(W, D)``."""
    sim = self_similarity(x)
    return np.array([np.diagonal(sim, l).mean() for l in range(len(x))])


def local_lag_profiles(sim: np.ndarray, half_width: int) -> np.ndarray:
    """``(L, W)``: per frame ``t``, the mean of ``sim[j, j + l]`` over ``|j - t| <= half_width``.

    ``L = W // 2 + 1`` lags; pairs past the window's end are left out of the mean.
    """
    w = sim.shape[0]
    lags = w // 2 + 1
    val = np.zeros((lags, w))
    cnt = np.zeros((lags, w))
    for lag in range(lags):
        d = np.diagonal(sim, lag)
        val[lag, : d.size] = d
        cnt[lag, : d.size] = 1.0
    size = 2 * half_width + 1
    num = uniform_filter1d(val, size, axis=1, mode="constant")
    den = uniform_filter1d(cnt, size, axis=1, mode="constant")
    return num / np.maximum(den, 1e-9)


def period_of(a: np.ndarray, min_lag: int, prefer_first: float = 0.8,
              max_lag: Optional[int] = None) -> Tuple[int, float]:
    """``(period, periodicity)`` from a lag profile (see the module docstring).

    Lags up to ``max_lag`` (default half the profile) are searched.  Multiples of the
    period are about as similar as the period itself, so the shortest lag whose
    periodicity reaches ``prefer_first`` times the best one is taken.
    """
    half = len(a) // 2 if max_lag is None else min(int(max_lag), len(a) - 1)
    if half <= min_lag + 1:
        return 0, 0.0
    d = np.diff(a[: half + 1])
    rising = np.nonzero(d > 0)[0]
    if rising.size == 0:
        return 0, 0.0
    lo = max(min_lag, int(rising[0]))
    if lo >= half:
        return 0, 0.0
    seg = a[lo: half + 1]
    peaks = [k for k in range(len(seg)) if (k == 0 or seg[k] >= seg[k - 1])
             and (k == len(seg) - 1 or seg[k] >= seg[k + 1])]
    best_q, out = 0.0, []
    for k in peaks:
        p = lo + k
        floor = float(a[: p + 1].min())
        q = float(np.clip((a[p] - floor) / max(a[0] - floor, 1e-12), 0.0, 1.0))
        out.append((p, q))
        best_q = max(best_q, q)
    for p, q in out:
        if q >= prefer_first * best_q:
            return p, q
    return 0, 0.0


class SelfSimilarityCounter(Counter):
    """Training-free RepNet-style period counter (see the module docstring)."""

    name = "repnet_tsm"

    def __init__(self, work_fps: float = 15.0, window_s: float = 10.0, min_period_s: float = 0.3,
                 threshold: float = 0.2, still: float = 0.15, neighbourhood_s: float = 1.5) -> None:
        self.work_fps, self.window_s, self.min_period_s = work_fps, window_s, min_period_s
        self.threshold, self.still, self.neighbourhood_s = threshold, still, neighbourhood_s

    def predict(self, seq: Sequence) -> CountPrediction:
        """Sum of periodicity over period, frame by frame."""
        prep, reason = prepare(seq)
        if prep is None:
            return CountPrediction.failed(reason or "cannot count")
        x = smooth(body_frame_joints(prep).reshape(prep.num_frames, -1), prep.fps, 0.1)
        step = max(1, int(round(prep.fps / self.work_fps)))
        x = x[::step]
        fps = prep.fps / step
        n = len(x)
        speed = np.r_[0.0, np.linalg.norm(np.diff(x, axis=0), axis=1)]
        speed = smooth(speed, fps, 0.3)
        top = float(np.percentile(speed, 95))
        if top <= 1e-6:
            return CountPrediction.failed("no motion: the joints do not move")
        w = min(n, max(int(round(self.window_s * fps)), 8))
        hop = max(w // 4, 1)
        starts = list(range(0, max(n - w, 0) + 1, hop))
        if starts[-1] + w < n:
            starts.append(n - w)
        period = np.zeros(n)
        strength = np.zeros(n)
        min_lag = max(2, int(round(self.min_period_s * fps)))
        half_width = max(1, int(round(self.neighbourhood_s * fps)))
        for s in starts:
            prof = local_lag_profiles(self_similarity(x[s:s + w]), half_width)
            for i in range(prof.shape[1]):
                p, q = period_of(prof[:, i], min_lag, max_lag=prof.shape[0] - 1)
                if p and q > strength[s + i]:
                    strength[s + i], period[s + i] = q, p
        strength[speed < self.still * top] = 0.0
        on = (strength >= self.threshold) & (period > 0)
        count = float(np.sum(1.0 / period[on])) if on.any() else 0.0
        return CountPrediction(count, signal=np.repeat(strength, step)[: prep.num_frames])
