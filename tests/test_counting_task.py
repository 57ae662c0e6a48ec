"""Counting task: loss, tiny training, segmentation, inference on long/idle/degenerate input,
and the shipped model on synthetic and real (UI-PRMD) sequences."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import shared_path
from flag3d.data.counting import Prepared, density_labels
from flag3d.data.counting_dataset import CountingWindows, item_from_sequence
from flag3d.errors import FormatError, TaxonomyError
from flag3d.metrics.counting import interval_metrics
from flag3d.models.checkpoint import save_checkpoint
from flag3d.models.counting import build_model
from flag3d.skeleton import Sequence
from flag3d.synth import SynthConfig, generate_sequence
from flag3d.tasks.counting import CountingConfig, count_sequence, evaluate, load_counter, shipped_weights, train
from flag3d.tasks.counting_infer import Counter
from flag3d.tasks.counting_module import density_loss
from flag3d.tasks.counting_segments import segment_density
from flag3d.tasks.trainer import TrainOptions

TINY = {"channels": [8, 8], "strides": [1, 1], "text_dim": 16, "sim_scales": [1, 5],
        "d_model": 16, "tf_ff": 32}

@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: on a shared 2-core machine two threads mostly wait for each other."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


needs_shipped = pytest.mark.skipif(not (shipped_weights() / "model.safetensors").is_file(),
                                   reason="the shipped counting model is not trained yet")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A randomly initialised tiny model saved as a checkpoint (inference plumbing only)."""
    torch.manual_seed(0)
    model = build_model(TINY).eval()
    folder = tmp_path_factory.mktemp("tiny")
    save_checkpoint(folder, model, {**model.settings, "text_encoder": "hash:16"}, {"task": "counting"})
    return folder


def _synth(activity: str, reps: int, seed: int = 0, **kw) -> Sequence:
    cfg = SynthConfig(reps=(reps, reps), views=(), **kw)
    return generate_sequence(activity, seed=seed, config=cfg).clean["flag3d24"]


# ------------------------------------------------------------------ loss, training
def test_density_loss_terms():
    pred = torch.zeros(2, 4)
    target = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    terms = density_loss(pred, target, count_weight=0.5)
    assert terms["density"].item() == pytest.approx(0.75)  # (0.25 + 0.25 + 1) / 2
    assert terms["count"].item() == pytest.approx(0.5)  # smooth L1 of |0 - 1|
    assert terms["loss"].item() == pytest.approx(0.75 + 0.25)


def test_a_tiny_training_run_decreases_the_loss():
    torch.manual_seed(0)
    items = [item_from_sequence(_synth(a, 4, seed=i)) for i, a in enumerate(["A049", "A057"])]
    ds = CountingWindows(items, crops=4, protocol_prob=0.5, text_dim=16, seed=0)
    batch = {k: torch.as_tensor(np.stack([ds[i][k] for i in range(8)])) for k in ("x", "density", "text")}
    model = build_model(TINY).train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = density_loss(model(batch["x"], batch["text"]), batch["density"])["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])


def test_train_exports_a_checkpoint_with_config_and_texts(tmp_path):
    from flag3d.data.counting_dataset import synthetic_items

    tr = synthetic_items(3, seed=0, reps=(3, 4), idle=(0.5, 1.0))
    va = synthetic_items(2, seed=9, reps=(3, 4), idle=(0.5, 1.0))
    best = train("configs/counting/smoke.yaml", TrainOptions(out=tmp_path / "run", progress=False),
                 items=(tr, va))
    assert {p.name for p in best.iterdir()} >= {"model.safetensors", "config.json", "info.json",
                                               "texts.safetensors"}
    cfg = json.loads((best / "config.json").read_text())
    assert cfg["channels"] == [8, 8] and cfg["text_encoder"] == "hash"
    info = json.loads((best / "info.json").read_text())
    assert info["task"] == "counting" and "val_mae" in info["metrics"]
    res = evaluate(best, items=va)
    assert res["n"] == 2 and {"flag3d", "transrac", "intervals"} <= set(res)
    assert res["flag3d"]["convention"] == "flag3d" and res["transrac"]["convention"] == "transrac"


# ---------------------------------------------------------------- segmentation
def test_boundaries_from_exact_density_have_iou_near_one():
    rng = np.random.default_rng(0)
    for trial in range(5):
        lengths = rng.integers(10, 30, size=rng.integers(2, 6))
        gaps = rng.integers(0, 12, size=len(lengths)) * rng.integers(0, 2, size=len(lengths))
        starts = 5 + np.cumsum(np.concatenate([[0], (lengths + gaps)[:-1]]))
        reps = np.stack([starts, starts + lengths], axis=1)
        reps = reps[reps[:, 1] < 125]
        d = density_labels(reps, 128)
        found = segment_density(d)
        assert len(found) == len(reps)
        assert interval_metrics(found, reps).mean_iou > 0.95


def test_boundaries_survive_a_noisy_density():
    reps = np.array([[10, 30], [30, 52], [52, 70], [85, 110]])
    d = density_labels(reps, 128) * 0.95 + np.random.default_rng(1).uniform(0, 0.004, 128)
    found = segment_density(d)
    assert len(found) == 4 and interval_metrics(found, reps).mean_iou > 0.8


# -------------------------------------------------------------- inference plumbing
def test_degenerate_inputs_count_zero_with_a_reason(tiny_checkpoint):
    seq = _synth("A049", 3)
    short = count_sequence(seq.frames(0, 4), checkpoint=tiny_checkpoint)
    assert short.count == 0 and short.reason.startswith("too few frames")
    still = count_sequence(seq.replace(joints=np.repeat(seq.joints[:1], 300, axis=0)),
                           checkpoint=tiny_checkpoint)
    assert still.count == 0 and still.reason.startswith("no motion") and still.repetitions == []
    nan = count_sequence(np.full((90, 24, 3), np.nan), checkpoint=tiny_checkpoint,
                         layout="flag3d24", fps=30.0)
    assert nan.count == 0 and nan.reason.startswith("no valid joints")
    assert len(nan.density) == 90 and not nan.density.any()


def test_counter_windows_a_long_recording_and_maps_back_to_input_frames(tiny_checkpoint):
    counter = load_counter(tiny_checkpoint)
    seq = _synth("A057", 20)
    res = counter.count(seq)
    assert res.reason is None and res.working_rate is not None
    assert len(res.density) == seq.num_frames
    assert res.density.sum() == pytest.approx(res.count_raw, rel=1e-4)
    for r in res.repetitions:
        assert 0 <= r.start_frame < r.end_frame <= seq.num_frames
        assert r.start_s == pytest.approx(r.start_frame / seq.fps, abs=1.0 / seq.fps)
    assert load_counter(tiny_checkpoint) is counter  # cached


def test_text_lookup_and_errors(tiny_checkpoint):
    counter = load_counter(tiny_checkpoint)
    vec, act = counter.text_for("sumo squat")
    assert act == "A049" and vec.shape == (16,)
    with pytest.raises(TaxonomyError, match="unknown activity"):
        counter.text_for("xyzzy plugh")
    assert counter.text_for(None)[1] is None
    with pytest.raises(FormatError, match="checkpoint folder not found"):
        load_counter(tiny_checkpoint / "nope")


def test_numpy_and_torch_engines_agree_on_a_count(tiny_checkpoint):
    seq = _synth("A020", 5)
    a = load_counter(tiny_checkpoint, "numpy").count(seq)
    b = load_counter(tiny_checkpoint, "torch").count(seq)
    np.testing.assert_allclose(a.density, b.density, atol=1e-4)


# ------------------------------------------------------------- the shipped model
@needs_shipped
@pytest.mark.parametrize("activity,reps", [("A049", 7), ("A020", 5), ("A057", 12)])
def test_shipped_model_counts_synthetic_sequences(activity, reps):
    seq = _synth(activity, reps, seed=42)
    res = count_sequence(seq)
    # the shipped model is off by one on some synthetic sets (held-out synthetic OBO@1 0.84,
    # MODEL_CARD.md); clean recordings like these must be within one and well located
    assert abs(res.count - reps) <= 1
    truth = np.asarray(seq.meta["repetitions"])
    assert interval_metrics([(r.start_frame, r.end_frame) for r in res.repetitions],
                            truth).mean_iou > 0.6


@needs_shipped
def test_idle_standing_adds_no_counts():
    # 5-15 s of standing before and after the repetitions
    seq = _synth("A010", 6, seed=7, idle=(5.0, 15.0))
    assert seq.duration > 6 * 2.0 + 10.0
    res = count_sequence(seq)
    assert res.count == 6
    reps = np.asarray(seq.meta["repetitions"])
    idle = np.ones(seq.num_frames, bool)
    for s, e in reps:
        idle[s:e] = False
    assert res.density[idle].sum() < 0.5


@needs_shipped
def test_five_minutes_with_more_than_100_repetitions():
    seq = _synth("A020", 150, seed=4, pause_prob=0.0)  # 5 min 20 s of dumbbell curls
    assert seq.duration >= 300 and len(seq.meta["repetitions"]) == 150
    res = count_sequence(seq)
    # squeezed into 128 frames a 2 s curl would span under 1 frame and the count collapse;
    # counted in windows at the working rate it stays within 6 % (measured: 158)
    assert abs(res.count - 150) <= 9
    assert len(res.repetitions) == res.count and res.repetitions[-1].end_s > 290


@needs_shipped
@pytest.mark.realdata
def test_shipped_model_on_real_uiprmd_sequences_with_idle():
    shared_path("uiprmd")
    from flag3d.data.uiprmd_counting import build_counting_set

    seqs = build_counting_set(subjects=["s09"], movements=["m01", "m07"], n_per_pair=1,
                              seed=11, idle=(5.0, 15.0), reps=(4, 10))
    for s in seqs:
        res = count_sequence(s)
        assert abs(res.count - len(s.meta["repetitions"])) <= 1, s.meta["id"]
