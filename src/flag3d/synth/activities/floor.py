"""Floor activities lying on the back: shoulder bridge and sit-ups (push-ups: ``pushups``).

The body really lies on the floor (``y = 0``).  Each program solves a planar body line in
closed form: a pivot stays on the floor (the upper back for the bridge, the hips for
sit-ups), the trunk angle follows from the movement, and the feet are planted by IK.  The
rest pose in the idle parts is lying on the back with bent knees.  Orientation: face up,
the head towards -z and the feet towards +z.

Example:
    >>> from flag3d.synth.activities import get_activity
    >>> get_activity("A036").floor
    True
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
from numpy.typing import ArrayLike

from flag3d.synth.activities.base import ActivitySpec, add_breathing, register
from flag3d.synth.body import Body, J, forward_kinematics
from flag3d.synth.context import MotionContext
from flag3d.synth.ik import apply_limb_ik
from flag3d.synth.pose import SIDES, Pose, side_sign
from flag3d.synth.profiles import down_up, lerp, plateau
from flag3d.synth.rig import Motion, knee_reach
from flag3d.synth.signals import JointView


def trunk_vector(body: Body) -> Tuple[float, float, float]:
    """Rest hip-centre -> shoulder-centre vector (y, z) in the body frame, and hip drop."""
    z = np.zeros((1, 3))
    pos, _ = forward_kinematics(body, z, z, np.zeros((1, 24, 3)))
    hc = 0.5 * (pos[0, J["left_hip"]] + pos[0, J["right_hip"]])
    sc = 0.5 * (pos[0, J["left_shoulder"]] + pos[0, J["right_shoulder"]])
    v = sc - hc
    return float(v[1]), float(v[2]), float(-hc[1])


def solve_angle(p: ArrayLike, q: ArrayLike, r: ArrayLike) -> np.ndarray:
    """``theta`` (radians) with ``p sin(theta) + q cos(theta) = r`` (the small root)."""
    rad = np.hypot(p, q)
    return np.arcsin(np.clip(np.asarray(r) / rad, -1.0, 1.0)) - np.arctan2(q, p)


def rx_y(deg: ArrayLike, vec: np.ndarray) -> np.ndarray:
    """y component of ``Rx(deg) @ vec``."""
    a = np.radians(deg)
    return vec[1] * np.cos(a) - vec[2] * np.sin(a)


# --------------------------------------------------------------------------- bridge
def bridge(ctx: MotionContext) -> Motion:
    """Shoulder bridge: lying on the back, feet planted, lift the hips in line."""
    body, ph = ctx.body, ctx.phase
    s, h_ = body.seg, body.height
    p = Pose(ctx.T)
    add_breathing(p, ctx, 0.4)
    vy, vz, _ = trunk_vector(body)
    lt, ls = s["thigh"], s["shank"]
    sh_y = 0.04 * h_
    inline = float(solve_angle(np.array(vy + lt), np.array(-vz),
                                np.array(s["ankle_h"] + 0.996 * ls - sh_y)))
    knee_z = (vy + lt) * np.cos(inline) + vz * np.sin(inline)
    feet_z = knee_z + ls * np.sin(np.radians(5.0))
    d = down_up(ph, hold=0.15, down=0.45)
    frac = ctx.param(0, good=(0.95, 1.05), bad=(0.58, 0.45))
    theta = lerp(np.radians(1.5), inline * frac, d)
    th = np.degrees(theta)
    cave = ctx.param(1, good=(0, 4), bad=(15, 21)) * d
    roll = ctx.param(2, good=(0, 1.5), bad=(10, 16)) * d
    roll = roll * np.where(ctx.vary(0.0, 1.0) < 0.5, 1.0, -1.0)
    p.root(pitch=-90.0 - th, roll=roll)
    p.spine(twist=roll)  # only the pelvis rolls; the shoulders stay flat on the floor
    hip_c = np.stack([np.zeros(ctx.T), sh_y + vy * np.sin(theta) - vz * np.cos(theta),
                      vy * np.cos(theta) + vz * np.sin(theta)], axis=1)
    p.root_pos[:] = hip_c + s["hip_up"] * np.stack([0 * theta, -np.sin(theta),
                                                   -np.cos(theta)], axis=1)
    for side in SIDES:
        p.shoulder(side, flex=-th, abd=12.0)
        p.elbow(side, 5.0)
    p.neck(flex=th)
    pos, rot = p.fk(body)
    for side in SIDES:
        sx = side_sign(side)
        c = np.radians(cave)[:, None]
        pole = np.cos(c) * np.array([0.0, 1.0, 0.0]) + np.sin(c) * np.array([-sx, 0.0, 0.0])
        target = np.tile([sx * s["hip_w"] * 1.1, s["ankle_h"], feet_z], (ctx.T, 1))
        apply_limb_ik(pos, body, side, "leg", target, pole, np.array([0.0, 0.0, 1.0]))
    return Motion(pos, rot)


# ------------------------------------------------------------------------- sit-ups
def situps(ctx: MotionContext) -> Motion:
    """Sit-ups: knees bent, feet flat, hands behind the head; the trunk rises to upright."""
    body, ph = ctx.body, ctx.phase
    s, h_ = body.seg, body.height
    p = Pose(ctx.T)
    add_breathing(p, ctx, 0.4)
    d = down_up(ph, hold=0.06, down=0.5)
    top = ctx.param(0, good=(68, 82), bad=(40, 30))
    theta = np.radians(top * d)
    slide = ctx.param(1, good=(0, 0.02), bad=(0.15, 0.21)) * plateau(ph, 0, 0.25, 0.75, 1)
    neck = ctx.param(2, good=(0, 6), bad=(30, 42)) * d
    p.root(pitch=-90.0 + np.degrees(theta))
    p.neck(flex=neck)
    hip_y = 0.05 * h_
    hip_c = np.stack([np.zeros(ctx.T), np.full(ctx.T, hip_y), np.zeros(ctx.T)], axis=1)
    p.root_pos[:] = hip_c + s["hip_up"] * np.stack([0 * theta, np.sin(theta),
                                                   -np.cos(theta)], axis=1)
    pos, rot = p.fk(body)
    r90 = float(knee_reach(body, 90.0))
    feet_z = np.sqrt(r90 ** 2 - (hip_y - s["ankle_h"]) ** 2) + slide
    head, g_neck, g_chest = pos[:, J["head"]], rot[:, J["neck"]], rot[:, J["thorax"]]
    hand_dir, palm = {}, {}
    for side in SIDES:
        sx = side_sign(side)
        target = np.stack([sx * s["hip_w"] * 1.2 + 0 * feet_z, np.full(ctx.T, s["ankle_h"]),
                           feet_z], axis=1)
        apply_limb_ik(pos, body, side, "leg", target, np.array([0.0, 1.0, 0.0]),
                      np.array([0.0, 0.0, 1.0]))
        behind = head + g_neck @ (np.array([sx * 0.035, 0.0, -0.05]) * h_)
        apply_limb_ik(pos, body, side, "arm", behind, g_chest @ np.array([sx, 0.0, 0.3]))
        hand_dir[side] = g_neck @ np.array([-sx, 0.3, 0.0])  # fingers interlaced behind
        palm[side] = g_neck @ np.array([0.0, -1.0, 0.0])  # thumbs down towards the neck
    return Motion(pos, rot, hand_dir=hand_dir, palm=palm)


# ------------------------------------------------------------------ primary signals
def _shoulder_height(v: JointView) -> np.ndarray:
    return 0.5 * (v.y("left_shoulder") + v.y("right_shoulder"))


def _pelvis_height(v: JointView) -> np.ndarray:
    return v.y("pelvis")


for _spec in (
    ActivitySpec("A036", "Shoulder Bridge", bridge, _pelvis_height, 2.8,
                 "hips up, hold, down", floor=True),
    ActivitySpec("A042", "Sit-ups", situps, _shoulder_height, 2.6,
                 "trunk up to sitting and back down", floor=True),
):
    register(_spec)
