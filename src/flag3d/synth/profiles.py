"""Movement profiles: smooth functions of the repetition phase (0..1).

Each returns values in [0, 1] with zero value and zero slope at the ends, so that a
repetition starts and ends in the start pose and consecutive repetitions join smoothly.

Example:
    >>> import numpy as np
    >>> from flag3d.synth.profiles import down_up, window
    >>> ph = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    >>> np.round(down_up(ph, hold=0.0), 3).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0]
    >>> np.round(window(ph, 0.2, 0.6), 4).tolist()
    [0.0, 0.1464, 0.5, 0.0, 0.0]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def smoothstep(x: np.ndarray) -> np.ndarray:
    """Cosine ease from 0 (x <= 0) to 1 (x >= 1)."""
    x = np.clip(x, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def ramp(x: np.ndarray, a: float, b: float) -> np.ndarray:
    """Eased 0 -> 1 over ``[a, b]``."""
    return smoothstep((x - a) / (b - a))


def down_up(phase: np.ndarray, hold: float = 0.1, down: float = 0.5) -> np.ndarray:
    """Go (eased) to 1, hold there for ``hold`` of the cycle, come back to 0.

    ``down`` is the share of the moving time spent going down (eccentric part).
    """
    move = 1.0 - hold
    t_down = move * down
    up = 1.0 - smoothstep((phase - t_down - hold) / (move - t_down))
    return np.where(phase < t_down, smoothstep(phase / t_down), up)


def window(phase: np.ndarray, a: float, b: float) -> np.ndarray:
    """A sin^2 bump that is non-zero only on ``(a, b)`` (peak 1 at the middle)."""
    x = np.clip((phase - a) / (b - a), 0.0, 1.0)
    return np.sin(np.pi * x) ** 2


def plateau(phase: np.ndarray, a: float, b: float, c: float, d: float) -> np.ndarray:
    """0 before ``a``, eased up to 1 at ``b``, 1 until ``c``, eased down to 0 at ``d``."""
    return ramp(phase, a, b) * (1.0 - ramp(phase, c, d))


def lerp(a: ArrayLike, b: ArrayLike, w: ArrayLike) -> np.ndarray:
    """``a + (b - a) * w`` (broadcasting)."""
    a_, b_ = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a_ + (b_ - a_) * np.asarray(w, dtype=float)
