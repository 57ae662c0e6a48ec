"""Flat YAML configs: validation, overrides, errors naming the file and key."""

from dataclasses import dataclass
from typing import Optional, Tuple

import pytest

from flag3d.config import config_from_dict, config_to_dict, load_config, save_config
from flag3d.errors import Flag3dError


@dataclass(frozen=True)
class Cfg:
    lr: float = 0.1
    epochs: int = 3
    layout: str = "ntu25"
    streams: Tuple[str, ...] = ("joint",)
    bf16: bool = False
    text: Optional[str] = None


def test_yaml_overrides_defaults_and_round_trips(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("lr: 0.01\nstreams: [joint, bone]\nbf16: true\n")
    cfg = load_config(Cfg, p, overrides=["epochs=7", "text=hello"])
    assert cfg == Cfg(lr=0.01, epochs=7, streams=("joint", "bone"), bf16=True, text="hello")
    save_config(cfg, tmp_path / "out" / "config.json")
    again = load_config(Cfg, tmp_path / "out" / "config.json")
    assert again == cfg and config_to_dict(cfg)["streams"] == ["joint", "bone"]


@pytest.mark.parametrize("text,match", [
    ("lr: fast\n", "config key 'lr' must be a number, got 'fast'"),
    ("epochs: 2.5\n", "config key 'epochs' must be an integer"),
    ("bf16: 1\n", "config key 'bf16' must be true or false"),
    ("layers: 4\n", "unknown config key\\(s\\) layers; known: bf16, epochs"),
    ("- a\n- b\n", "a config file must be a mapping"),
    ("lr: [\n", "not valid YAML"),
])
def test_bad_config_files_name_file_and_key(tmp_path, text, match):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(Flag3dError, match=match) as ei:
        load_config(Cfg, p)
    assert str(ei.value).startswith(str(p))


def test_missing_file_and_bad_override(tmp_path):
    with pytest.raises(Flag3dError, match="config file not found"):
        load_config(Cfg, tmp_path / "nope.yaml")
    with pytest.raises(Flag3dError, match="must look like key=value"):
        config_from_dict(Cfg, {}, overrides=["epochs"])
    assert load_config(Cfg) == Cfg()
