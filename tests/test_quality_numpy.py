"""The numpy engine of the quality scorer G equals the torch model (flag3d analyze runs it)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from flag3d.errors import FormatError
from flag3d.models.checkpoint import save_checkpoint
from flag3d.models.quality import QualityScorer
from flag3d.models.quality_numpy import QUALITY_DEFAULTS, NumpyQualityScorer
from flag3d.tasks.quality_infer import Scorer, shipped_weights

SMALL = {"layout": "uiprmd22", "channels": [8, 16], "strides": [1, 2], "text_dim": 6,
         "text_hidden": 8, "head_hidden": 8}


def _state(m: torch.nn.Module) -> dict:
    return {k: v.detach().numpy() for k, v in m.state_dict().items()}


def _inputs(n: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 9, 20, 22)).astype(np.float32)
    text = rng.normal(size=(n, 6)).astype(np.float32)
    dur = rng.uniform(0.5, 4.0, size=n).astype(np.float32)
    return x, text, dur


@pytest.mark.parametrize("text_mode", ["none", "shared", "hierarchical"])
@pytest.mark.parametrize("fusion", ["mul", "add", "xattn"])
@pytest.mark.parametrize("head", [(True, True), (False, False)])
def test_numpy_scorer_matches_torch(text_mode, fusion, head):
    torch.manual_seed(1)
    cfg = {**SMALL, "text_mode": text_mode, "fusion": fusion, "head_text": head[0],
           "head_duration": head[1]}
    g = QualityScorer(**cfg)
    # non-trivial BatchNorm statistics, so folding them wrongly would show
    for mod in g.modules():
        if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
    g.eval()
    npg = NumpyQualityScorer(_state(g), cfg)
    x, text, dur = _inputs()
    with torch.no_grad():
        ref = g(torch.from_numpy(x), torch.from_numpy(text), torch.from_numpy(dur)).numpy()
        feats = g.features(torch.from_numpy(x), torch.from_numpy(text), torch.from_numpy(dur)).numpy()
        pts = g.text_points(torch.from_numpy(text)).numpy()
    assert np.abs(npg(x, text, dur) - ref).max() < 1e-4
    assert np.abs(npg.features(x, text, dur) - feats).max() < 1e-4
    assert np.abs(npg.stacked_text_points(text) - pts).max() < 1e-5


def test_defaults_are_the_torch_constructor_defaults():
    sig = inspect.signature(QualityScorer.__init__).parameters
    torch_defaults = {k: p.default for k, p in sig.items() if k != "self"}
    assert QUALITY_DEFAULTS == torch_defaults


@pytest.fixture(scope="module")
def clips():
    from flag3d.synth import generate_sequence
    from flag3d.tasks.quality_clips import make_clip

    s = generate_sequence("A049", seed=2)
    seq = s.clean["flag3d24"]
    return [make_clip(seq.joints[a:b], seq.layout, 32, seq.fps, id=f"r{i}", activity="A049",
                      subject="") for i, (a, b) in enumerate(s.repetitions)]


def test_shipped_scorer_engines_agree(clips):
    folder = shipped_weights("flag3d")
    if not (folder / "model.safetensors").is_file():
        pytest.skip("the shipped synthetic scorer is not installed")
    a, b = Scorer(folder, "numpy"), Scorer(folder, "torch")
    pa, pb = a.probabilities(clips), b.probabilities(clips)
    assert pa.shape == (len(clips), 3)
    assert np.abs(pa - pb).max() < 1e-4
    assert np.abs(a.features(clips[:2]) - b.features(clips[:2])).max() < 1e-3
    assert np.abs(a.text_points("A049") - b.text_points("A049")).max() < 1e-5


def test_weights_that_do_not_fit_the_config_fail_at_load(tmp_path):
    g = QualityScorer(**{**SMALL, "text_mode": "none"})
    save_checkpoint(tmp_path, g, {**SMALL, "text_mode": "none", "channels": [8, 32]})
    with pytest.raises(FormatError, match="weights do not fit the quality scorer"):
        Scorer(tmp_path, "numpy")
    with pytest.raises(ValueError, match="engine must be"):
        Scorer(tmp_path, "tensorflow")
