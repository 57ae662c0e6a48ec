"""Tests of the synthetic FLAG3D-like generator (flag3d.synth)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import uniform_filter1d
from scipy.signal import find_peaks

from flag3d.errors import Flag3dError, TaxonomyError
from flag3d.skeleton.layouts import get_layout
from flag3d.synth import (
    STANDARDS,
    SynthConfig,
    corpus_item,
    generate_corpus,
    generate_sequence,
    make_subject,
    primary_signal,
    quality_score,
    subjects,
    synth_activities,
)
from flag3d.synth.activities import get_activity

FAST = SynthConfig(reps=(2, 4), views=("front",))
FLOOR = ("A002", "A006", "A036", "A042")


# ----------------------------------------------------------------------------- helpers
def count_peaks(signal: np.ndarray, fps: float, rel_prominence: float = 0.2) -> int:
    """A deliberately simple counter: light smoothing, peaks with a prominence of at least
    ``rel_prominence`` of the signal's range, at least 0.2 s apart."""
    x = uniform_filter1d(np.asarray(signal, dtype=float), size=3, mode="nearest")
    rng = float(x.max() - x.min())
    if rng <= 0:
        return 0
    peaks, _ = find_peaks(x, prominence=rel_prominence * rng, distance=max(1, int(0.2 * fps)))
    return len(peaks)


def knee_angle(j: np.ndarray, hip: int, knee: int, ankle: int) -> np.ndarray:
    """Interior knee angle (degrees), 180 = straight leg."""
    u, w = j[:, hip] - j[:, knee], j[:, ankle] - j[:, knee]
    c = np.sum(u * w, axis=1) / (np.linalg.norm(u, axis=1) * np.linalg.norm(w, axis=1))
    return np.degrees(np.arccos(np.clip(c, -1, 1)))


def bone_lengths(seq) -> np.ndarray:  # type: ignore[no-untyped-def]
    lay = get_layout(seq.layout)
    j = seq.joints.astype(np.float64)
    return np.stack([np.linalg.norm(j[:, c] - j[:, p], axis=1) for c, p in lay.edges], axis=1)


# ------------------------------------------------------------------------ determinism
def test_same_seed_same_arrays_and_different_seed_differs() -> None:
    a = generate_sequence("A049", seed=3, config=FAST, index=7)
    b = generate_sequence("A049", seed=3, config=FAST, index=7)
    c = generate_sequence("A049", seed=4, config=FAST, index=7)
    for key in ("flag3d24", "ntu25"):
        assert np.array_equal(a.clean[key].joints, b.clean[key].joints)
        assert np.array_equal(a.noisy[key].joints, b.noisy[key].joints)
        assert np.array_equal(a.noisy[key].confidence, b.noisy[key].confidence)
    assert np.array_equal(a.views[0].joints, b.views[0].joints)
    assert np.array_equal(a.quality, b.quality)
    assert a.clean["flag3d24"].meta == b.clean["flag3d24"].meta
    assert a.clean["flag3d24"].joints.shape != c.clean["flag3d24"].joints.shape or not \
        np.allclose(a.clean["flag3d24"].joints, c.clean["flag3d24"].joints)


def test_corpus_chunks_match_the_whole_corpus_and_meta_reproduces() -> None:
    cfg = SynthConfig(n_sequences=6, reps=(1, 3), views=(), seed=11, n_subjects=2)
    whole = list(generate_corpus(cfg))
    part = list(generate_corpus(cfg, start=4, stop=6))
    assert [s.activity for s in whole] == synth_activities()[:6]
    assert [s.subject for s in whole] == ["S001", "S002"] * 3  # (i % 25 + i // 25) % 2
    for s, p in zip(whole[4:], part):
        assert np.array_equal(s.clean["flag3d24"].joints, p.clean["flag3d24"].joints)
    # Everything needed to regenerate a sample is in its metadata.
    m = whole[5].clean["ntu25"].meta
    g = m["generator"]
    again = generate_sequence(m["activity"], m["seed"], SynthConfig.from_dict(g["config"]),
                              index=g["index"], subject=g["subject_index"])
    assert np.array_equal(again.clean["ntu25"].joints, whole[5].clean["ntu25"].joints)
    assert corpus_item(cfg, 27) == (synth_activities()[2], 1)  # (2 + 1) % 2
    assert corpus_item(cfg, 2) == (synth_activities()[2], 0)


def test_subjects_are_fixed_and_differ() -> None:
    s0, s0b, s1 = make_subject(5, 0), make_subject(5, 0), make_subject(5, 1)
    assert [s.id for s in subjects(SynthConfig(seed=5, n_subjects=3))] == ["S001", "S002",
                                                                         "S003"]
    assert s0.body.seg == s0b.body.seg and s0.propensity == s0b.propensity
    assert s0.body.seg["thigh"] != s1.body.seg["thigh"]
    heights = [make_subject(5, k).body.stature for k in range(30)]
    assert 1.45 < min(heights) and max(heights) < 2.0 and np.std(heights) > 0.04


# ------------------------------------------------------------------- labels and meta
def test_repetitions_quality_and_score_are_consistent() -> None:
    cfg = SynthConfig(reps=(1, 40), views=(), corrupt=False)
    for i, act in enumerate(synth_activities()):
        s = generate_sequence(act, seed=1, config=cfg, index=i)
        seq = s.clean["flag3d24"]
        r = np.asarray(seq.meta["repetitions"])
        assert 1 <= len(r) <= 40 and r.shape == (s.count, 2)
        assert (r[:, 1] > r[:, 0]).all() and (r[1:, 0] >= r[:-1, 1]).all()
        assert r[0, 0] > 0 and r[-1, 1] < seq.num_frames  # idle before and after
        q = np.asarray(seq.meta["quality"])
        assert q.shape == (s.count, 3) and set(np.unique(q)) <= {0, 1}
        assert seq.meta["score"] == pytest.approx(6 + np.sum(2 * q.mean(axis=0) - 1))
        assert seq.meta["standards"] == list(STANDARDS[act])
        assert seq.meta["label"] == int(act[1:]) - 1 and seq.meta["activity"] == act


def test_score_formula_on_known_labels() -> None:
    assert quality_score(np.ones((5, 3))) == 9.0
    assert quality_score(np.zeros((2, 3))) == 3.0
    # means (1, 0.5, 0.25) -> 6 + 1 + 0 - 0.5
    y = np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0], [1, 0, 0]])
    assert quality_score(y) == pytest.approx(6.5)
    with pytest.raises(Flag3dError, match=r"must be 0 \(fault\) or 1"):
        quality_score(np.array([[1, 2, 1]]))


@pytest.mark.parametrize("act", synth_activities())
def test_every_activity_makes_valid_sequences(act: str) -> None:
    s = generate_sequence(act, seed=2, config=FAST)
    seqs = [*s.clean.values(), *s.noisy.values(), *s.views, *s.views_clean]
    assert [q.layout for q in seqs] == ["flag3d24", "ntu25", "flag3d24", "ntu25", "coco17",
                                        "coco17"]
    t = s.clean["flag3d24"].num_frames
    for q in seqs:
        assert q.num_frames == t and q.fps == 30.0
        assert q.meta["synthetic"] is True and q.meta["source"] == "synthetic"
        assert q.meta["subject"] == s.subject and q.meta["seed"] == 2
    for q in [*s.clean.values(), *s.noisy.values()]:
        assert q.meta["units"] == "m" and q.meta["domain"] == "mocap"
    for q, dom in ((s.views_clean[0], "rendered-clean"), (s.views[0], "noisy")):
        h, w = q.meta["img_shape"]
        assert q.meta["units"] == "px" and q.meta["domain"] == dom and q.meta["view"] == "front"
        assert (h, w) in ((1080, 1920), (1920, 1080)) and "f" in q.meta["camera"]
    uv = s.views_clean[0].joints
    assert (uv[..., 0] > 0).all() and (uv[..., 0] < w).all() and (uv[..., 1] > 0).all() \
        and (uv[..., 1] < h).all()
    # the person's left is on the image's right in a front view
    lay = get_layout("coco17")
    assert np.median(uv[:, lay.index("left_hip"), 0] - uv[:, lay.index("right_hip"), 0]) > 0
    assert s.views[0].meta["id"] != s.clean["flag3d24"].meta["id"]


def test_unknown_activity_and_bad_config_give_one_line_errors() -> None:
    with pytest.raises(TaxonomyError, match="no synthetic program for activity 'A099'"):
        generate_sequence("A099")
    with pytest.raises(Flag3dError, match="reps must be a range"):
        SynthConfig(reps=(0, 5))
    with pytest.raises(Flag3dError, match="unknown view 'top'"):
        SynthConfig(views=("top",))
    with pytest.raises(Flag3dError, match="must be >= 0"):
        generate_sequence("A049", seed=-1)


# -------------------------------------------------------------------------- the body
def test_bone_lengths_constant_and_floor_respected() -> None:
    cfg = SynthConfig(reps=(2, 3), views=(), corrupt=False)
    # ntu25 bones that span a flag3d24 joint (the spine, the clavicle) may flex a little.
    lay = get_layout("ntu25")
    spans = {"spine_mid", "spine_shoulder"}
    rigid = [k for k, (c, p) in enumerate(lay.edges) if lay.joints[p] not in spans
             and lay.joints[c] not in spans]
    flexible = [k for k in range(len(lay.edges)) if k not in rigid]
    for i, act in enumerate(synth_activities()):
        s = generate_sequence(act, seed=4, config=cfg, index=i)
        bl = bone_lengths(s.clean["flag3d24"])
        assert np.ptp(bl, axis=0).max() < 2e-4, act  # float32 storage only
        ntu = bone_lengths(s.clean["ntu25"])
        assert np.ptp(ntu[:, rigid], axis=0).max() < 2e-4, act
        assert np.ptp(ntu[:, flexible], axis=0).max() < 0.01, act
        y = s.clean["ntu25"].joints[..., 1]
        assert y.min() > -0.005, act  # nothing below the floor
        feet = s.clean["flag3d24"].joints[:, [22, 23], 1]
        assert feet.min() < 0.03, act  # and the body stands/lies on it
    # Floor exercises really lie on the floor: low and horizontal at their lowest.
    for act in FLOOR:
        j = generate_sequence(act, seed=4, config=cfg).clean["flag3d24"].joints
        assert j[..., 1].max() < 1.0, act
        torso = j[:, 4] - j[:, 0]  # pelvis -> thorax
        horiz = np.abs(torso[:, 1]) / np.linalg.norm(torso, axis=1)
        assert horiz.min() < 0.35, act  # trunk within 20 deg of horizontal at some point


# ------------------------------------------------------------------ counting check
def test_independent_counter_agrees_with_ground_truth_counts() -> None:
    cfg = SynthConfig(reps=(1, 25), views=(), corrupt=False)
    errors = []
    for i in range(100):
        act = synth_activities()[i % 25]
        s = generate_sequence(act, seed=2024, config=cfg, index=i)
        seq = s.clean["flag3d24"]
        errors.append(count_peaks(primary_signal(seq), seq.fps) - s.count)
    errors = np.asarray(errors)
    exact = float(np.mean(errors == 0))
    assert exact >= 0.95, f"exact agreement {exact:.2f}, errors {errors.tolist()}"
    assert np.abs(errors).max() <= 1
    # The same signal is defined on the ntu25 layout.
    assert np.allclose(primary_signal(s.clean["ntu25"]), primary_signal(seq), atol=1e-4)


# ---------------------------------------------------------------------------- faults
def _reps_measure(act: str, measure, n: int = 12) -> tuple:  # type: ignore[no-untyped-def]
    cfg = SynthConfig(reps=(4, 8), views=(), corrupt=False, fault_rate=0.35)
    good, bad = [], []
    for i in range(n):
        s = generate_sequence(act, seed=9, config=cfg, index=i)
        j = s.clean["flag3d24"].joints.astype(np.float64)
        for (a, b), q in zip(s.repetitions, s.quality):
            (good if q[measure.std] == 1 else bad).append(measure(j[a:b]))
    return np.asarray(good), np.asarray(bad)


def test_squat_depth_fault_is_separable_by_knee_angle() -> None:
    def min_knee(j: np.ndarray) -> float:
        return float(np.maximum(knee_angle(j, 16, 18, 20), knee_angle(j, 17, 19, 21)).min())
    min_knee.std = 0  # type: ignore[attr-defined]
    good, bad = _reps_measure("A049", min_knee)
    assert len(bad) >= 5 and len(good) >= 20
    assert good.max() <= 100.0 < bad.min()  # the spec: knee angle <= ~100 deg at the bottom


def test_jumping_jack_arms_fault_is_separable_by_wrist_height() -> None:
    def wrists_over_head(j: np.ndarray) -> float:
        return float((0.5 * (j[:, 14, 1] + j[:, 15, 1]) - j[:, 7, 1]).max())
    wrists_over_head.std = 0  # type: ignore[attr-defined]
    good, bad = _reps_measure("A057", wrists_over_head)
    assert len(bad) >= 5 and len(good) >= 20
    # hands above the head top vs far below it (arms stopped at shoulder height)
    assert good.min() > 0.0 > bad.max() and good.min() - bad.max() > 0.1


def test_fault_rate_and_subject_spread() -> None:
    cfg = SynthConfig(n_sequences=150, reps=(4, 10), views=(), corrupt=False, n_subjects=6)
    any_fault, scores = [], {}
    for s in generate_corpus(cfg):
        any_fault.extend((s.quality == 0).any(axis=1).tolist())
        scores.setdefault(s.subject, []).append(s.score)
    assert 0.25 <= np.mean(any_fault) <= 0.45
    means = [np.mean(v) for v in scores.values()]
    assert max(means) - min(means) > 0.3  # some subjects are systematically worse
    assert min(min(v) for v in scores.values()) < 7.0  # sequence scores spread


# ------------------------------------------------------------------------ corruption
def test_corruption_has_the_documented_parameters() -> None:
    cfg = SynthConfig(reps=(6, 6), views=("side",), noise_std=0.004, drop_rate=0.02,
                      drop_rate_2d=0.05)
    s = generate_sequence("A020", seed=5, config=cfg)
    clean, noisy = s.clean["flag3d24"], s.noisy["flag3d24"]
    ok = noisy.confidence > 0
    assert 0.005 < (~ok).mean() < 0.04
    assert np.std(noisy.joints[ok] - clean.joints[ok]) == pytest.approx(0.004, rel=0.1)
    t, v = np.nonzero(~ok & (np.arange(clean.num_frames) > 0)[:, None])
    assert np.array_equal(noisy.joints[t, v], noisy.joints[t - 1, v])  # held value
    v2 = s.views[0]
    dropped = v2.confidence == 0
    assert dropped.mean() > 0.01 and (v2.joints[dropped] == 0).all()
    assert (v2.confidence[~dropped] > 0).all()
    err = np.linalg.norm(v2.joints[~dropped] - s.views_clean[0].joints[~dropped], axis=-1)
    assert 1.0 < np.median(err) < 10.0  # a few pixels


def test_alternating_activity_alternates_and_documents_its_convention() -> None:
    s = generate_sequence("A046", seed=1, config=SynthConfig(reps=(6, 6), views=()))
    sides = s.clean["flag3d24"].meta["generator"]["sides"]
    assert sides in ([1, -1] * 3, [-1, 1] * 3)
    assert "alternate" in get_activity("A046").convention
    assert "left + right cycle" in get_activity("A058").convention
