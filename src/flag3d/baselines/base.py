"""The counter interface shared by every counting baseline: ``fit`` and ``predict``.

A counter takes any :class:`~flag3d.skeleton.Sequence` and returns a
:class:`CountPrediction`: a count, optionally each repetition's ``[start, end)`` frames, the
1-D signal it counted on, and a ``reason`` when it could not count (too few frames, no
motion, all joints missing): the count is then 0, never a guess.

Example:
    >>> from flag3d.baselines.base import CountPrediction
    >>> p = CountPrediction(2.0, repetitions=[[30, 60], [75, 105]])
    >>> p.intervals_seconds(30.0)
    [(1.0, 2.0), (2.5, 3.5)]
    >>> CountPrediction.failed("too few frames (3 < 16)").count
    0.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple

import numpy as np

from flag3d.skeleton.sequence import Sequence


@dataclass
class CountPrediction:
    """What a counter says about one sequence.

    Attributes:
        count: the predicted number of repetitions (a float; integer for most baselines).
        repetitions: ``[[start, end), ...]`` frames of each repetition, when the method
            finds them.
        signal: the per-frame 1-D signal the count came from, when there is one.
        reason: why the count is 0 without counting (``None`` when it counted).
    """

    count: float
    repetitions: Optional[List[List[int]]] = None
    signal: Optional[np.ndarray] = None
    reason: Optional[str] = None

    @classmethod
    def failed(cls, reason: str) -> "CountPrediction":
        """Count 0 with the reason (no repetition was found because none could be)."""
        return cls(0.0, repetitions=[], signal=None, reason=reason)

    def intervals_seconds(self, fps: float) -> List[Tuple[float, float]]:
        """Repetitions as ``(start, end)`` seconds."""
        return [(s / fps, e / fps) for s, e in (self.repetitions or [])]


class Counter:
    """Base class: a training-free counter needs only :meth:`predict`."""

    #: short registry name, e.g. ``"fourier"``.
    name: str = ""
    #: True when :meth:`fit` learns something from training sequences.
    needs_fit: bool = False

    def fit(self, sequences: Iterable[Sequence]) -> "Counter":
        """Learn from training sequences with ``meta["repetitions"]`` (no-op by default)."""
        return self

    def predict(self, seq: Sequence) -> CountPrediction:  # pragma: no cover - abstract
        """Count the repetitions of ``seq``."""
        raise NotImplementedError

    def predict_many(self, sequences: Iterable[Sequence]) -> List[CountPrediction]:
        """:meth:`predict` for each sequence."""
        return [self.predict(s) for s in sequences]

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def true_count(seq: Sequence) -> int:
    """The ground-truth count of a labelled sequence (``len(meta["repetitions"])``)."""
    return len(seq.meta.get("repetitions") or [])
