"""Sensor corruption with known parameters, applied to clean generated joints.

3D (MoCap-like), :func:`corrupt_3d`:
    * Gaussian noise, independent per joint and frame, std ``noise_std`` metres
      (default 4 mm);
    * dropped joints: gaps of 1-12 frames (mean about 4) on random joints, as many as make
      a fraction ``drop_rate`` of all joint-frames missing.  A missing joint **holds its
      last valid value** (the first valid one at the start) with **confidence 0**.

2D (keypoint detector-like), :func:`corrupt_2d`:
    * Gaussian pixel noise of std ``noise_px`` times a per-joint factor (1.0 trunk and
      face, 1.3 elbows/knees, 1.8 wrists/ankles), doubled for joints occluded by the body;
    * scores in [0.75, 0.99] for visible joints, 0.3 lower for occluded ones;
    * dropped keypoints (gaps as in 3D, fraction ``drop_rate``, four times likelier when
      occluded) get **coordinates 0 and score 0** (the PYSKL convention).

Example:
    >>> import numpy as np
    >>> from flag3d.synth.corrupt import corrupt_3d
    >>> x = np.zeros((100, 24, 3))
    >>> noisy, conf = corrupt_3d(np.random.default_rng(0), x, noise_std=0.004, drop_rate=0.05)
    >>> bool(abs(noisy[conf > 0].std() - 0.004) < 0.0005), bool(0.02 < (conf == 0).mean() < 0.1)
    (True, True)
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from flag3d.skeleton.layouts import get_layout

_COCO = get_layout("coco17")
#: Per-joint 2D noise factor of the coco17 layout (extremities are noisier).
COCO_NOISE = np.array([
    1.8 if n.endswith(("wrist", "ankle")) else 1.3 if n.endswith(("elbow", "knee")) else 1.0
    for n in _COCO.joints
])


def drop_mask(rng: np.random.Generator, t: int, v: int, rate: float,
              weights: Optional[np.ndarray] = None, max_len: int = 12) -> np.ndarray:
    """``(T, V)`` bool, True where a joint is missing; gaps of 1..``max_len`` frames.

    ``weights`` ``(T, V)`` raises the chance of a gap starting at that joint-frame.
    """
    mask = np.zeros((t, v), dtype=bool)
    if rate <= 0 or t == 0:
        return mask
    mean_len = 4.0
    n = rng.poisson(rate * t * v / mean_len)
    if n == 0:
        return mask
    if weights is None:
        starts = rng.integers(0, t * v, n)
    else:
        p = weights.ravel() / weights.sum()
        starts = rng.choice(t * v, size=n, p=p)
    lengths = np.minimum(rng.geometric(1.0 / mean_len, n), max_len)
    f0, j = np.divmod(starts, v)
    for a, b, k in zip(f0, np.minimum(f0 + lengths, t), j):
        mask[a:b, k] = True
    return mask


def hold_last(x: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Replace missing ``(T, V)`` entries of ``x`` ``(T, V, C)`` by the last valid value
    (the first valid one before any); joints never valid keep their values."""
    out = x.copy()
    frames = np.arange(x.shape[0])
    for j in np.nonzero(missing.any(axis=0))[0]:
        ok = ~missing[:, j]
        if not ok.any():
            continue
        idx = np.maximum.accumulate(np.where(ok, frames, -1))
        idx[idx < 0] = int(np.argmax(ok))
        out[:, j] = x[idx, j]
    return out


def corrupt_3d(rng: np.random.Generator, joints: np.ndarray, noise_std: float = 0.004,
               drop_rate: float = 0.002) -> Tuple[np.ndarray, np.ndarray]:
    """Noisy joints ``(T, V, 3)`` and confidence ``(T, V)`` (see the module docstring)."""
    t, v, _ = joints.shape
    noisy = joints.astype(np.float32)
    if noise_std > 0:
        noisy += noise_std * rng.standard_normal(joints.shape, dtype=np.float32)
    miss = drop_mask(rng, t, v, drop_rate)
    if miss.any():
        noisy = hold_last(noisy, miss)
    return noisy, (~miss).astype(np.float32)


def corrupt_2d(rng: np.random.Generator, uv: np.ndarray, occluded: np.ndarray,
               noise_px: float = 2.5, drop_rate: float = 0.01,
               joint_noise: np.ndarray = COCO_NOISE) -> Tuple[np.ndarray, np.ndarray]:
    """Noisy pixel coordinates ``(T, V, 2)`` and scores ``(T, V)``.

    Args:
        uv: clean pixel coordinates.
        occluded: ``(T, V)`` in [0, 1], how much each joint is hidden by the body.
    """
    t, v, _ = uv.shape
    sigma = noise_px * joint_noise[None, :] * (1.0 + occluded)
    out = uv + rng.standard_normal(uv.shape, dtype=np.float32) * sigma[..., None]
    score = rng.uniform(0.75, 0.99, (t, v)) - 0.3 * occluded
    miss = drop_mask(rng, t, v, drop_rate, weights=1.0 + 3.0 * occluded)
    out[miss] = 0.0
    score[miss] = 0.0
    return out, np.clip(score, 0.0, 1.0).astype(np.float32)
