"""``flag3d train|eval recognition``, ``flag3d fuse``: end to end through the command line."""

import numpy as np
import pytest

from flag3d.cli import main
from flag3d.tasks.fusion import save_scores
from recognition_helpers import tiny_config, tiny_store


def _run(argv, capsys):
    with pytest.raises(SystemExit) as ex:
        main(argv)
        raise SystemExit(0)
    out = capsys.readouterr()
    return ex.value.code or 0, out.out, out.err


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("FLAG3D_CACHE", str(tmp_path / "cache"))
    return tmp_path, tiny_store(tmp_path / "store")


def test_help_texts_end_with_examples(capsys):
    for cmd in (["train", "recognition"], ["eval", "recognition"], ["fuse"],
                ["train", "oneshot"], ["eval", "oneshot"]):
        code, out, _ = _run(cmd + ["--help"], capsys)
        assert code == 0 and "Example: flag3d " + " ".join(cmd) in " ".join(out.split())


def test_train_eval_and_fuse(tiny, capsys):
    tmp_path, store = tiny
    cfg = tiny_config(tmp_path / "t.yaml", store)
    out = tmp_path / "run"
    code, text, err = _run(["train", "recognition", "--config", str(cfg), "--out", str(out),
                            "--set", "stream=bone", "--no-progress"], capsys)
    assert code == 0, err
    assert "stgcn / bone on store:test (synthetic data)" not in text  # a store, not generated
    assert "stgcn / bone on store:test: 6 samples, 2 clip(s), fp32" in text
    assert "per body part: shoulder" in text
    code, text, err = _run(["eval", "recognition", "--checkpoint", str(out / "best"),
                            "--clips", "3", "--precision", "bf16", "--no-progress"], capsys)
    assert code == 0, err
    assert "3 clip(s), bf16" in text
    scores = out / "eval" / "test-3clip-bf16" / "scores.npz"
    assert scores.is_file()
    other = tmp_path / "j.npz"
    z = np.load(scores)
    save_scores(other, z["ids"].tolist(), z["labels"], np.eye(3)[z["labels"]],
                z["classes"].tolist(), "joint")
    code, text, err = _run(["fuse", str(scores), str(other), "--out", str(tmp_path / "f.npz")],
                           capsys)
    assert code == 0, err
    assert "bone         x2  top-1" in text and "joint        x2  top-1 100.00 %" in text
    assert "fused (2 files, 6 samples): top-1 100.00 %" in text
    assert (tmp_path / "f.npz").is_file()


def test_layout_mismatch_is_one_line_exit_2(tiny, capsys):
    tmp_path, _ = tiny
    store = tiny_store(tmp_path / "coco", dims=2)
    cfg = tiny_config(tmp_path / "t.yaml", store, layout="h36m17")
    code, _, err = _run(["train", "recognition", "--config", str(cfg), "--out",
                         str(tmp_path / "r"), "--no-progress"], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: input layout coco17 does not match the model's layout "
                               "h36m17: convert it first with flag3d.skeleton.convert.convert"
                               "(seq, 'h36m17') (conversion coco17>h36m17)")


def test_bad_inputs_are_one_line(tiny, capsys):
    tmp_path, store = tiny
    cfg = tiny_config(tmp_path / "t.yaml", store)
    code, _, err = _run(["train", "recognition", "--config", str(cfg), "--devices", "two"], capsys)
    assert code == 2 and "--devices must be auto, a count or a comma list" in err
    code, _, err = _run(["train", "recognition", "--config", str(cfg), "--set", "stream_x=1"],
                        capsys)
    assert code == 2 and "unknown config key(s) stream_x" in err
    code, _, err = _run(["train", "recognition", "--config", str(cfg), "--set",
                         "backbone=resnet"], capsys)
    assert code == 2 and "unknown backbone 'resnet'" in err
    code, _, err = _run(["eval", "recognition", "--checkpoint", str(tmp_path / "nope")], capsys)
    assert code == 2 and "checkpoint folder not found" in err
    code, _, err = _run(["fuse", str(tmp_path / "missing.npz")], capsys)
    assert code == 2 and "missing.npz: score file not found" in err
