"""Primary signals: one scalar per frame that peaks once per repetition.

Every activity declares a *primary signal*, a simple function of a few joints (pelvis depth
for squats, wrist height for curls, left-minus-right knee height for high knees ...) chosen
so that a clean recording goes through exactly one clear peak per repetition.  It is the
independent check of the generated counts and a training-free counting baseline.

:class:`JointView` reads named joints from a ``flag3d24`` or ``ntu25`` sequence (the names
are those of ``flag3d24``; ``pelvis`` and ``thorax`` map to ntu25's ``spine_base`` and
``spine_shoulder``), so the same definitions work on both 3D layouts.

Example:
    >>> import numpy as np
    >>> from flag3d.synth import SynthConfig, generate_sequence
    >>> from flag3d.synth.signals import primary_signal
    >>> s = generate_sequence("A049", seed=0, config=SynthConfig(reps=(3, 3), views=()))
    >>> primary_signal(s.clean["flag3d24"]).shape == (s.clean["flag3d24"].num_frames,)
    True
"""

from __future__ import annotations

from typing import Dict

import numpy as np

from flag3d.errors import LayoutError, TaxonomyError
from flag3d.skeleton.layouts import get_layout
from flag3d.skeleton.sequence import Sequence

_NTU_NAMES: Dict[str, str] = {"pelvis": "spine_base", "thorax": "spine_shoulder",
                              "spine2": "spine_mid"}
UP = np.array([0.0, 1.0, 0.0])


class JointView:
    """Named access to the joints of one person, ``view("left_knee") -> (T, 3)``."""

    def __init__(self, joints: np.ndarray, layout: str) -> None:
        lay = get_layout(layout)
        if lay.name not in ("flag3d24", "ntu25"):
            raise LayoutError(f"primary signals need a 3D flag3d24 or ntu25 layout, got {layout}")
        self.joints = np.asarray(joints, dtype=np.float64)
        self.layout = lay

    def __call__(self, name: str) -> np.ndarray:
        if self.layout.name == "ntu25":
            name = _NTU_NAMES.get(name, name)
        return self.joints[:, self.layout.index(name)]

    def y(self, name: str) -> np.ndarray:
        """Height of a joint."""
        return self(name)[:, 1]

    def mean(self, *names: str) -> np.ndarray:
        """Mean position of several joints."""
        return np.mean([self(n) for n in names], axis=0)

    def left_dir(self) -> np.ndarray:
        """Horizontal unit vector from the right to the left shoulder ``(T, 3)``."""
        v = self("left_shoulder") - self("right_shoulder")
        v[:, 1] = 0.0
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)

    def fwd_dir(self) -> np.ndarray:
        """Horizontal facing direction of the chest ``(T, 3)``."""
        return np.cross(self.left_dir(), UP)

    def flexion(self, a: str, b: str, c: str) -> np.ndarray:
        """``180 - angle(a, b, c)`` in degrees: 0 for a straight limb a-b-c."""
        u, w = self(a) - self(b), self(c) - self(b)
        cos = np.sum(u * w, axis=1) / np.maximum(
            np.linalg.norm(u, axis=1) * np.linalg.norm(w, axis=1), 1e-9)
        return 180.0 - np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))

    def elevation(self, a: str, b: str) -> np.ndarray:
        """Angle in degrees between the segment a->b and straight down (0 = hanging)."""
        u = self(b) - self(a)
        cos = -u[:, 1] / np.maximum(np.linalg.norm(u, axis=1), 1e-9)
        return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))

    def knee_flexion(self, side: str) -> np.ndarray:
        """Knee flexion of one leg in degrees."""
        return self.flexion(f"{side}_hip", f"{side}_knee", f"{side}_ankle")

    def elbow_flexion(self, side: str) -> np.ndarray:
        """Elbow flexion of one arm in degrees."""
        return self.flexion(f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist")

    def leg_bend(self, side: str) -> np.ndarray:
        """Knee flexion plus thigh elevation (degrees): how much a leg is lifted/bent."""
        return self.knee_flexion(side) + self.elevation(f"{side}_hip", f"{side}_knee")


def primary_signal(seq: Sequence) -> np.ndarray:
    """The primary signal ``(T,)`` of a 3D sequence of a synthetic activity.

    The activity is read from ``seq.meta["activity"]``; the person axis, if any, must hold
    one person.
    """
    from flag3d.synth.activities import get_activity

    act = seq.meta.get("activity")
    if act is None:
        raise TaxonomyError("sequence has no meta['activity']; cannot pick its primary signal")
    spec = get_activity(str(act))
    joints = seq.joints[0] if seq.has_persons else seq.joints
    if joints.shape[-1] != 3:
        raise LayoutError(f"primary signals need 3D joints, got {joints.shape[-1]}D")
    return spec.primary(JointView(joints, seq.layout))
