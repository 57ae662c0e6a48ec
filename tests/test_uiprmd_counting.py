"""The UI-PRMD counting set: counts, exact boundaries, no seams, split, determinism, save/load."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_path
from flag3d.data.uiprmd_counting import (
    build_counting_set, cached_counting_set, hold, join_repetitions, load_counting_set,
    load_pool, save_counting_set, seam_report, transition,
)
from flag3d.errors import Flag3dError

SUBJECTS = ["s02", "s09"]
MOVEMENTS = ["m01", "m07"]


@pytest.fixture(scope="module")
def pool():
    return load_pool(shared_path("uiprmd"), SUBJECTS, MOVEMENTS)


@pytest.fixture(scope="module")
def built(pool):
    return build_counting_set(subjects=SUBJECTS, movements=MOVEMENTS, n_per_pair=3, seed=5,
                              pool=pool)


# ---------------------------------------------------------------- synthetic unit checks
def test_transition_respects_max_step():
    a = np.zeros((22, 3), np.float32)
    b = a.copy()
    b[9] = [0.3, 0.0, 0.0]
    tr = transition(a, b, max_step=0.01, min_frames=3)
    path = np.concatenate([a[None], tr, b[None]])
    steps = np.linalg.norm(np.diff(path, axis=0), axis=-1).max(axis=1)
    assert steps.max() <= 0.01 + 1e-6
    assert len(tr) >= int(np.ceil(1.875 * 0.3 / 0.01)) - 1


def test_hold_starts_and_ends_at_the_pose_and_moves():
    pose = np.random.default_rng(0).normal(size=(22, 3)).astype(np.float32)
    pose[:, 1] = np.linspace(0, 1.7, 22)
    h = hold(pose, 60, np.random.default_rng(1))
    assert h.shape == (60, 22, 3)
    assert np.abs(h[0] - pose).max() < 2e-3 and np.abs(h[-1] - pose).max() < 2e-3
    assert np.abs(h - pose).max() > 1e-3  # not frozen
    assert np.abs(h - pose).max() < 0.02  # but only a few millimetres


def test_join_boundaries_and_offsets_on_arrays():
    rng = np.random.default_rng(0)
    reps = [rng.normal(size=(n, 22, 3)).cumsum(0).astype(np.float32) * 0.01 for n in (20, 31, 25)]
    joints, iv, idle_iv, offs = join_repetitions(reps, np.random.default_rng(3), idle=(1.0, 2.0))
    assert len(iv) == 3 and len(idle_iv) == 3  # start, one gap, end
    for r, (s, e), o in zip(reps, iv, offs):
        assert e - s == len(r)
        np.testing.assert_allclose(joints[s:e], r + np.asarray(o, np.float32), atol=1e-6)
        assert o[1] == 0.0  # horizontal only
    assert idle_iv[0][0] == 0 and idle_iv[-1][1] == len(joints)
    assert all(30 <= e - s <= 60 for s, e in idle_iv)


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(Flag3dError, match="reps must be a range"):
        build_counting_set(reps=(5, 2), pool={})
    with pytest.raises(Flag3dError, match="unknown UI-PRMD s-id"):
        build_counting_set(subjects=["s11"], pool={})


# --------------------------------------------------------------------- on the real data
def test_counts_meta_and_split(built):
    assert len(built) == len(SUBJECTS) * len(MOVEMENTS) * 3
    for s in built:
        m = s.meta
        n = len(m["repetitions"])
        assert 2 <= n <= 20 and len(m["source_ids"]) == n == len(m["rep_correct"])
        assert m["source"] == "uiprmd-counting" and m["synthetic"] is False
        assert m["split"] == ("test" if m["subject"] == "s09" else "train")
        assert all(sid.startswith(f"{m['activity']}_{m['subject']}_") for sid in m["source_ids"])
        if n <= 20:  # without replacement while the pool (20) lasts
            assert len(set(m["source_ids"])) == n
        assert s.layout == "uiprmd22" and s.fps == 30.0
    # correct and incorrect repetitions are mixed
    flags = [f for s in built for f in s.meta["rep_correct"]]
    assert 0.3 < np.mean(flags) < 0.7


def test_boundaries_exact(built, pool):
    by_id = {r.meta["id"]: r for reps in pool.values() for r in reps}
    for s in built:
        reps = s.meta["repetitions"]
        assert all(e0 <= s1 for (_, e0), (s1, _) in zip(reps[:-1], reps[1:]))
        for (a, b), sid, off in zip(reps, s.meta["source_ids"], s.meta["source_offsets"]):
            src = by_id[sid].joints
            assert b - a == len(src)
            np.testing.assert_allclose(s.joints[a:b], src + np.asarray(off, np.float32),
                                       atol=1e-5)


def test_no_jumps_at_the_seams(built):
    for s in built:
        r = seam_report(s)
        assert r["seam_max"] <= r["inside_max"], (s.meta["id"], r)
        assert r["seam_max"] < 0.1  # never a jump of 10 cm in one frame


def test_deterministic_and_independent_of_the_other_pairs(built, pool):
    again = build_counting_set(subjects=["s09"], movements=["m07"], n_per_pair=3, seed=5,
                               pool=pool)
    ref = [s for s in built if s.meta["subject"] == "s09" and s.meta["activity"] == "m07"]
    for a, b in zip(ref, again):
        assert a.meta == b.meta
        np.testing.assert_array_equal(a.joints, b.joints)
    other = build_counting_set(subjects=["s09"], movements=["m07"], n_per_pair=1, seed=6,
                               pool=pool)
    assert other[0].meta["source_ids"] != ref[0].meta["source_ids"]


def test_idle_option(pool):
    s = build_counting_set(subjects=["s02"], movements=["m01"], n_per_pair=1, idle=(5, 15),
                           pool=pool)[0]
    plain = build_counting_set(subjects=["s02"], movements=["m01"], n_per_pair=1, pool=pool)[0]
    keep = np.ones(s.num_frames, bool)
    for b, e in s.meta["idle"]:
        keep[b:e] = False
    np.testing.assert_array_equal(s.joints[keep], plain.joints)  # only standing was added
    assert s.meta["source_ids"] == plain.meta["source_ids"]
    idle = s.meta["idle"]
    assert len(idle) == 3 and idle[0][0] == 0 and idle[-1][1] == s.num_frames
    assert all(150 <= e - b <= 450 for b, e in idle)
    reps = s.meta["repetitions"]
    assert all(e <= rb or b >= re for b, e in idle for rb, re in reps)  # idle is no repetition
    assert seam_report(s)["seam_max"] <= seam_report(s)["inside_max"]


def test_flag3d24_and_save_load_round_trip(built, pool, tmp_path):
    conv = build_counting_set(subjects=["s02"], movements=["m07"], n_per_pair=1, seed=5,
                              layout="flag3d24", pool=pool)[0]
    ref = next(s for s in built if s.meta["id"] == "m07_s02_c00")
    assert conv.layout == "flag3d24" and conv.meta["repetitions"] == ref.meta["repetitions"]
    save_counting_set(built[:4], tmp_path / "st")
    back = load_counting_set(tmp_path / "st")
    assert [b.meta["id"] for b in back] == [s.meta["id"] for s in built[:4]]
    np.testing.assert_array_equal(back[2].joints, built[2].joints)
    assert back[2].meta["source_offsets"] == built[2].meta["source_offsets"]
    save_counting_set(built[:4], tmp_path / "rac", fmt="flag3d-rac")
    rac = {s.meta["id"]: s for s in load_counting_set(tmp_path / "rac", split="train")}
    assert set(rac) == {s.meta["id"] for s in built[:4] if s.meta["split"] == "train"}
    one = rac[built[0].meta["id"]]
    assert one.layout == "flag3d24" and one.meta["repetitions"] == built[0].meta["repetitions"]


def test_cache_builds_once_and_the_key_fills_defaults(pool, tmp_path, monkeypatch):
    import flag3d.data.uiprmd_counting as uc

    calls = []
    real = uc.save_counting_set

    def counting(*a, **kw):
        calls.append(a[1])
        return real(*a, **kw)

    monkeypatch.setattr(uc, "save_counting_set", counting)
    kw = dict(subjects=["s09"], movements=["m01"], n_per_pair=1, seed=2)
    a = cached_counting_set(tmp_path, pool=pool, **kw)
    b = cached_counting_set(tmp_path, split="test", pool=pool, reps=(2, 20), rest=(0.0, 2.0), **kw)
    assert len(calls) == 1 and [s.meta["id"] for s in a] == [s.meta["id"] for s in b]
    np.testing.assert_array_equal(a[0].joints, b[0].joints)
    assert [p.name for p in tmp_path.iterdir()] == [calls[0].name.split(".tmp-")[0]]
    cached_counting_set(tmp_path, pool=pool, **{**kw, "seed": 3})
    assert len(calls) == 2
