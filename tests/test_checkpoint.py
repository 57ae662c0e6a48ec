"""Checkpoints: safetensors + JSON round trip, clear errors, no pickle."""

import json

import pytest
import torch

from flag3d.errors import FormatError
from flag3d.models.checkpoint import load_checkpoint, load_weights, save_checkpoint


def test_round_trip_restores_identical_weights(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4))
    save_checkpoint(tmp_path / "ck", net, {"width": 4}, info={"data": "synthetic", "mae": 0.1})
    other = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4))
    cfg = load_weights(other, tmp_path / "ck")
    assert cfg == {"width": 4}
    for a, b in zip(net.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b)
    info = json.loads((tmp_path / "ck" / "info.json").read_text())
    assert info["model_class"] == "Sequential" and info["parameters"] == 5 * 4 + 4 + 8
    assert info["data"] == "synthetic"


def test_errors_are_one_line_and_name_the_folder(tmp_path):
    with pytest.raises(FormatError, match="checkpoint folder not found"):
        load_checkpoint(tmp_path / "absent")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(FormatError, match="config.json is missing"):
        load_checkpoint(tmp_path / "half")
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(FormatError, match="unreadable model.safetensors"):
        load_checkpoint(tmp_path / "half")
    save_checkpoint(tmp_path / "lin", torch.nn.Linear(3, 2), {})
    with pytest.raises(FormatError, match="weights do not fit Linear") as ei:
        load_weights(torch.nn.Linear(4, 2), tmp_path / "lin")
    assert "\n" not in str(ei.value)
