"""Squats, lunges, calf raises and the squat jump (legs on planted feet, solved by IK).

The knee flexion at the bottom of a squat sets the pelvis height; the hips move back so the
shank leans forward about a third of the knee angle, as in a real squat.  Knee *valgus*
faults turn the knee direction inwards (the IK keeps bone lengths and foot placement), so
the knees visibly move towards the midline.

Example:
    >>> from flag3d.synth.activities import get_activity
    >>> get_activity("A051").convention
    'squat down, jump, land, stand up'
"""

from __future__ import annotations

import numpy as np

from flag3d.synth.activities.base import (
    ActivitySpec,
    lean,
    planar_leg,
    register,
    upright_pose,
)
from flag3d.synth.context import MotionContext
from flag3d.synth.pose import SIDES, Pose
from flag3d.synth.profiles import down_up, lerp, plateau, ramp, window
from flag3d.synth.rig import Motion, knee_reach, planted_ankles, stand
from flag3d.synth.signals import JointView


def _hips_back(ctx: MotionContext, knee: np.ndarray, shank_share: float = 0.35) -> np.ndarray:
    """Forward pelvis offset (negative = back) of a squat with ``knee`` flexion."""
    s = ctx.body.seg
    k = np.radians(knee)
    return s["shank"] * np.sin(shank_share * k) - s["thigh"] * np.sin((1 - shank_share) * k)


def _arms_front(p: Pose, amount: np.ndarray) -> None:
    """Arms forward for balance (shoulder flexion ``amount`` deg, elbows a little bent)."""
    for side in SIDES:
        p.shoulder(side, flex=amount, abd=4.0)
        p.elbow(side, 0.3 * amount)


# ---------------------------------------------------------- A010 squat with arm lift
def squat_arm_lift(ctx: MotionContext) -> Motion:
    """Squat down while raising both arms forward to overhead; stand and lower them."""
    p = upright_pose(ctx)
    d = down_up(ctx.phase, hold=0.08, down=0.5)
    knee = 4.0 + ctx.param(0, good=(95, 118), bad=(62, 46)) * d
    arms = ctx.param(1, good=(165, 178), bad=(96, 84))
    valgus = ctx.param(2, good=(0, 4), bad=(14, 22)) * d
    p.root_pos[:, 2] += _hips_back(ctx, knee)
    lean(p, 0.38 * (knee - 4.0), pelvis_share=0.55)
    for side in SIDES:
        p.shoulder(side, flex=arms * d)
    toe = ctx.uniform(6.0, 16.0)
    stance = ctx.body.seg["hip_w"] * ctx.uniform(1.05, 1.4)
    pos, rot = stand(ctx.body, p, knee=knee, stance=stance, toe_out=toe, knee_out=-valgus)
    return Motion(pos, rot)


# ----------------------------------------------------------------------- A049 sumo squat
def sumo_squat(ctx: MotionContext) -> Motion:
    """Wide stance, toes out, knees pushed out over the toes, torso upright."""
    p = upright_pose(ctx)
    e = ctx.engage
    d = down_up(ctx.phase, hold=0.1, down=0.5)
    knee = 4.0 + ctx.param(0, good=(92, 112), bad=(60, 46)) * d
    cave = ctx.param(1, good=(0, 4), bad=(28, 40)) * d
    tilt = ctx.param(2, good=(0, 6), bad=(24, 36)) * d
    p.root_pos[:, 2] += _hips_back(ctx, knee, shank_share=0.45)
    lean(p, 0.12 * (knee - 4.0) + tilt, pelvis_share=0.6)
    _arms_front(p, 25.0 * e + 40.0 * d)
    s = ctx.body.seg
    wide = ctx.uniform(2.6, 3.4) * s["hip_w"]
    toe = ctx.uniform(30.0, 42.0)
    step = ramp(e, 0.1, 0.9)
    stance = lerp(s["hip_w"], wide, step)
    ank = planted_ankles(ctx.body, ctx.T, stance)
    for side in SIDES:  # step out one foot after the other
        ank[side][:, 1] += 0.06 * window(e, 0.1 if side == "left" else 0.5,
                                         0.5 if side == "left" else 0.9)
    pos, rot = stand(ctx.body, p, knee=knee, toe_out=toe * step + 8.0 * (1 - step),
                     knee_out=-cave, ankles=ank)
    return Motion(pos, rot)


# ----------------------------------------------------------------- A050 calf raise
def calf_raise(ctx: MotionContext) -> Motion:
    """Straight-leg calf raise: the heels rise, balls of the feet stay on the floor."""
    p = upright_pose(ctx)
    body = ctx.body
    rise = down_up(ctx.phase, hold=0.15, down=0.4)
    plantar = ctx.param(0, good=(30, 40), bad=(15, 11)) * rise
    knee = 3.0 + ctx.param(1, good=(0, 4), bad=(22, 34)) * rise
    tilt = ctx.param(2, good=(0, 2.5), bad=(12, 20)) * rise
    lean(p, tilt, pelvis_share=0.5)
    fv = body.foot_vec
    length, a0 = float(np.hypot(fv[1], fv[2])), float(np.arctan2(-fv[1], fv[2]))
    ank = planted_ankles(body, ctx.T)
    a = a0 + np.radians(plantar)
    for side in SIDES:
        ank[side][:, 1] += length * (np.sin(a) - np.sin(a0))
        ank[side][:, 2] -= length * (np.cos(a) - np.cos(a0))
    p.root_pos[:, 2] += ank["left"][:, 2]
    pos, rot = stand(body, p, knee=knee, ankles=ank, toe_out=6.0)
    return Motion(pos, rot)


# ----------------------------------------------------------------- A051 squat jump
def squat_jump(ctx: MotionContext) -> Motion:
    """Squat down, explode into a jump, land softly, stand up."""
    p = upright_pose(ctx)
    body, ph = ctx.body, ctx.phase
    down = ramp(ph, 0.0, 0.32) * (1.0 - ramp(ph, 0.32, 0.42))
    fly = np.clip((ph - 0.42) / 0.2, 0.0, 1.0)
    airborne = (fly > 0) & (fly < 1)
    kmax = ctx.param(0, good=(92, 110), bad=(62, 50))
    height = ctx.param(1, good=(0.14, 0.28), bad=(0.035, 0.012))
    bent = ctx.param(1, good=(0, 3), bad=(12, 22)) * plateau(ph, 0.36, 0.44, 0.6, 0.66)
    valgus = ctx.param(2, good=(0, 4), bad=(14, 22)) * down
    knee = 4.0 + kmax * down + 14.0 * window(ph, 0.6, 0.86) + bent
    toes = 35.0 * plateau(ph, 0.34, 0.42, 0.6, 0.66)
    p.root_pos[:, 2] += _hips_back(ctx, knee)
    lean(p, 0.38 * (knee - 4.0), pelvis_share=0.55)
    for side in SIDES:
        p.shoulder(side, flex=-35.0 * down + 150.0 * plateau(ph, 0.34, 0.46, 0.58, 0.8))
    fv = body.foot_vec
    length, a0 = float(np.hypot(fv[1], fv[2])), float(np.arctan2(-fv[1], fv[2]))
    a = a0 + np.radians(toes)
    lift = length * (np.sin(a) - np.sin(a0)) + np.where(airborne, height * np.sin(np.pi * fly), 0)
    ank = planted_ankles(body, ctx.T, body.seg["hip_w"] * 1.15)
    for side in SIDES:
        ank[side][:, 1] += lift
        ank[side][:, 2] -= length * (np.cos(a) - np.cos(a0))
    pos, rot = stand(body, p, knee=knee, ankles=ank, toe_out=10.0, knee_out=-valgus)
    return Motion(pos, rot)


# --------------------------------------------------- A052 squat with alternate knee lift
def squat_knee_lift(ctx: MotionContext) -> Motion:
    """Squat, stand up and lift one knee to hip height (sides alternate per repetition)."""
    p = upright_pose(ctx)
    body, ph = ctx.body, ctx.phase
    d = np.where(ph < 0.5, down_up(np.clip(ph / 0.5, 0, 1), hold=0.05, down=0.5), 0.0)
    knee = 4.0 + ctx.param(0, good=(92, 112), bad=(60, 48)) * d
    lift = window(ph, 0.52, 0.98)
    flex = ctx.param(1, good=(86, 100), bad=(50, 38)) * lift
    valgus = ctx.param(2, good=(0, 4), bad=(14, 22)) * d
    p.root_pos[:, 2] += _hips_back(ctx, knee)
    p.root_pos[:, 0] -= ctx.side * 0.035 * lift  # shift over the standing leg
    lean(p, 0.36 * (knee - 4.0), pelvis_share=0.55)
    _arms_front(p, 40.0 * ctx.engage + 30.0 * d)
    ank = planted_ankles(body, ctx.T, body.seg["hip_w"] * 1.1)
    vec = planar_leg(body.seg["thigh"], body.seg["shank"], flex, 0.95 * flex)
    free = {}
    for side, sgn in (("left", 1.0), ("right", -1.0)):
        w = (ctx.side == sgn).astype(float)
        ank[side] += vec * w[:, None]
        free[side] = w * lift
    pos, rot = stand(body, p, knee=knee, ankles=ank, free=free, toe_out=8.0,
                     knee_out=-valgus)
    return Motion(pos, rot)


# ------------------------------------------------------------------- A044/A046 lunges
def _lunge(ctx: MotionContext, side_of_back: np.ndarray) -> Motion:
    p = upright_pose(ctx)
    body, ph = ctx.body, ctx.phase
    s = body.seg
    d = down_up(ph, hold=0.1, down=0.45)
    step = plateau(ph, 0.0, 0.28, 0.72, 1.0)
    knee_h = ctx.param(0, good=(0.05, 0.11), bad=(0.26, 0.34))
    cave = ctx.param(1, good=(0, 4), bad=(20, 30)) * d
    tilt = ctx.param(2, good=(0, 5), bad=(22, 32)) * d
    stride = ctx.uniform(0.9, 1.05) * body.leg
    lean(p, tilt + 4.0 * d, pelvis_share=0.4)
    p.root_pos[:, 2] -= 0.48 * stride * d
    stand_y = s["ankle_h"] + float(knee_reach(body, 4.0)) + s["hip_up"]
    low_y = knee_h + 0.97 * s["thigh"] + s["hip_up"]
    pelvis_y = lerp(stand_y, low_y, d)
    ank = planted_ankles(body, ctx.T)
    knee_out, pole_up = {}, {}
    for side, sgn in (("left", 1.0), ("right", -1.0)):
        back = (side_of_back == sgn).astype(float)
        lift = 0.07 * (window(ph, 0.0, 0.28) + window(ph, 0.72, 1.0))
        ank[side][:, 2] -= stride * step * back
        ank[side][:, 1] += (lift + 0.05 * step) * back
        knee_out[side] = -cave * (1.0 - back)
        pole_up[side] = -35.0 * back * step
    _arms_front(p, 10.0 * ctx.engage + 15.0 * d)
    pos, rot = stand(body, p, ankles=ank, pelvis_y=pelvis_y, knee_out=knee_out,
                     pole_up=pole_up, toe_out=6.0)
    return Motion(pos, rot)


def right_reverse_lunge(ctx: MotionContext) -> Motion:
    """Right leg reverse lunge: the right leg steps back every repetition."""
    return _lunge(ctx, np.full(ctx.T, -1.0))


def alternate_reverse_lunge(ctx: MotionContext) -> Motion:
    """Alternate reverse lunge: the stepping leg alternates per repetition."""
    return _lunge(ctx, ctx.side)


# ------------------------------------------------------------------ primary signals
def _depth(v: JointView) -> np.ndarray:
    return -v.y("pelvis")


def _squat_knees(v: JointView) -> np.ndarray:
    return np.minimum(v.knee_flexion("left"), v.knee_flexion("right"))


def _heel_height(v: JointView) -> np.ndarray:
    return 0.5 * (v.y("left_ankle") + v.y("right_ankle"))


for _spec in (
    ActivitySpec("A010", "Squat With Arm Lift", squat_arm_lift, _squat_knees, 2.6,
                 "one squat down and up (arms rise and lower with it)"),
    ActivitySpec("A044", "Right Leg Reverse Lunge", right_reverse_lunge, _depth, 2.8,
                 "one lunge: the right leg steps back, down, up, steps in"),
    ActivitySpec("A046", "Alternate Reverse Lunge", alternate_reverse_lunge, _depth, 2.6,
                 "one lunge on one side; sides alternate", alternate=True),
    ActivitySpec("A049", "Sumo Squat", sumo_squat, _squat_knees, 2.6, "one squat down and up"),
    ActivitySpec("A050", "Straight Leg Calf Raise", calf_raise, _heel_height, 1.8,
                 "heels up and down once"),
    ActivitySpec("A051", "Squat Jump", squat_jump, _squat_knees, 2.2,
                 "squat down, jump, land, stand up", pause_scale=0.7),
    ActivitySpec("A052", "Squat With Alternate Knee Lift", squat_knee_lift, _squat_knees, 3.2,
                 "one squat then one knee lift; the lifted knee alternates", alternate=True),
):
    register(_spec)
