"""``flag3d count`` / ``train counting`` / ``eval counting``: output, JSON, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from flag3d.cli import main
from flag3d.io import write_sequences
from flag3d.models.checkpoint import save_checkpoint
from flag3d.models.counting import build_model
from flag3d.skeleton import Sequence
from flag3d.synth import SynthConfig, generate_sequence
from flag3d.tasks.counting import shipped_weights

TINY = {"channels": [8, 8], "strides": [1, 1], "text_dim": 16, "sim_scales": [1, 5],
        "d_model": 16, "tf_ff": 32}

@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: on a shared 2-core machine two threads mostly wait for each other."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)



def run(capsys, *args) -> tuple:
    code = 0
    try:
        main([str(a) for a in args])
    except SystemExit as ex:
        code = int(ex.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model(TINY).eval()
    folder = tmp_path_factory.mktemp("ckpt")
    save_checkpoint(folder, model, {**model.settings, "text_encoder": "hash:16"}, {"task": "counting"})
    return folder


@pytest.fixture(scope="module")
def squat_file(tmp_path_factory):
    s = generate_sequence("A049", seed=5, config=SynthConfig(reps=(5, 5), views=()))
    p = tmp_path_factory.mktemp("seq") / "squat.npz"
    write_sequences(p, [s.clean["ntu25"]], "npz")  # another layout: converted on the way
    return p, np.asarray(s.repetitions), s.clean["ntu25"].fps


def test_count_prints_each_repetition_in_seconds(capsys, ckpt, squat_file):
    path, _, _ = squat_file
    code, out, err = run(capsys, "count", path, "--checkpoint", ckpt)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith(f"{path}: ") and " repetition" in lines[0] and "fps" in lines[0]
    if len(lines) > 1:
        assert lines[1].split() == ["#", "start_s", "end_s", "frames"]
        first = lines[2].split()
        assert first[0] == "1" and float(first[1]) < float(first[2])


@pytest.mark.skipif(not (shipped_weights() / "model.safetensors").is_file(),
                    reason="the shipped counting model is not trained yet")
def test_count_with_the_shipped_model_finds_the_repetitions(capsys, squat_file):
    path, reps, fps = squat_file
    code, out, err = run(capsys, "count", path, "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["count"] == 5 and len(res["repetitions"]) == 5
    for r, (s, e) in zip(res["repetitions"], reps):
        assert abs(r["start_s"] - s / fps) < 1.0 and abs(r["end_s"] - e / fps) < 1.0
    code, out, _ = run(capsys, "count", path, "--activity", "sumo squat")
    assert code == 0 and out.startswith(f"{path}: 5 repetitions") and "A049" in out


def test_count_json_and_degenerate_input(capsys, ckpt, tmp_path):
    p = tmp_path / "nan.npy"
    np.save(p, np.full((60, 24, 3), np.nan, np.float32))
    code, out, err = run(capsys, "count", p, "--checkpoint", ckpt)
    assert code == 0 and out.strip() == f"{p}: 0 repetitions (no valid joints (every joint is missing or NaN))"
    code, out, _ = run(capsys, "count", p, "--checkpoint", ckpt, "--json")
    res = json.loads(out)
    assert code == 0 and res["count"] == 0 and res["repetitions"] == [] and "no valid" in res["reason"]


@pytest.mark.parametrize("case,match", [
    ("missing", "no such file"),
    ("truncated", "truncated .npy"),
    ("2d", "needs 3D joints"),
    ("activity", "unknown activity 'xyzzy plugh'"),
    ("checkpoint", "checkpoint folder not found"),
])
def test_bad_input_exits_2_with_one_line(capsys, ckpt, squat_file, tmp_path, case, match):
    args = ["count"]
    if case == "missing":
        args += [tmp_path / "nope.npz", "--checkpoint", ckpt]
    elif case == "truncated":
        p = tmp_path / "t.npy"
        np.save(p, np.zeros((50, 24, 3), np.float32))
        p.write_bytes(p.read_bytes()[:200])
        args += [p, "--checkpoint", ckpt]
    elif case == "2d":
        p = tmp_path / "c.npz"
        write_sequences(p, [Sequence(np.random.default_rng(0).random((40, 17, 2)), "coco17")], "npz")
        args += [p, "--checkpoint", ckpt]
    elif case == "activity":
        args += [squat_file[0], "--checkpoint", ckpt, "--activity", "xyzzy plugh"]
    else:
        args += [squat_file[0], "--checkpoint", tmp_path / "no-model"]
    code, out, err = run(capsys, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and match in lines[0]


def test_help_texts_end_with_an_example(capsys):
    for cmd in (["count"], ["train", "counting"], ["eval", "counting"]):
        code, out, _ = run(capsys, *cmd, "--help")
        assert code == 0 and "Example: flag3d " in out


def test_eval_counting_prints_both_conventions(capsys, tmp_path):
    # a tiny trained run on synthetic data, evaluated on synthetic data
    code, out, err = run(capsys, "train", "counting", "--config", "configs/counting/smoke.yaml",
                         "--out", tmp_path / "run")
    assert code == 0, err
    best = tmp_path / "run" / "best"
    code, out, err = run(capsys, "eval", "counting", "--checkpoint", best, "--data", "synthetic",
                         "--limit", 3, "--json", tmp_path / "r.json")
    assert code == 0, err
    assert "flag3d" in out and "transrac" in out and "mean IoU" in out
    assert json.loads((tmp_path / "r.json").read_text())["n"] == 3
