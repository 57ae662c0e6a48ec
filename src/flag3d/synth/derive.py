"""Other joint sets from the generator's body: ``ntu25`` (Kinect v2) and 3D ``coco17`` points.

Both are taken from the FK body directly (no layout converter involved):

* ``ntu25``: spine_base = pelvis, spine_mid = spine2, neck = neck (between thorax and head),
  head = head, spine_shoulder = thorax, shoulders/elbows/wrists/hips/knees/ankles as in
  ``flag3d24``, foot = ball of the foot; hand, hand tip and thumb are points on a rigid hand
  (0.45, 0.95 and 0.35 hand lengths along the hand, the thumb 0.3 hand lengths to the
  thumb side), so every ntu25 bone has a constant length.
* ``coco17``: nose, eyes and ears from the head's orientation with fixed offsets scaled by
  the height; the rest are ``flag3d24`` joints.

Example:
    >>> import numpy as np
    >>> from flag3d.synth.body import make_body, forward_kinematics, J
    >>> from flag3d.synth.derive import ntu25_points, coco17_points
    >>> b = make_body(1.75)
    >>> pos, rot = forward_kinematics(b, np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 24, 3)))
    >>> ntu25_points(pos, b).shape, coco17_points(pos, rot[:, J["neck"]], b).shape
    ((2, 25, 3), (2, 17, 3))
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from flag3d.skeleton.layouts import get_layout
from flag3d.synth.body import Body, J

_NTU = get_layout("ntu25")
_COCO = get_layout("coco17")

# ntu25 joints copied from a flag3d24 joint.
_NTU_FROM = {
    "spine_base": "pelvis", "spine_mid": "spine2", "neck": "neck", "head": "head",
    "spine_shoulder": "thorax",
    **{f"{s}_{j}": f"{s}_{j}" for s in ("left", "right")
       for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")},
    "left_foot": "left_foot", "right_foot": "right_foot",
}
_NTU_IDX = np.array([_NTU.index(k) for k in _NTU_FROM])
_NTU_SRC = np.array([J[v] for v in _NTU_FROM.values()])

# Face points in the head frame, fractions of the height (x left, y up, z forward).
_FACE = {
    "nose": (0.0, -0.004, 0.056), "left_eye": (0.018, 0.012, 0.046),
    "right_eye": (-0.018, 0.012, 0.046), "left_ear": (0.044, 0.004, -0.004),
    "right_ear": (-0.044, 0.004, -0.004),
}
_COCO_BODY = [n for n in _COCO.joints if n not in _FACE]
_COCO_BODY_IDX = np.array([_COCO.index(n) for n in _COCO_BODY])
_COCO_BODY_SRC = np.array([J[n] for n in _COCO_BODY])
_FACE_IDX = [_COCO.index(n) for n in _FACE]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def hand_frame(pos: np.ndarray, side: str, elbow_rot: Optional[np.ndarray] = None,
               hand_dir: Optional[np.ndarray] = None,
               palm: Optional[np.ndarray] = None) -> tuple:
    """Unit hand direction and thumb-side direction ``(T, 3)`` each, orthogonal.

    Defaults: the hand continues the forearm; the thumb side is the forearm frame's
    forward axis (``elbow_rot @ z``; palms facing in when the arm hangs), else any
    perpendicular.
    """
    d = _unit(pos[:, J[f"{side}_wrist"]] - pos[:, J[f"{side}_elbow"]]) \
        if hand_dir is None else _unit(hand_dir)
    if palm is not None:
        th = palm
    elif elbow_rot is not None:
        th = elbow_rot @ np.array([0.0, 0.0, 1.0])
    else:
        th = np.cross(d, np.array([0.0, 1.0, 0.0]))
    th = th - np.sum(th * d, axis=1, keepdims=True) * d
    bad = np.linalg.norm(th, axis=1) < 1e-6
    if bad.any():
        th[bad] = np.cross(d[bad], np.array([1.0, 0.0, 0.0]))
    return d, _unit(th)


def ntu25_points(pos: np.ndarray, body: Body,
                 elbow_rot: Optional[Dict[str, np.ndarray]] = None,
                 hand_dir: Optional[Dict[str, np.ndarray]] = None,
                 palm: Optional[Dict[str, np.ndarray]] = None) -> np.ndarray:
    """``(T, 25, 3)`` ntu25 joints of a ``flag3d24`` pose (see the module docstring)."""
    out = np.empty((pos.shape[0], 25, 3))
    out[:, _NTU_IDX] = pos[:, _NTU_SRC]
    hl = body.seg["hand"]
    for side in ("left", "right"):
        d, th = hand_frame(pos, side, (elbow_rot or {}).get(side), (hand_dir or {}).get(side),
                           (palm or {}).get(side))
        w = pos[:, J[f"{side}_wrist"]]
        out[:, _NTU.index(f"{side}_hand")] = w + 0.45 * hl * d
        out[:, _NTU.index(f"{side}_hand_tip")] = w + 0.95 * hl * d
        out[:, _NTU.index(f"{side}_thumb")] = w + hl * (0.35 * d + 0.3 * th)
    return out


def coco17_points(pos: np.ndarray, head_rot: np.ndarray, body: Body) -> np.ndarray:
    """``(T, 17, 3)`` 3D COCO keypoints; the face follows ``head_rot`` ``(T, 3, 3)`` (the
    global rotation of the ``neck`` joint, which carries the head)."""
    out = np.empty((pos.shape[0], 17, 3))
    out[:, _COCO_BODY_IDX] = pos[:, _COCO_BODY_SRC]
    offs = np.array(list(_FACE.values())) * body.height  # (5, 3)
    face = np.matmul(head_rot[:, None], offs[..., None])[..., 0]  # (T, 5, 3)
    out[:, _FACE_IDX] = pos[:, J["head"]][:, None, :] + face
    return out


def face_normal(head_rot: np.ndarray) -> np.ndarray:
    """``(T, 3)`` direction the face looks to."""
    return head_rot @ np.array([0.0, 0.0, 1.0])
