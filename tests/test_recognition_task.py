"""Recognition training/evaluation: checkpoint contents, resume, determinism, bf16, layouts, DDP."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from safetensors.torch import load_file

from flag3d.config import load_config
from flag3d.errors import LayoutError
from flag3d.tasks.recognition import (
    RecognitionConfig, WarmupCosine, clip_scores, evaluate, state_digest, train,
)
from flag3d.tasks.trainer import TrainOptions
from recognition_helpers import load_yaml, tiny_config, tiny_store


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("FLAG3D_CACHE", str(tmp_path / "cache"))
    store = tiny_store(tmp_path / "store")
    return tmp_path, store


def _cfg(tmp_path, store, **over):
    path = tiny_config(tmp_path / "tiny.yaml", store, **over)
    return load_config(RecognitionConfig, path)


def test_train_exports_checkpoint_then_resumes(tiny):
    tmp_path, store = tiny
    out = tmp_path / "run"
    cfg = _cfg(tmp_path, store)
    report = train(cfg, TrainOptions(out=out, progress=False))
    assert set(os.listdir(out / "best")) >= {"model.safetensors", "config.json", "info.json"}
    saved = json.loads((out / "best" / "config.json").read_text())
    assert saved["backbone_args"]["base_channels"] == 8 and saved["clip_len"] == 12
    info = json.loads((out / "best" / "info.json").read_text())
    assert info["classes"] == ["A017", "A020", "A049"] and info["layout"] == "ntu25"
    assert info["epoch"] == 0
    assert report["samples"] == 6 and report["clips"] == 2 and 0.0 <= report["top1"] <= 1.0
    assert (out / "eval" / "test-2clip" / "scores.npz").is_file()
    assert (out / "logs" / "version_0" / "metrics.csv").is_file()
    # resume from last.ckpt to a second epoch
    cfg2 = _cfg(tmp_path, store, epochs=2)
    train(cfg2, TrainOptions(out=out, progress=False, resume=True))
    info = json.loads((out / "best" / "info.json").read_text())
    assert info["epoch"] == 1 and info["global_step"] == 4  # 12 train samples, batch 6
    assert json.loads((out / "train_time.json").read_text())["resumed"] is True
    assert (out / "logs" / "version_1" / "metrics.csv").is_file()


def test_evaluation_is_deterministic_and_bf16_close(tiny):
    tmp_path, store = tiny
    out = tmp_path / "run"
    train(_cfg(tmp_path, store, num_clips=10), TrainOptions(out=out, progress=False))
    a = evaluate(out / "best", out=tmp_path / "e1")
    b = evaluate(out / "best", out=tmp_path / "e2")
    sa = np.load(tmp_path / "e1" / "scores.npz")["scores"]
    np.testing.assert_array_equal(sa, np.load(tmp_path / "e2" / "scores.npz")["scores"])
    assert a["top1"] == b["top1"] and a["clips"] == 10
    assert a["confusion"] and sum(map(sum, a["confusion"])) == 6
    assert set(a["per_group"]) == {"shoulder", "arm", "hip"}  # taxonomy body parts
    c = evaluate(out / "best", precision="bf16", out=tmp_path / "e3")
    sc = np.load(tmp_path / "e3" / "scores.npz")["scores"]
    assert c["precision"] == "bf16" and np.abs(sc - sa).max() < 0.05
    one = evaluate(out / "best", clips=1, out=tmp_path / "e4")
    assert one["clips"] == 1


def test_layout_mismatch_fails_before_training(tiny):
    tmp_path, _ = tiny
    store = tiny_store(tmp_path / "u", layout="uiprmd22")
    cfg = _cfg(tmp_path, store, layout="ntu25")
    t0 = time.perf_counter()
    with pytest.raises(LayoutError) as err:
        train(cfg, TrainOptions(out=tmp_path / "bad", progress=False))
    msg = str(err.value)
    assert "input layout uiprmd22 does not match the model's layout ntu25" in msg
    assert "convert(seq, 'ntu25')" in msg and "conversion uiprmd22>ntu25" in msg
    assert "set convert: true" in msg and "\n" not in msg
    assert not (tmp_path / "bad" / "logs").exists() and time.perf_counter() - t0 < 10


def test_convert_trains_on_other_layout_and_eval_checks_layout(tiny):
    tmp_path, store = tiny
    ui = tiny_store(tmp_path / "u", layout="uiprmd22")
    out = tmp_path / "run"
    train(_cfg(tmp_path, ui, layout="ntu25", convert=True), TrainOptions(out=out, progress=False))
    info = json.loads((out / "best" / "info.json").read_text())
    assert (info["layout"], info["data_layout"]) == ("ntu25", "uiprmd22")
    # evaluating the ntu25 model on coco17 data without conversion is refused up front
    coco = tiny_store(tmp_path / "c", dims=2)
    with pytest.raises(LayoutError, match="input layout coco17 does not match the model's "
                                          "layout ntu25"):
        evaluate(out / "best", overrides=(f"data_path={coco}", "convert=false"))


def test_clip_scores_average_probabilities():
    import torch

    class Fixed(torch.nn.Module):
        def forward(self, x):
            return x[:, 0, 0, 0, :2]  # logits from the input

    x = torch.zeros(1, 2, 1, 1, 1, 2)
    x[0, 0, 0, 0, 0] = torch.tensor([0.0, 0.0])
    x[0, 1, 0, 0, 0] = torch.tensor([np.log(3.0), 0.0])
    np.testing.assert_allclose(clip_scores(Fixed(), x).numpy(), [[0.625, 0.375]], atol=1e-6)


def test_warmup_cosine_schedule():
    f = WarmupCosine(total=10, warmup=2)
    assert [round(f(s), 4) for s in (0, 1, 2, 6, 10)] == [0.5, 1.0, 1.0, 0.5, 0.0]


def test_shipped_configs_are_valid():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "configs" / "recognition"
    files = sorted(folder.glob("*.yaml"))
    assert len(files) >= 10
    from flag3d.tasks.oneshot import OneShotConfig

    for f in files:
        cls = OneShotConfig if f.name.startswith("oneshot") else RecognitionConfig
        cfg = load_config(cls, f)
        assert load_yaml(f)["backbone"] == cfg.backbone


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_ddp_two_processes_keep_identical_weights(tiny):
    """Two CPU processes (gloo) train with DDP through the real CLI; replicas must agree."""
    tmp_path, store = tiny
    cfg = tiny_config(tmp_path / "ddp.yaml", store, epochs=1, batch_size=3, num_clips=1)
    out = tmp_path / "ddp"
    env = dict(os.environ, FLAG3D_CACHE=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    env.pop("LOCAL_RANK", None)
    cmd = [sys.executable, "-m", "flag3d", "train", "recognition", "--config", str(cfg),
           "--out", str(out), "--devices", "2", "--strategy", "ddp", "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, text=True)
    try:
        log, _ = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        pytest.fail("DDP training did not finish within 240 s (killed)")
    finally:
        _kill_group(proc)
    assert proc.returncode == 0, log[-2000:]
    r0 = json.loads((out / "replicas" / "rank0.json").read_text())
    r1 = json.loads((out / "replicas" / "rank1.json").read_text())
    assert r0["world_size"] == r1["world_size"] == 2
    # 12 training samples, batch 3 per process, 2 processes -> 2 steps per epoch
    assert r0["global_step"] == r1["global_step"] == 2
    assert r0["parameters"] == r1["parameters"]
    # ... and equal to the exported weights (so training changed them identically)
    import torch

    from flag3d.tasks.recognition import build_model

    cfgobj = load_config(RecognitionConfig, cfg)
    model = build_model(cfgobj, 3, "ntu25", 3)
    init = state_digest(model)
    model.load_state_dict(load_file(str(out / "best" / "model.safetensors")))
    assert state_digest(model) == r0["parameters"] != init
    assert "top-1" in log


def test_constant_score_warning():
    from flag3d.data.recognition import SampleSet
    from flag3d.tasks.recognition import constant_score_warning
    from recognition_helpers import tiny_sequences

    seqs = tiny_sequences(per=1, subjects=1, dims=2)
    s = SampleSet.from_sequences(seqs, "clean")
    assert constant_score_warning(s, True) == (
        "clean: every keypoint score is 1 in the training data, so the score channel carries "
        "no information and will break on real detections; set use_score: false")
    assert constant_score_warning(s, False) is None
    seqs[1].confidence[3, 4] = 0.6
    assert constant_score_warning(s, True) is None
    assert constant_score_warning(SampleSet.from_sequences(tiny_sequences(per=1, subjects=1),
                                                           "3d"), True) is None
