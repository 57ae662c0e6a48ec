"""Counting data: density labels, the crop augmentation, 128-frame windows, input features.

Everything here is numpy only (no torch), so the command-line counter stays fast.

* **Density labels** (:func:`density_labels`).  A repetition ``[s, e)`` on a frame grid adds
  a Gaussian with mean ``(s + e) / 2`` and sigma ``(e - s) / 6``, integrated over every
  frame bin ``[k, k + 1)`` in closed form with ``erf``; a repetition inside the grid sums to
  1 (99.73 % of it within its own frames, +-3 sigma), one cut by the grid edge contributes
  only the part of its Gaussian inside the grid.
* **Crops** (:func:`make_crops`).  The FLAG3D++ augmentation: the whole sequence, a prefix
  ending at a repetition end, or a suffix starting at a repetition end (after one
  repetition); 10 crops per sequence, each with an exact count.
* **Sampling.**  :func:`protocol_indices` is the FLAG3D++ protocol (interval sampling to
  128 frames, last-frame padding).  :func:`resample_rate` resamples a sequence to any
  *working frame rate* (linear interpolation, box pre-filter when decimating);
  :func:`window_starts` / :func:`stitch` cut long recordings into overlapping 128-frame
  windows and merge their densities (sin^2 weights that sum to one).
* **Normalisation** (:func:`normalize`).  Any layout with a conversion to ``flag3d24``:
  missing joints filled, root-centred per frame with the root trajectory kept in joint 0,
  turned about the vertical (y) axis so the hip line lies on +x, scaled by the body size
  (median torso + thigh + shank length = 1).  Degenerate input (too few frames, no valid
  joints, no motion) is reported as a reason, not an exception (:class:`Prepared`).
* **Features** (:func:`window_features`): per window, positions (joint 0 = root trajectory
  centred on the window) and frame differences, shape ``(6, T, V)``.

Example:
    >>> import numpy as np
    >>> from flag3d.data.counting import density_labels, make_crops
    >>> d = density_labels([[0, 30], [30, 60]], 128)
    >>> round(float(d[:30].sum()), 5), round(float(d[30:60].sum()), 5), int(d.argmax())
    (0.99865, 0.99865, 14)
    >>> crops = make_crops([[10, 40], [40, 70], [70, 100]], 110, n=4, seed=0)
    >>> [(c.start, c.end, c.count) for c in crops][0]
    (0, 110, 3)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence as Seq, Tuple

import numpy as np

from flag3d.errors import LayoutError
from flag3d.skeleton.sequence import Sequence

#: The layout every counting model works in.
MODEL_LAYOUT = "flag3d24"
#: Window length of the FLAG3D++ protocol.
WINDOW = 128
#: Fewest frames (and seconds) worth counting.
MIN_FRAMES = 8
MIN_SECONDS = 0.5
#: Below this joint movement (std over time, in body sizes) the sequence has "no motion".
MIN_MOTION = 0.01

_ERF = np.frompyfunc(math.erf, 1, 1)

# flag3d24 joint indices used here.
_PELVIS, _THORAX = 0, 4
_L_HIP, _R_HIP, _L_KNEE, _R_KNEE, _L_ANKLE, _R_ANKLE = 16, 17, 18, 19, 20, 21


# ----------------------------------------------------------------------- labels
def erf(x: np.ndarray) -> np.ndarray:
    """The error function on an array (float64), without scipy."""
    return _ERF(np.asarray(x, dtype=np.float64)).astype(np.float64)


def density_labels(reps: Seq[Seq[float]], n: int, offset: float = 0.0,
                   scale: float = 1.0) -> np.ndarray:
    """Per-frame density of ``n`` bins for repetitions ``[start, end)`` (float32, ``(n,)``).

    A repetition is first mapped to the grid as ``(x - offset) * scale``; its Gaussian
    (mean at the middle, sigma = length / 6) is integrated over each bin ``[k, k + 1)``:
    ``(erf((k + 1 - mu) / (sigma sqrt 2)) - erf((k - mu) / (sigma sqrt 2))) / 2``.
    A repetition shorter than a hundredth of a bin is put into its bin whole.
    """
    out = np.zeros(n, dtype=np.float64)
    edges = np.arange(n + 1, dtype=np.float64)
    for s, e in reps:
        a, b = (float(s) - offset) * scale, (float(e) - offset) * scale
        if b < a:
            a, b = b, a
        mu, sigma = (a + b) / 2.0, (b - a) / 6.0
        if sigma < 1e-2 / 6.0:
            k = int(math.floor(mu))
            if 0 <= k < n:
                out[k] += 1.0
            continue
        cdf = 0.5 * erf((edges - mu) / (sigma * math.sqrt(2.0)))
        out += np.diff(cdf)
    return out.astype(np.float32)


# ------------------------------------------------------------------------ crops
@dataclass(frozen=True)
class Crop:
    """Frames ``[start, end)`` of a sequence and the repetitions inside (sequence frames)."""

    start: int
    end: int
    reps: Tuple[Tuple[int, int], ...]
    kind: str  # "whole", "prefix" or "suffix"

    @property
    def count(self) -> int:
        """Number of whole repetitions in the crop."""
        return len(self.reps)


def _inside(reps: np.ndarray, start: int, end: int) -> Tuple[Tuple[int, int], ...]:
    """Repetitions with at least half their length inside ``[start, end)``, clipped."""
    out = []
    for s, e in reps:
        lo, hi = max(s, start), min(e, end)
        if hi > lo and (hi - lo) >= 0.5 * (e - s):
            out.append((int(lo), int(hi)))
    return tuple(out)


def make_crops(reps: Seq[Seq[int]], num_frames: int, n: int = 10, seed: int = 0,
               min_reps: int = 1) -> List[Crop]:
    """The FLAG3D++ crop augmentation: ``n`` crops of one sequence with exact counts.

    Crop 0 is the whole sequence; the others alternate a prefix that ends at the end of a
    random repetition and a suffix that starts at the end of a random repetition (so it
    begins after that one), keeping at least ``min_reps`` repetitions.  With fewer
    possible cut points than crops, crops repeat.  Deterministic in ``seed``.
    """
    r = np.asarray(reps, dtype=np.int64).reshape(-1, 2)
    r = r[np.argsort(r[:, 0], kind="stable")]
    crops = [Crop(0, int(num_frames), _inside(r, 0, num_frames), "whole")]
    k = len(r)
    if k <= min_reps or n <= 1:
        return (crops * n)[:n] if n > 0 else []
    rng = np.random.default_rng(seed)
    for i in range(1, n):
        if i % 2 == 1:  # prefix: reps 0..j kept, j >= min_reps - 1
            j = int(rng.integers(min_reps - 1, k - 1))
            end = int(r[j, 1])
            crops.append(Crop(0, end, _inside(r, 0, end), "prefix"))
        else:  # suffix: starts at the end of rep j, keeps reps j+1..k-1
            j = int(rng.integers(0, k - min_reps))
            start = int(r[j, 1])
            crops.append(Crop(start, int(num_frames), _inside(r, start, num_frames), "suffix"))
    return crops


# --------------------------------------------------------------------- sampling
def protocol_indices(num_frames: int, n: int = WINDOW) -> np.ndarray:
    """FLAG3D++ sampling: ``floor(k * T / n)`` when longer, last-frame padding when shorter."""
    if num_frames >= n:
        return np.floor(np.arange(n) * (num_frames / n)).astype(np.int64)
    return np.concatenate([np.arange(num_frames), np.full(n - num_frames, num_frames - 1)]
                          ).astype(np.int64)


def _box_smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Moving average over ``width`` frames along axis 0 (edges use the frames present)."""
    if width <= 1:
        return x
    c = np.cumsum(np.concatenate([np.zeros_like(x[:1]), x], axis=0), axis=0, dtype=np.float64)
    t = x.shape[0]
    lo = np.clip(np.arange(t) - width // 2, 0, t)
    hi = np.clip(lo + width, 0, t)
    cnt = (hi - lo).reshape((-1,) + (1,) * (x.ndim - 1))
    return ((c[hi] - c[lo]) / cnt).astype(x.dtype)


def resample_rate(x: np.ndarray, fps: float, rate: float, start_s: float = 0.0,
                  n: Optional[int] = None) -> np.ndarray:
    """Frames of ``x`` (``(T, ...)`` at ``fps``) at times ``start_s + k / rate``.

    Linear interpolation between neighbouring frames; when decimating by more than 1.5 the
    frames are box-filtered first.  ``n`` frames (default: as many as the duration holds);
    times past the last frame repeat it (padding).
    """
    t = x.shape[0]
    if n is None:
        n = max(1, int(math.floor((t / fps - start_s) * rate + 1e-9)))
    ratio = fps / rate
    src = _box_smooth(x, int(round(ratio))) if ratio > 1.5 else x
    u = np.clip((start_s + np.arange(n) / rate) * fps, 0.0, t - 1.0)
    i0 = np.floor(u).astype(np.int64)
    i1 = np.minimum(i0 + 1, t - 1)
    w = (u - i0).reshape((-1,) + (1,) * (x.ndim - 1)).astype(np.float32)
    return (src[i0] * (1.0 - w) + src[i1] * w).astype(np.float32)


def window_starts(length: int, window: int = WINDOW, hop: Optional[int] = None) -> List[int]:
    """Start frames of windows covering ``length`` frames (the last one ends at the end)."""
    hop = hop or window // 2
    if length <= window:
        return [0]
    starts = list(range(0, length - window + 1, hop))
    if starts[-1] + window < length:
        starts.append(length - window)
    return starts


def stitch(densities: Seq[np.ndarray], starts: Seq[int], length: int) -> np.ndarray:
    """Merge per-window densities into one of ``length`` frames.

    Each window is weighted by ``sin^2`` (zero-free: frames near a window's edge count
    little), the first window keeps full weight on its first half and the last window on
    its second half; at every frame the weights are normalised to sum to one, so a
    repetition seen by two windows is not counted twice.
    """
    acc = np.zeros(length, dtype=np.float64)
    wsum = np.zeros(length, dtype=np.float64)
    last = len(starts) - 1
    for i, (d, s) in enumerate(zip(densities, starts)):
        w_len = len(d)
        k = np.arange(w_len)
        w = np.sin(np.pi * (k + 0.5) / w_len) ** 2 + 1e-3
        if i == 0:
            w[: w_len // 2] = 1.0
        if i == last:
            w[w_len // 2:] = 1.0
        n = min(w_len, length - s)
        acc[s:s + n] += w[:n] * d[:n]
        wsum[s:s + n] += w[:n]
    return (acc / np.maximum(wsum, 1e-12)).astype(np.float32)


# ---------------------------------------------------------------- normalisation
@dataclass
class Prepared:
    """A sequence ready for counting: normalised ``flag3d24`` joints, or why it cannot be.

    Attributes:
        joints: ``(T, 24, 3)`` float32 (see :func:`normalize`), ``None`` when degenerate.
        fps: frame rate of ``joints``.
        num_frames: frames of the original sequence.
        reason: why the sequence cannot be counted (``None`` when it can).
        body_size: the scale divided out, in the input's units.
        meta: the input's metadata (activity, repetitions ...).
    """

    joints: Optional[np.ndarray]
    fps: float
    num_frames: int
    reason: Optional[str] = None
    body_size: float = 0.0
    meta: Dict[str, Any] = field(default_factory=dict)


def to_model_layout(seq: Sequence, layout: str = MODEL_LAYOUT) -> Sequence:
    """``seq`` converted to ``layout``; a one-line :class:`LayoutError` when impossible."""
    from flag3d.skeleton.convert import can_convert, convert

    if seq.layout == layout:
        return seq
    if not can_convert(seq.layout, layout):
        raise LayoutError(
            f"the counting model works on {layout} skeletons and there is no conversion from "
            f"{seq.layout}; convert the sequence to {layout} first "
            f"(flag3d.skeleton.convert.convert(seq, '{layout}'))", path=seq.path)
    return convert(seq, layout)


def body_size(joints: np.ndarray) -> float:
    """Median over frames of torso + mean thigh + mean shank length (``flag3d24``)."""
    def seg(a: int, b: int) -> np.ndarray:
        return np.linalg.norm(joints[:, a] - joints[:, b], axis=-1)

    size = (seg(_PELVIS, _THORAX) + 0.5 * (seg(_L_HIP, _L_KNEE) + seg(_R_HIP, _R_KNEE))
            + 0.5 * (seg(_L_KNEE, _L_ANKLE) + seg(_R_KNEE, _R_ANKLE)))
    return float(np.median(size))


def normalize_joints(joints: np.ndarray) -> Tuple[np.ndarray, float]:
    """Normalise ``(T, 24, 3)`` ``flag3d24`` joints (y up); returns ``(joints, body size)``.

    Per frame the pelvis is subtracted from every joint; joint 0 then holds the pelvis
    trajectory minus its median (so squats and jumps stay visible); everything is turned
    about y so the mean hip line (right to left hip, projected on the floor) points along
    +x, and divided by :func:`body_size`.  A zero body size returns ``(joints, 0.0)``.
    """
    x = np.asarray(joints, dtype=np.float64)
    size = body_size(x)
    if not np.isfinite(size) or size < 1e-6:
        return np.zeros_like(x, dtype=np.float32), 0.0
    hip = x[:, _L_HIP] - x[:, _R_HIP]
    flat = hip[:, [0, 2]]
    norms = np.linalg.norm(flat, axis=-1, keepdims=True)
    ok = norms[:, 0] > 1e-9
    ang = 0.0
    if ok.any():
        mean_dir = (flat[ok] / norms[ok]).sum(axis=0)
        if np.linalg.norm(mean_dir) > 1e-9:
            ang = math.atan2(mean_dir[1], mean_dir[0])
    c, s = math.cos(ang), math.sin(ang)
    # rotation about y by the hip angle: maps (cos a, 0, sin a) to (1, 0, 0)
    rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    x = x @ rot.T
    root = x[:, _PELVIS].copy()
    out = x - root[:, None]
    out[:, _PELVIS] = root - np.median(root, axis=0)
    out /= size
    return out.astype(np.float32), size


def normalize(seq: Sequence, layout: str = MODEL_LAYOUT, min_frames: int = MIN_FRAMES,
              min_seconds: float = MIN_SECONDS, min_motion: float = MIN_MOTION) -> Prepared:
    """Prepare any 3D sequence for counting (see the module docstring).

    Raises :class:`LayoutError` only when the layout cannot be converted or the data is
    2D; every other problem is returned as :attr:`Prepared.reason`.
    """
    from flag3d.skeleton.transforms import fill_missing

    if seq.dims != 3:
        raise LayoutError(f"counting needs 3D joints (C = 3), got C = {seq.dims}; lift 2D "
                          "keypoints to 3D first", path=seq.path)
    seq = to_model_layout(seq.person(0) if seq.has_persons else seq, layout)
    t = seq.num_frames
    meta = dict(seq.meta)
    if t < min_frames or seq.duration < min_seconds:
        return Prepared(None, seq.fps, t, f"too few frames to count ({t} frames, "
                        f"{seq.duration:.2f} s; need at least {min_frames} frames and "
                        f"{min_seconds:g} s)", meta=meta)
    joints, conf = seq.joints, seq.confidence
    if conf is not None:
        valid = conf > 0
        if not valid.any():
            return Prepared(None, seq.fps, t, "no valid joints (every joint is missing)",
                            meta=meta)
        if not valid.all():
            joints, _ = fill_missing(joints, conf)
    norm, size = normalize_joints(joints)
    if size <= 0.0:
        return Prepared(None, seq.fps, t, "degenerate skeleton (zero body size)", meta=meta)
    motion = float(norm.std(axis=0).max())
    if motion < min_motion:
        return Prepared(None, seq.fps, t, f"no motion (largest joint movement {motion:.4f} "
                        f"body sizes, below {min_motion:g})", body_size=size, meta=meta)
    return Prepared(norm, seq.fps, t, None, body_size=size, meta=meta)


def normalize_array(joints: np.ndarray, layout: str, fps: float,
                    min_frames: int = MIN_FRAMES) -> Prepared:
    """:func:`normalize` for a raw ``(T, V, 3)`` array that may hold NaN for missing joints."""
    x = np.asarray(joints, dtype=np.float32)
    if x.ndim != 3:
        raise LayoutError(f"joints must have shape (T, V, C), got {tuple(x.shape)}")
    t = x.shape[0]
    if t == 0:
        return Prepared(None, fps, 0, "too few frames to count (0 frames)")
    finite = np.isfinite(x).all(axis=-1)
    if not finite.any():
        return Prepared(None, fps, t, "no valid joints (every joint is missing or NaN)")
    conf = finite.astype(np.float32)
    seq = Sequence(np.where(np.isfinite(x), x, 0.0), layout, fps=fps, confidence=conf)
    return normalize(seq, min_frames=min_frames)


# ----------------------------------------------------------------------- period
def estimate_period(joints: np.ndarray, fps: float, lo_s: float = 0.4,
                    hi_s: float = 10.0) -> Optional[float]:
    """Dominant repetition period in seconds from the autocorrelation of joint motion.

    The normalised joints are box-filtered to about 15 fps and differenced over 0.2 s (a
    band-pass: slow posture changes such as lying down and sensor jitter both fade); the
    autocorrelations of all coordinates (FFT) are summed and the first peak between
    ``lo_s`` and ``hi_s`` reaching 60 % of the highest one is taken, so a double period
    is not preferred.  ``None`` when nothing periodic stands out.  Alternating movements
    (left, right) often give the full two-sided cycle; callers allow for a factor of 2.
    """
    step = max(1, int(round(fps / 15.0)))
    x = _box_smooth(joints.reshape(joints.shape[0], -1).astype(np.float64), step)[::step]
    r = fps / step
    lag = max(1, int(round(0.2 * r)))
    if x.shape[0] <= lag + 4:
        return None
    x = x[lag:] - x[:-lag]
    x = x - x.mean(axis=0)
    t = x.shape[0]
    nfft = 1 << int(math.ceil(math.log2(2 * t)))
    spec = np.fft.rfft(x, nfft, axis=0)
    ac = np.fft.irfft((spec * spec.conj()).real.sum(axis=1), nfft)[:t]
    if ac[0] <= 1e-12:
        return None
    ac = ac / ac[0] * t / np.maximum(t - np.arange(t), 1)  # unbiased
    lo, hi = max(1, int(lo_s * r)), min(t - 2, int(hi_s * r), int(0.75 * t))
    if hi <= lo + 1:
        return None
    seg = ac[lo:hi + 1]
    peaks = [i for i in range(1, len(seg) - 1) if seg[i] >= seg[i - 1] and seg[i] > seg[i + 1]]
    peaks = [p for p in peaks if seg[p] > 0.1]
    if not peaks:
        return None
    best = max(seg[p] for p in peaks)
    first = next(p for p in peaks if seg[p] >= 0.6 * best)
    a, b, c = seg[first - 1], seg[first], seg[first + 1]  # parabolic refinement
    den = a - 2 * b + c
    off = 0.5 * (a - c) / den if abs(den) > 1e-12 else 0.0
    return float((lo + first + off) / r)


def working_rate(period_s: Optional[float], duration_s: float, frames_per_rep: float = 24.0,
                 lo: float = 4.0, hi: float = 60.0, window: int = WINDOW) -> float:
    """Frame rate at which one repetition spans about ``frames_per_rep`` frames.

    Without a period, the whole recording is fitted into one window (but never slower
    than ``lo`` fps).
    """
    if period_s is None or period_s <= 0:
        rate = window / max(duration_s, 1e-6)
    else:
        rate = frames_per_rep / period_s
    return float(min(max(rate, lo), hi))


# --------------------------------------------------------------------- features
IN_CHANNELS = 6


def window_features(win: np.ndarray) -> np.ndarray:
    """Model input of one window ``(T, V, 3)``: ``(6, T, V)`` float32.

    Channels 0-2 are positions with joint 0 (the root trajectory) centred on the window
    mean; channels 3-5 the frame differences ``x[t+1] - x[t]`` (0 at the last frame),
    multiplied by 10 to be of the same order.
    """
    p = np.array(win, dtype=np.float32, copy=True)
    p[:, 0] -= p[:, 0].mean(axis=0)
    v = np.zeros_like(p)
    v[:-1] = (p[1:] - p[:-1]) * 10.0
    return np.concatenate([p, v], axis=-1).transpose(2, 0, 1).copy()


def flip_joints(win: np.ndarray) -> np.ndarray:
    """Mirror normalised ``flag3d24`` joints left/right (swap sides, negate x)."""
    from flag3d.skeleton.layouts import get_layout

    perm = get_layout(MODEL_LAYOUT).flip_index()
    out = win[:, perm].copy()
    out[..., 0] = -out[..., 0]
    return out
