"""The scorer G, its loss, a tiny training run, assess() and the Eq. 1 evaluation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from flag3d.errors import FormatError, TaxonomyError
from flag3d.models.quality import QualityScorer, scorer_from_config
from flag3d.skeleton import Sequence
from flag3d.tasks.quality_module import decision_metrics, quality_loss, score_batch


def _tiny(**kw):
    cfg = dict(layout="flag3d24", channels=(8, 8), strides=(1, 2), kernel=3, text_dim=16,
               text_hidden=8, head_hidden=8)
    cfg.update(kw)
    return QualityScorer(**cfg)


def test_scorer_shapes_and_text_changes_the_output():
    torch.manual_seed(0)
    g = _tiny().eval()
    x = torch.randn(2, 9, 16, 24)
    d = torch.ones(2)
    a = g(x, torch.randn(2, 16), d)
    b = g(x, torch.randn(2, 16), d)
    assert a.shape == (2,) and not torch.allclose(a, b)
    assert g.text_points(torch.randn(3, 16)).shape == (2, 3, 24)
    logits = score_batch(g, x, torch.randn(2, 3, 16), d)
    assert logits.shape == (2, 3)


def test_scorer_without_text_and_from_config():
    g = _tiny(text_mode="none", head_text=False).eval()
    x = torch.randn(2, 9, 16, 24)
    assert torch.allclose(g(x, torch.randn(2, 16), torch.ones(2)), g(x, None, torch.ones(2)))
    assert float(g.text_points(torch.randn(1, 16)).abs().sum()) == 0.0
    h = scorer_from_config({"layout": "uiprmd22", "channels": [8], "strides": [1],
                            "text_dim": 4, "unused": 1})
    assert h.layout == "uiprmd22"


def test_head_duration_switch():
    torch.manual_seed(0)
    x, text = torch.randn(2, 9, 16, 24), torch.randn(2, 16)
    with_d = _tiny().eval()
    assert not torch.allclose(with_d(x, text, torch.ones(2)), with_d(x, text, 3 * torch.ones(2)))
    without = _tiny(head_duration=False).eval()
    assert without.head[0].in_features == with_d.head[0].in_features - 1
    assert torch.equal(without(x, text, torch.ones(2)), without(x, text, 3 * torch.ones(2)))
    assert scorer_from_config({"layout": "flag3d24", "channels": [8], "strides": [1],
                               "text_dim": 4, "head_duration": False}).head_duration is False


def test_quality_loss_per_standard_and_noisy_and():
    big = 20.0
    keys = torch.tensor([[1, 0, 1]])
    right = torch.tensor([[big, -big, big]])
    wrong = torch.tensor([[big, big, big]])
    assert float(quality_loss(right, keys, torch.tensor([0]))) < 1e-6
    assert float(quality_loss(wrong, keys, torch.tensor([0]))) == pytest.approx(big / 3, rel=1e-3)
    # fault weight counts faults more: weighted mean over the standards
    assert float(quality_loss(wrong, keys, torch.tensor([0]), fault_weight=2.0)) == pytest.approx(big / 2, rel=1e-3)
    # incorrect repetition, standards unknown: satisfied when ANY standard fails
    unknown = torch.tensor([[-1, -1, -1]])
    one_fails = torch.tensor([[big, big, -big]])
    assert float(quality_loss(one_fails, unknown, torch.tensor([0]))) < 1e-6
    assert float(quality_loss(wrong, unknown, torch.tensor([0]))) > 1.0


def test_decision_metrics():
    prob = np.array([[0.9, 0.9, 0.9], [0.9, 0.2, 0.9], [0.9, 0.9, 0.9]])
    keys = np.array([[1, 1, 1], [1, 0, 1], [1, 0, 1]])
    m = decision_metrics(prob, keys, keys.min(axis=1))
    assert m["acc"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)  # one fault found, one missed
    assert m["metric"] == pytest.approx(2 / 3)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """Train G for one short epoch on a handful of synthetic recordings (hash text)."""
    from flag3d.tasks.quality import train
    from flag3d.tasks.quality_config import QualityConfig
    from flag3d.tasks.quality_data import synthetic_clips, synthetic_recordings
    from flag3d.tasks.trainer import TrainOptions

    root = tmp_path_factory.mktemp("quality")
    recs = synthetic_recordings(n=6, seed=0, reps=(2, 3), activities=["A049", "A020"])
    clips = synthetic_clips(recs, frames=16)
    cfg = QualityConfig(data="synthetic", frames=16, channels=[8, 8], strides=[1, 2], kernel=3,
                        text_encoder="hash:16", text_hidden=8, head_hidden=8, epochs=1,
                        batch_size=8)
    best = train(cfg, TrainOptions(out=root / "run", progress=False),
                 data={"train": clips[:-4], "val": clips[-4:], "split": {"test": []}})
    return best, recs


def test_train_exports_weights_texts_and_config(tiny_checkpoint):
    best, _ = tiny_checkpoint
    for name in ("model.safetensors", "config.json", "info.json", "texts.safetensors"):
        assert (best / name).is_file(), name
    cfg = json.loads((best / "config.json").read_text())
    assert cfg["text_dim"] == 16 and cfg["layout"] == "flag3d24"
    assert json.loads((best / "info.json").read_text())["task"] == "quality"


def test_assess_scores_every_repetition(tiny_checkpoint):
    from flag3d.tasks.quality_infer import assess

    best, recs = tiny_checkpoint
    rec = recs[0]
    res = assess(rec.seq, repetitions=rec.repetitions.tolist(), checkpoint=best)
    n = len(rec.repetitions)
    assert res.activity == rec.activity and res.assessable and res.segmentation == "given"
    assert res.probabilities.shape == (n, 3) and ((res.probabilities >= 0) & (res.probabilities <= 1)).all()
    assert 3.0 <= res.score <= 9.0 and res.score == pytest.approx(
        6 + np.sum(2 * res.keys.mean(axis=0) - 1))
    assert res.text_points.shape == (3, 24)
    d = res.to_dict()
    assert len(d["repetitions"]) == n and d["score"] is not None
    json.dumps(d)


def test_assess_without_repetition_is_not_assessable(tiny_checkpoint):
    from flag3d.tasks.quality_infer import assess

    best, recs = tiny_checkpoint
    res = assess(recs[0].seq, repetitions=[], checkpoint=best)
    assert res.score is None and res.score_soft is None and not res.assessable
    assert res.reason == "not assessable: no repetition to assess (0 repetitions given)"
    assert res.to_dict()["score"] is None
    # a motionless recording: the counter finds nothing, the score is still not a number
    still = Sequence(np.repeat(recs[0].seq.joints[:1], 90, axis=0), "flag3d24",
                     meta={"activity": recs[0].activity})
    res = assess(still, checkpoint=best)
    assert res.score is None and res.reason.startswith("not assessable:")


def test_assess_errors(tiny_checkpoint, tmp_path):
    from flag3d.tasks.quality_infer import assess

    best, recs = tiny_checkpoint
    seq = recs[0].seq.replace(meta={})
    with pytest.raises(TaxonomyError, match="needs the activity"):
        assess(seq, repetitions=[[0, 10]], checkpoint=best)
    with pytest.raises(FormatError, match="checkpoint folder not found"):
        assess(recs[0].seq, repetitions=[[0, 10]], checkpoint=tmp_path / "nope")


def test_evaluate_recordings_oracle_and_trained(tiny_checkpoint):
    from flag3d.tasks.quality import evaluate_clips, evaluate_recordings
    from flag3d.tasks.quality_data import synthetic_clips
    from flag3d.tasks.quality_infer import load_scorer

    best, recs = tiny_checkpoint

    def oracle(clips):
        return np.stack([c.keys for c in clips]).astype(float)

    r = evaluate_recordings(oracle, recs, frames=16)
    assert r["gt_seg"]["n"] == len(recs) and r["gt_seg"]["r_l2"] == 0.0
    assert [row["score"] for row in r["per_recording"]] == [rec.score for rec in recs]
    scorer = load_scorer(best)
    clips = synthetic_clips(recs, 16)
    m = evaluate_clips(scorer.probabilities(clips), clips)
    assert set(m["per_activity"]) == {"A049", "A020"}
    assert m["per_standard"]["all"]["n"] == 3 * len(clips)


def test_scorer_features_and_score_head(tiny_checkpoint):
    from flag3d.tasks.quality import score_head
    from flag3d.tasks.quality_data import synthetic_clips
    from flag3d.tasks.quality_infer import load_scorer

    best, recs = tiny_checkpoint
    scorer = load_scorer(best)
    clips = synthetic_clips(recs, 16)
    f = scorer.features(clips[:5])
    width = 2 * 8 + 8 + 1  # mean+max of 8 channels, projected text, log duration
    assert f.shape == (5, 3 * width)
    for i, c in enumerate(clips):
        c.score = float(c.keys.sum() + 0.1 * i)
    head = score_head(scorer, clips[:10], clips[10:])
    assert head["n_train"] == 10 and head["n_test"] == len(clips) - 10
    assert -1.0 <= head["rho"] <= 1.0
    assert score_head(scorer, clips[:2], clips[2:]) is None
