"""Sequence structure: idle, transition, repetitions with varying tempo, pauses, transition, idle.

The timeline is decided in whole frames first, so the ground-truth boundaries are exact:
repetition ``i`` covers frames ``[start_i, end_i)`` and its phase runs ``(f - start) /
(end - start)`` over them (0 at the first frame).  Between repetitions (pauses) and outside
them the phase is 0, i.e. the body holds the start pose.  ``engage`` is 0 in the idle parts
(the activity's rest pose: standing relaxed, lying ...), eases to 1 during the transition
into the start pose and stays 1 from the first repetition to the last.

Example:
    >>> import numpy as np
    >>> from flag3d.synth.timeline import make_timeline
    >>> tl = make_timeline(np.random.default_rng(0), n_reps=3, rep_seconds=2.0, fps=30)
    >>> tl.reps.shape, bool((np.diff(tl.reps, axis=1) > 0).all())
    ((3, 2), True)
    >>> int(tl.rep[tl.reps[1, 0]]), float(tl.phase[tl.reps[1, 0]])
    (1, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np

from flag3d.errors import Flag3dError
from flag3d.synth.profiles import smoothstep


@dataclass
class Timeline:
    """Per-frame structure of one sequence.

    Attributes:
        fps: frames per second.
        reps: ``(n, 2)`` int array of ``[start, end)`` frames.
        phase: ``(T,)`` repetition phase in [0, 1), 0 outside repetitions.
        rep: ``(T,)`` repetition index, -1 outside repetitions.
        cur: ``(T,)`` the current or most recent repetition (0 before the first one).
        engage: ``(T,)`` 0 = rest pose, 1 = exercising (start pose between repetitions).
        pauses: ``(k, 2)`` frames of the pauses between repetitions.
        speed: the per-sequence tempo factor (rep duration multiplier).
    """

    fps: float
    reps: np.ndarray
    phase: np.ndarray
    rep: np.ndarray
    cur: np.ndarray
    engage: np.ndarray
    pauses: np.ndarray
    speed: float

    @property
    def n_frames(self) -> int:
        """Number of frames T."""
        return int(self.phase.shape[0])

    @property
    def n_reps(self) -> int:
        """Number of repetitions."""
        return int(self.reps.shape[0])


def make_timeline(
    rng: np.random.Generator,
    n_reps: int,
    rep_seconds: float,
    fps: float = 30.0,
    speed: Tuple[float, float] = (0.8, 1.25),
    tempo_jitter: float = 0.25,
    pause_prob: float = 0.12,
    pause_seconds: Tuple[float, float] = (0.3, 1.5),
    idle_seconds: Tuple[float, float] = (0.5, 2.0),
    transition_seconds: Tuple[float, float] = (0.6, 1.2),
    min_rep_frames: int = 8,
) -> Timeline:
    """Draw a timeline.

    Args:
        n_reps: number of repetitions (>= 1).
        rep_seconds: the activity's nominal repetition duration.
        speed: range of the per-sequence tempo factor (multiplies every duration).
        tempo_jitter: per-repetition duration varies by a factor in ``1 +- tempo_jitter``
            (a mix of independent and slowly drifting variation).
        pause_prob: chance of a pause after each repetition but the last.
        pause_seconds, idle_seconds, transition_seconds: duration ranges.
    """
    if n_reps < 1:
        raise Flag3dError(f"a sequence needs at least one repetition, got n_reps={n_reps}")
    sp = float(rng.uniform(*speed))
    # Per-repetition factor: 60 % independent, 40 % a slow random walk (fatigue, rhythm).
    indep = rng.uniform(-1.0, 1.0, n_reps)
    walk = np.cumsum(rng.normal(0.0, 0.35, n_reps))
    walk = np.clip(walk - walk.mean(), -1.0, 1.0)
    factor = 1.0 + tempo_jitter * np.clip(0.6 * indep + 0.4 * walk, -1.0, 1.0)
    durs = np.maximum(np.round(rep_seconds * sp * factor * fps).astype(int), min_rep_frames)
    pause = np.where(rng.random(n_reps) < pause_prob,
                     np.round(rng.uniform(*pause_seconds, n_reps) * fps).astype(int), 0)
    pause[-1] = 0
    idle0, idle1 = (np.round(rng.uniform(*idle_seconds, 2) * fps)).astype(int)
    tr0, tr1 = (np.round(rng.uniform(*transition_seconds, 2) * fps)).astype(int)
    tr0, tr1 = max(tr0, 2), max(tr1, 2)

    starts = np.empty(n_reps, dtype=int)
    f = idle0 + tr0
    for i in range(n_reps):
        starts[i] = f
        f += durs[i] + pause[i]
    ends = starts + durs
    total = int(ends[-1] + tr1 + idle1)

    frames = np.arange(total)
    rep = np.full(total, -1, dtype=int)
    phase = np.zeros(total)
    for i in range(n_reps):
        rep[starts[i]:ends[i]] = i
        phase[starts[i]:ends[i]] = np.arange(durs[i]) / durs[i]
    cur = np.clip(np.searchsorted(starts, frames, side="right") - 1, 0, n_reps - 1)
    engage = np.ones(total)
    engage[:idle0 + tr0] = smoothstep((frames[:idle0 + tr0] - idle0) / tr0)
    tail = frames[ends[-1]:]
    engage[ends[-1]:] = 1.0 - smoothstep((tail - ends[-1]) / tr1)
    pauses = np.array([[ends[i], ends[i] + pause[i]] for i in range(n_reps) if pause[i] > 0],
                      dtype=int).reshape(-1, 2)
    return Timeline(fps=float(fps), reps=np.stack([starts, ends], axis=1), phase=phase,
                    rep=rep, cur=cur, engage=engage, pauses=pauses, speed=sp)
