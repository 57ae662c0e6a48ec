"""Per-standard decision thresholds: choice on validation data, storage, use at inference."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from flag3d.errors import Flag3dError
from flag3d.metrics.quality import choose_thresholds, per_standard_metrics, standard_thresholds


def test_standard_thresholds_broadcast_and_errors():
    assert standard_thresholds(0.3).tolist() == [0.3, 0.3, 0.3]
    assert standard_thresholds([0.2, 0.5, 0.8]).tolist() == [0.2, 0.5, 0.8]
    with pytest.raises(Flag3dError, match="one or 3 probabilities"):
        standard_thresholds([0.5, 0.5])
    with pytest.raises(Flag3dError, match="in \\[0, 1\\]"):
        standard_thresholds([0.5, 1.5, 0.5])


def test_choose_thresholds_best_fault_f1_ties_to_half_and_no_fault_column():
    # column 0: faults have p 0.6 / 0.65, correct ones 0.9 -> any threshold in (0.65, 0.9] is
    # perfect; the one closest to 0.5 is 0.7.  Column 1: separable at 0.5 already (ties ->
    # 0.5).  Column 2: no fault -> 0.5, F1 nan.
    keys = np.array([[0, 0, 1], [0, 1, 1], [1, 1, 1], [1, 1, 1]])
    prob = np.array([[0.6, 0.1, 0.9], [0.65, 0.9, 0.9], [0.9, 0.8, 0.9], [0.92, 0.95, 0.9]])
    thr, f1 = choose_thresholds(keys, prob)
    assert thr == [0.7, 0.5, 0.5]
    assert f1[0] == 1.0 and f1[1] == 1.0 and np.isnan(f1[2])
    # at 0.5 column 0 misses both faults; at the chosen thresholds everything is right
    assert per_standard_metrics(keys, prob, 0.5)["standard0"]["recall"] == 0.0
    m = per_standard_metrics(keys, prob, thr)
    assert m["standard0"]["f1"] == 1.0 and m["all"]["accuracy"] == 1.0


@pytest.fixture()
def checkpoint(tmp_path):
    """An untrained tiny scorer saved as a checkpoint (hash text encoder, no training)."""
    from flag3d.models.checkpoint import save_checkpoint
    from flag3d.models.quality import scorer_from_config

    cfg = {"layout": "flag3d24", "channels": [8, 8], "strides": [1, 2], "kernel": 3,
           "text_dim": 16, "text_hidden": 8, "head_hidden": 8, "frames": 16,
           "text_encoder": "hash:16", "data": "synthetic", "threshold": 0.5,
           "canonical_side": False}
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "ck", scorer_from_config(cfg), cfg, {"task": "quality"})
    return tmp_path / "ck"


def test_tune_writes_thresholds_and_inference_uses_them(checkpoint):
    from flag3d.feedback import build_feedback
    from flag3d.tasks.quality_data import synthetic_clips, synthetic_recordings
    from flag3d.tasks.quality_infer import Scorer, assess
    from flag3d.tasks.quality_threshold import tune_thresholds

    assert Scorer(checkpoint).threshold == 0.5  # no stored thresholds -> the default
    recs = synthetic_recordings(n=4, seed=0, reps=(3, 4), activities=["A049"], fault_rate=0.4)
    clips = synthetic_clips(recs, 16)
    sel = tune_thresholds(checkpoint, clips=clips)
    assert sel["source"] == "validation" and sel["repetitions"] == len(clips)
    stored = json.loads((checkpoint / "config.json").read_text())["thresholds"]
    assert stored == [round(t, 4) for t in sel["thresholds"]]
    assert json.loads((checkpoint / "info.json").read_text())["threshold_selection"]["faults"] == sel["faults"]
    scorer = Scorer(checkpoint)
    assert scorer.threshold == stored and scorer.thresholds.tolist() == stored
    # assess applies the per-standard thresholds column by column, and so does the feedback
    rec = recs[0]
    res = assess(rec.seq, repetitions=rec.repetitions.tolist(), checkpoint=checkpoint)
    assert res.threshold == stored
    assert (res.keys == (res.probabilities >= np.array(stored)).astype(int)).all()
    fb = build_feedback(res)
    met = [[c.met for c in r.checks] for r in fb.repetitions]
    json.dumps(fb.to_dict())  # plain bools, JSON-ready
    assert met == (res.probabilities >= np.array(stored)).tolist()
    # an explicit threshold still overrides the stored ones
    res2 = assess(rec.seq, repetitions=rec.repetitions.tolist(), checkpoint=checkpoint,
                  threshold=0.0)
    assert res2.threshold == 0.0 and res2.keys.all()


def test_tune_needs_a_labelled_fault(checkpoint):
    from flag3d.tasks.quality_data import synthetic_clips, synthetic_recordings
    from flag3d.tasks.quality_threshold import tune_thresholds

    clips = synthetic_clips(synthetic_recordings(n=1, seed=0, reps=(2, 2), activities=["A049"]), 16)
    for c in clips:
        c.keys = np.ones(3, dtype=np.int64)
    with pytest.raises(Flag3dError, match="no validation repetition with a labelled fault"):
        tune_thresholds(checkpoint, clips=clips, write=False)


def test_train_starts_from_init_weights(checkpoint, tmp_path):
    """``init_weights`` loads a checkpoint before training (lr 0: the parameters stay its own)."""
    from safetensors.numpy import load_file

    from flag3d.tasks.quality import train
    from flag3d.tasks.quality_config import QualityConfig
    from flag3d.tasks.quality_data import synthetic_clips, synthetic_recordings
    from flag3d.tasks.trainer import TrainOptions

    clips = synthetic_clips(synthetic_recordings(n=2, seed=0, reps=(2, 2), activities=["A049"]), 16)
    cfg = QualityConfig(data="synthetic", frames=16, channels=[8, 8], strides=[1, 2], kernel=3,
                        text_encoder="hash:16", text_hidden=8, head_hidden=8, epochs=1,
                        batch_size=4, lr=0.0, init_weights=str(checkpoint))
    best = train(cfg, TrainOptions(out=tmp_path / "run", progress=False),
                 data={"train": clips, "val": [], "split": {"test": []}})
    old, new = load_file(str(checkpoint / "model.safetensors")), load_file(str(best / "model.safetensors"))
    weights = [k for k in old if k.endswith(".weight") and "bn" not in k and old[k].ndim > 1]
    assert weights and all(np.array_equal(old[k], new[k]) for k in weights)
    assert json.loads((best / "info.json").read_text())["init_weights"] == str(checkpoint)


def test_cli_quality_thresholds_dry_run_and_help(checkpoint, monkeypatch):
    from typer.testing import CliRunner

    import flag3d.tasks.quality_threshold as qt
    from flag3d.cli import _register, app

    _register()
    runner = CliRunner()
    r = runner.invoke(app, ["train", "quality-thresholds", "--help"])
    assert r.exit_code == 0 and "Example: flag3d train quality-thresholds" in r.output
    fake = {"thresholds": [0.4, 0.5, 0.7], "f1_at_thresholds": [0.9, 0.8, 0.95],
            "f1_at_0.5": [0.85, 0.8, 0.9], "repetitions": 12, "faults": [3, 2, 4],
            "validation_people": ["S010"]}
    seen = {}

    def tune(ck, overrides=(), write=True, clips=None):
        seen.update(write=write, overrides=list(overrides))
        return fake

    monkeypatch.setattr(qt, "tune_thresholds", tune)
    r = runner.invoke(app, ["train", "quality-thresholds", "-c", str(checkpoint), "--dry-run",
                            "--set", "synthetic_n=20"])
    assert r.exit_code == 0, r.output
    assert seen == {"write": False, "overrides": ["synthetic_n=20"]}
    assert "standard 2: threshold 0.70  fault F1 0.9500 (at 0.5: 0.9000)" in r.output
    assert "not stored (--dry-run)" in r.output
