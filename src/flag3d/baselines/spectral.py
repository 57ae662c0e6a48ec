"""Signal-processing baselines on the first principal component of the joints (Table 3).

All three start from the same 1-D signal (:func:`motion_signal`): the root-centred,
body-scaled, hip-aligned ``h36m17`` joints (:func:`flag3d.baselines.features.body_frame_joints`),
low-passed (sigma 0.1 s), projected on their first principal component.

* :class:`PCAPeakCounter`: peaks of the signal (oriented so repetitions point up, see
  :func:`flag3d.baselines.cycles.orient`) with ``scipy.signal.find_peaks``, prominence at
  least ``prominence`` x the 1-99 percentile range and at least ``min_period_s`` apart.  Each
  repetition runs from the lowest point since the previous peak to the lowest point before
  the next one.  Integer counts.
* :class:`FourierCounter`: the dominant frequency ``f`` of the signal's spectrum between
  ``1 / max_period_s`` and ``1 / min_period_s`` (Hann window, zero-padded to 8x);
  count = ``round(duration x f)`` (a whole number of periods, as in the paper's row).
* :class:`WaveletCounter`: the continuous wavelet transform (``pywt.cwt``, complex Morlet
  ``cmor1.5-1.0``, so the magnitude does not oscillate with the phase) over
  periods ``min_period_s``..``max_period_s``; at each frame the frequency of the strongest
  scale is the local repetition rate; the count is its integral over the frames whose
  strongest coefficient reaches ``active`` x the 95th percentile of those maxima (so still
  parts add little).  Not rounded; follows tempo changes, unlike the Fourier count.

Example:
    >>> import numpy as np
    >>> from flag3d.skeleton import Sequence
    >>> from flag3d.baselines.spectral import FourierCounter
    >>> t = np.arange(300) / 30.0
    >>> x = np.zeros((300, 17, 3)); x[..., 1] = np.linspace(0, 1.7, 17)
    >>> x[:, 13, 1] += 0.3 * np.sin(2 * np.pi * 0.5 * t)  # left wrist, 0.5 Hz for 10 s
    >>> FourierCounter().predict(Sequence(x, "h36m17")).count
    5.0
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np
from scipy.signal import find_peaks

from flag3d.baselines.base import Counter, CountPrediction
from flag3d.baselines.cycles import orient
from flag3d.baselines.features import Prepared, body_frame_joints, pca_signal, prepare, smooth
from flag3d.skeleton.sequence import Sequence

def motion_signal(seq: Sequence, smooth_s: float = 0.1
                  ) -> Tuple[Optional[np.ndarray], Optional[Prepared], Optional[str]]:
    """``(signal, prepared, None)`` or ``(None, None, reason)``."""
    prep, reason = prepare(seq)
    if prep is None:
        return None, None, reason
    x = smooth(body_frame_joints(prep).reshape(prep.num_frames, -1), prep.fps, smooth_s)
    y, _ = pca_signal(x)
    return y, prep, None


class PCAPeakCounter(Counter):
    """Peaks of the first principal component (see the module docstring)."""

    name = "pca_peaks"

    def __init__(self, prominence: float = 0.3, min_period_s: float = 0.3) -> None:
        self.prominence, self.min_period_s = prominence, min_period_s

    def predict(self, seq: Sequence) -> CountPrediction:
        """Count the peaks."""
        y, prep, reason = motion_signal(seq)
        if y is None or prep is None:
            return CountPrediction.failed(reason or "cannot count")
        y = orient(y) * y
        lo, hi = np.percentile(y, [1, 99])
        peaks, _ = find_peaks(y, prominence=self.prominence * (hi - lo),
                              distance=max(1, int(self.min_period_s * prep.fps)))
        reps: List[List[int]] = []
        for k, p in enumerate(peaks):
            a = peaks[k - 1] if k > 0 else 0
            b = peaks[k + 1] if k + 1 < len(peaks) else len(y) - 1
            s = a + int(np.argmin(y[a:p + 1]))
            e = p + int(np.argmin(y[p:b + 1])) + 1
            reps.append([int(max(s, reps[-1][1] if reps else 0)), int(e)])
        return CountPrediction(float(len(peaks)), repetitions=reps, signal=y)


class FourierCounter(Counter):
    """Duration times the dominant frequency (see the module docstring)."""

    name = "fourier"

    def __init__(self, min_period_s: float = 0.3, max_period_s: float = 10.0) -> None:
        self.min_period_s, self.max_period_s = min_period_s, max_period_s

    def predict(self, seq: Sequence) -> CountPrediction:
        """Count whole periods of the dominant frequency."""
        y, prep, reason = motion_signal(seq)
        if y is None or prep is None:
            return CountPrediction.failed(reason or "cannot count")
        n = y.size
        x = (y - y.mean()) * np.hanning(n)
        size = 8 * (1 << int(np.ceil(np.log2(n))))
        power = np.abs(np.fft.rfft(x, size)) ** 2
        freqs = np.fft.rfftfreq(size, 1.0 / prep.fps)
        band = (freqs >= 1.0 / self.max_period_s) & (freqs <= 1.0 / self.min_period_s)
        if not band.any():
            return CountPrediction.failed("sequence too short for the frequency band")
        f = float(freqs[band][np.argmax(power[band])])
        return CountPrediction(float(np.rint(n / prep.fps * f)), signal=y)


class WaveletCounter(Counter):
    """Integral of the wavelet ridge frequency (see the module docstring)."""

    name = "wavelet"

    def __init__(self, min_period_s: float = 0.3, max_period_s: float = 10.0,
                 n_scales: int = 64, active: float = 0.25, wavelet: str = "cmor1.5-1.0") -> None:
        self.min_period_s, self.max_period_s = min_period_s, max_period_s
        self.n_scales, self.active, self.wavelet = n_scales, active, wavelet

    def predict(self, seq: Sequence) -> CountPrediction:
        """Integrate the local repetition rate."""
        import pywt

        y, prep, reason = motion_signal(seq)
        if y is None or prep is None:
            return CountPrediction.failed(reason or "cannot count")
        fps = prep.fps
        periods = np.geomspace(self.min_period_s, self.max_period_s, self.n_scales)
        centre = pywt.central_frequency(self.wavelet)  # cycles per sample at scale 1
        scales = centre * periods * fps
        coef, _ = pywt.cwt(y - y.mean(), scales, self.wavelet, method="fft")
        # amplitude normalisation: CWT magnitudes of a sinusoid grow like sqrt(scale)
        mag = np.abs(coef) / np.sqrt(scales)[:, None]
        best = np.argmax(mag, axis=0)
        ridge = mag[best, np.arange(mag.shape[1])]
        on = ridge >= self.active * np.percentile(ridge, 95)
        rate = 1.0 / periods[best]  # repetitions per second at each frame
        return CountPrediction(float(np.sum(rate[on]) / fps), signal=y)
