"""The numpy ST-GCN recogniser equals the torch model; analyze uses it without torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flag3d.errors import FormatError, LayoutError
from flag3d.models.recognition import build_recognizer
from flag3d.models.recognition_numpy import STGCN_DEFAULTS, NumpySTGCN, supports


def _state(m: torch.nn.Module) -> dict:
    return {k: v.detach().numpy() for k, v in m.state_dict().items()}


def _randomise_bn(m: torch.nn.Module) -> None:
    for mod in m.modules():
        if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.2, 0.2)


@pytest.mark.parametrize("args,in_channels,persons", [
    ({"base_channels": 8}, 3, 1),
    ({"base_channels": 8, "data_bn": "MVC", "adaptive": "offset"}, 3, 2),
    ({"base_channels": 8, "data_bn": None, "adaptive": None, "gcn_with_res": True}, 2, 1),
    ({"base_channels": 3, "num_stages": 4, "inflate_stages": [3], "down_stages": [3],
      "graph_mode": "spatial"}, 3, 1),  # stem skipped: input already has base channels
])
def test_numpy_stgcn_matches_torch(args, in_channels, persons):
    torch.manual_seed(0)
    net = build_recognizer("stgcn", "coco17", 7, in_channels=in_channels, num_persons=persons,
                           **args)
    _randomise_bn(net)
    net.eval()
    npn = NumpySTGCN(_state(net), "coco17", in_channels, args)
    x = np.random.default_rng(1).normal(size=(3, persons, 24, 17, in_channels)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
        emb = net.get_representation(torch.from_numpy(x)).numpy()
    assert np.abs(npn(x) - ref).max() < 1e-4
    assert np.abs(npn.get_representation(x) - emb).max() < 1e-4


def test_supports_only_plain_stgcn_options():
    assert supports("stgcn", {"base_channels": 16})
    assert supports("STGCN", None)
    assert not supports("ctrgcn", {})
    assert not supports("stgcn", {"tcn_type": "mstcn"})
    assert set(STGCN_DEFAULTS) >= {"base_channels", "data_bn", "adaptive"}


def test_wrong_layout_is_refused_before_any_matrix_product():
    net = build_recognizer("stgcn", "coco17", 4, base_channels=4).eval()
    npn = NumpySTGCN(_state(net), "coco17", 3, {"base_channels": 4})
    with pytest.raises(LayoutError, match="does not fit the model's layout coco17"):
        npn(np.zeros((1, 1, 10, 25, 3), np.float32))
    with pytest.raises(FormatError, match="does not support"):
        NumpySTGCN(_state(net), "coco17", 3, {"tcn_type": "x"})


def test_shipped_recogniser_engines_give_the_same_top3():
    from flag3d.analysis.recognize import recognize, shipped_recognizer
    from flag3d.synth import generate_sequence

    if not (shipped_recognizer() / "model.safetensors").is_file():
        pytest.skip("the shipped recogniser is not installed")
    seq = generate_sequence("A049", seed=3).clean["flag3d24"]
    top_np, _ = recognize(seq, engine="numpy")
    top_t, _ = recognize(seq, engine="torch")
    assert [t["id"] for t in top_np] == [t["id"] for t in top_t]
    for a, b in zip(top_np, top_t):
        assert abs(a["probability"] - b["probability"]) <= 2e-4
    assert top_np[0]["id"] == "A049"  # measured: Sumo Squat first (0.52)
