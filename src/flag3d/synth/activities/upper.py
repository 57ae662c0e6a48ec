"""Standing upper-body activities: raises, curls, rows, tricep extensions, neck and shrugs.

Each program maps the repetition phase to joint angles (degrees) with an eased profile;
``ctx.param(j, good, bad)`` gives the per-repetition amplitude that standard ``j`` controls
(fault ranges are separated from correct ones).  The legs stand on planted feet
(:func:`~flag3d.synth.rig.stand`).

Example:
    >>> from flag3d.synth.activities import get_activity
    >>> get_activity("A021").convention
    'one curl of one arm; arms alternate'
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from flag3d.synth.activities.base import ActivitySpec, lean, register, signed, upright_pose
from flag3d.synth.body import J
from flag3d.synth.context import MotionContext
from flag3d.synth.ik import apply_limb_ik
from flag3d.synth.pose import Pose
from flag3d.synth.profiles import down_up, plateau, ramp, window
from flag3d.synth.rig import Motion, stand
from flag3d.synth.signals import JointView

SIDES = ("left", "right")


# ------------------------------------------------------------------ A017 lateral raise
def lateral_raise(ctx: MotionContext) -> Motion:
    """Bare-handed full lateral raise: both arms abduct from the sides to overhead."""
    p = upright_pose(ctx)
    prof = down_up(ctx.phase, hold=0.08, down=0.5)
    abd = ctx.param(0, good=(160, 176), bad=(100, 82))
    elb = ctx.param(1, good=(0, 6), bad=(38, 60))
    tilt = ctx.param(2, good=(0, 2), bad=(13, 20)) * prof
    back = ctx.vary(0.0, 1.0) < 0.6  # the faulty lean goes backwards or sideways
    sgn = np.where(ctx.vary(0.0, 1.0) < 0.5, 1.0, -1.0)
    for side in SIDES:
        p.shoulder(side, abd=abd * prof)
        p.elbow(side, elb * prof)
    lean(p, np.where(back, -tilt, 0.0), pelvis_share=0.45)
    side_tilt = np.where(back, 0.0, sgn * tilt)
    p.root(roll=-0.4 * side_tilt)
    p.spine(lat=0.6 * side_tilt)
    pos, rot = stand(ctx.body, p, knee=4.0 + ctx.sway["knee"])
    return Motion(pos, rot)


# ------------------------------------------------------------------------ A020/A021 curls
def _curls(ctx: MotionContext, alternate: bool) -> Motion:
    p = upright_pose(ctx)
    prof = down_up(ctx.phase, hold=0.08, down=0.42)
    flex = ctx.param(0, good=(125, 145), bad=(85, 62))
    fwd = ctx.param(1, good=(0, 5), bad=(24, 40))
    back = ctx.param(2, good=(0, 2), bad=(12, 20))
    for side, sgn in (("left", 1.0), ("right", -1.0)):
        w = signed(prof, ctx.side, sgn) if alternate else prof
        p.elbow(side, 6.0 * ctx.engage + flex * w)
        p.shoulder(side, flex=fwd * w)
    lean(p, -back * prof, pelvis_share=0.35)
    pos, rot = stand(ctx.body, p, knee=4.0 + ctx.sway["knee"])
    return Motion(pos, rot)


def curls(ctx: MotionContext) -> Motion:
    """Dumbbell curls: both elbows flex together."""
    return _curls(ctx, alternate=False)


def alternate_curls(ctx: MotionContext) -> Motion:
    """Alternate dumbbell curls: one arm per repetition."""
    return _curls(ctx, alternate=True)


# ---------------------------------------------------------------------- hinge helpers
def _hinge(ctx: MotionContext, torso: float, knee: float) -> Tuple[Pose, np.ndarray]:
    """A standing pose hinged forward at the hips by ``torso`` degrees (eased in with
    ``engage``) and the knee flexion that goes with it."""
    p = upright_pose(ctx)
    e = ctx.engage
    lean(p, torso * e, pelvis_share=0.6)
    p.root_pos[:, 2] -= 0.07 * ctx.body.height * np.sin(np.radians(torso)) * e
    p.neck(flex=-0.4 * torso * e)  # look a little ahead, not at the feet
    return p, 4.0 + knee * e + ctx.sway["knee"]


def _curve(ctx: MotionContext, j: int) -> np.ndarray:
    """Rounded-back flexion (degrees) of standard ``j``, eased in and out of the rep."""
    return ctx.param(j, good=(0, 4), bad=(24, 36)) * plateau(ctx.phase, 0.0, 0.15, 0.85, 1.0)


# --------------------------------------------------------------------------- A022 row
def row(ctx: MotionContext) -> Motion:
    """Right-side bent-over row: hinge, left hand on the left knee, the right arm rows."""
    torso = ctx.uniform(45.0, 60.0)
    p, knee = _hinge(ctx, torso, ctx.uniform(12.0, 22.0))
    e = ctx.engage
    prof = down_up(ctx.phase, hold=0.1, down=0.4)
    pull = ctx.param(0, good=(95, 112), bad=(58, 45))
    curve = _curve(ctx, 1)
    twist = ctx.param(2, good=(0, 3), bad=(16, 26)) * prof
    p.spine_curve(curve)
    p.spine(twist=-twist)
    p.shoulder("right", flex=torso * e + curve - pull * prof, abd=6.0 + 8.0 * prof)
    p.elbow("right", 8.0 + 0.85 * pull * prof)
    p.shoulder("left", flex=0.5 * torso * e)
    pos, rot = stand(ctx.body, p, knee=knee, stance=ctx.body.seg["hip_w"] * 1.2)
    thigh = pos[:, J["left_knee"]] + 0.2 * (pos[:, J["left_hip"]] - pos[:, J["left_knee"]])
    target = pos[:, J["left_wrist"]] + (thigh - pos[:, J["left_wrist"]]) * e[:, None]
    apply_limb_ik(pos, ctx.body, "left", "arm", target, np.array([1.0, 0.3, -0.6]))
    return Motion(pos, rot)


# ------------------------------------------------------------- A025 tricep extension
def tricep_extension(ctx: MotionContext) -> Motion:
    """Bent-over dumbbell tricep extension: upper arms along the torso, elbows extend."""
    torso = ctx.uniform(40.0, 55.0)
    p, knee = _hinge(ctx, torso, ctx.uniform(15.0, 25.0))
    e = ctx.engage
    prof = down_up(ctx.phase, hold=0.08, down=0.45)
    ext = ctx.param(0, good=(86, 96), bad=(50, 36))
    swing = ctx.param(1, good=(0, 4), bad=(26, 38))
    p.spine_curve(_curve(ctx, 2))
    tuck = ramp(e, 0.4, 1.0)  # the arms hang while hinging, then tuck along the torso
    for side in SIDES:
        p.shoulder(side, flex=(1.0 - tuck) * torso * e - 5.0 * tuck + swing * prof, abd=6.0)
        p.elbow(side, 95.0 * tuck - ext * prof)
    pos, rot = stand(ctx.body, p, knee=knee)
    return Motion(pos, rot)


# ------------------------------------------------------------------- A026 nod and raise
def nod(ctx: MotionContext) -> Motion:
    """Nod and raise head: chin to chest, back through neutral, look up, back to neutral."""
    p = upright_pose(ctx, sway=0.5)
    down, up = window(ctx.phase, 0.0, 0.5), window(ctx.phase, 0.5, 1.0)
    rng_ = ctx.param(0, good=(1.0, 1.2), bad=(0.55, 0.45))
    p.neck(flex=42.0 * rng_ * down - 36.0 * rng_ * up)
    shrug = ctx.param(1, good=(0, 2), bad=(12, 20)) * (down + up)
    for side in SIDES:
        p.collar(side, elev=shrug)
    bob = ctx.param(2, good=(0, 2), bad=(11, 17))
    lean(p, bob * (down - 0.6 * up), pelvis_share=0.3)
    pos, rot = stand(ctx.body, p, knee=4.0 + ctx.sway["knee"])
    return Motion(pos, rot)


# ---------------------------------------------------------------- A027 two-way head turn
def head_turn(ctx: MotionContext) -> Motion:
    """Two-way head turn: look to one side, back, to the other side, back."""
    p = upright_pose(ctx, sway=0.5)
    cyc = ctx.first * (window(ctx.phase, 0.0, 0.5) - window(ctx.phase, 0.5, 1.0))
    turn = ctx.param(0, good=(64, 80), bad=(44, 34))
    tilt = ctx.param(1, good=(0, 3), bad=(14, 22))
    follow = ctx.param(2, good=(0, 2), bad=(13, 20))
    p.neck(turn=turn * cyc, lat=tilt * cyc)
    p.spine(twist=follow * cyc, weights=(0.1, 0.25, 0.35, 0.3))
    pos, rot = stand(ctx.body, p, knee=4.0 + ctx.sway["knee"])
    return Motion(pos, rot)


# ------------------------------------------------------------- A028 shrug and sink
def shrug(ctx: MotionContext) -> Motion:
    """Shrug the shoulders up towards the ears, lower them, sink them below neutral."""
    p = upright_pose(ctx, sway=0.6)
    up, sink = window(ctx.phase, 0.0, 0.6), window(ctx.phase, 0.6, 1.0)
    elev = ctx.param(0, good=(22, 30), bad=(14, 11))
    for side in SIDES:
        p.collar(side, elev=elev * up - 8.0 * sink)
    bend = ctx.param(1, good=(0, 5), bad=(32, 50)) * up
    for side in SIDES:
        p.elbow(side, bend)
    poke = ctx.param(2, good=(0, 3), bad=(16, 26)) * up
    p.neck(flex=poke)
    p.spine(flex=-0.25 * poke, weights=(0.0, 0.0, 0.4, 0.6))
    pos, rot = stand(ctx.body, p, knee=4.0 + ctx.sway["knee"])
    return Motion(pos, rot)


# ------------------------------------------------------------------ primary signals
def _wrist_over_pelvis(v: JointView) -> np.ndarray:
    return 0.5 * (v.y("left_wrist") + v.y("right_wrist")) - v.y("pelvis")


def _wrist_over_shoulder(v: JointView) -> np.ndarray:
    return 0.5 * (v.y("left_wrist") - v.y("left_shoulder") + v.y("right_wrist")
                  - v.y("right_shoulder"))


def _row_primary(v: JointView) -> np.ndarray:
    return v.elbow_flexion("right")


def _arm_reach(v: JointView) -> np.ndarray:
    return 0.5 * sum(np.linalg.norm(v(f"{s}_wrist") - v(f"{s}_shoulder"), axis=1) for s in SIDES)


def _head_drop(v: JointView) -> np.ndarray:
    return v.y("neck") - v.y("head")


def _head_left(v: JointView) -> np.ndarray:
    return np.sum((v("head") - v("neck")) * v.left_dir(), axis=1)


def _shoulder_rise(v: JointView) -> np.ndarray:
    return 0.5 * (v.y("left_shoulder") + v.y("right_shoulder")) - v.y("thorax")


for _spec in (
    ActivitySpec("A017", "Bare-handed Full Lateral Raise", lateral_raise, _wrist_over_pelvis,
                 2.6, "arms up to overhead and back down"),
    ActivitySpec("A020", "Dumbbell Curls", curls, _wrist_over_shoulder, 2.2,
                 "one curl up and down of both arms"),
    ActivitySpec("A021", "Alternate Dumbbell Curls", alternate_curls, _wrist_over_shoulder,
                 2.0, "one curl of one arm; arms alternate", alternate=True),
    ActivitySpec("A022", "Right-side Kettlebell Bent-over Row", row, _row_primary, 2.2,
                 "one pull and lower of the right arm"),
    ActivitySpec("A025", "Bent-over Dumbbell Tricep Extension", tricep_extension, _arm_reach,
                 2.0, "one extension and return of both elbows"),
    ActivitySpec("A026", "Nod And Raise Head", nod, _head_drop, 3.0,
                 "chin down, back, look up, back to neutral"),
    ActivitySpec("A027", "Two-way Head Turn", head_turn, _head_left, 3.4,
                 "turn to one side and to the other, back to the front"),
    ActivitySpec("A028", "Shrug And Sink The Shoulders", shrug, _shoulder_rise, 2.4,
                 "shoulders up, down, sink below neutral, back"),
):
    register(_spec)
