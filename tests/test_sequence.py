"""Sequence validation and editing."""

import numpy as np
import pytest

from flag3d.errors import LayoutError, SequenceError
from flag3d.skeleton import Sequence


def _seq(t=10, v=24, c=3, **kw):
    return Sequence(np.zeros((t, v, c)), layout=kw.pop("layout", "flag3d24"), **kw)


def test_valid_sequence_properties():
    s = _seq(t=60, fps=30, meta={"synthetic": True})
    assert s.joints.dtype == np.float32
    assert (s.num_frames, s.num_joints, s.dims, s.num_persons) == (60, 24, 3, 1)
    assert s.duration == pytest.approx(2.0)
    assert s.synthetic and "synthetic" in repr(s)


def test_person_axis():
    s = Sequence(np.zeros((2, 5, 17, 2)), "coco17", confidence=np.ones((2, 5, 17)))
    assert s.has_persons and s.num_persons == 2
    p = s.person(1)
    assert p.joints.shape == (5, 17, 2) and p.confidence.shape == (5, 17)
    with pytest.raises(SequenceError, match="sequence has 2 persons, asked for 3"):
        s.person(3)


@pytest.mark.parametrize("joints,layout,match,err", [
    (np.zeros((0, 24, 3)), "flag3d24", "sequence is empty", SequenceError),
    (np.zeros((5, 25, 3)), "flag3d24", "25 joints on axis V but layout flag3d24 has 24", LayoutError),
    (np.zeros((5, 24, 4)), "flag3d24", "2 or 3 coordinates per joint, got C = 4", SequenceError),
    (np.zeros((5, 24)), "flag3d24", r"shape \(T, V, C\) or \(M, T, V, C\), got \(5, 24\)", SequenceError),
    (np.zeros((5, 24, 3)), "nope", "unknown layout 'nope'", LayoutError),
])
def test_invalid_shapes_and_layouts(joints, layout, match, err):
    with pytest.raises(err, match=match):
        Sequence(joints, layout)


def test_nan_and_inf_are_refused_with_frame_count_and_path():
    j = np.zeros((10, 24, 3))
    j[3, 5, 0] = np.nan
    j[7, 1, 2] = np.nan
    with pytest.raises(SequenceError, match=r"^clip\.npy: joints contain NaN in 2 of 10 frames \(first at frame 3\)"):
        Sequence(j, "flag3d24", path="clip.npy")
    j2 = np.zeros((4, 24, 3))
    j2[0, 0, 0] = np.inf
    with pytest.raises(SequenceError, match="contain inf"):
        Sequence(j2, "flag3d24")


def test_times_must_increase_and_match_frames():
    with pytest.raises(SequenceError, match=r"not increasing at frame 3 \(0.0667 s then 0.0500 s\)"):
        _seq(t=4, times=[0.0, 1 / 30, 2 / 30, 0.05])
    with pytest.raises(SequenceError, match=r"times has shape \(3,\), expected \(4,\)"):
        _seq(t=4, times=[0.0, 0.1, 0.2])
    s = _seq(t=3, times=[0.0, 0.5, 1.5])
    assert s.duration == pytest.approx(1.5 + 1 / 30)


def test_confidence_and_fps_checks():
    with pytest.raises(SequenceError, match=r"confidence has shape \(10, 23\), expected \(10, 24\)"):
        _seq(confidence=np.ones((10, 23)))
    with pytest.raises(SequenceError, match="fps must be a positive number"):
        _seq(fps=0)


def test_frames_slices_all_fields_and_replace_revalidates():
    s = _seq(t=10, confidence=np.ones((10, 24)), times=np.arange(10) / 10.0, meta={"a": [1]})
    sub = s.frames(2, 5)
    assert sub.num_frames == 3 and sub.confidence.shape == (3, 24)
    assert sub.times.tolist() == pytest.approx([0.2, 0.3, 0.4])
    sub.meta["a"].append(2)
    assert s.meta["a"] == [1]  # meta deep-copied
    with pytest.raises(LayoutError):
        s.replace(layout="coco17")
