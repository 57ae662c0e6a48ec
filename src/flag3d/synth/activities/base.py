"""Activity specs, their registry, and the helpers every motion program shares.

An :class:`ActivitySpec` couples an activity id with its motion program (a function of a
:class:`~flag3d.synth.context.MotionContext` returning a :class:`~flag3d.synth.rig.Motion`),
its nominal repetition duration, what one repetition is (``convention``), and its primary
signal.  Programs register themselves with :func:`register` when their module is imported.

Example:
    >>> from flag3d.synth.activities import get_activity
    >>> spec = get_activity("A046")
    >>> spec.name, spec.alternate, spec.standards[0]
    ('Alternate Reverse Lunge', True, 'depth')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Tuple

import numpy as np

from flag3d.errors import TaxonomyError
from flag3d.synth.context import MotionContext
from flag3d.synth.faults import STANDARDS
from flag3d.synth.pose import SIDES, Pose
from flag3d.synth.rig import Motion
from flag3d.synth.signals import JointView

Program = Callable[[MotionContext], Motion]
Primary = Callable[[JointView], np.ndarray]


@dataclass(frozen=True)
class ActivitySpec:
    """One synthetic activity.

    Attributes:
        id: taxonomy id, e.g. ``"A049"``.
        name: the FLAG3D activity name.
        program: the motion program.
        primary: the primary signal (one peak per repetition on clean data).
        rep_seconds: nominal duration of one repetition.
        convention: what one repetition is, in words.
        alternate: sides alternate from one repetition to the next.
        floor: performed lying/kneeling on the floor.
        pause_scale: multiplies the pause probability (continuous cardio moves pause less).
    """

    id: str
    name: str
    program: Program
    primary: Primary
    rep_seconds: float
    convention: str
    alternate: bool = False
    floor: bool = False
    pause_scale: float = 1.0

    @property
    def standards(self) -> Tuple[str, str, str]:
        """The three standard keys, in the shared spec's order."""
        return STANDARDS[self.id]

    @property
    def label(self) -> int:
        """0-based class index of the id (A001 -> 0)."""
        return int(self.id[1:]) - 1


_REGISTRY: Dict[str, ActivitySpec] = {}


def register(spec: ActivitySpec) -> ActivitySpec:
    """Add ``spec`` to the registry (its id must have standards in the shared spec)."""
    if spec.id not in STANDARDS:
        raise TaxonomyError(f"activity {spec.id} has no standards in the shared spec")
    _REGISTRY[spec.id] = spec
    return spec


def get_activity(activity_id: str) -> ActivitySpec:
    """The spec of ``activity_id``; the error lists the implemented ids."""
    try:
        return _REGISTRY[activity_id.upper()]
    except KeyError:
        raise TaxonomyError(
            f"no synthetic program for activity {activity_id!r}; implemented: "
            f"{', '.join(sorted(_REGISTRY))}"
        ) from None


def activity_ids() -> List[str]:
    """Implemented activity ids, sorted."""
    return sorted(_REGISTRY)


# ------------------------------------------------------------------------ shared helpers
def upright_pose(ctx: MotionContext, sway: float = 1.0, root_sway: bool = True) -> Pose:
    """A standing pose with relaxed arms, postural sway and breathing already added."""
    p = Pose(ctx.T)
    sw = ctx.sway
    if root_sway:
        p.root_pos[:, 0] += sw["x"] * sway
        p.root_pos[:, 2] += sw["z"] * sway
        p.root(yaw=sw["yaw"] * sway)
    add_breathing(p, ctx, sway)
    for side in SIDES:
        p.shoulder(side, abd=4.0 + 0.5 * sw["arm"] * sway, flex=0.5 * sw["arm"] * sway)
        p.elbow(side, 8.0)
    return p


def add_breathing(p: Pose, ctx: MotionContext, sway: float = 1.0) -> None:
    """Trunk and neck sway plus breathing (thorax flexion, shoulder rise)."""
    sw = ctx.sway
    p.spine(flex=(sw["flex"] + 0.6 * ctx.breath) * sway, lat=sw["lat"] * sway)
    p.neck(flex=sw["neck_flex"] * sway, turn=sw["neck_turn"] * sway)
    for side in SIDES:
        p.collar(side, elev=0.8 * ctx.breath * sway)


def lean(p: Pose, deg: np.ndarray, pelvis_share: float = 0.45) -> None:
    """Tip the trunk forward (negative: backward), part at the hips, part in the spine."""
    p.root(pitch=deg * pelvis_share)
    p.spine(flex=deg * (1.0 - pelvis_share))


def planar_leg(body_thigh: float, body_shank: float, hip_flex: np.ndarray,
               knee_flex: np.ndarray) -> np.ndarray:
    """Ankle displacement ``(T, 3)`` of a leg lifted in the sagittal plane (facing +z),
    relative to the same leg hanging straight down."""
    a = np.radians(hip_flex)
    b = np.radians(hip_flex - knee_flex)
    out = np.zeros(np.shape(a) + (3,))
    out[..., 1] = body_thigh * (1.0 - np.cos(a)) + body_shank * (1.0 - np.cos(b))
    out[..., 2] = body_thigh * np.sin(a) + body_shank * np.sin(b)
    return out


def signed(v: np.ndarray, side: np.ndarray, which: float) -> np.ndarray:
    """``v`` where the per-frame side equals ``which`` (+1 left / -1 right), else 0."""
    return np.where(side == which, v, 0.0)
