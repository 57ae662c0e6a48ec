"""Push-ups (on the toes, A006) and kneeling push-ups (A002), face down on the floor.

The rest pose of the idle parts is on all fours (hands under the shoulders, knees on the
floor); the transition straightens the body into the start position (the hands move with
the shoulders).  The body is a planar chain around a pivot on the floor (the ankles with
the toes tucked, or the knees): for every frame the shoulder height needed by the
requested elbow angle (with the planted hands) is solved in closed form for the trunk
angle, then the arms reach the planted hands by IK.  Head towards +z.

The primary signal is the mean elbow flexion: near 0 at the top and in the rest pose, one
peak at the bottom of every push-up.

Example:
    >>> from flag3d.synth.activities import get_activity
    >>> get_activity("A006").floor, get_activity("A002").convention
    (True, 'one push-up down and up')
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from flag3d.synth.activities.base import ActivitySpec, add_breathing, register
from flag3d.synth.activities.floor import rx_y, solve_angle
from flag3d.synth.body import J, euler_matrices
from flag3d.synth.context import MotionContext
from flag3d.synth.ik import apply_limb_ik
from flag3d.synth.pose import SIDES, Pose, side_sign
from flag3d.synth.profiles import down_up, lerp, plateau
from flag3d.synth.rig import Motion
from flag3d.synth.signals import JointView


def _reach(a: float, b: float, elbow_deg: ArrayLike) -> np.ndarray:
    return np.sqrt(a * a + b * b - 2 * a * b * np.cos(np.radians(elbow_deg)))


def _pushup(ctx: MotionContext, kneeling: bool) -> Motion:
    body, ph, e = ctx.body, ctx.phase, ctx.engage
    s, height = body.seg, body.height
    d = down_up(ph, hold=0.06, down=0.5)
    elbow = lerp(168.0, ctx.param(1, good=(75, 92), bad=(116, 126)), d)
    sgn = np.where(ctx.vary(0.0, 1.0) < 0.3, 1.0, -1.0)  # faulty: 30 % pike, 70 % sag
    hip = sgn * ctx.param(0, good=(0, 4), bad=(14, 24)) * plateau(ph, 0, 0.12, 0.88, 1)
    flare = np.radians(ctx.param(2, good=(35, 50), bad=(78, 90)))

    # Body-frame pose: hips and knees from all fours (rest) to a straight line (start).
    p = Pose(ctx.T)
    add_breathing(p, ctx, 0.4)
    p.neck(flex=10.0 * (1.0 - e) + 4.0)
    for side in SIDES:
        p.hip(side, flex=85.0 * (1.0 - e) + hip)
        if not kneeling:
            p.knee(side, 95.0 * (1.0 - e))
    pos, rot = p.fk(body)
    piv = "knee" if kneeling else "ankle"
    pivot = 0.5 * (pos[:, J[f"left_{piv}"]] + pos[:, J[f"right_{piv}"]])
    w = 0.5 * (pos[:, J["left_shoulder"]] + pos[:, J["right_shoulder"]]) - pivot
    foot_rx = 80.0  # toes tucked: the foot points into the floor
    piv_y = 0.03 * height if kneeling else 0.012 * height - float(rx_y(foot_rx, body.foot_vec))

    # Hands: wider than the shoulders, a little ahead of them in the start position.
    a, b = s["upper_arm"], s["forearm"]
    sh_half = s["collar_w"] + s["shoulder_w"]
    dx = ctx.uniform(0.1, 0.18) * height / 1.75
    ahead = ctx.uniform(0.0, 0.06)
    wrist_h = 0.02 * height
    y_top = wrist_h + float(np.sqrt(_reach(a, b, 168.0) ** 2 - dx * dx - ahead * ahead))
    top = solve_angle(w[:, 1], -w[:, 2], y_top - piv_y)
    z_top = w[:, 1] * np.cos(top) + w[:, 2] * np.sin(top)
    started = e >= 1.0
    hand_z = z_top[started][0] + ahead if started.any() else 0.0
    y_sh = np.full(ctx.T, y_top)
    for _ in range(3):  # shoulders move forward as the body pivots down: fixed point
        theta = solve_angle(w[:, 1], -w[:, 2], y_sh - piv_y)
        z_sh = w[:, 1] * np.cos(theta) + w[:, 2] * np.sin(theta)
        dz = np.where(started, z_sh - hand_z, -ahead)
        y_sh = wrist_h + np.sqrt(np.maximum(_reach(a, b, elbow) ** 2 - dx * dx - dz * dz, 1e-4))
    theta = solve_angle(w[:, 1], -w[:, 2], y_sh - piv_y)
    z_sh = w[:, 1] * np.cos(theta) + w[:, 2] * np.sin(theta)

    # Place the body: pitch forward by 90 - theta about the pivot.
    ang = np.zeros((ctx.T, 3))
    ang[:, 0] = np.pi / 2 - theta
    rmat = euler_matrices(ang)
    shift = np.array([0.0, piv_y, 0.0]) - np.einsum("tab,tb->ta", rmat, pivot)
    pos = np.einsum("tab,tvb->tva", rmat, pos) + shift[:, None, :]
    rot = rmat[:, None] @ rot
    fv = body.foot_vec
    for side in SIDES:
        if kneeling:  # shins and feet flat on the floor behind the knees
            knee = pos[:, J[f"{side}_knee"]]
            ankle = knee - np.array([0.0, 0.0, s["shank"]])
            length = float(np.hypot(fv[1], fv[2]))
            drop = min(float(knee[0, 1]) - 0.009 * height, 0.5 * length)
            pos[:, J[f"{side}_ankle"]] = ankle
            pos[:, J[f"{side}_foot"]] = ankle - np.array([0.0, drop,
                                                          np.sqrt(length ** 2 - drop ** 2)])
        else:
            pos[:, J[f"{side}_foot"]] = pos[:, J[f"{side}_ankle"]] + \
                euler_matrices(np.array([np.radians(foot_rx), 0.0, 0.0])) @ fv

    # Arms: the hands move with the shoulders until the start position, then stay planted.
    to_feet = -np.stack([0.0 * theta, np.sin(theta), np.cos(theta)], axis=1)
    hz = np.where(started, hand_z, z_sh + ahead)
    hand_dir, palm = {}, {}
    for side in SIDES:
        sx = side_sign(side)
        target = np.stack([np.full(ctx.T, sx * (sh_half + dx)), wrist_h + 0.0 * hz, hz], axis=1)
        pole = np.cos(flare)[:, None] * to_feet + np.sin(flare)[:, None] * np.array([sx, 0, 0])
        apply_limb_ik(pos, body, side, "arm", target, pole)
        hand_dir[side] = np.tile([0.0, 0.0, 1.0], (ctx.T, 1))
        palm[side] = np.tile([-sx, 0.0, 0.0], (ctx.T, 1))
    return Motion(pos, rot, hand_dir=hand_dir, palm=palm)


def pushups(ctx: MotionContext) -> Motion:
    """Push-ups on the toes."""
    return _pushup(ctx, kneeling=False)


def kneeling_pushups(ctx: MotionContext) -> Motion:
    """Push-ups with the knees on the floor, shins flat behind."""
    return _pushup(ctx, kneeling=True)


def _elbows(v: JointView) -> np.ndarray:
    return 0.5 * (v.elbow_flexion("left") + v.elbow_flexion("right"))


for _spec in (
    ActivitySpec("A002", "Kneeling Push-ups", kneeling_pushups, _elbows, 2.0,
                 "one push-up down and up", floor=True),
    ActivitySpec("A006", "Push-ups", pushups, _elbows, 2.0,
                 "one push-up down and up", floor=True),
):
    register(_spec)
