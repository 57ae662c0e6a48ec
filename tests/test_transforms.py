"""Transforms: centring, orientation, streams, sampling, flips, missing joints."""

import numpy as np
import pytest

from flag3d.errors import LayoutError, SequenceError
from flag3d.skeleton import Sequence, get_layout
from flag3d.skeleton.transforms import (
    align_orientation, bone_stream, center_root, fill_missing, flip_lr, interval_indices,
    motion_stream, resample, sample_indices, streams,
)


def _standing(layout="flag3d24", t=5):
    """A crude upright body: joints placed by name, facing +z, left at +x."""
    lay = get_layout(layout)
    j = np.zeros((t, lay.num_joints, 3), dtype=np.float32)
    for i, n in enumerate(lay.joints):
        x = 0.15 if n.startswith("left_") else -0.15 if n.startswith("right_") else 0.0
        y = 1.0 if any(k in n for k in ("pelvis", "hip", "spine_base", "waist")) else 1.5
        if any(k in n for k in ("knee",)):
            y = 0.5
        if any(k in n for k in ("ankle", "foot", "toes")):
            y = 0.05
        j[:, i] = [x, y, 0.0]
    return Sequence(j, layout)


def _rotate_y(seq, deg, shift=(2.0, 0.0, -1.0)):
    a = np.deg2rad(deg)
    r = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    return seq.replace(joints=seq.joints @ r.T + np.array(shift))


def test_center_root_per_frame_and_first_frame():
    s = _rotate_y(_standing(), 0, shift=(1, 2, 3))
    moving = s.replace(joints=s.joints + np.arange(5)[:, None, None] * 0.1)
    assert np.abs(center_root(moving).joints[:, 0]).max() == 0
    kept = center_root(moving, per_frame=False)
    assert kept.joints[4, 0, 0] == pytest.approx(0.4)


@pytest.mark.parametrize("layout", ["flag3d24", "ntu25", "uiprmd22"])
def test_align_orientation_undoes_a_rotation(layout):
    base = align_orientation(_standing(layout))
    turned = _rotate_y(_standing(layout), 73)
    back = align_orientation(turned)
    np.testing.assert_allclose(back.joints, base.joints, atol=1e-5)
    lay = get_layout(layout)
    assert back.joints[0, lay.index("left_hip"), 0] > 0  # left side at +x
    assert back.joints[0, lay.indices(lay.neck)].mean(0)[1] > 0  # spine up


def test_align_orientation_refuses_2d_and_degenerate():
    with pytest.raises(LayoutError, match="needs 3D joints"):
        align_orientation(Sequence(np.zeros((3, 17, 2)), "coco17"))
    with pytest.raises(SequenceError, match="spine \\(root to neck\\) has zero length"):
        align_orientation(Sequence(np.zeros((3, 24, 3)), "flag3d24"))


def test_bone_and_motion_streams():
    s = _standing()
    lay = get_layout("flag3d24")
    b = bone_stream(s.joints, "flag3d24")
    k = lay.index("left_knee")
    np.testing.assert_allclose(b[:, k], s.joints[:, k] - s.joints[:, lay.parents[k]])
    assert np.abs(b[:, 0]).max() == 0
    x = np.arange(4, dtype=np.float32)[:, None, None] * np.ones((4, 2, 3))
    m = motion_stream(x)
    assert m[:3].tolist() == np.ones((3, 2, 3)).tolist() and np.abs(m[3]).max() == 0
    st = streams(s.joints, "flag3d24")
    assert list(st) == ["joint", "bone", "joint_motion", "bone_motion"]
    with pytest.raises(ValueError, match="unknown stream 'angle'"):
        streams(s.joints, "flag3d24", ["angle"])


def test_sampling():
    assert sample_indices(100, 4).tolist() == [12, 37, 62, 87]
    idx = sample_indices(3, 6)
    assert idx.tolist() == [0, 0, 1, 1, 2, 2]
    rng = np.random.default_rng(0)
    tr = sample_indices(100, 10, "train", rng)
    assert all(10 * i <= v < 10 * (i + 1) for i, v in enumerate(tr))
    assert interval_indices(5, 8).tolist() == [0, 1, 2, 3, 4, 4, 4, 4]
    assert interval_indices(256, 4).tolist() == [0, 64, 128, 192]
    r = resample(Sequence(np.zeros((90, 17, 2)), "coco17", fps=30), 30)
    assert r.num_frames == 30 and r.fps == pytest.approx(10) and r.duration == pytest.approx(3)
    with pytest.raises(SequenceError, match="empty"):
        sample_indices(0, 4)


def test_flip_lr_swaps_and_reflects():
    s = align_orientation(_standing("flag3d24"))
    f = flip_lr(s)
    lay = get_layout("flag3d24")
    lh = lay.index("left_hip")
    assert f.joints[0, lh, 0] == pytest.approx(s.joints[0, lh, 0])  # symmetric body
    np.testing.assert_allclose(flip_lr(f).joints, s.joints)
    px = Sequence(np.full((2, 17, 2), 100.0), "coco17", meta={"img_shape": [1080, 1920]})
    assert flip_lr(px).joints[0, 0, 0] == pytest.approx(1820.0)
    nz = Sequence(np.full((2, 17, 2), 0.25), "coco17", meta={"units": "normalized"})
    assert flip_lr(nz).joints[0, 0, 0] == pytest.approx(0.75)
    assert flip_lr(nz).meta["flipped"] is True


def test_fill_missing_interpolates_and_marks():
    j = np.zeros((5, 2, 3), dtype=np.float32)
    j[:, 0, 0] = [0, np.nan, np.nan, 3, 4]
    j[:, 1, :] = np.nan
    out, conf = fill_missing(j)
    assert out[:, 0, 0].tolist() == [0, 1, 2, 3, 4]
    assert conf[:, 0].tolist() == [1, 0, 0, 1, 1]
    assert np.abs(out[:, 1]).max() == 0 and conf[:, 1].max() == 0
    c = np.ones((5, 2))
    c[0, 0] = 0
    out2, conf2 = fill_missing(np.arange(30, dtype=np.float32).reshape(5, 2, 3), c)
    assert out2[0, 0, 0] == 6.0 and conf2[0, 0] == 0  # held from the first valid frame
