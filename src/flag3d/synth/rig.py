"""Shared rigs that turn a :class:`~flag3d.synth.pose.Pose` into joint positions.

* :func:`stand` -- standing on planted feet: the pelvis height follows from the requested
  knee flexion and the foot placement, the legs are solved by IK so the ankles stay put
  (squats, lunges, curls, raises ...).  Knee *poles* (where the knees point) carry the
  toe-out and the knee-valgus faults.
* :func:`anchor_feet` -- legs driven by joint angles (running, kicks); the whole body is
  shifted vertically so the lowest foot touches the floor, plus an optional flight height.
* :class:`Motion` -- the output of a motion program.

Example:
    >>> import numpy as np
    >>> from flag3d.synth.body import make_body, J
    >>> from flag3d.synth.pose import Pose
    >>> from flag3d.synth.rig import stand, knee_reach
    >>> body = make_body(1.75)
    >>> pos, _ = stand(body, Pose(2), knee=np.array([5.0, 90.0]))
    >>> np.round(pos[:, J["left_ankle"], 1], 4).tolist()  # the ankles stay on the floor
    [0.0683, 0.0683]
    >>> round(float(knee_reach(body, 0.0) / body.leg), 4)
    1.0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Union

import numpy as np

from flag3d.synth.body import Body, J
from flag3d.synth.ik import apply_limb_ik
from flag3d.synth.pose import SIDES, Pose, side_sign

Num = Union[float, np.ndarray]
PerSide = Union[Num, Mapping[str, Num]]


@dataclass
class Motion:
    """Output of a motion program.

    Attributes:
        pos: ``(T, 24, 3)`` joint positions (``flag3d24``).
        rot: ``(T, 24, 3, 3)`` global joint rotations from FK (the neck's is the head's).
        hand_dir: optional per side ``(T, 3)`` direction of the hand (default: forearm).
        palm: optional per side ``(T, 3)`` thumb-side direction of the hand.
    """

    pos: np.ndarray
    rot: np.ndarray
    hand_dir: Dict[str, np.ndarray] = field(default_factory=dict)
    palm: Dict[str, np.ndarray] = field(default_factory=dict)


def _side(v: PerSide, side: str) -> Num:
    return v[side] if isinstance(v, Mapping) else v


def knee_reach(body: Body, knee_deg: Num) -> np.ndarray:
    """Hip-to-ankle distance of a leg with the knee flexed by ``knee_deg``."""
    l1, l2 = body.seg["thigh"], body.seg["shank"]
    k = np.radians(knee_deg)
    return np.sqrt(l1 * l1 + l2 * l2 + 2.0 * l1 * l2 * np.cos(k))


def heading(deg: Num) -> np.ndarray:
    """Horizontal unit vectors ``(..., 3)`` turned ``deg`` from +z towards +x."""
    a = np.radians(np.asarray(deg, dtype=float))
    return np.stack([np.sin(a), np.zeros_like(a), np.cos(a)], axis=-1)


def planted_ankles(body: Body, t: int, stance: Optional[PerSide] = None,
                   z: PerSide = 0.0) -> Dict[str, np.ndarray]:
    """Ankle positions ``(T, 3)`` of flat feet ``stance`` metres from the midline."""
    out = {}
    for side in SIDES:
        w = _side(stance, side) if stance is not None else body.seg["hip_w"]
        a = np.zeros((t, 3))
        a[:, 0] = side_sign(side) * np.asarray(w)
        a[:, 1] = body.seg["ankle_h"]
        a[:, 2] = _side(z, side)
        out[side] = a
    return out


def stand(body: Body, pose: Pose, knee: PerSide = 4.0, stance: Optional[PerSide] = None,
          toe_out: PerSide = 8.0, knee_out: PerSide = 0.0,
          ankles: Optional[Dict[str, np.ndarray]] = None,
          free: Optional[Dict[str, np.ndarray]] = None,
          pelvis_y: Optional[np.ndarray] = None, pole_up: PerSide = 0.0) -> tuple:
    """Positions and rotations of a pose standing on IK legs.

    Args:
        body: the skeleton.
        pose: angles and root; ``pose.root_pos`` x and z are used as given, y is computed.
        knee: knee flexion in degrees that fixes the pelvis height (per side or both).
        stance: half distance between the ankles (default: hip width, feet under hips).
        toe_out: toe-out angle in degrees (feet and knee direction turn outwards).
        knee_out: extra outward (+) or inward (-, valgus) turn of the knee direction.
        ankles: explicit ankle targets per side (default: planted flat feet).
        free: per side weight > 0 where the leg does not carry the body (a lifted leg).
        pelvis_y: explicit pelvis height (then ``knee`` is not used).
        pole_up: upward tilt of the knee direction in degrees.
    Returns:
        ``(pos, rot)`` with the legs solved.
    """
    t = pose.t
    if ankles is None:
        ankles = planted_ankles(body, t, stance)
    if pelvis_y is None:
        rmat = pose.root_matrix()
        cands = []
        for side in SIDES:
            hoff = rmat @ body.offsets[J[f"{side}_hip"]]
            a = ankles[side]
            dx = pose.root_pos[:, 0] + hoff[:, 0] - a[:, 0]
            dz = pose.root_pos[:, 2] + hoff[:, 2] - a[:, 2]
            reach = knee_reach(body, _side(knee, side)) * np.ones(t)
            dy = np.sqrt(np.maximum(reach * reach - dx * dx - dz * dz, (0.3 * reach) ** 2))
            y = a[:, 1] + dy - hoff[:, 1]
            if free is not None and side in free:
                y = np.where(np.asarray(free[side]) > 0, np.inf, y)
            cands.append(y)
        pelvis_y = np.minimum(cands[0], cands[1])
        both_free = ~np.isfinite(pelvis_y)
        if both_free.any():  # never both legs free: fall back to the lower requirement
            pelvis_y = np.where(both_free, 0.0, pelvis_y)
    pose.root_pos[:, 1] = pelvis_y
    pos, rot = pose.fk(body)
    for side in SIDES:
        s = side_sign(side)
        toe = heading(s * np.asarray(_side(toe_out, side)) * np.ones(t))
        pole = heading(s * (np.asarray(_side(toe_out, side)) + np.asarray(_side(knee_out, side)))
                       * np.ones(t))
        up = np.radians(np.asarray(_side(pole_up, side)) * np.ones(t))
        pole = pole * np.cos(up)[:, None] + np.array([0.0, 1.0, 0.0]) * np.sin(up)[:, None]
        apply_limb_ik(pos, body, side, "leg", ankles[side], pole, toe)
    return pos, rot


def anchor_feet(body: Body, pos: np.ndarray, flight: Optional[np.ndarray] = None) -> None:
    """Shift ``pos`` (in place) so the lowest ankle or ball rests on the floor (+ flight)."""
    ank_h = body.seg["ankle_h"]
    ball_h = ank_h + float(body.foot_vec[1])
    low = np.minimum.reduce([
        pos[:, J["left_ankle"], 1] - ank_h, pos[:, J["right_ankle"], 1] - ank_h,
        pos[:, J["left_foot"], 1] - ball_h, pos[:, J["right_foot"], 1] - ball_h,
    ])
    shift = -low if flight is None else flight - low
    pos[:, :, 1] += shift[:, None]
