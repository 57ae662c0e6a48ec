"""``flag3d assess`` / ``train quality`` / ``eval quality`` on a tiny untrained checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from flag3d.cli import _register, app
from flag3d.config import config_to_dict
from flag3d.io import write_sequences
from flag3d.models.checkpoint import save_checkpoint
from flag3d.models.quality import scorer_from_config
from flag3d.synth import SynthConfig, generate_sequence
from flag3d.tasks.quality_config import QualityConfig
from flag3d.tasks.quality_data import standard_texts

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("qcli")
    cfg = config_to_dict(QualityConfig(layout="flag3d24", frames=16, channels=[8], strides=[2],
                                       kernel=3, text_dim=16, text_hidden=8, head_hidden=8,
                                       text_encoder="hash:16"))
    model = scorer_from_config(cfg)
    ckpt = save_checkpoint(root / "ckpt", model, cfg, info={"task": "quality"})
    from safetensors.numpy import save_file

    save_file(standard_texts(["A049"], "hash:16"), str(ckpt / "texts.safetensors"))
    s = generate_sequence("A049", seed=2, config=SynthConfig(reps=(3, 3), views=(), corrupt=False))
    path = root / "squat.npz"
    write_sequences(path, [s.clean["flag3d24"]], "npz")
    return ckpt, path, s


def test_assess_prints_score_and_repetitions(files):
    ckpt, path, s = files
    _register()
    reps = ",".join(f"{a}-{b}" for a, b in s.repetitions)
    r = runner.invoke(app, ["assess", str(path), "-c", str(ckpt), "--reps", reps])
    assert r.exit_code == 0, r.output
    assert "Sumo Squat, 3 repetitions (given); score" in r.output
    assert r.output.count("#") == 3
    r = runner.invoke(app, ["assess", str(path), "-c", str(ckpt), "--reps", reps, "--json"])
    d = json.loads(r.output)
    assert len(d["repetitions"]) == 3 and 3.0 <= d["score"] <= 9.0
    assert {c["key"] for c in d["repetitions"][0]["checks"]} == {"depth", "knees_track_toes", "torso_upright"}


def test_assess_not_assessable_and_bad_reps(files):
    ckpt, path, _ = files
    _register()
    r = runner.invoke(app, ["assess", str(path), "-c", str(ckpt), "--reps", ""])
    assert r.exit_code == 0
    assert "not assessable: no repetition to assess (0 repetitions given)" in r.output
    assert "score" not in r.output
    from flag3d.cli import main

    with pytest.raises(SystemExit) as ex:
        main(["assess", str(path), "-c", str(ckpt), "--reps", "3-x"])
    assert ex.value.code == 2


def test_help_texts_end_with_an_example():
    _register()
    for cmd in (["assess", "--help"], ["train", "quality", "--help"], ["eval", "quality", "--help"]):
        r = runner.invoke(app, cmd)
        assert r.exit_code == 0 and "Example: flag3d" in r.output, cmd
