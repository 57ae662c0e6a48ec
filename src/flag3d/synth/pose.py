"""Anatomical joint angles on top of the FK Euler angles of :mod:`flag3d.synth.body`.

A :class:`Pose` holds, for ``T`` frames, the root position and orientation and the local
angles of every joint.  Its methods *add* anatomically named angles in degrees (per-frame
arrays or scalars), so a motion program can stack a base posture, the repetition movement,
a fault and postural sway.  Sign conventions (all in the parent segment's frame):

==============  ========================================================================
method          positive means
==============  ========================================================================
``spine``       ``flex`` forward, ``lat`` bend to the left, ``twist`` turn to the left
``neck``        ``flex`` chin down, ``lat`` tilt left, ``turn`` look left
``collar``      ``elev`` shoulder up, ``protract`` shoulder forward
``shoulder``    ``flex`` arm forward/up, ``abd`` arm out to the side, ``hadd`` horizontal
                adduction (an arm held out to the side swings forward)
``elbow``       ``flex`` forearm towards the upper arm
``hip``         ``flex`` thigh forward/up, ``abd`` thigh out, ``rot`` internal rotation
``knee``        ``flex`` heel towards the buttock
``ankle``       ``dorsi`` toes up (negative: plantar flexion, heel up)
``root``        ``pitch`` tip forward (+90 lying face down), ``yaw`` turn left, ``roll``
                tilt to the right side (left hip up)
==============  ========================================================================

Example:
    >>> import numpy as np
    >>> from flag3d.synth.body import make_body, J
    >>> from flag3d.synth.pose import Pose
    >>> p = Pose(1)
    >>> p.shoulder("left", abd=90.0)
    >>> pos, _ = p.fk(make_body(1.75))
    >>> d = pos[0, J["left_wrist"]] - pos[0, J["left_shoulder"]]
    >>> np.round(d / np.linalg.norm(d), 3).tolist()
    [1.0, 0.0, 0.0]
"""

from __future__ import annotations

from typing import Tuple, Union

import numpy as np

from flag3d.synth.body import NJ, Body, J, forward_kinematics, root_matrices

Num = Union[float, np.ndarray]
_D2R = np.pi / 180.0
SIDES = ("left", "right")


def side_sign(side: str) -> float:
    """+1 for ``"left"``, -1 for ``"right"`` (the sign of the side's x coordinate)."""
    return 1.0 if side == "left" else -1.0


class Pose:
    """Root placement and local joint angles (radians) for ``T`` frames."""

    def __init__(self, t: int) -> None:
        self.t = t
        self.ang = np.zeros((t, NJ, 3))
        self.root_pos = np.zeros((t, 3))
        self.root_ang = np.zeros((t, 3))  # pitch, yaw, roll (radians)

    def _add(self, joint: str, axis: int, deg: Num) -> None:
        if np.ndim(deg) == 0 and deg == 0:
            return
        self.ang[:, J[joint], axis] += np.asarray(deg, dtype=float) * _D2R

    # ------------------------------------------------------------------ trunk and head
    def root(self, pitch: Num = 0.0, yaw: Num = 0.0, roll: Num = 0.0) -> None:
        """Add root orientation (degrees)."""
        for axis, v in ((0, pitch), (1, yaw), (2, roll)):
            if not (np.ndim(v) == 0 and v == 0):
                self.root_ang[:, axis] += np.asarray(v, dtype=float) * _D2R

    def spine(self, flex: Num = 0.0, lat: Num = 0.0, twist: Num = 0.0,
              weights: Tuple[float, float, float, float] = (0.3, 0.3, 0.25, 0.15)) -> None:
        """Distribute a trunk movement over spine1, spine2, spine3 and thorax."""
        for name, w in zip(("spine1", "spine2", "spine3", "thorax"), weights):
            self._add(name, 0, np.multiply(flex, w))
            self._add(name, 2, np.multiply(lat, -w))
            self._add(name, 1, np.multiply(twist, w))

    def spine_curve(self, flex: Num) -> None:
        """Round the back: flexion concentrated in the upper spine (spine2, spine3, thorax)."""
        for name, w in (("spine1", 0.15), ("spine2", 0.3), ("spine3", 0.35), ("thorax", 0.2)):
            self._add(name, 0, np.multiply(flex, w))

    def neck(self, flex: Num = 0.0, lat: Num = 0.0, turn: Num = 0.0) -> None:
        """Head and neck movement (the head moves rigidly with the neck joint)."""
        self._add("neck", 0, flex)
        self._add("neck", 2, np.multiply(lat, -1.0))
        self._add("neck", 1, turn)

    # ----------------------------------------------------------------------- arms
    def collar(self, side: str, elev: Num = 0.0, protract: Num = 0.0) -> None:
        """Shoulder girdle; the arm is counter-rotated so it keeps hanging."""
        s = side_sign(side)
        self._add(f"{side}_collar", 2, np.multiply(elev, s))
        self._add(f"{side}_collar", 1, np.multiply(protract, -s))
        self._add(f"{side}_shoulder", 2, np.multiply(elev, -s))
        self._add(f"{side}_shoulder", 1, np.multiply(protract, s))

    def shoulder(self, side: str, flex: Num = 0.0, abd: Num = 0.0, hadd: Num = 0.0) -> None:
        """Arm elevation: flexion (forward), abduction (sideways), horizontal adduction."""
        s = side_sign(side)
        self._add(f"{side}_shoulder", 0, np.multiply(flex, -1.0))
        self._add(f"{side}_shoulder", 2, np.multiply(abd, s))
        self._add(f"{side}_shoulder", 1, np.multiply(hadd, -s))

    def elbow(self, side: str, flex: Num) -> None:
        """Elbow flexion (the forearm bends forward from a hanging arm)."""
        self._add(f"{side}_elbow", 0, np.multiply(flex, -1.0))

    # ----------------------------------------------------------------------- legs
    def hip(self, side: str, flex: Num = 0.0, abd: Num = 0.0, rot: Num = 0.0) -> None:
        """Thigh movement relative to the pelvis."""
        s = side_sign(side)
        self._add(f"{side}_hip", 0, np.multiply(flex, -1.0))
        self._add(f"{side}_hip", 2, np.multiply(abd, s))
        self._add(f"{side}_hip", 1, np.multiply(rot, -s))

    def knee(self, side: str, flex: Num) -> None:
        """Knee flexion."""
        self._add(f"{side}_knee", 0, flex)

    def ankle(self, side: str, dorsi: Num) -> None:
        """Ankle dorsiflexion (negative = plantar flexion)."""
        self._add(f"{side}_ankle", 0, np.multiply(dorsi, -1.0))

    # ----------------------------------------------------------------------- FK
    def fk(self, body: Body) -> Tuple[np.ndarray, np.ndarray]:
        """Joint positions and global rotations of this pose."""
        return forward_kinematics(body, self.root_pos, self.root_ang, self.ang)

    def root_matrix(self) -> np.ndarray:
        """``(T, 3, 3)`` root orientation."""
        return root_matrices(self.root_ang)
