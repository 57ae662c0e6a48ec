"""Cardio activities: butt kicks, high knees, running in place, jumping and clap jacks.

Repetition conventions (what a coach counts aloud):

* Butt Kicks (A055), High Knee (A058), Run In Place (A060) -- fast alternating steps:
  **one repetition = one left + right cycle** (the coach counts every time the first leg
  comes up again).  The first leg of the cycle is random per sequence.
* Standing Alternate Butt Kick (A053) -- slow, deliberate: **one repetition = one kick of
  one leg**, legs alternate.
* Jumping Jacks (A057), Clap Jacks (A059): one repetition = jump out and back in (two
  hops with flight phases).

Running-style legs are driven by joint angles and the body is anchored on the lowest foot
(:func:`~flag3d.synth.rig.anchor_feet`) with a small hop; the jacks stand on IK legs whose
ankle targets move out and in and leave the floor.

Example:
    >>> from flag3d.synth.activities import get_activity
    >>> get_activity("A058").convention
    'one left + right cycle of knee lifts'
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from flag3d.synth.activities.base import ActivitySpec, lean, register, upright_pose
from flag3d.synth.context import MotionContext
from flag3d.synth.pose import SIDES, Pose
from flag3d.synth.profiles import down_up, lerp, plateau, window
from flag3d.synth.rig import Motion, anchor_feet, planted_ankles, stand
from flag3d.synth.signals import JointView


def _cycle(ctx: MotionContext) -> dict:
    """Per-side activation of a left+right cycle (the first leg comes up first)."""
    a, b = window(ctx.phase, 0.0, 0.5), window(ctx.phase, 0.5, 1.0)
    first_left = ctx.first > 0
    return {"left": a if first_left else b, "right": b if first_left else a}


def _posture(ctx: MotionContext, j: int, good: tuple, bad: tuple) -> np.ndarray:
    """A posture fault held through the repetition, eased in and out at its ends."""
    return ctx.param(j, good=good, bad=bad) * plateau(ctx.phase, 0.0, 0.12, 0.88, 1.0)


def _finish(ctx: MotionContext, p: Pose, hop: np.ndarray) -> Motion:
    p.root_pos[:, 1] = 1.0
    pos, rot = p.fk(ctx.body)
    anchor_feet(ctx.body, pos, hop)
    return Motion(pos, rot)


def _arm_swing(p: Pose, ctx: MotionContext, w: dict, amp: ArrayLike,
               elbow: ArrayLike) -> None:
    """Arms swing opposite to the legs with bent elbows."""
    e = ctx.engage
    for side, other in (("left", "right"), ("right", "left")):
        p.shoulder(side, flex=amp * (w[other] - w[side]))
        p.elbow(side, np.asarray(elbow) * e)


# ------------------------------------------------------------------------ butt kicks
def butt_kicks(ctx: MotionContext) -> Motion:
    """Butt kicks: jog in place kicking the heels up to the glutes."""
    p = upright_pose(ctx)
    w = _cycle(ctx)
    kick = ctx.param(0, good=(125, 145), bad=(88, 70))
    thigh = ctx.param(1, good=(0, 8), bad=(34, 48))
    lean(p, 4.0 * ctx.engage + _posture(ctx, 2, (0, 4), (16, 26)))
    for side in SIDES:
        p.hip(side, flex=thigh * w[side])
        p.knee(side, 4.0 + kick * w[side])
        p.ankle(side, -25.0 * w[side])
    _arm_swing(p, ctx, w, 25.0, 85.0)
    hop = ctx.uniform(0.015, 0.035) * (w["left"] + w["right"])
    return _finish(ctx, p, hop)


def standing_butt_kick(ctx: MotionContext) -> Motion:
    """Standing alternate butt kick: one slow kick per repetition, legs alternate."""
    p = upright_pose(ctx)
    prof = down_up(ctx.phase, hold=0.1, down=0.45)
    kick = ctx.param(0, good=(125, 145), bad=(88, 70))
    thigh = ctx.param(1, good=(0, 8), bad=(34, 48))
    lean(p, _posture(ctx, 2, (0, 4), (16, 26)))
    for side, sgn in (("left", 1.0), ("right", -1.0)):
        w = np.where(ctx.side == sgn, prof, 0.0)
        p.hip(side, flex=thigh * w)
        p.knee(side, 3.0 + kick * w)
        p.ankle(side, -20.0 * w)
        p.shoulder(side, abd=20.0 * ctx.engage)
        p.elbow(side, 60.0 * ctx.engage)
    return _finish(ctx, p, np.zeros(ctx.T))


# ------------------------------------------------------------------------ high knees
def high_knee(ctx: MotionContext) -> Motion:
    """High knees: drive the knees up to hip height, arms pumping."""
    p = upright_pose(ctx)
    w = _cycle(ctx)
    lift = ctx.param(0, good=(80, 96), bad=(52, 42))
    lean(p, -_posture(ctx, 1, (0, 3), (13, 21)))
    drive = ctx.param(2, good=(42, 58), bad=(7, 2))
    for side in SIDES:
        p.hip(side, flex=lift * w[side])
        p.knee(side, 4.0 + (lift + 8.0) * w[side])
        p.ankle(side, -20.0 * w[side])
    _arm_swing(p, ctx, w, drive, 85.0)
    hop = ctx.uniform(0.02, 0.045) * (w["left"] + w["right"])
    return _finish(ctx, p, hop)


def run_in_place(ctx: MotionContext) -> Motion:
    """Run in place with arm swing: moderate knee lift, heels back, elbows at 90 deg."""
    p = upright_pose(ctx)
    w = _cycle(ctx)
    lift = ctx.param(0, good=(45, 62), bad=(19, 12))
    swing = ctx.param(1, good=(34, 48), bad=(6, 2))
    elbow = ctx.param(1, good=(80, 100), bad=(22, 8))
    lean(p, 5.0 * ctx.engage + _posture(ctx, 2, (0, 3), (17, 27)))
    for side in SIDES:
        p.hip(side, flex=lift * w[side])
        p.knee(side, 4.0 + (lift + 40.0) * w[side])
        p.ankle(side, -20.0 * w[side])
    _arm_swing(p, ctx, w, swing, elbow)
    hop = ctx.uniform(0.02, 0.04) * (w["left"] + w["right"])
    return _finish(ctx, p, hop)


# --------------------------------------------------------------------------- jacks
def _jacks(ctx: MotionContext, clap: bool) -> Motion:
    p = upright_pose(ctx)
    body, ph = ctx.body, ctx.phase
    s = body.seg
    out = plateau(ph, 0.02, 0.22, 0.52, 0.72)
    arm = plateau(ph, 0.0, 0.3, 0.45, 0.75)
    fly1, fly2 = np.clip((ph - 0.02) / 0.2, 0, 1), np.clip((ph - 0.52) / 0.2, 0, 1)
    hop = ctx.uniform(0.05, 0.1) * (np.sin(np.pi * fly1) + np.sin(np.pi * fly2))
    shoulder_half = s["collar_w"] + s["shoulder_w"]
    width = ctx.param(1, good=(1.45, 1.8), bad=(1.02, 0.88)) * shoulder_half
    elbow = 5.0 + ctx.param(2, good=(0, 6), bad=(38, 60)) * arm
    if clap:
        flex = ctx.param(0, good=(84, 98), bad=(58, 48))
        meet = np.degrees(np.arcsin(min(0.95, shoulder_half / body.arm)))
        for side in SIDES:
            p.shoulder(side, flex=flex * arm, hadd=meet * arm)
            p.elbow(side, elbow)
    else:
        abd = ctx.param(0, good=(165, 178), bad=(96, 84))
        for side in SIDES:
            p.shoulder(side, abd=abd * arm)
            p.elbow(side, elbow)
    knee = 5.0 + 18.0 * (window(ph, 0.2, 0.36) + window(ph, 0.7, 0.86))
    ank = planted_ankles(body, ctx.T, lerp(s["hip_w"], width, out))
    toes = 0.035 * (np.sin(np.pi * fly1) + np.sin(np.pi * fly2))
    for side in SIDES:
        ank[side][:, 1] += hop + toes
    pos, rot = stand(body, p, knee=knee, ankles=ank, toe_out=12.0)
    return Motion(pos, rot)


def jumping_jacks(ctx: MotionContext) -> Motion:
    """Jumping jacks: jump the feet wide while the arms go overhead, jump back in."""
    return _jacks(ctx, clap=False)


def clap_jacks(ctx: MotionContext) -> Motion:
    """Clap jacks: jump the feet wide while the straight arms come forward to clap."""
    return _jacks(ctx, clap=True)


# ------------------------------------------------------------------ primary signals
def _left_leg(v: JointView) -> np.ndarray:
    return v.leg_bend("left")


def _legs_sum(v: JointView) -> np.ndarray:
    return v.leg_bend("left") + v.leg_bend("right")


def _wrist_over_pelvis(v: JointView) -> np.ndarray:
    return 0.5 * (v.y("left_wrist") + v.y("right_wrist")) - v.y("pelvis")


for _spec in (
    ActivitySpec("A053", "Standing Alternate Butt Kick", standing_butt_kick, _legs_sum, 1.4,
                 "one kick of one leg; legs alternate", alternate=True),
    ActivitySpec("A055", "Butt Kicks", butt_kicks, _left_leg, 0.75,
                 "one left + right cycle of kicks", pause_scale=0.3),
    ActivitySpec("A057", "Jumping Jacks", jumping_jacks, _wrist_over_pelvis, 1.1,
                 "jump out with arms overhead and back in", pause_scale=0.4),
    ActivitySpec("A058", "High Knee", high_knee, _left_leg, 0.7,
                 "one left + right cycle of knee lifts", pause_scale=0.3),
    ActivitySpec("A059", "Clap Jacks", clap_jacks, _wrist_over_pelvis, 1.1,
                 "jump out with a clap in front and back in", pause_scale=0.4),
    ActivitySpec("A060", "Run In Place With Arm Swing", run_in_place, _left_leg, 0.75,
                 "one left + right cycle of running steps", pause_scale=0.3),
):
    register(_spec)
