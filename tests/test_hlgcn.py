"""HL-GCN (Eq. 4-9), the counting head, the full model and its numpy twin."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flag3d.errors import LayoutError
from flag3d.models.counting import build_model, count_parameters
from flag3d.models.counting_head import CountingHead
from flag3d.models.counting_numpy import NumpyCountingModel
from flag3d.models.hlgcn import HLGCN, HLGraphConv
from flag3d.skeleton.graph import build_graph

SMALL = {"channels": [8, 16], "strides": [1, 2], "text_dim": 12, "frames": 32,
         "sim_scales": [1, 5], "d_model": 16, "tf_ff": 32}

@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: on a shared 2-core machine two threads mostly wait for each other."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)



def _x(n: int = 2, t: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).normal(size=(n, 6, t, 24)).astype(np.float32))


def _text(n: int = 2, dim: int = 12, seed: int = 1) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32))


@pytest.mark.parametrize("mode", ["none", "shared", "hierarchical"])
@pytest.mark.parametrize("fusion", ["mul", "add", "xattn"])
def test_forward_shapes_for_every_text_mode_and_fusion(mode, fusion):
    m = build_model({**SMALL, "text_mode": mode, "fusion": fusion}).eval()
    feats = m.encoder(_x(), _text())
    assert feats.shape == (2, 16, 16, 24)  # stride 2 halves T
    dens = m(_x(), _text())
    assert dens.shape == (2, 32) and bool((dens >= 0).all())
    n_proj = {"none": 0, "shared": 1, "hierarchical": 2}[mode]
    assert len(m.encoder.text_proj) == n_proj


def test_text_changes_the_output_only_when_the_model_uses_text():
    torch.manual_seed(0)
    with_text = build_model({**SMALL, "text_mode": "hierarchical"}).eval()
    without = build_model({**SMALL, "text_mode": "none"}).eval()
    x = _x()
    f1 = with_text.encoder(x, _text(seed=1))
    f2 = with_text.encoder(x, _text(seed=2))
    assert (f1 - f2).abs().max() > 1e-4
    g1, g2 = without.encoder(x, _text(seed=1)), without.encoder(x, _text(seed=2))
    assert torch.equal(g1, g2)
    # the text-free encoder has no text projection weights at all
    assert not any("text_proj" in k for k in without.state_dict())
    assert count_parameters(with_text) > count_parameters(without)


def test_text_points_are_one_weight_per_joint_from_layernormed_projection():
    enc = HLGCN(channels=(8, 8), text_mode="hierarchical", text_dim=12, text_hidden=5)
    pts = enc.text_points(_text())
    assert len(pts) == 2 and pts[0].shape == (2, 24) and not torch.equal(pts[0], pts[1])
    p = enc.text_proj[0]
    h = p.fc1(_text())
    manual = p.fc2((h - h.mean(-1, keepdim=True)) / torch.sqrt(h.var(-1, unbiased=False, keepdim=True) + 1e-5)
                   * p.norm.weight + p.norm.bias)
    torch.testing.assert_close(pts[0], manual, atol=1e-5, rtol=1e-5)
    shared = HLGCN(channels=(8, 8), text_mode="shared", text_dim=12)
    a, b = shared.text_points(_text())
    assert a is b


def test_graph_conv_terms_follow_eq_5_to_8():
    a = build_graph("flag3d24", "spatial")
    conv = HLGraphConv(4, 6, a, text=True, fusion="mul")
    with torch.no_grad():
        conv.B.copy_(torch.rand_like(conv.B))
    x = torch.randn(1, 4, 3, 24)
    t = torch.randn(1, 24)
    y = conv.proj(x).view(1, 3, 6, 3, 24)
    fa = torch.einsum("nkctv,kvw->nctw", y, conv.A)
    fb = torch.einsum("nkctv,kvw->nctw", y, conv.B)
    fc = (y.mean(1) * t[:, None, None, :]).mean(-1, keepdim=True)
    torch.testing.assert_close(conv(x, t), fa + fb + fb * fc, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(conv(x, None), fa + fb, atol=1e-5, rtol=1e-5)
    assert torch.equal(conv.A, torch.from_numpy(a))


def test_layout_mismatch_fails_before_any_tensor_op_naming_both_layouts():
    m = build_model(SMALL)
    with pytest.raises(LayoutError, match=r"input layout uiprmd22 does not match the model's "
                                          r"graph layout flag3d24; convert it first: "
                                          r"flag3d.skeleton.convert.convert\(seq, 'flag3d24'\)"):
        m(_x(), _text(), layout="uiprmd22")
    with pytest.raises(LayoutError, match="no conversion from h36m17 to flag3d24"):
        m.encoder.check_layout("h36m17")
    bad = torch.zeros(2, 6, 32, 22)  # 22 joints: a UI-PRMD array fed as is
    with pytest.raises(LayoutError, match=r"expected input \(N, C, T, 24\) for layout flag3d24, "
                                          r"got \(2, 6, 32, 22\)"):
        m(bad, _text())
    m.encoder.check_layout("flag3d24")  # the right one passes


def test_head_density_is_nonnegative_and_multiscale():
    head = CountingHead(in_channels=8, frames=32, scales=(1, 3, 7), heads=2)
    sim = head.similarity(torch.randn(2, 8, 32))
    assert sim.shape == (2, 6, 32, 32)
    torch.testing.assert_close(sim.sum(-1), torch.ones(2, 6, 32))  # row softmax
    dens, feats = head(torch.randn(2, 8, 16, 24))  # T' = 16 is resized to 32
    assert dens.shape == (2, 32) and feats.shape == (2, 8, 32) and bool((dens >= 0).all())
    with pytest.raises(ValueError, match="odd"):
        CountingHead(in_channels=8, scales=(1, 4))


@pytest.mark.parametrize("settings", [
    {"text_mode": "shared", "fusion": "mul"},
    {"text_mode": "none"},
    {"text_mode": "hierarchical", "fusion": "add", "graph": "stgcn_spatial"},
    {"text_mode": "shared", "fusion": "xattn", "tf_layers": 2, "sim_heads": 2},
])
def test_numpy_engine_equals_torch(settings):
    torch.manual_seed(0)
    m = build_model({**SMALL, **settings}).train()
    with torch.no_grad():  # non-trivial BatchNorm statistics and weights
        for _ in range(2):
            m(_x(4, seed=3), _text(4))
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
        m.head.fc2.bias.fill_(1.0)  # a density of order 1
    m.eval()
    x, e = _x(3, seed=5), _text(3, seed=6)
    with torch.no_grad():
        ref_d, ref_f = m.forward_features(x, e)
    npm = NumpyCountingModel({k: v.numpy() for k, v in m.state_dict().items()}, m.settings)
    d, f = npm(x.numpy(), e.numpy())
    assert float(ref_d.abs().max()) > 0.1
    np.testing.assert_allclose(d, ref_d.numpy(), atol=1e-4)
    np.testing.assert_allclose(f, ref_f.numpy(), atol=1e-4)
    with pytest.raises(LayoutError, match="expected input"):
        npm(np.zeros((1, 6, 32, 25), np.float32), None)
