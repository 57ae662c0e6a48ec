"""Repetition boundaries from a predicted density (and, optionally, per-frame features).

A training label puts one Gaussian per repetition (mean at the middle, sigma = length / 6),
so the predicted density has one bump per repetition and its running sum rises by about
one per bump.  :func:`segment_density`:

1. ``n = round(sum(density))`` repetitions (the count);
2. the running sum is cut where it reaches ``k * total / n`` (k = 1..n-1), so every part
   holds the same mass; each cut then moves to the lowest (smoothed) density within a
   quarter of the neighbouring parts (the valley between two bumps);
3. within every part the density-weighted mean ``mu`` and standard deviation ``sigma`` of
   the frame positions give the repetition ``[mu - 3 sigma, mu + 3 sigma]``, clipped to the
   part (the inverse of the label: a repetition of length L has sigma = L / 6), so rests and
   idle frames between bumps stay outside every repetition;
4. with ``feats`` (per-frame features), a shared boundary between two touching
   repetitions moves to the frame whose features are closest to the mean feature of all
   boundaries (the start pose a repetition returns to), within ``refine`` frames.

Frames are positions on the density's own grid (floats; ``[start, end)``).

Example:
    >>> import numpy as np
    >>> from flag3d.data.counting import density_labels
    >>> from flag3d.tasks.counting_segments import segment_density
    >>> d = density_labels([[10, 40], [40, 70], [90, 120]], 128)
    >>> [(round(s), round(e)) for s, e in segment_density(d)]
    [(10, 40), (40, 70), (90, 120)]
"""

from __future__ import annotations

import math
from typing import List, Optional, Tuple

import numpy as np


def _smooth(d: np.ndarray, width: int = 3) -> np.ndarray:
    if width <= 1 or len(d) < width:
        return d
    k = np.ones(width) / width
    return np.convolve(np.pad(d, width // 2, mode="edge"), k, mode="valid")


def _crossing(edges_cum: np.ndarray, level: float) -> float:
    """Position where the running sum (values at frame edges 0..L) reaches ``level``."""
    i = int(np.searchsorted(edges_cum, level, side="left"))
    i = min(max(i, 1), len(edges_cum) - 1)
    lo, hi = edges_cum[i - 1], edges_cum[i]
    frac = 0.0 if hi <= lo else (level - lo) / (hi - lo)
    return float(i - 1 + min(max(frac, 0.0), 1.0))


def segment_density(density: np.ndarray, feats: Optional[np.ndarray] = None,
                    count: Optional[int] = None, refine: int = 0,
                    width: float = 3.0) -> List[Tuple[float, float]]:
    """Repetitions ``[(start, end), ...]`` (grid positions) found in ``density``.

    Args:
        density: per-frame density ``(L,)``.
        feats: optional per-frame features ``(C, L)`` for the boundary refinement.
        count: number of repetitions (default ``round(density.sum())``).
        refine: search radius in frames of the feature refinement (0: off).
        width: half-width of a repetition in sigmas (3: the label's support).
    """
    d = np.clip(np.asarray(density, dtype=np.float64), 0.0, None)
    n_frames = len(d)
    total = float(d.sum())
    n = int(round(total)) if count is None else int(count)
    if n <= 0 or total <= 1e-9 or n_frames == 0:
        return []
    cum = np.concatenate([[0.0], np.cumsum(d)])
    sm = _smooth(d)
    cuts = [0.0]
    for k in range(1, n):
        c = _crossing(cum, k * total / n)
        cuts.append(c)
    cuts.append(float(n_frames))
    # move each inner cut to the density valley between the two neighbouring bumps: the
    # lowest (smoothed) density between the bump centres (where the running sum reaches
    # (k - 1/2) and (k + 1/2) parts); the middle of a flat stretch (a rest) when there is one
    tol = 1e-3 * float(sm.max())
    for k in range(1, n):
        lo = int(math.floor(_crossing(cum, (k - 0.5) * total / n)))
        hi = int(math.ceil(_crossing(cum, (k + 0.5) * total / n)))
        lo, hi = max(lo, 0), min(hi, n_frames - 1)
        if hi <= lo:
            continue
        seg = sm[lo:hi + 1]
        j = int(np.argmin(seg))
        low = seg <= seg[j] + tol
        a = j
        while a > 0 and low[a - 1]:
            a -= 1
        b = j
        while b < len(seg) - 1 and low[b + 1]:
            b += 1
        if b > a:  # a flat stretch: cut in its middle
            cuts[k] = lo + (a + b + 1) / 2.0
            continue
        j += lo
        off = 0.0
        if 0 < j < n_frames - 1:  # parabola through the valley: sub-frame position
            p0, p1, p2 = sm[j - 1], sm[j], sm[j + 1]
            den = p0 - 2.0 * p1 + p2
            off = float(np.clip(0.5 * (p0 - p2) / den, -0.5, 0.5)) if den > 1e-12 else 0.0
        cuts[k] = float(j) + 0.5 + off
    reps: List[Tuple[float, float]] = []
    pos = np.arange(n_frames) + 0.5
    for k in range(n):
        a, b = cuts[k], cuts[k + 1]
        i0, i1 = int(math.floor(a)), int(math.ceil(b))
        w = d[i0:i1].copy()
        p = pos[i0:i1]
        # fractional frames at the cut
        if len(w):
            w[0] *= 1.0 - (a - i0)
            w[-1] *= 1.0 - (i1 - b) if i1 - b < 1 else 0.0
        if w.sum() <= 1e-12:
            reps.append((a, b))
            continue
        mu = float((w * p).sum() / w.sum())
        sigma = float(np.sqrt(max((w * (p - mu) ** 2).sum() / w.sum(), 1e-12)))
        reps.append((max(a, mu - width * sigma), min(b, mu + width * sigma)))
    if feats is not None and refine > 0 and len(reps) > 1:
        reps = _refine(reps, np.asarray(feats, dtype=np.float64), refine)
    return reps


def _refine(reps: List[Tuple[float, float]], feats: np.ndarray, radius: int
            ) -> List[Tuple[float, float]]:
    """Move shared boundaries to the frame most like the average boundary pose."""
    f = feats / np.maximum(np.linalg.norm(feats, axis=0, keepdims=True), 1e-9)
    n_frames = f.shape[1]
    idx = [min(max(int(round(s)), 0), n_frames - 1) for s, _ in reps]
    idx.append(min(max(int(round(reps[-1][1])) - 1, 0), n_frames - 1))
    proto = f[:, idx].mean(axis=1)
    out = [list(r) for r in reps]
    for k in range(1, len(reps)):
        e_prev, s_next = out[k - 1][1], out[k][0]
        if s_next - e_prev > 1.0:  # a rest between them: nothing shared to refine
            continue
        c = int(round(s_next))
        lo = max(c - radius, int(math.ceil(out[k - 1][0])) + 1)
        hi = min(c + radius, int(math.floor(out[k][1])) - 1, n_frames - 1)
        if hi <= lo:
            continue
        j = lo + int(np.argmax(proto @ f[:, lo:hi + 1]))
        out[k - 1][1] = float(j)
        out[k][0] = float(j)
    return [(a, b) for a, b in out]
