"""A robust training-free repetition counter on joint-angle signals (``flag3d count`` default).

Steps, for any layout (2D or 3D; converted to ``h36m17`` by
:func:`flag3d.baselines.features.prepare`):

1. **Signals.**  Knee, hip, elbow and shoulder angles of both sides and the mean of each
   left/right pair, trunk inclination, neck angle, leg spread (degrees); pelvis and
   shoulder heights, the wrists' height and forward reach from the shoulder in a
   hip-aligned body frame, and the first principal component of the body-frame joints
   (all in % of the body scale).  Low-passed (Gaussian, sigma 0.1 s).
2. **Cycles.**  Each signal, oriented so repetitions point away from its rest level
   (:func:`flag3d.baselines.cycles.orient`), goes through the hysteresis detector
   :func:`flag3d.baselines.cycles.detect_cycles` with
   ``threshold = hysteresis x active range`` (:func:`flag3d.baselines.cycles.active_range`:
   the typical range inside 5 s windows where the signal moves, so a one-off posture
   change does not set the scale).  Standing still (sway, breathing, sensor noise) moves a
   signal far less than the threshold set by the exercise itself, so idle time never forms
   a cycle.
3. **Choice.**  A signal takes part when its 0.5-99.5 percentile range reaches
   ``min_angle`` degrees (``min_height`` %).  Its score is
   ``a x exp(-cv) x n**0.75 x min(1, range / full)``: ``a`` the median cycle amplitude over
   the active range (full-range repetitions, not noise), ``cv`` the variation of the
   cycle durations (regular repetitions), ``n`` the number of cycles (a repeated
   movement, not one posture change).  The best signal is counted.  Nothing reaching
   the minimum range means **no motion**: count 0 with that reason.
4. **Alternation.**  When the chosen signal is one side of a left/right pair (or their
   mean) and the pair's mean gives about twice as many cycles as one side, the movement
   alternates sides.  Following the counting convention of ``docs/synthetic.md``, slow
   alternations (one side takes at least ``alternate_side_s`` = 0.8 s: alternate curls,
   alternate lunges) count every side, fast ones (running-type: high knees, butt kicks)
   count left + right as one.

The weights were chosen on the *training* splits only (synthetic training activities and
UI-PRMD subjects s01-s07).  Each repetition's ``[start, end)`` comes from the cycle
boundaries (rests belong to none).

Example:
    >>> import numpy as np
    >>> from flag3d.synth import SynthConfig, generate_sequence
    >>> from flag3d.baselines.angles import AngleCounter
    >>> s = generate_sequence("A049", seed=0, config=SynthConfig(reps=(6, 6), views=()))
    >>> p = AngleCounter().predict(s.noisy["flag3d24"])
    >>> p.count, p.reason, len(p.repetitions)
    (6.0, None, 6)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import numpy as np

from flag3d.baselines.base import Counter, CountPrediction
from flag3d.baselines.cycles import Cycles, active_range, detect_cycles, orient, robust_range
from flag3d.baselines.features import (
    J, PAIRS, angle_signals, body_frame_joints, pca_signal, prepare, smooth,
)
from flag3d.skeleton.sequence import Sequence

_HEIGHTS = ("pelvis_height", "shoulder_height", "pca")


def _is_height(name: str) -> bool:
    """True for signals in % of the body scale (the rest are angles in degrees)."""
    return name in _HEIGHTS or name.startswith("wrist_")


@dataclass
class _Candidate:
    name: str
    signal: np.ndarray
    span: float
    score: float
    scale: float = 0.0
    cycles: Optional[Cycles] = None
    oriented: Optional[np.ndarray] = field(default=None, repr=False)


class AngleCounter(Counter):
    """Training-free counter on joint-angle signals (see the module docstring).

    Args:
        min_angle: smallest range (degrees) an angle needs to count as motion.
        min_height: the same for the height signals (% of the body scale).
        full_angle, full_height: range at which a signal's score stops growing.
        hysteresis: rise/fall needed for a cycle, as a fraction of the active range.
        smooth_s: low-pass sigma, seconds.
        edge: repetition boundary level above the valley, as a fraction of the rise.
        alternate_side_s: per-side duration from which alternating sides count separately.
        min_frames: fewer frames give count 0 with a reason.
    """

    name = "angles"

    def __init__(self, min_angle: float = 15.0, min_height: float = 8.0,
                 full_angle: float = 45.0, full_height: float = 20.0, hysteresis: float = 0.35,
                 smooth_s: float = 0.1, alternate_side_s: float = 0.8, edge: float = 0.05,
                 min_frames: int = 16) -> None:
        self.min_angle, self.min_height = min_angle, min_height
        self.full_angle, self.full_height = full_angle, full_height
        self.hysteresis, self.smooth_s, self.edge = hysteresis, smooth_s, edge
        self.alternate_side_s, self.min_frames = alternate_side_s, min_frames

    # ---------------------------------------------------------------- helpers
    def signals(self, seq: Sequence
                ) -> Tuple[Optional[Dict[str, np.ndarray]], float, Optional[str]]:
        """Smoothed candidate signals ``{name: (T,)}``, fps, and a reason when there are none."""
        prep, reason = prepare(seq, self.min_frames)
        if prep is None:
            return None, seq.fps, reason
        raw = angle_signals(prep)
        for a, b in PAIRS:
            raw[a.rsplit("_", 1)[0] + "_mean"] = 0.5 * (raw[a] + raw[b])
        body = body_frame_joints(prep)
        for side in ("left", "right"):
            rel = body[:, J[f"{side}_wrist"]] - body[:, J[f"{side}_shoulder"]]
            for c in range(1, rel.shape[1]):  # height (y) and, in 3D, forward reach (z)
                raw[f"wrist_{side}_{'xyz'[c]}"] = 100.0 * rel[:, c]
        raw["pca"] = 100.0 * pca_signal(body.reshape(len(body), -1))[0]
        return {k: smooth(v, prep.fps, self.smooth_s) for k, v in raw.items()}, prep.fps, None

    def _cycles(self, cand: _Candidate) -> Cycles:
        if cand.cycles is None:
            y = orient(cand.signal) * cand.signal
            cand.oriented = y
            cand.cycles = detect_cycles(y, self.hysteresis * cand.scale, edge=self.edge)
        return cand.cycles

    def _regularity(self, cand: _Candidate) -> float:
        cyc = self._cycles(cand)
        n = cyc.count
        if n == 0:
            return 0.0
        amp = min(1.0, float(np.median(cyc.amplitudes)) / max(cand.scale, 1e-9))
        dur = cyc.durations()
        cv = float(dur.std() / dur.mean()) if n > 1 else 1.0
        return amp * float(np.exp(-cv)) * n ** 0.75

    def _alternation(self, best: _Candidate, cands: Dict[str, _Candidate], fps: float
                     ) -> _Candidate:
        base = best.name.rsplit("_", 1)[0]
        pair = [c for c in (f"{base}_left", f"{base}_right") if c in cands]
        mean = cands.get(f"{base}_mean")
        if not pair or mean is None:
            return best
        side = max((cands[c] for c in pair), key=lambda c: c.score)
        n_side, n_mean = self._cycles(side).count, self._cycles(mean).count
        if n_side == 0 or not 1.6 <= n_mean / n_side <= 2.4:
            return side if best is mean and n_mean == n_side else best
        per_side = float(np.median(self._cycles(mean).durations())) / fps
        return mean if per_side >= self.alternate_side_s else side

    # ---------------------------------------------------------------- predict
    def predict(self, seq: Sequence) -> CountPrediction:
        """Count the repetitions of ``seq`` and locate each one."""
        sig, fps, reason = self.signals(seq)
        if sig is None:
            return CountPrediction.failed(reason or "cannot count")
        cands: Dict[str, _Candidate] = {}
        biggest = 0.0
        for name, y in sig.items():
            span = robust_range(y)
            need, full = (self.min_height, self.full_height) if _is_height(name) else (
                self.min_angle, self.full_angle)
            biggest = max(biggest, span / need)
            if span < need:
                continue
            cand = _Candidate(name, y, span, 0.0, active_range(y, fps))
            cand.score = self._regularity(cand) * min(1.0, span / full)
            cands[name] = cand
        if not cands:
            return CountPrediction.failed(
                f"no motion: every joint angle moves less than {self.min_angle:g} degrees "
                f"(largest range {100 * biggest:.0f} % of that)")
        best = max(cands.values(), key=lambda c: c.score)
        best = self._alternation(best, cands, fps)
        cyc = self._cycles(best)
        return CountPrediction(float(cyc.count), repetitions=cyc.intervals(),
                               signal=best.oriented, reason=None)

    def explain(self, seq: Sequence) -> Dict[str, Dict[str, float]]:
        """Per candidate signal: range, active range, cycles and score (to debug a count)."""
        sig, fps, _ = self.signals(seq)
        out: Dict[str, Dict[str, float]] = {}
        for name, y in (sig or {}).items():
            c = _Candidate(name, y, robust_range(y), 0.0, active_range(y, fps))
            full = self.full_height if _is_height(name) else self.full_angle
            out[name] = {"range": c.span, "active_range": c.scale,
                         "count": float(self._cycles(c).count),
                         "score": self._regularity(c) * min(1.0, c.span / full)}
        return out
