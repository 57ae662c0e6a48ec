"""Joint layouts: names, kinematic tree, graph centre, left/right pairs.

A :class:`Layout` is the single source of truth for how the joints of a skeleton are
ordered and connected.  Graphs (:mod:`flag3d.skeleton.graph`), bone streams, flips,
orientation alignment and conversions between layouts all read it.

Registered layouts:

=============  ===  ============================================================
name           V    used by
=============  ===  ============================================================
``ntu25``      25   FLAG3D 3D recognition pickle (NTU RGB+D / Kinect v2 order)
``kinect25``   25   Kinect v2 SDK (Keraal); the same order as ``ntu25``
``flag3d24``   24   FLAG3D++ repetition-counting ``skeleton/*.npy``
``coco17``     17   FLAG3D 2D pickle, AlphaPose, most 2D detectors
``h36m17``     17   Human3.6M order used by MotionBERT
``blazepose33``33   MediaPipe BlazePose (``mp.solutions.pose``)
``uiprmd22``   22   UI-PRMD Kinect files
=============  ===  ============================================================

The ``flag3d24`` edges are the released ones; its joint *names* are not published and are
inferred from the tree (odd 1-based indices taken as the left side), so treat names of
that layout as our convention.

Example:
    >>> from flag3d.skeleton.layouts import get_layout
    >>> lay = get_layout("coco17")
    >>> lay.num_joints, lay.index("left_hip"), lay.joints[lay.flip_index()[5]]
    (17, 11, 'right_shoulder')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from flag3d.errors import LayoutError


@dataclass(frozen=True)
class Layout:
    """A named joint order with its kinematic tree.

    Attributes:
        name: registry name, e.g. ``"ntu25"``.
        joints: joint names, index = position in the joint axis.
        parents: parent index of each joint, ``-1`` for the root of the tree.
        center: the graph centre joint (used by distance-partitioned graphs).
        root: joints whose mean is the body root for centring (the pelvis when the
            layout has one, else the mid-hip).
        left_hip, right_hip, neck: names used for orientation alignment (the ``neck``
            entry may be any joint on the upper spine).
        description: where the layout comes from.
        extra_edges: drawing-only connections that would close loops in the tree.
    """

    name: str
    joints: Tuple[str, ...]
    parents: Tuple[int, ...]
    center: int
    root: Tuple[int, ...]
    left_hip: str
    right_hip: str
    neck: Tuple[str, ...]
    description: str = ""
    extra_edges: Tuple[Tuple[int, int], ...] = field(default=())

    def __post_init__(self) -> None:
        v = len(self.joints)
        if len(self.parents) != v:
            raise LayoutError(f"layout {self.name}: {len(self.parents)} parents for {v} joints")
        if len(set(self.joints)) != v:
            raise LayoutError(f"layout {self.name}: duplicate joint names")
        roots = [j for j, p in enumerate(self.parents) if p < 0]
        if len(roots) != 1:
            raise LayoutError(f"layout {self.name}: the tree needs exactly one root, found {roots}")
        # Every joint must reach the root (no cycles).
        for j in range(v):
            seen, k = 0, j
            while self.parents[k] >= 0:
                k = self.parents[k]
                seen += 1
                if seen > v:
                    raise LayoutError(f"layout {self.name}: cycle through joint {j}")

    @property
    def num_joints(self) -> int:
        """Number of joints V."""
        return len(self.joints)

    @property
    def tree_root(self) -> int:
        """Index of the joint whose parent is -1."""
        return self.parents.index(-1)

    @cached_property
    def edges(self) -> Tuple[Tuple[int, int], ...]:
        """Tree edges as (child, parent) pairs, 0-based (the "inward" direction)."""
        return tuple((j, p) for j, p in enumerate(self.parents) if p >= 0)

    def index(self, name: str) -> int:
        """Index of joint ``name``; raises :class:`LayoutError` naming the layout."""
        try:
            return self.joints.index(name)
        except ValueError:
            raise LayoutError(
                f"layout {self.name} has no joint {name!r} (joints: {', '.join(self.joints)})"
            ) from None

    def indices(self, names: Iterable[str]) -> List[int]:
        """Indices of several joints."""
        return [self.index(n) for n in names]

    @cached_property
    def flip_pairs(self) -> Tuple[Tuple[int, int], ...]:
        """Left/right joint pairs (left index, right index), found from the names."""
        pairs = []
        for i, n in enumerate(self.joints):
            if n.startswith("left_"):
                other = "right_" + n[len("left_"):]
                if other in self.joints:
                    pairs.append((i, self.joints.index(other)))
        return tuple(pairs)

    def flip_index(self) -> np.ndarray:
        """Permutation that swaps every left joint with its right counterpart."""
        perm = np.arange(self.num_joints)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    def children(self, j: int) -> List[int]:
        """Direct children of joint ``j`` in the tree."""
        return [c for c, p in enumerate(self.parents) if p == j]


def _tree_from_edges(v: int, edges: Sequence[Tuple[int, int]], root: int) -> Tuple[int, ...]:
    """Orient an undirected tree given by 0-based edges away from ``root``."""
    nbrs: Dict[int, List[int]] = {i: [] for i in range(v)}
    for a, b in edges:
        nbrs[a].append(b)
        nbrs[b].append(a)
    parents = [-2] * v
    parents[root] = -1
    stack = [root]
    while stack:
        j = stack.pop()
        for k in nbrs[j]:
            if parents[k] == -2:
                parents[k] = j
                stack.append(k)
    if -2 in parents:
        raise LayoutError(f"edges do not connect joint {parents.index(-2)} to the root")
    return tuple(parents)


# --------------------------------------------------------------------------- ntu25
_NTU_JOINTS = (
    "spine_base", "spine_mid", "neck", "head",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
    "spine_shoulder", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb",
)
# The ST-GCN / PYSKL tree (1-based pairs (1,2) (2,21) ... (22,23) (23,8) (24,25) (25,12)),
# kept so graphs equal the reference implementations: each hand tip hangs from the thumb.
_NTU_EDGES_1B = (
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
    (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
    (20, 19), (22, 23), (23, 8), (24, 25), (25, 12),
)
_NTU_PARENTS = _tree_from_edges(25, [(a - 1, b - 1) for a, b in _NTU_EDGES_1B], root=0)

# ------------------------------------------------------------------------ flag3d24
# Released 1-based edges of the FLAG3D++ counting skeleton; centre joint 1.
FLAG3D24_EDGES_1B = (
    (7, 6), (6, 8), (6, 5), (15, 13), (13, 11), (11, 9), (9, 5), (5, 10), (10, 12), (12, 14),
    (14, 16), (5, 4), (4, 3), (3, 2), (2, 1), (17, 1), (1, 18), (17, 19), (18, 20), (19, 21),
    (20, 22), (21, 23), (22, 24),
)
_FLAG3D24_JOINTS = (
    "pelvis", "spine1", "spine2", "spine3", "thorax", "neck", "head", "head_top",
    "left_collar", "right_collar", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee",
    "left_ankle", "right_ankle", "left_foot", "right_foot",
)
_FLAG3D24_PARENTS = _tree_from_edges(24, [(a - 1, b - 1) for a, b in FLAG3D24_EDGES_1B], root=0)

# -------------------------------------------------------------------------- coco17
_COCO_JOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
_COCO_PARENTS = (-1, 0, 0, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14)

# -------------------------------------------------------------------------- h36m17
_H36M_JOINTS = (
    "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
    "left_ankle", "spine", "thorax", "nose", "head",
    "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
)
_H36M_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)

# --------------------------------------------------------------------- blazepose33
_BLAZE_JOINTS = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "left_mouth", "right_mouth",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
_BLAZE_PARENTS = (
    -1, 0, 1, 2, 0, 4, 5, 3, 6, 0, 0,  # face
    0, 0, 11, 12, 13, 14, 15, 16, 15, 16, 15, 16,  # arms and hands
    11, 12, 23, 24, 25, 26, 27, 28, 27, 28,  # legs and feet
)
# MediaPipe's drawing connections that the tree leaves out.
_BLAZE_EXTRA = ((9, 10), (11, 12), (23, 24), (17, 19), (18, 20), (29, 31), (30, 32))

# ------------------------------------------------------------------------ uiprmd22
_UIPRMD_JOINTS = (
    "waist", "spine", "chest", "neck", "head", "head_tip",
    "left_collar", "left_shoulder", "left_elbow", "left_wrist",
    "right_collar", "right_shoulder", "right_elbow", "right_wrist",
    "left_hip", "left_knee", "left_ankle", "left_toes",
    "right_hip", "right_knee", "right_ankle", "right_toes",
)
# UI-PRMD calls joints 7/8/9 "upper arm / forearm / hand" and 14/15/16 "upper leg /
# lower leg / foot"; each sits at the proximal end of that segment, i.e. at the
# shoulder / elbow / wrist and hip / knee / ankle, which is what we name them.
_UIPRMD_PARENTS = (-1, 0, 1, 2, 3, 4, 2, 6, 7, 8, 2, 10, 11, 12, 0, 14, 15, 16, 0, 18, 19, 20)


_REGISTRY: Dict[str, Layout] = {}


def register_layout(layout: Layout, *aliases: str) -> Layout:
    """Add ``layout`` to the registry under its name and any aliases."""
    for key in (layout.name, *aliases):
        _REGISTRY[key] = layout
    return layout


register_layout(Layout(
    "ntu25", _NTU_JOINTS, _NTU_PARENTS, center=20, root=(0,),
    left_hip="left_hip", right_hip="right_hip", neck=("spine_shoulder",),
    description="NTU RGB+D / Kinect v2 25 joints (FLAG3D 3D recognition pickle)",
))
register_layout(Layout(
    "kinect25", _NTU_JOINTS, _NTU_PARENTS, center=20, root=(0,),
    left_hip="left_hip", right_hip="right_hip", neck=("spine_shoulder",),
    description="Kinect v2 SDK 25 joints (Keraal); same order as ntu25",
))
register_layout(Layout(
    "flag3d24", _FLAG3D24_JOINTS, _FLAG3D24_PARENTS, center=0, root=(0,),
    left_hip="left_hip", right_hip="right_hip", neck=("thorax",),
    description="FLAG3D++ repetition-counting skeleton (released edges; names inferred)",
))
register_layout(Layout(
    "coco17", _COCO_JOINTS, _COCO_PARENTS, center=0, root=(11, 12),
    left_hip="left_hip", right_hip="right_hip", neck=("left_shoulder", "right_shoulder"),
    description="COCO 17 keypoints (FLAG3D 2D pickle, AlphaPose)",
))
register_layout(Layout(
    "h36m17", _H36M_JOINTS, _H36M_PARENTS, center=0, root=(0,),
    left_hip="left_hip", right_hip="right_hip", neck=("thorax",),
    description="Human3.6M 17 joints (MotionBERT)",
))
register_layout(Layout(
    "blazepose33", _BLAZE_JOINTS, _BLAZE_PARENTS, center=0, root=(23, 24),
    left_hip="left_hip", right_hip="right_hip", neck=("left_shoulder", "right_shoulder"),
    description="MediaPipe BlazePose 33 landmarks",
    extra_edges=_BLAZE_EXTRA,
))
register_layout(Layout(
    "uiprmd22", _UIPRMD_JOINTS, _UIPRMD_PARENTS, center=0, root=(0,),
    left_hip="left_hip", right_hip="right_hip", neck=("chest",),
    description="UI-PRMD Kinect 22 joints",
))


def get_layout(name: "str | Layout") -> Layout:
    """Look a layout up by name; raises :class:`LayoutError` listing the known ones."""
    if isinstance(name, Layout):
        return name
    try:
        return _REGISTRY[str(name).lower()]
    except KeyError:
        raise LayoutError(
            f"unknown layout {name!r}; known layouts: {', '.join(sorted(_REGISTRY))}"
        ) from None


def layout_names() -> List[str]:
    """Names of all registered layouts, sorted."""
    return sorted(_REGISTRY)


def find_layout_for(num_joints: int) -> Optional[str]:
    """The layout name for a joint count when it is unambiguous (else ``None``)."""
    names = sorted({lay.name for lay in _REGISTRY.values() if lay.num_joints == num_joints})
    # ntu25 and kinect25 share an order: prefer ntu25 (the FLAG3D name).
    if names == ["kinect25", "ntu25"]:
        return "ntu25"
    return names[0] if len(names) == 1 else None
