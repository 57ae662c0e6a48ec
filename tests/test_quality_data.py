"""Quality data: clip normalisation, the m01 score order, the synthetic people split."""

from __future__ import annotations

import numpy as np
import pytest

from flag3d.errors import FormatError, SequenceError
from flag3d.synth import SynthConfig, generate_sequence
from flag3d.tasks.quality_clips import clip_features, make_clip, normalize_clip
from flag3d.tasks.quality_data import (
    M01_UNSCORED, Recording, m01_score_order, m01_scores, recording_clips, synthetic_split,
)


def _squat(reps=2):
    s = generate_sequence("A049", seed=1, config=SynthConfig(reps=(reps, reps), views=(), corrupt=False))
    return s, s.clean["flag3d24"]


def test_normalize_clip_ignores_position_heading_and_size():
    s, seq = _squat()
    a0, b0 = s.repetitions[0]
    x = seq.joints[a0:b0].astype(np.float64)
    th = np.radians(70.0)
    rot = np.array([[np.cos(th), 0, np.sin(th)], [0, 1, 0], [-np.sin(th), 0, np.cos(th)]])
    moved = (x @ rot.T) * 1.3 + np.array([2.0, 0.5, -1.0])
    a = normalize_clip(x, "flag3d24", 32)
    b = normalize_clip(moved, "flag3d24", 32)
    assert a.shape == (32, 24, 3)
    np.testing.assert_allclose(a, b, atol=1e-4)
    # the vertical is kept: the squat goes down (pelvis y falls below its start)
    assert a[:, 0, 1].min() < -0.3


def test_canonical_side_mirrors_left_sided_repetitions():
    from flag3d.tasks.quality_clips import mirror, side_motion

    s = generate_sequence("A022", seed=0, config=SynthConfig(reps=(1, 1), views=(), corrupt=False))
    a0, b0 = s.repetitions[0]
    right = s.clean["flag3d24"].joints[a0:b0].astype(np.float64)  # right-side row
    x = normalize_clip(right, "flag3d24", 32)
    left_m, right_m = side_motion(x, "flag3d24")
    assert right_m > left_m
    # the same row done with the left arm: mirrored in the body frame
    left = mirror(x.astype(np.float64), "flag3d24")
    np.testing.assert_allclose(normalize_clip(left, "flag3d24", 32, canonical_side=True),
                               normalize_clip(x, "flag3d24", 32, canonical_side=True), atol=1e-5)
    assert not np.allclose(normalize_clip(left, "flag3d24", 32), x, atol=1e-3)


def test_normalize_clip_errors_are_one_line():
    with pytest.raises(SequenceError, match="at least 2 frames"):
        normalize_clip(np.zeros((1, 24, 3)), "flag3d24", 32)
    bad = np.ones((5, 24, 3))
    bad[2, 3, 1] = np.nan
    with pytest.raises(SequenceError, match="NaN or inf"):
        normalize_clip(bad, "flag3d24", 32)
    with pytest.raises(SequenceError, match=r"\(T, 24, 3\)"):
        normalize_clip(np.zeros((5, 22, 3)), "flag3d24", 32)
    with pytest.raises(SequenceError, match="zero length"):
        normalize_clip(np.zeros((5, 24, 3)), "flag3d24", 32)


def test_clip_features_channels():
    pos = np.random.default_rng(0).normal(size=(16, 22, 3)).astype(np.float32)
    f = clip_features(pos, "uiprmd22")
    assert f.shape == (9, 16, 22)
    np.testing.assert_array_equal(f[:3].transpose(1, 2, 0), pos)
    np.testing.assert_allclose(f[3:6, :, 1].T, pos[:, 1] - pos[:, 0], atol=1e-6)  # bone: spine - waist
    assert np.all(f[6:, -1] == 0)  # no motion after the last frame


def test_make_clip_labels():
    _, seq = _squat()
    c = make_clip(seq.joints[:40], "flag3d24", 24, 30.0, id="x", activity="A049", subject="S1",
                  correct=1)
    assert c.keys.tolist() == [1, 1, 1] and c.correct == 1 and c.duration == pytest.approx(40 / 30)
    c = make_clip(seq.joints[:40], "flag3d24", 24, 30.0, id="x", activity="A049", subject="S1",
                  correct=0)
    assert c.keys.tolist() == [-1, -1, -1] and c.correct == 0
    c = make_clip(seq.joints[:40], "flag3d24", 24, 30.0, id="x", activity="A049", subject="S1",
                  keys=np.array([1, 0, 1]))
    assert c.correct == 0


def test_recording_clips_carry_the_generator_labels():
    s, seq = _squat(3)
    rec = Recording("r", "A049", s.subject, seq, s.repetitions, s.quality, s.score)
    clips = recording_clips(rec, 24)
    assert [c.keys.tolist() for c in clips] == s.quality.tolist()
    pred = recording_clips(rec, 24, reps=np.array([[0, 30], [30, 31]]))
    assert len(pred) == 1 and pred[0].correct == -1  # 1-frame repetition dropped, labels unknown


def test_m01_score_order_documented_exclusion():
    order = m01_score_order()
    assert len(order) == 90 and len(set(order)) == 90
    assert set(M01_UNSCORED) == {"s01_e01", "s02_e01", "s03_e01", "s04_e01", "s05_e01",
                                 "s07_e01", "s07_e04", "s08_e01", "s09_e01", "s09_e05"}
    assert order[:2] == ["s01_e02", "s01_e03"] and order[-1] == "s10_e10"
    per_subject = {f"s{i:02d}": sum(o.startswith(f"s{i:02d}") for o in order) for i in range(1, 11)}
    assert per_subject == {"s01": 9, "s02": 9, "s03": 9, "s04": 9, "s05": 9, "s06": 10,
                           "s07": 8, "s08": 9, "s09": 8, "s10": 10}


def test_m01_scores_mapping_and_errors(tmp_path):
    np.savetxt(tmp_path / "Labels_Correct.csv", np.linspace(0.9, 0.99, 90), fmt="%.5f")
    np.savetxt(tmp_path / "Labels_Incorrect.csv", np.linspace(0.5, 0.89, 90), fmt="%.5f")
    table = m01_scores(tmp_path)
    assert len(table) == 180
    assert table["m01_s01_e02"] == pytest.approx(0.9)
    assert table["m01_s10_e10_inc"] == pytest.approx(0.89)
    assert "m01_s07_e04" not in table
    np.savetxt(tmp_path / "Labels_Incorrect.csv", np.linspace(0.5, 0.89, 89), fmt="%.5f")
    with pytest.raises(FormatError, match="Labels_Incorrect.csv: expected 90 scores"):
        m01_scores(tmp_path)
    (tmp_path / "Labels_Incorrect.csv").write_text("0.5\nabc\n")
    with pytest.raises(FormatError, match="unreadable score CSV"):
        m01_scores(tmp_path)


def test_m01_scores_real_files(shared):
    table = m01_scores(shared("uiprmd-scores"))
    first = np.loadtxt(shared("uiprmd-scores", "Labels_Correct.csv"))[0]
    assert table["m01_s01_e02"] == pytest.approx(first)
    held_out = [k for k in table if k.split("_")[1] in ("s08", "s09", "s10")]
    assert len(held_out) == 54


def test_synthetic_split_is_8_to_2_and_disjoint():
    subs = [f"S{i:03d}" for i in range(1, 11)]
    tr, va, te = synthetic_split(subs * 3, seed=0)
    assert len(te) == 2 and len(va) == 1 and len(tr) == 7
    assert not (set(tr) & set(te)) and not (set(va) & set(te)) and not (set(tr) & set(va))
    assert synthetic_split(subs, seed=0) == (tr, va, te)
    assert synthetic_split(subs, seed=1)[2] != te or synthetic_split(subs, seed=2)[2] != te


def _side_lunge(frames=32):
    """A side lunge to the body's right: the body travels right and down on a bending right
    knee while the left foot stays planted and the left leg stays straight."""
    from flag3d.skeleton.layouts import get_layout

    lay = get_layout("flag3d24")
    j = lay.index
    _, seq = _squat()
    stand = normalize_clip(seq.joints[:2].astype(np.float64), "flag3d24", 2)[0].astype(np.float64)
    out = []
    for s in np.sin(np.linspace(0.0, np.pi, frames)):
        p = stand.copy()
        p += np.array([-0.5 * s, -0.25 * s, 0.0])  # whole body right (-x) and down
        for n in ("left_ankle", "left_foot"):
            p[j(n)] = stand[j(n)]  # planted
        p[j("left_knee")] = 0.5 * (p[j("left_hip")] + p[j("left_ankle")])  # straight
        p[j("right_knee")] += np.array([0.0, 0.1 * s, 0.45 * s])  # knee bends forward
        for n in ("right_ankle", "right_foot"):
            p[j(n)] += np.array([0.0, 0.25 * s, 0.0])  # foot stays on the floor
        out.append(p)
    return np.stack(out)


def test_angles_side_rule_follows_the_bent_knee_not_the_travel():
    from flag3d.tasks.quality_clips import mirror, side_angle_range, side_motion

    x = normalize_clip(_side_lunge(), "flag3d24", 32)
    left_a, right_a = side_angle_range(x, "flag3d24")
    assert right_a > left_a + 20.0  # degrees
    # the planted leg sweeps relative to the travelling root: the motion rule picks it
    left_m, right_m = side_motion(x, "flag3d24")
    assert left_m > right_m
    np.testing.assert_allclose(normalize_clip(x, "flag3d24", 32, canonical_side="angles"), x,
                               atol=1e-5)
    lunge_left = mirror(x.astype(np.float64), "flag3d24")
    np.testing.assert_allclose(normalize_clip(lunge_left, "flag3d24", 32, canonical_side="angles"),
                               x, atol=1e-5)
    assert not np.allclose(normalize_clip(x, "flag3d24", 32, canonical_side=True), x, atol=1e-3)


def test_unknown_side_rule_is_a_one_line_error():
    with pytest.raises(SequenceError, match="unknown canonical_side 'bones'"):
        normalize_clip(np.zeros((5, 24, 3)), "flag3d24", 32, canonical_side="bones")
