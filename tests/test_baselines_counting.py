"""Counting baselines: known counts, degenerate inputs, idle, alternation, 2D, intervals."""

from __future__ import annotations

import numpy as np
import pytest

from flag3d.baselines.angles import AngleCounter
from flag3d.baselines.counting import (
    KNNCounter, NotFittedError, RandomCounter, baseline_names, make_counter,
)
from flag3d.baselines.cycles import active_range, detect_cycles, orient
from flag3d.baselines.features import from_array
from flag3d.errors import Flag3dError
from flag3d.metrics.counting import interval_metrics
from flag3d.skeleton import Sequence
from flag3d.synth import SynthConfig, generate_sequence

TRAINING_FREE = ["pca_peaks", "fourier", "wavelet", "repnet_tsm", "angles"]


def _synth(activity: str, reps: int, seed: int = 0, **cfg):
    return generate_sequence(activity, seed=seed, config=SynthConfig(reps=(reps, reps), **cfg))


@pytest.fixture(scope="module")
def squat():
    return _synth("A049", 6, views=("front",))


# ------------------------------------------------------------------------ cycles
def test_detect_cycles_counts_and_ignores_small_wiggles():
    t = np.arange(400) / 30.0
    y = -np.cos(2 * np.pi * 0.5 * t)  # starts at the bottom; peaks at 1, 3, ..., 13 s
    y = y + 0.2 * np.sin(2 * np.pi * 3.0 * t)  # ripple below the threshold
    c = detect_cycles(y, threshold=1.0)
    assert c.count == 6  # the peak at 13 s does not fall back by the threshold before 13.3 s
    assert np.all(np.diff(c.peaks) > 45)
    assert detect_cycles(0.3 * y, threshold=1.0).count == 0


def test_orient_and_active_range():
    y = np.zeros(300)
    y[100:110] = -np.hanning(10)  # dips below a rest level of 0
    assert orient(y) == -1 and orient(-y) == 1
    step = np.r_[np.zeros(100), np.full(1700, 5.0)]  # a one-off posture change ...
    wiggle = step + 0.5 * np.sin(np.arange(1800) / 3.0)  # ... then 58 s of repetitions
    assert active_range(wiggle, fps=30.0) == pytest.approx(1.0, abs=0.05)


# ----------------------------------------------------------------- known counts
def test_training_free_counts_on_a_clean_squat_set(squat):
    seq = squat.clean["flag3d24"]
    for name in TRAINING_FREE:
        p = make_counter(name).predict(seq)
        assert p.reason is None
        # Fourier counts periods over the whole 20 s, idle included (6 reps take 15 s)
        tol = {"angles": 0, "pca_peaks": 0, "fourier": 2}.get(name, 1.5)
        assert abs(p.count - 6) <= tol, name


def test_angle_counter_on_noisy_3d_and_on_2d(squat):
    c = AngleCounter()
    p3 = c.predict(squat.noisy["flag3d24"])
    p2 = c.predict(squat.views[0])  # noisy coco17 pixels with dropped keypoints
    pn = c.predict(squat.noisy["ntu25"])
    assert (p3.count, p2.count, pn.count) == (6.0, 6.0, 6.0)
    m = interval_metrics(p3.repetitions, squat.repetitions.tolist())
    assert m.mean_iou > 0.7 and m.recall == 1.0
    # repetitions are sorted, inside the sequence and do not overlap
    r = np.asarray(p3.repetitions)
    assert r[0, 0] >= 0 and r[-1, 1] <= squat.noisy["flag3d24"].num_frames
    assert np.all(r[1:, 0] >= r[:-1, 1]) and np.all(r[:, 1] > r[:, 0])


@pytest.mark.parametrize("activity,reps", [("A021", 8), ("A058", 10), ("A057", 9)])
def test_alternation_convention(activity, reps):
    """Alternate curls count each arm; high knees count left+right as one; jacks plain."""
    s = _synth(activity, reps, seed=3, views=())
    assert AngleCounter().predict(s.noisy["flag3d24"]).count == reps


# ---------------------------------------------------------------------- idle
def test_idle_adds_no_counts_and_no_repetitions(squat):
    seq = squat.noisy["flag3d24"]
    rng = np.random.default_rng(0)
    fps = seq.fps

    def still(pose, seconds):
        n = int(seconds * fps)
        sway = 0.01 * np.sin(2 * np.pi * 0.2 * np.arange(n) / fps)[:, None, None]
        noise = rng.normal(0, 0.003, (n,) + pose.shape)
        return pose[None] + sway * np.array([1.0, 0.0, 0.3]) + noise

    a, b = seq.joints[0], seq.joints[-1]
    mid = seq.meta["repetitions"][3][0]
    joints = np.concatenate([still(a, 12.0), seq.joints[:mid], still(seq.joints[mid], 9.0),
                             seq.joints[mid:], still(b, 14.0)]).astype(np.float32)
    longer = Sequence(joints, seq.layout, fps=fps)
    p = AngleCounter().predict(longer)
    assert p.count == 6.0
    idle = [(0, int(12 * fps))]
    assert all(s >= idle[0][1] for s, _ in p.repetitions)
    assert p.repetitions[-1][1] <= len(joints) - int(14 * fps) + 5


def test_standing_still_alone_counts_zero_with_reason(squat):
    pose = squat.clean["flag3d24"].joints[0]
    rng = np.random.default_rng(1)
    n = 600
    sway = 0.015 * np.sin(2 * np.pi * 0.15 * np.arange(n) / 30.0)[:, None, None]
    x = pose[None] + sway * np.array([1.0, 0.0, 0.0]) + rng.normal(0, 0.004, (n,) + pose.shape)
    p = AngleCounter().predict(Sequence(x, "flag3d24"))
    assert p.count == 0.0 and p.reason.startswith("no motion")


# ---------------------------------------------------------------- degenerate input
@pytest.mark.parametrize("name", baseline_names())
def test_degenerate_inputs_give_zero_with_a_reason(name, squat):
    c = make_counter(name)
    if c.needs_fit:
        c.fit([squat.clean["flag3d24"]])
    short = squat.clean["flag3d24"].frames(0, 5)
    still = Sequence(np.repeat(squat.clean["flag3d24"].joints[:1], 120, axis=0), "flag3d24")
    missing = from_array(np.full((120, 24, 3), np.nan), "flag3d24")
    for seq, reason in ((short, "too few frames (5 < 16)"), (still, "no motion"),
                        (missing, "all joints are missing")):
        p = c.predict(seq)
        assert p.count == 0.0 and p.reason is not None and p.reason.startswith(reason), (name, p)


def test_from_array_marks_nan_joints_missing():
    x = np.zeros((3, 17, 2))
    x[1, 4] = np.nan
    s = from_array(x, "coco17", fps=25.0, id="x")
    assert s.confidence[1, 4] == 0 and s.confidence.sum() == 3 * 17 - 1
    assert s.meta == {"id": "x"} and np.isfinite(s.joints).all()


# ----------------------------------------------------------------- learned ones
def test_random_and_knn():
    rng = np.random.default_rng(0)
    train = []
    for k, reps in enumerate((3, 9, 14)):
        x = rng.normal(0, 0.05 * (k + 1), (60 + 40 * k, 17, 3)) + np.linspace(0, 1.7, 17)[:, None]
        train.append(Sequence(x, "h36m17", meta={"id": f"t{k}", "repetitions": [[0, 1]] * reps}))
    with pytest.raises(NotFittedError, match="call fit"):
        KNNCounter().predict(train[0])
    knn = KNNCounter().fit(train)
    assert [knn.predict(s).count for s in train] == [3.0, 9.0, 14.0]
    rnd = RandomCounter(seed=4).fit(train)
    draws = [rnd.predict(s).count for s in train]
    assert set(draws) <= {3.0, 9.0, 14.0}
    assert draws == [RandomCounter(seed=4).fit(train).predict(s).count for s in train]
    many = {RandomCounter(seed=k).fit(train).predict(train[0]).count for k in range(30)}
    assert many == {3.0, 9.0, 14.0}


def test_registry():
    assert baseline_names() == ["random", "knn", "pca_peaks", "fourier", "wavelet",
                                "repnet_tsm", "angles"]
    with pytest.raises(Flag3dError, match="unknown counting baseline 'repnet'"):
        make_counter("repnet")
