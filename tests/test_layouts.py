"""Layout registry: joint counts, trees, flip pairs, lookups and errors."""

import numpy as np
import pytest

from flag3d.errors import LayoutError
from flag3d.skeleton.layouts import FLAG3D24_EDGES_1B, find_layout_for, get_layout, layout_names

EXPECTED = {"ntu25": 25, "kinect25": 25, "flag3d24": 24, "coco17": 17, "h36m17": 17,
            "blazepose33": 33, "uiprmd22": 22}


def test_registry_has_all_layouts_with_joint_counts():
    assert set(layout_names()) == set(EXPECTED)
    for name, v in EXPECTED.items():
        lay = get_layout(name)
        assert lay.num_joints == v
        assert len(lay.edges) == v - 1  # a tree


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_flip_pairs_are_involutions_and_cover_limbs(name):
    lay = get_layout(name)
    perm = lay.flip_index()
    assert (perm[perm] == np.arange(lay.num_joints)).all()
    assert (lay.index(lay.left_hip), lay.index(lay.right_hip)) in lay.flip_pairs
    # Every left_ joint has a right_ partner.
    lefts = [n for n in lay.joints if n.startswith("left_")]
    assert len(lay.flip_pairs) == len(lefts)


def test_flag3d24_tree_equals_released_edges():
    lay = get_layout("flag3d24")
    ours = {frozenset(e) for e in lay.edges}
    released = {frozenset((a - 1, b - 1)) for a, b in FLAG3D24_EDGES_1B}
    assert ours == released
    assert lay.center == 0 and lay.tree_root == 0


def test_ntu25_tree_follows_the_stgcn_edges():
    lay = get_layout("ntu25")
    # spine_shoulder (20) is the graph centre; left_hand_tip (21) hangs from left_thumb (22).
    assert lay.center == 20
    assert lay.parents[21] == 22 and lay.parents[22] == 7
    assert lay.joints[lay.parents[lay.index("left_shoulder")]] == "spine_shoulder"


def test_coco_and_h36m_known_indices():
    coco, h36m = get_layout("coco17"), get_layout("h36m17")
    assert coco.index("left_hip") == 11 and coco.index("right_ankle") == 16
    assert h36m.index("thorax") == 8 and h36m.index("right_wrist") == 16
    assert get_layout("blazepose33").index("left_hip") == 23


def test_unknown_layout_and_joint_errors_name_the_problem():
    with pytest.raises(LayoutError, match="unknown layout 'smpl24'; known layouts: blazepose33"):
        get_layout("smpl24")
    with pytest.raises(LayoutError, match="layout coco17 has no joint 'pelvis'"):
        get_layout("coco17").index("pelvis")


def test_find_layout_for_joint_count():
    assert find_layout_for(24) == "flag3d24"
    assert find_layout_for(25) == "ntu25"
    assert find_layout_for(17) is None  # coco17 and h36m17 are both 17
    assert find_layout_for(5) is None
