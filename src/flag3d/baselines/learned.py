"""Baselines that look at the training set: Random and KNN (FLAG3D++ Table 3 rows 1-2).

* :class:`RandomCounter` draws a count from the training counts.  The draw for a sequence
  depends only on the seed and the sequence id (or its frames when it has no id), so a
  prediction does not depend on the order sequences are scored in.
* :class:`KNNCounter` describes a sequence by pooled joint statistics (per joint and
  coordinate of the root-centred, body-scaled, hip-aligned ``h36m17`` joints: the mean and
  the standard deviation over time, plus the log duration), standardises them with the
  training statistics and returns the count of the nearest training sequence (Euclidean;
  ``k > 1`` gives the mean count of the ``k`` nearest, rounded).

Example:
    >>> import numpy as np
    >>> from flag3d.skeleton import Sequence
    >>> from flag3d.baselines.learned import RandomCounter
    >>> x = np.random.default_rng(0).normal(size=(40, 17, 3))
    >>> train = [Sequence(x, "h36m17", meta={"id": f"t{k}", "repetitions": [[0, 10]] * k})
    ...          for k in (3, 5, 7)]
    >>> r = RandomCounter(seed=0).fit(train)
    >>> c = r.predict(train[0]).count
    >>> c in (3.0, 5.0, 7.0), c == r.predict(train[0]).count  # a training count, repeatable
    (True, True)
    >>> r.predict(Sequence(np.repeat(x[:1], 40, axis=0), "h36m17")).reason[:9]
    'no motion'
"""

from __future__ import annotations

import zlib
from typing import Iterable, List, Optional

import numpy as np

from flag3d.baselines.base import Counter, CountPrediction, true_count
from flag3d.baselines.features import body_frame_joints, prepare
from flag3d.errors import Flag3dError
from flag3d.skeleton.sequence import Sequence


class NotFittedError(Flag3dError):
    """A counter that learns from training data was asked to predict before ``fit``."""


def _sequence_key(seq: Sequence) -> int:
    sid = seq.meta.get("id")
    data = str(sid).encode() if sid is not None else seq.joints.tobytes()
    return zlib.crc32(data)


class RandomCounter(Counter):
    """A count drawn from the training counts (seeded per sequence)."""

    name = "random"
    needs_fit = True

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)
        self.counts: Optional[np.ndarray] = None

    def fit(self, sequences: Iterable[Sequence]) -> "RandomCounter":
        """Remember the training counts."""
        counts = [true_count(s) for s in sequences]
        if not counts:
            raise NotFittedError("RandomCounter.fit got no training sequences")
        self.counts = np.asarray(counts, dtype=np.float64)
        return self

    def predict(self, seq: Sequence) -> CountPrediction:
        """A training count chosen at random (0 with a reason for degenerate input)."""
        if self.counts is None:
            raise NotFittedError("RandomCounter: call fit(train_sequences) first")
        _, reason = prepare(seq)
        if reason:
            return CountPrediction.failed(reason)
        rng = np.random.default_rng([self.seed, _sequence_key(seq)])
        return CountPrediction(float(self.counts[rng.integers(self.counts.size)]))


def describe(seq: Sequence) -> Optional[np.ndarray]:
    """The KNN descriptor of ``seq`` (``None`` when it cannot be prepared)."""
    prep, _ = prepare(seq)
    if prep is None:
        return None
    x = body_frame_joints(prep).reshape(prep.num_frames, -1)
    return np.concatenate([x.mean(axis=0), x.std(axis=0),
                           [np.log(prep.num_frames / prep.fps)]])


class KNNCounter(Counter):
    """Count of the nearest training sequence by pooled joint statistics."""

    name = "knn"
    needs_fit = True

    def __init__(self, k: int = 1) -> None:
        if k < 1:
            raise Flag3dError(f"KNNCounter: k must be >= 1, got {k}")
        self.k = int(k)
        self.features: Optional[np.ndarray] = None
        self.counts: Optional[np.ndarray] = None
        self.mu: Optional[np.ndarray] = None
        self.sd: Optional[np.ndarray] = None

    def fit(self, sequences: Iterable[Sequence]) -> "KNNCounter":
        """Describe and standardise every training sequence."""
        feats: List[np.ndarray] = []
        counts: List[int] = []
        for s in sequences:
            d = describe(s)
            if d is not None:
                feats.append(d)
                counts.append(true_count(s))
        if not feats:
            raise NotFittedError("KNNCounter.fit got no usable training sequences")
        f = np.stack(feats)
        self.mu, self.sd = f.mean(axis=0), f.std(axis=0) + 1e-6
        self.features = (f - self.mu) / self.sd
        self.counts = np.asarray(counts, dtype=np.float64)
        return self

    def predict(self, seq: Sequence) -> CountPrediction:
        """The count of the nearest training sequence(s)."""
        if self.features is None or self.counts is None:
            raise NotFittedError("KNNCounter: call fit(train_sequences) first")
        d = describe(seq)
        if d is None:
            _, reason = prepare(seq)
            return CountPrediction.failed(reason or "cannot describe the sequence")
        z = (d - self.mu) / self.sd
        dist = np.linalg.norm(self.features - z, axis=1)
        near = np.argsort(dist, kind="stable")[: self.k]
        return CountPrediction(float(np.rint(self.counts[near].mean())))
