"""Layout conversions: exact picks, midpoints, chains, confidence, errors."""

import numpy as np
import pytest

from flag3d.errors import LayoutError
from flag3d.skeleton import Sequence, get_layout
from flag3d.skeleton.convert import can_convert, conversion_matrix, conversion_path, convert


def _named(layout, dims=3, seed=0):
    rng = np.random.default_rng(seed)
    return Sequence(rng.normal(size=(6, get_layout(layout).num_joints, dims)), layout)


def test_blazepose_to_coco_picks_named_joints():
    s = _named("blazepose33", dims=2)
    c = convert(s, "coco17")
    bp, coco = get_layout("blazepose33"), get_layout("coco17")
    for name in coco.joints:
        np.testing.assert_array_equal(c.joints[:, coco.index(name)], s.joints[:, bp.index(name)])
    assert "conversion_approximate" not in c.meta


def test_coco_to_h36m_midpoints():
    s = _named("coco17", dims=2)
    h = convert(s, "h36m17")
    co, hl = get_layout("coco17"), get_layout("h36m17")
    pelvis = (s.joints[:, co.index("left_hip")] + s.joints[:, co.index("right_hip")]) / 2
    np.testing.assert_allclose(h.joints[:, hl.index("pelvis")], pelvis, rtol=1e-6)
    thorax = (s.joints[:, co.index("left_shoulder")] + s.joints[:, co.index("right_shoulder")]) / 2
    np.testing.assert_allclose(h.joints[:, hl.index("spine")], (pelvis + thorax) / 2, rtol=1e-5, atol=1e-6)


def test_chain_is_composed_and_recorded():
    assert conversion_path("blazepose33", "h36m17") == ["blazepose33", "coco17", "h36m17"]
    m = conversion_matrix("blazepose33", "h36m17")
    assert m.shape == (17, 33)
    np.testing.assert_allclose(m.sum(1), 1.0)


def test_extrapolated_hand_lies_beyond_the_wrist():
    lay = get_layout("flag3d24")
    j = np.zeros((1, 24, 3), dtype=np.float32)
    j[0, lay.index("left_elbow")] = [0, 0, 0]
    j[0, lay.index("left_wrist")] = [0.25, 0, 0]
    out = convert(Sequence(j, "flag3d24"), "ntu25")
    ntu = get_layout("ntu25")
    assert out.joints[0, ntu.index("left_hand"), 0] == pytest.approx(0.25 * 1.3)
    assert out.meta["conversion_approximate"] is True


def test_confidence_is_min_of_sources():
    s = _named("coco17", dims=2)
    conf = np.ones((6, 17), dtype=np.float32)
    conf[:, get_layout("coco17").index("left_hip")] = 0.2
    out = convert(s.replace(confidence=conf), "h36m17")
    h = get_layout("h36m17")
    assert out.confidence[0, h.index("pelvis")] == pytest.approx(0.2)
    assert out.confidence[0, h.index("right_hip")] == pytest.approx(1.0)


def test_person_axis_and_identity():
    s = Sequence(np.zeros((2, 4, 25, 3)), "ntu25")
    assert convert(s, "flag3d24").joints.shape == (2, 4, 24, 3)
    assert convert(s, "ntu25") is s


def test_impossible_conversion_says_what_is_reachable():
    assert not can_convert("h36m17", "coco17")
    with pytest.raises(LayoutError, match="no conversion from h36m17 to coco17; from h36m17 one can reach: nothing"):
        convert(_named("h36m17", 3), "coco17")


def test_blazepose_world_landmarks_to_flag3d24_torso_points():
    bp, fl = get_layout("blazepose33"), get_layout("flag3d24")
    j = np.zeros((1, 33, 3), dtype=np.float32)
    for side, x in (("left", 0.1), ("right", -0.1)):
        j[0, bp.index(f"{side}_hip")] = [x, 0.0, 0.0]
        j[0, bp.index(f"{side}_shoulder")] = [2 * x, 0.5, 0.0]
        j[0, bp.index(f"{side}_ear")] = [0.7 * x, 0.65, 0.0]
        j[0, bp.index(f"{side}_foot_index")] = [x, -0.9, 0.2]
    out = convert(Sequence(j, "blazepose33"), "flag3d24").joints[0]
    np.testing.assert_allclose(out[fl.index("pelvis")], [0, 0.175 * 0.5, 0], atol=1e-6)
    np.testing.assert_allclose(out[fl.index("head")], [0, 0.65, 0], atol=1e-6)
    assert out[fl.index("neck")][1] == pytest.approx(0.5 + 0.35 * 0.15)
    np.testing.assert_allclose(out[fl.index("left_foot")], [0.1, -0.9, 0.2], atol=1e-6)
    assert conversion_path("coco17", "ntu25") == ["coco17", "flag3d24", "ntu25"]
