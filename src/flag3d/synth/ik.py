"""Closed-form inverse kinematics for planted limbs (feet on the floor, hands on the mat).

:func:`two_bone_ik` places the middle joint (knee/elbow) of a two-bone limb so that the end
joint reaches a target, bending towards a *pole* direction; bone lengths stay exact (an
unreachable target is clamped along the root-target line).  :func:`foot_ball` puts the ball
of the foot on the floor when the ankle is close enough, else lets the foot point down.
:func:`apply_limb_ik` rewrites a limb inside a ``(T, 24, 3)`` position array.

Example:
    >>> import numpy as np
    >>> from flag3d.synth.ik import two_bone_ik
    >>> mid, end = two_bone_ik(np.zeros((1, 3)), np.array([[0.0, -0.6, 0.0]]), 0.4, 0.4,
    ...                        np.array([[0.0, 0.0, 1.0]]))
    >>> np.round(mid, 3).tolist(), np.round(end, 3).tolist()
    ([[0.0, -0.3, 0.265]], [[0.0, -0.6, 0.0]])
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from flag3d.synth.body import Body, J

_EPS = 1e-9


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), _EPS)


def two_bone_ik(root: np.ndarray, target: np.ndarray, l1: float, l2: float,
                pole: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Middle and end joint positions ``(T, 3)`` of a limb from ``root`` towards ``target``.

    The limb bends in the plane spanned by the root-target line and ``pole`` (the
    direction the knee or elbow points to).  The reach is clamped to
    ``[|l1 - l2| + 1 mm, 0.9995 (l1 + l2)]``.
    """
    d = target - root
    dist = np.linalg.norm(d, axis=-1, keepdims=True)
    u = d / np.maximum(dist, _EPS)
    dist = np.clip(dist, abs(l1 - l2) + 1e-3, 0.9995 * (l1 + l2))
    end = root + u * dist
    cos_a = np.clip((l1 * l1 + dist * dist - l2 * l2) / (2.0 * l1 * dist), -1.0, 1.0)
    p = pole - np.sum(pole * u, axis=-1, keepdims=True) * u
    pn = np.linalg.norm(p, axis=-1, keepdims=True)
    bad = pn[:, 0] < 1e-6
    if bad.any():  # a pole parallel to the limb gives no plane: any perpendicular
        alt = np.cross(u[bad], np.array([1.0, 0.0, 0.0]))
        small = np.linalg.norm(alt, axis=-1) < 1e-3
        alt[small] = np.cross(u[bad][small], np.array([0.0, 0.0, 1.0]))
        p[bad] = alt
        pn = np.linalg.norm(p, axis=-1, keepdims=True)
    p = p / pn
    mid = root + l1 * (cos_a * u + np.sqrt(1.0 - cos_a * cos_a) * p)
    return mid, end


def foot_ball(ankle: np.ndarray, direction: np.ndarray, body: Body,
              floor: float = 0.0, max_down_deg: float = 75.0) -> np.ndarray:
    """Ball of the foot ``(T, 3)`` for an ankle position and a horizontal toe direction.

    The foot keeps its rest length; the ball rests on the floor (its rest height above
    ``floor``) while the ankle is low enough, otherwise the toes point down by at most
    ``max_down_deg``.  The foot never points above its rest slope (flat foot).
    """
    fv = body.foot_vec
    length = float(np.hypot(fv[1], fv[2]))
    rest_drop = -float(fv[1])
    ball_h = body.seg["ankle_h"] - rest_drop  # rest height of the ball above the floor
    drop = ankle[:, 1] - (floor + ball_h)
    drop = np.clip(drop, rest_drop, length * np.sin(np.radians(max_down_deg)))
    horiz = np.sqrt(np.maximum(length * length - drop * drop, 0.0))
    dirh = direction.copy()
    dirh[:, 1] = 0.0
    dirh = _unit(dirh)
    return ankle + dirh * horiz[:, None] - np.array([0.0, 1.0, 0.0]) * drop[:, None]


def apply_limb_ik(pos: np.ndarray, body: Body, side: str, limb: str, target: np.ndarray,
                  pole: np.ndarray, toe_dir: Optional[np.ndarray] = None,
                  floor: float = 0.0) -> None:
    """Rewrite one limb of ``pos`` (in place) so its end reaches ``target``.

    Args:
        side: ``"left"`` or ``"right"``.
        limb: ``"leg"`` (hip-knee-ankle, then the foot from ``toe_dir``) or ``"arm"``
            (shoulder-elbow-wrist).
        target: ``(T, 3)`` ankle or wrist target.
        pole: ``(T, 3)`` or ``(3,)`` direction the knee/elbow should point to.
        toe_dir: horizontal toe direction for legs (default: keep the FK direction).
    """
    pole = np.broadcast_to(pole, target.shape)
    if limb == "leg":
        a, b, c = J[f"{side}_hip"], J[f"{side}_knee"], J[f"{side}_ankle"]
        l1, l2 = body.seg["thigh"], body.seg["shank"]
    else:
        a, b, c = J[f"{side}_shoulder"], J[f"{side}_elbow"], J[f"{side}_wrist"]
        l1, l2 = body.seg["upper_arm"], body.seg["forearm"]
    mid, end = two_bone_ik(pos[:, a], target, l1, l2, pole)
    pos[:, b] = mid
    pos[:, c] = end
    if limb == "leg":
        f = J[f"{side}_foot"]
        d = toe_dir if toe_dir is not None else pos[:, f] - pos[:, c]
        pos[:, f] = foot_ball(end, np.broadcast_to(d, end.shape).copy(), body, floor)
