"""What a motion program sees: the timeline, the faults, the subject, and per-rep variation.

A :class:`MotionContext` turns per-repetition quantities into per-frame arrays:
:meth:`MotionContext.param` picks, for every repetition, a value from the *correct* range
or, when that repetition has the fault of standard ``j``, from the *fault* range (mapped by
the fault's severity); :meth:`MotionContext.vary` draws free per-repetition variation.  The
``sway`` arrays are slow postural sway and breathing that every program adds.

Example:
    >>> import numpy as np
    >>> from flag3d.synth.context import MotionContext
    >>> from flag3d.synth.timeline import make_timeline
    >>> from flag3d.synth.faults import plan_faults
    >>> from flag3d.synth.body import make_body
    >>> rng = np.random.default_rng(1)
    >>> tl = make_timeline(rng, 4, 2.0)
    >>> plan = plan_faults(rng, 4, rate=0.0)
    >>> ctx = MotionContext(tl, plan, make_body(1.7), rng, alternate=True)
    >>> depth = ctx.param(0, good=(90, 110), bad=(60, 40))
    >>> bool(((depth >= 90) & (depth <= 110)).all()), sorted(set(ctx.side.tolist()))
    (True, [-1.0, 1.0])
"""

from __future__ import annotations

from typing import Dict, Tuple

import numpy as np
from numpy.typing import ArrayLike

from flag3d.synth.body import Body
from flag3d.synth.faults import FaultPlan
from flag3d.synth.timeline import Timeline


def smooth_noise(rng: np.random.Generator, t: np.ndarray, amp: ArrayLike,
                 fmin: float = 0.05, fmax: float = 0.4, k: int = 3) -> np.ndarray:
    """Smooth random signals of standard deviation about ``amp`` (sums of ``k`` sinusoids
    between ``fmin`` and ``fmax`` Hz): ``(T,)`` for a scalar ``amp``, ``(T, C)`` for ``C``
    amplitudes."""
    amps = np.atleast_1d(np.asarray(amp, dtype=float))
    c = amps.shape[0]
    f = rng.uniform(fmin, fmax, (k, c))
    ph = rng.uniform(0.0, 2.0 * np.pi, (k, c))
    w = rng.uniform(0.5, 1.0, (k, c))
    w *= amps * np.sqrt(2.0) / np.sqrt(np.sum(w * w, axis=0))
    out = np.zeros((t.shape[0], c))
    for i in range(k):
        out += w[i] * np.sin(2.0 * np.pi * f[i] * t[:, None] + ph[i])
    return out if np.ndim(amp) else out[:, 0]


#: Postural sway channels and their amplitudes (m for x/z, degrees otherwise).
SWAY = (("x", 0.008), ("z", 0.008), ("yaw", 1.0), ("flex", 0.8), ("lat", 0.6),
        ("neck_flex", 1.5), ("neck_turn", 2.0), ("arm", 2.0), ("knee", 1.0))


class MotionContext:
    """Per-frame inputs of a motion program.

    Args:
        tl: the timeline.
        plan: the fault plan (labels and severities per repetition).
        body: the subject's skeleton.
        rng: the sample's random generator (programs draw style parameters from it).
        alternate: True when the activity alternates sides between repetitions.
        sway_scale: multiplies all postural sway amplitudes.
    """

    def __init__(self, tl: Timeline, plan: FaultPlan, body: Body, rng: np.random.Generator,
                 alternate: bool = False, sway_scale: float = 1.0) -> None:
        self.tl = tl
        self.plan = plan
        self.body = body
        self.rng = rng
        self.fps = tl.fps
        self.T = tl.n_frames
        self.t = np.arange(self.T) / tl.fps
        self.phase = tl.phase
        self.engage = tl.engage
        self.in_rep = tl.rep >= 0
        self.cur = tl.cur
        # Sides: +1 = left.  Alternating activities switch every repetition; the first
        # side is random.  ``first`` is also used by activities that do both sides in one
        # repetition (cycle order).
        self.first = 1.0 if rng.random() < 0.5 else -1.0
        n = tl.n_reps
        rep_side = self.first * np.where(np.arange(n) % 2 == 0, 1.0, -1.0) if alternate \
            else np.full(n, self.first)
        self.rep_side = rep_side
        self.side = rep_side[self.cur]
        self.sev = plan.severity[self.cur] * self.in_rep[:, None]
        names, amps = zip(*SWAY)
        noise = smooth_noise(rng, self.t, np.asarray(amps) * sway_scale)
        self.sway: Dict[str, np.ndarray] = {n: noise[:, i] for i, n in enumerate(names)}
        fb = rng.uniform(0.2, 0.33)
        self.breath = np.sin(2.0 * np.pi * fb * self.t + rng.uniform(0, 2 * np.pi))

    # ---------------------------------------------------------------- per-rep values
    def param(self, j: int, good: Tuple[float, float], bad: Tuple[float, float]) -> np.ndarray:
        """Per-frame value of a parameter controlled by standard ``j``.

        Correct repetitions draw uniformly from ``good``; faulty ones map the fault's
        severity from ``bad[0]`` (mild) to ``bad[1]`` (severe).
        """
        n = self.tl.n_reps
        u = self.rng.random(n)
        ok = good[0] + (good[1] - good[0]) * u
        sev = self.plan.severity[:, j]
        ko = bad[0] + (bad[1] - bad[0]) * sev
        return np.where(self.plan.faulty[:, j], ko, ok)[self.cur]

    def vary(self, lo: float, hi: float) -> np.ndarray:
        """Per-frame value drawn uniformly in ``[lo, hi]`` once per repetition."""
        return self.rng.uniform(lo, hi, self.tl.n_reps)[self.cur]

    def uniform(self, lo: float, hi: float) -> float:
        """One value for the whole sequence (a style parameter)."""
        return float(self.rng.uniform(lo, hi))
