"""Standards, fault sampling with known labels, and the FLAG3D++ score (Eq. 1).

Every implemented activity has three standards, with the keys and order of its taxonomy
entry (``flag3d.taxonomy``).  Per repetition ``i`` and standard ``j`` the label is
``y_ij = 1`` when the repetition meets the standard and ``0`` when the fault that violates
it is present.  Faults are drawn independently per repetition with a probability that
depends on

* the corpus ``rate`` (mean per-standard probability, default 0.13, so that about a third of
  the repetitions have at least one fault),
* the subject's ``propensity`` (some subjects are systematically worse), and
* a per-sequence *habit*: with probability 0.25 a standard is a habitual fault in this
  sequence (3x the rate), otherwise it is rare (0.33x), which spreads sequence scores.

The severity of a fault (0 = mild, 1 = severe) is uniform; motion programs map it into a
range of joint angles that is separated from the range of correct repetitions.

Example:
    >>> import numpy as np
    >>> from flag3d.synth.faults import quality_score
    >>> quality_score(np.array([[1, 1, 1], [1, 0, 1], [1, 0, 0], [1, 1, 1]]))
    7.5
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

from flag3d.errors import Flag3dError

#: Activity id -> its three standard keys, in the order of the shared spec.
STANDARDS: Dict[str, Tuple[str, str, str]] = {
    "A002": ("body_line", "depth", "elbow_tuck"),
    "A006": ("body_line", "depth", "elbow_tuck"),
    "A010": ("depth", "arms_overhead", "knees_track_toes"),
    "A017": ("full_height", "straight_arms", "torso_still"),
    "A020": ("full_curl", "elbows_fixed", "torso_still"),
    "A021": ("full_curl", "elbows_fixed", "torso_still"),
    "A022": ("full_pull", "flat_back", "no_rotation"),
    "A025": ("full_extension", "upper_arm_still", "flat_back"),
    "A026": ("full_range", "shoulders_still", "torso_upright"),
    "A027": ("full_turn", "head_level", "shoulders_still"),
    "A028": ("full_shrug", "arms_relaxed", "head_still"),
    "A036": ("hip_extension", "knees_apart", "hips_level"),
    "A042": ("full_sit", "knees_bent", "neck_neutral"),
    "A044": ("depth", "front_knee_stable", "torso_upright"),
    "A046": ("depth", "front_knee_stable", "torso_upright"),
    "A049": ("depth", "knees_track_toes", "torso_upright"),
    "A050": ("heel_height", "straight_knees", "body_vertical"),
    "A051": ("depth", "full_extension", "knees_track_toes"),
    "A052": ("depth", "knee_height", "knees_track_toes"),
    "A053": ("heel_to_glute", "thigh_vertical", "torso_upright"),
    "A055": ("heel_to_glute", "thigh_vertical", "torso_upright"),
    "A057": ("arms_overhead", "feet_wide", "straight_arms"),
    "A058": ("knee_height", "torso_upright", "arm_drive"),
    "A059": ("arms_to_front", "feet_wide", "straight_arms"),
    "A060": ("knee_lift", "arm_swing", "torso_upright"),
}

HABIT_PROB = 0.25
HABIT_HIGH = 3.0
HABIT_LOW = (1.0 - HABIT_PROB * HABIT_HIGH) / (1.0 - HABIT_PROB)  # keeps the mean at 1


@dataclass
class FaultPlan:
    """Fault labels of one sequence.

    Attributes:
        labels: ``(n_reps, 3)`` int, 1 = meets the standard, 0 = fault present.
        severity: ``(n_reps, 3)`` in [0, 1] for faulty entries, 0 elsewhere.
        probs: ``(3,)`` the per-repetition fault probability used for each standard.
    """

    labels: np.ndarray
    severity: np.ndarray
    probs: np.ndarray

    @property
    def faulty(self) -> np.ndarray:
        """``(n_reps, 3)`` bool, True where the fault is present."""
        return self.labels == 0


def plan_faults(rng: np.random.Generator, n_reps: int, rate: float = 0.13,
                propensity: float = 1.0, max_prob: float = 0.92) -> FaultPlan:
    """Draw the per-repetition faults of one sequence (see the module docstring)."""
    habit = np.where(rng.random(3) < HABIT_PROB, HABIT_HIGH, HABIT_LOW)
    probs = np.clip(rate * propensity * habit, 0.0, max_prob)
    faulty = rng.random((n_reps, 3)) < probs
    sev = rng.random((n_reps, 3))
    return FaultPlan(labels=(~faulty).astype(int), severity=np.where(faulty, sev, 0.0),
                     probs=probs)


def quality_score(labels: np.ndarray, delta: float = 6.0) -> float:
    """FLAG3D++ Eq. (1): ``s = delta + sum_j g(mean_i y_ij)`` with ``g(x) = 2x - 1``."""
    y = np.asarray(labels, dtype=float)
    if y.ndim != 2 or y.shape[0] == 0:
        raise Flag3dError(f"quality labels must have shape (n_reps >= 1, n_standards), "
                          f"got {y.shape}")
    if not np.isin(y, (0.0, 1.0)).all():
        raise Flag3dError("quality labels must be 0 (fault) or 1 (meets the standard)")
    return float(delta + np.sum(2.0 * y.mean(axis=0) - 1.0))
