"""Repetition-counting baselines of FLAG3D++ Table 3, by name.

=================  ===================================================  ==============
name               method                                               learns
=================  ===================================================  ==============
``random``         a training count drawn at random (seeded)            counts
``knn``            count of the nearest training sequence               descriptors
``pca_peaks``      peaks of the first principal component               no
``fourier``        duration x dominant frequency                        no
``wavelet``        integral of the CWT ridge frequency                  no
``repnet_tsm``     RepNet-style periods from the self-similarity matrix no
``angles``         hysteresis cycles on joint angles (``flag3d count``) no
=================  ===================================================  ==============

Every counter has ``fit(train_sequences)`` (a no-op for training-free ones) and
``predict(sequence) -> CountPrediction``; degenerate input gives count 0 with a ``reason``.

Example:
    >>> from flag3d.baselines.counting import baseline_names, make_counter
    >>> baseline_names()
    ['random', 'knn', 'pca_peaks', 'fourier', 'wavelet', 'repnet_tsm', 'angles']
    >>> make_counter("angles").needs_fit
    False
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List

from flag3d.baselines.angles import AngleCounter
from flag3d.baselines.base import Counter, CountPrediction, true_count
from flag3d.baselines.learned import KNNCounter, NotFittedError, RandomCounter
from flag3d.baselines.selfsim import SelfSimilarityCounter
from flag3d.baselines.spectral import FourierCounter, PCAPeakCounter, WaveletCounter
from flag3d.errors import Flag3dError

_BASELINES: Dict[str, Callable[..., Counter]] = {
    "random": RandomCounter,
    "knn": KNNCounter,
    "pca_peaks": PCAPeakCounter,
    "fourier": FourierCounter,
    "wavelet": WaveletCounter,
    "repnet_tsm": SelfSimilarityCounter,
    "angles": AngleCounter,
}

#: Table labels of the baselines (the paper's row names where there is one).
LABELS: Dict[str, str] = {
    "random": "Random", "knn": "KNN", "pca_peaks": "PCA + Peak Detect.",
    "fourier": "Fourier Analysis", "wavelet": "Wavelet Analysis",
    "repnet_tsm": "RepNet-style TSM (training-free)", "angles": "Joint-angle counter (ours)",
}


def baseline_names() -> List[str]:
    """Registered baseline names, in table order."""
    return list(_BASELINES)


def make_counter(name: str, **options: Any) -> Counter:
    """A new counter by name; ``options`` go to its constructor."""
    try:
        cls = _BASELINES[name]
    except KeyError:
        raise Flag3dError(
            f"unknown counting baseline {name!r}; known: {', '.join(_BASELINES)}") from None
    return cls(**options)


__all__ = [
    "AngleCounter", "Counter", "CountPrediction", "FourierCounter", "KNNCounter", "LABELS",
    "NotFittedError", "PCAPeakCounter", "RandomCounter", "SelfSimilarityCounter",
    "WaveletCounter", "baseline_names", "make_counter", "true_count",
]
