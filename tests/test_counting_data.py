"""Counting data: density labels, crops, sampling, stitching, normalisation, samples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from flag3d.data.counting import (
    density_labels, estimate_period, make_crops, normalize, normalize_array, protocol_indices,
    resample_rate, stitch, window_features, window_starts, working_rate,
)
from flag3d.data.counting_dataset import (
    CountingWindows, item_from_sequence, protocol_sample, rate_sample,
)
from flag3d.errors import LayoutError
from flag3d.skeleton import Sequence
from flag3d.synth import SynthConfig, generate_sequence


def phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


@pytest.fixture(scope="module")
def squat():
    return generate_sequence("A049", seed=2, config=SynthConfig(reps=(6, 6), views=()))


# ------------------------------------------------------------------------ labels
def test_density_known_values_and_unit_mass_per_repetition():
    d = density_labels([[0, 6]], 6)  # mu 3, sigma 1: bins are differences of Phi
    expected = [phi(k - 2) - phi(k - 3) for k in range(6)]
    np.testing.assert_allclose(d, expected, atol=1e-6)
    assert d[2] == pytest.approx(0.3413447, abs=1e-6)
    d = density_labels([[10, 40], [40, 52], [60, 100]], 128)
    for s, e in [(10, 40), (40, 52), (60, 100)]:
        # a repetition well inside the grid sums to 1 (its tails fall in neighbouring bins)
        assert density_labels([[s, e]], 128).sum() == pytest.approx(1.0, abs=1e-5)
        # and 0.9973 (+-3 sigma) of it lies within its own frames
        assert density_labels([[s, e]], 128)[s:e].sum() == pytest.approx(0.9973, abs=2e-3)
    assert d.sum() == pytest.approx(3.0, abs=1e-4)
    assert d.dtype == np.float32 and d.min() >= 0


def test_density_mapping_and_cut_repetitions():
    # a repetition mapped with offset/scale equals the same repetition given on the grid
    np.testing.assert_allclose(density_labels([[30, 60]], 64, offset=30, scale=0.5),
                               density_labels([[0, 15]], 64), atol=1e-7)
    # cut by the left edge: only the part inside counts (mu 5, sigma 5 -> 1 - Phi(-1))
    assert density_labels([[-10, 20]], 128).sum() == pytest.approx(1.0 - phi(-1), abs=1e-5)
    # a repetition outside the grid contributes nothing
    assert density_labels([[200, 260]], 128).sum() == pytest.approx(0.0, abs=1e-9)


# ------------------------------------------------------------------------- crops
def test_crops_keep_exact_counts_and_cut_at_repetition_ends():
    reps = [[10, 40], [40, 75], [90, 120], [120, 150], [160, 200]]
    ends = {e for _, e in reps}
    crops = make_crops(reps, 220, n=10, seed=3)
    assert len(crops) == 10 and crops[0].kind == "whole" and crops[0].count == 5
    assert {c.kind for c in crops[1:]} == {"prefix", "suffix"}
    for c in crops:
        inside = [r for r in reps if r[0] >= c.start and r[1] <= c.end]
        assert c.count == len(inside) >= 1
        assert [list(r) for r in c.reps] == inside
        if c.kind == "prefix":
            assert c.start == 0 and c.end in ends
        if c.kind == "suffix":
            assert c.start in ends and c.end == 220


def test_protocol_sample_of_a_crop_sums_to_its_count(squat):
    seq = squat.clean["flag3d24"]
    reps = np.asarray(seq.meta["repetitions"])
    for c in make_crops(reps, seq.num_frames, n=10, seed=0):
        win, dens = protocol_sample(seq.joints, np.asarray(c.reps), c.start, c.end)
        assert win.shape == (128, 24, 3)
        assert dens.sum() == pytest.approx(c.count, abs=0.02 * c.count + 0.01)


def test_rate_sample_window_density_matches_the_repetitions_inside(squat):
    seq = squat.clean["flag3d24"]
    reps = np.asarray(seq.meta["repetitions"], dtype=float)
    rng = np.random.default_rng(0)
    rate = 5.0  # the whole sequence (24 s) fits one 128-frame window at 5 fps
    win, dens = rate_sample(seq.joints, seq.fps, reps, 0, seq.num_frames, rate, rng)
    assert seq.num_frames / seq.fps * rate < 128
    assert dens.sum() == pytest.approx(len(reps), abs=0.03)
    # the density peak of repetition 0 sits at its middle on the 10 fps grid
    mid = (reps[0, 0] + reps[0, 1]) / 2 / seq.fps * rate
    first = dens[: int((reps[0, 1] / seq.fps) * rate)]
    assert abs(int(np.argmax(first)) + 0.5 - mid) <= 1.0


# ---------------------------------------------------------------------- sampling
def test_protocol_indices_interval_sampling_and_padding():
    np.testing.assert_array_equal(protocol_indices(256, 128), np.arange(0, 256, 2))
    idx = protocol_indices(50, 128)
    assert idx[:50].tolist() == list(range(50)) and set(idx[50:].tolist()) == {49}


def test_resample_rate_is_exact_on_a_linear_ramp():
    x = np.arange(60, dtype=np.float32)[:, None] * 2.0  # value = 2 * frame, 30 fps
    y = resample_rate(x, 30.0, 45.0, start_s=0.1, n=10)
    t = 0.1 + np.arange(10) / 45.0
    np.testing.assert_allclose(y[:, 0], 2.0 * 30.0 * t, atol=1e-4)
    # past the end the last frame repeats
    assert resample_rate(x, 30.0, 30.0, start_s=1.9, n=5)[-1, 0] == pytest.approx(118.0)


def test_windows_and_stitch_preserve_a_density():
    rng = np.random.default_rng(0)
    truth = density_labels(np.cumsum(rng.integers(15, 30, size=(40, 2)), axis=0)
                           .reshape(-1, 2)[:20], 700)
    starts = window_starts(700, 128, 64)
    assert starts[0] == 0 and starts[-1] == 700 - 128 and all(b - a <= 64 for a, b in zip(starts, starts[1:]))
    wins = [truth[s:s + 128] for s in starts]
    np.testing.assert_allclose(stitch(wins, starts, 700), truth, atol=1e-6)
    assert window_starts(100, 128) == [0]


# ------------------------------------------------------------------ normalisation
def _turned(seq: Sequence, deg: float, shift, scale: float) -> Sequence:
    a = math.radians(deg)
    rot = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    return seq.replace(joints=((seq.joints @ rot.T) + np.asarray(shift)) * scale)


def test_normalisation_removes_position_heading_and_units(squat):
    seq = squat.clean["flag3d24"]
    a = normalize(seq).joints
    b = normalize(_turned(seq, 70.0, [1.0, 0.0, -3.0], 100.0)).joints  # turned, moved, cm
    np.testing.assert_allclose(a, b, atol=1e-4)
    # the hip line lies on +x, and joint 0 keeps the vertical root motion of the squat
    hip = a[:, 16] - a[:, 17]
    assert np.all(hip[:, 0] > 0) and np.abs(hip[:, 2]).mean() < 0.05
    assert a[:, 0, 1].max() - a[:, 0, 1].min() > 0.1


def test_other_layouts_are_converted_and_impossible_ones_named(squat):
    ntu = squat.clean["ntu25"]
    prep = normalize(ntu)
    assert prep.reason is None and prep.joints.shape == (ntu.num_frames, 24, 3)
    h36 = Sequence(np.random.default_rng(0).random((40, 17, 3)), "h36m17", fps=30)
    with pytest.raises(LayoutError, match="no conversion from h36m17.*flag3d24"):
        normalize(h36)
    coco = Sequence(np.random.default_rng(0).random((40, 17, 2)), "coco17", fps=30)
    with pytest.raises(LayoutError, match="needs 3D joints"):
        normalize(coco)


def test_degenerate_inputs_give_reasons_not_errors(squat):
    seq = squat.clean["flag3d24"]
    assert "too few frames" in normalize(seq.frames(0, 5)).reason
    still = seq.replace(joints=np.repeat(seq.joints[:1], 90, axis=0))
    assert normalize(still).reason.startswith("no motion")
    gone = seq.replace(confidence=np.zeros(seq.joints.shape[:-1], np.float32))
    assert normalize(gone).reason.startswith("no valid joints")
    nan = np.full((60, 24, 3), np.nan, np.float32)
    assert normalize_array(nan, "flag3d24", 30.0).reason.startswith("no valid joints")
    # NaN for a few joints is filled, not refused
    holes = seq.joints.copy()
    holes[10:20, 5] = np.nan
    assert normalize_array(holes, "flag3d24", 30.0).reason is None


def test_period_estimate_and_working_rate(squat):
    seq = squat.clean["flag3d24"]
    reps = np.asarray(seq.meta["repetitions"])
    spacing = float(np.median(np.diff(reps[:, 0]))) / seq.fps  # start to start, rests included
    est = estimate_period(normalize(seq).joints, seq.fps)
    assert est == pytest.approx(spacing, rel=0.1)
    assert working_rate(2.0, 30.0, 20.0) == pytest.approx(10.0)
    assert working_rate(None, 64.0) == pytest.approx(4.0)  # 128 / 64 s = 2 fps -> floor 4


def test_window_features_channels():
    win = np.random.default_rng(0).normal(size=(128, 24, 3)).astype(np.float32)
    x = window_features(win)
    assert x.shape == (6, 128, 24)
    np.testing.assert_allclose(x[:3, :, 0].mean(axis=1), 0.0, atol=1e-5)  # root centred
    np.testing.assert_allclose(x[3:, 5, 7], (win[6, 7] - win[5, 7]) * 10.0, rtol=1e-5)
    assert np.all(x[3:, -1] == 0)


# ------------------------------------------------------------------------ dataset
def test_counting_windows_shapes_determinism_and_text(squat):
    item = item_from_sequence(squat.clean["flag3d24"])
    assert item.count == 6
    texts = {"A049": np.ones(8, np.float32)}
    ds = CountingWindows([item, item], crops=10, texts=texts, text_dim=8, seed=1)
    assert len(ds) == 20
    a, b = ds[3], ds[3]
    np.testing.assert_array_equal(a["x"], b["x"])
    assert a["x"].shape == (6, 128, 24) and a["density"].shape == (128,)
    assert a["count"] == pytest.approx(a["density"].sum())
    np.testing.assert_array_equal(a["text"], np.ones(8))
    ds.set_epoch(1)
    assert not np.array_equal(ds[3]["x"], a["x"])  # new random crop view / window
    # whole-sequence protocol samples carry the exact count
    full = CountingWindows([item], crops=1, protocol_prob=1.0, text_dim=0)
    assert full[0]["count"] == pytest.approx(6.0, abs=0.05)
