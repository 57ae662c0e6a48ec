"""Kinematic body of the generator: ``flag3d24`` skeleton, bone lengths and forward kinematics.

Frame (body and world): **y up, metres, the person initially facing +z, the person's left
side at +x** (right-handed, the SMPL convention); the floor is the plane ``y = 0``.

A :class:`Body` holds the rest-pose offset of every ``flag3d24`` joint from its parent
(standing straight, arms hanging, palms in).  Lengths come from anthropometric
proportions of the standing height (Winter's segment fractions: thigh 0.245 H, shank
0.246 H, upper arm 0.186 H, forearm 0.146 H, shoulder height 0.818 H, ...), with a few
percent of per-segment variation per subject; left and right are always equal.

Joint rotations are Euler angles ``(rx, ry, rz)`` in the parent's frame composed as
``R = Ry(ry) @ Rz(rz) @ Rx(rx)``; :mod:`flag3d.synth.pose` gives them anatomical names
(flexion, abduction, ...).  :func:`forward_kinematics` is vectorised over frames.

Example:
    >>> import numpy as np
    >>> from flag3d.synth.body import sample_body, forward_kinematics, J
    >>> body = sample_body(np.random.default_rng(0), height=1.75, variation=0.0)
    >>> pos, rot = forward_kinematics(body, np.zeros((1, 3)), np.zeros((1, 3)),
    ...                               np.zeros((1, 24, 3)))
    >>> round(float(pos[0, J["head_top"], 1] - pos[0, J["left_foot"], 1]), 3)
    1.726
    >>> round(float(np.linalg.norm(pos[0, J["left_elbow"]] - pos[0, J["left_shoulder"]])), 4)
    0.3255
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import numpy as np

from flag3d.skeleton.layouts import get_layout

LAYOUT = get_layout("flag3d24")
#: joint name -> index in the ``flag3d24`` layout.
J: Dict[str, int] = {name: i for i, name in enumerate(LAYOUT.joints)}
PARENTS = np.asarray(LAYOUT.parents)
NJ = LAYOUT.num_joints

# FK visits joints in index order, which needs every parent before its children.
assert all(PARENTS[j] < j for j in range(1, NJ)), "flag3d24 joints are not in tree order"
# Joints whose rotation moves a child (all but the root and the leaves).
_INNER = np.array([j for j in range(1, NJ) if (PARENTS == j).any()])

#: Segment lengths as fractions of the standing height (Winter 2009, Drillis & Contini).
PROPORTIONS: Dict[str, float] = {
    "ankle_h": 0.039,    # ankle joint above the floor
    "foot_fwd": 0.110,   # ankle -> ball of the foot, forward
    "foot_down": 0.030,  # ankle -> ball of the foot, down
    "shank": 0.246, "thigh": 0.245,
    "hip_w": 0.052, "hip_up": 0.052,  # hip joint from the pelvis joint: lateral, below
    "spine1": 0.060, "spine2": 0.058, "spine3": 0.055, "thorax": 0.047, "neck": 0.045,
    "head_up": 0.060, "head_fwd": 0.025, "top_up": 0.148, "top_fwd": -0.005,
    "collar_w": 0.028, "collar_up": 0.005, "shoulder_w": 0.101, "shoulder_up": 0.010,
    "upper_arm": 0.186, "forearm": 0.146, "hand": 0.108,
}

# Which variation factor scales which proportion (left/right share one factor).
_GROUPS: Dict[str, Tuple[str, ...]] = {
    "thigh": ("thigh",), "shank": ("shank",), "foot": ("foot_fwd", "foot_down", "ankle_h"),
    "trunk": ("spine1", "spine2", "spine3", "thorax"), "neck": ("neck",),
    "head": ("head_up", "head_fwd", "top_up", "top_fwd"),
    "shoulders": ("collar_w", "shoulder_w"), "hips": ("hip_w",), "pelvis": ("hip_up",),
    "upper_arm": ("upper_arm",), "forearm": ("forearm",), "hand": ("hand",),
}


@dataclass
class Body:
    """One subject's skeleton.

    Attributes:
        height: the nominal standing height (m) the proportions were taken from.
        seg: segment lengths in metres (keys of :data:`PROPORTIONS`).
        offsets: ``(24, 3)`` rest offset of each joint from its parent (root: zeros).
        factors: the per-group variation factors that were applied.
    """

    height: float
    seg: Dict[str, float]
    offsets: np.ndarray
    factors: Dict[str, float] = field(default_factory=dict)

    @property
    def pelvis_rest(self) -> np.ndarray:
        """Pelvis position when standing straight with the ankles at rest height."""
        s = self.seg
        return np.array([0.0, s["ankle_h"] + s["shank"] + s["thigh"] + s["hip_up"], 0.0])

    @property
    def leg(self) -> float:
        """Hip-to-ankle length of a straight leg."""
        return self.seg["thigh"] + self.seg["shank"]

    @property
    def arm(self) -> float:
        """Shoulder-to-wrist length of a straight arm."""
        return self.seg["upper_arm"] + self.seg["forearm"]

    @property
    def foot_vec(self) -> np.ndarray:
        """Ankle -> ball of the foot in the rest pose."""
        return self.offsets[J["left_foot"]].copy()

    @property
    def stature(self) -> float:
        """Standing height of this skeleton from the floor to the head top."""
        o = self.offsets
        chain = [J["spine1"], J["spine2"], J["spine3"], J["thorax"], J["neck"], J["head_top"]]
        return float(self.pelvis_rest[1] + sum(o[j, 1] for j in chain))

    def params(self) -> Dict[str, float]:
        """JSON-able description (height and factors) that reproduces the body."""
        return {"height": round(self.height, 6),
                **{f"f_{k}": round(v, 6) for k, v in self.factors.items()}}


def make_body(height: float, factors: Optional[Dict[str, float]] = None) -> Body:
    """The body of ``height`` metres with per-group length ``factors`` (default 1)."""
    fac = {g: 1.0 for g in _GROUPS}
    fac.update(factors or {})
    seg = {k: v * height for k, v in PROPORTIONS.items()}
    for g, keys in _GROUPS.items():
        for k in keys:
            seg[k] *= fac[g]
    o = np.zeros((NJ, 3))

    def put(name: str, x: float, y: float, z: float) -> None:
        o[J[name]] = (x, y, z)

    put("spine1", 0, seg["spine1"], -0.004 * height)
    put("spine2", 0, seg["spine2"], -0.002 * height)
    put("spine3", 0, seg["spine3"], 0.0)
    put("thorax", 0, seg["thorax"], 0.002 * height)
    put("neck", 0, seg["neck"], 0.004 * height)
    put("head", 0, seg["head_up"], seg["head_fwd"])
    put("head_top", 0, seg["top_up"], seg["top_fwd"])
    for sx, side in ((1.0, "left"), (-1.0, "right")):
        put(f"{side}_collar", sx * seg["collar_w"], seg["collar_up"], 0.0)
        put(f"{side}_shoulder", sx * seg["shoulder_w"], seg["shoulder_up"], -0.006 * height)
        put(f"{side}_elbow", 0, -seg["upper_arm"], 0.0)
        put(f"{side}_wrist", 0, -seg["forearm"], 0.0)
        put(f"{side}_hip", sx * seg["hip_w"], -seg["hip_up"], 0.0)
        put(f"{side}_knee", 0, -seg["thigh"], 0.0)
        put(f"{side}_ankle", 0, -seg["shank"], 0.0)
        put(f"{side}_foot", 0, -seg["foot_down"], seg["foot_fwd"])
    return Body(height=float(height), seg=seg, offsets=o, factors=fac)


def sample_body(rng: np.random.Generator, height: Optional[float] = None,
                variation: float = 0.03) -> Body:
    """A random subject: height ~ N(1.71, 0.09) clipped to [1.50, 1.95] unless given,
    each segment group scaled by ``1 + N(0, variation)`` clipped to +-2.5 sigma."""
    h = float(np.clip(rng.normal(1.71, 0.09), 1.50, 1.95)) if height is None else height
    raw = rng.normal(0.0, 1.0, size=len(_GROUPS))
    fac = {g: float(1.0 + variation * np.clip(r, -2.5, 2.5)) for g, r in zip(_GROUPS, raw)}
    return make_body(h, fac)


# --------------------------------------------------------------------------- rotations
def euler_matrices(ang: np.ndarray) -> np.ndarray:
    """``R = Ry(ry) @ Rz(rz) @ Rx(rx)`` for angles ``(..., 3)`` = (rx, ry, rz) in radians."""
    ca, sa = np.cos(ang[..., 0]), np.sin(ang[..., 0])
    cb, sb = np.cos(ang[..., 1]), np.sin(ang[..., 1])
    cc, sc = np.cos(ang[..., 2]), np.sin(ang[..., 2])
    out = np.empty(ang.shape[:-1] + (3, 3))
    out[..., 0, 0] = cb * cc
    out[..., 0, 1] = sb * sa - cb * sc * ca
    out[..., 0, 2] = cb * sc * sa + sb * ca
    out[..., 1, 0] = sc
    out[..., 1, 1] = cc * ca
    out[..., 1, 2] = -cc * sa
    out[..., 2, 0] = -sb * cc
    out[..., 2, 1] = sb * sc * ca + cb * sa
    out[..., 2, 2] = cb * ca - sb * sc * sa
    return out


def rot_y(theta: np.ndarray) -> np.ndarray:
    """Rotations about the vertical axis, ``(T, 3, 3)`` for angles ``(T,)`` in radians."""
    c, s = np.cos(theta), np.sin(theta)
    out = np.zeros(np.shape(theta) + (3, 3))
    out[..., 0, 0] = c
    out[..., 0, 2] = s
    out[..., 1, 1] = 1.0
    out[..., 2, 0] = -s
    out[..., 2, 2] = c
    return out


def root_matrices(root_ang: np.ndarray) -> np.ndarray:
    """Root orientation ``Ry(yaw) Rz(roll) Rx(pitch)`` from ``(T, 3)`` (pitch, yaw, roll) radians.

    Positive pitch tips the upper body forward (pitch +90 deg = lying face down with the head
    at +z); positive yaw turns the person to their left.
    """
    return euler_matrices(root_ang)


def forward_kinematics(body: Body, root_pos: np.ndarray, root_ang: np.ndarray,
                       ang: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Joint positions ``(T, 24, 3)`` and global rotations ``(T, 24, 3, 3)``.

    Args:
        body: the skeleton.
        root_pos: ``(T, 3)`` pelvis position.
        root_ang: ``(T, 3)`` root (pitch, yaw, roll) in radians, see :func:`root_matrices`.
        ang: ``(T, 24, 3)`` local joint angles (rx, ry, rz) in radians; the rotation of
            joint ``j`` turns the bones to its children.  Entries of the pelvis and of the
            leaf joints (head, head top, wrists, feet) are ignored; the global rotation
            of a leaf is its parent's.
    """
    t = ang.shape[0]
    # Only joints that move a child and are not at rest in every frame need a rotation;
    # joint-major arrays make every per-joint slice contiguous.
    moving = _INNER[np.any(ang[:, _INNER] != 0.0, axis=(0, 2))]
    local = euler_matrices(np.ascontiguousarray(ang[:, moving].transpose(1, 0, 2)))
    slot = np.full(NJ, -1)
    slot[moving] = np.arange(len(moving))
    glob = np.empty((NJ, t, 3, 3))
    pos = np.empty((NJ, t, 3))
    glob[0] = root_matrices(root_ang)
    pos[0] = root_pos
    off = body.offsets
    for j in range(1, NJ):
        p = PARENTS[j]
        np.add(pos[p], (glob[p].reshape(-1, 3) @ off[j]).reshape(t, 3), out=pos[j])
        if slot[j] >= 0:
            np.matmul(glob[p], local[slot[j]], out=glob[j])
        else:
            glob[j] = glob[p]
    return pos.transpose(1, 0, 2), glob.transpose(1, 0, 2, 3)
