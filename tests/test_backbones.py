"""Recognition backbones: shapes, layouts, the layout check, bf16, folding, parameter counts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flag3d.errors import LayoutError, SequenceError
from flag3d.models.heatmaps import PseudoHeatmaps, uniform_frame_indices
from flag3d.models.layers import ConvBN, GraphConv, MultiScaleTCN, graph_tensor, to_cl
from flag3d.models.msg3d import hop_scales
from flag3d.models.recognition import (
    backbone_names, build_recognizer, native_bf16, parameter_count,
)
from flag3d.skeleton import Sequence
from flag3d.skeleton.graph import build_graph

GCNS = ("stgcn", "aagcn", "ctrgcn", "msg3d")
# Narrow versions keep the file fast; the full widths are pinned by the parameter counts.
SMALL = {"stgcn": {"base_channels": 16}, "aagcn": {"base_channels": 16},
         "ctrgcn": {"base_channels": 16}, "msg3d": {"base_channels": 12},
         "posec3d": {"frames": 6, "size": 16, "base_channels": 8}}
WIDTH = {"stgcn": 64, "aagcn": 64, "ctrgcn": 64, "msg3d": 48, "posec3d": 128}


@pytest.fixture(autouse=True)
def one_thread():
    """Small tensors: one thread avoids OpenMP barrier stalls on a shared, loaded machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
# (layout, channels): 3D NTU, 2D COCO with the score as third channel, FLAG3D++ 24 joints
LAYOUTS = (("ntu25", 3), ("coco17", 3), ("flag3d24", 3))
# Same numbers as MMAction2 1.2 / PYSKL for ntu25, 60 classes, one person (measured with
# benchmarks/reference_worker.py); they pin the architecture.
PARAMS_NTU60 = {"stgcn": 3_098_832, "aagcn": 3_781_518, "ctrgcn": 1_446_522,
                "msg3d": 3_194_445, "posec3d": 2_037_404}


def _model(name: str, layout: str = "ntu25", channels: int = 3, classes: int = 7, **cfg):
    torch.manual_seed(0)
    return build_recognizer(name, layout, classes, in_channels=channels,
                            **{**SMALL.get(name, {}), **cfg})


def _randomise_bn(model: torch.nn.Module) -> None:
    g = torch.Generator().manual_seed(1)
    for mod in model.modules():
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
            c = mod.num_features
            mod.running_mean.copy_(torch.randn(c, generator=g) * 0.2)
            mod.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            mod.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
            mod.bias.data.copy_(torch.randn(c, generator=g) * 0.1)


def test_registry_lists_every_backbone():
    assert backbone_names() == ["aagcn", "ctrgcn", "msg3d", "posec3d", "stgcn"]
    with pytest.raises(ValueError, match="unknown backbone 'gcn9'; known backbones: aagcn"):
        build_recognizer("gcn9", "ntu25", 60)


@pytest.mark.parametrize("name", GCNS + ("posec3d",))
@pytest.mark.parametrize("layout,channels", LAYOUTS)
def test_output_and_representation_shapes(name, layout, channels):
    model = _model(name, layout, channels).eval()
    x = torch.randn(2, 1, 12, model.num_joints, channels)
    with torch.no_grad():
        logits = model(x)
        emb = model.get_representation(x)
    assert logits.shape == (2, 7) and logits.dtype == torch.float32
    assert emb.shape == (2, model.embed_dim) and model.embed_dim == WIDTH[name]
    assert model.layout == layout and model.in_channels == channels
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name,params", sorted(PARAMS_NTU60.items()))
def test_parameter_counts_match_the_reference(name, params):
    model = build_recognizer(name, "ntu25", 60)
    assert parameter_count(model) == params


def test_embed_dims_of_the_full_models():
    dims = {n: build_recognizer(n, "ntu25", 60).embed_dim for n in PARAMS_NTU60}
    assert dims == {"stgcn": 256, "aagcn": 256, "ctrgcn": 256, "msg3d": 384, "posec3d": 512}


def test_layout_mismatch_names_both_layouts_and_the_conversion():
    model = _model("stgcn", "ntu25")
    seq = Sequence(np.zeros((5, 24, 3), np.float32), layout="flag3d24", fps=30)
    with pytest.raises(LayoutError, match=r"input layout flag3d24 does not match the model's "
                       r"layout ntu25: convert it first with "
                       r"flag3d\.skeleton\.convert\.convert\(seq, 'ntu25'\)"):
        model.check_input(seq)
    coco = _model("stgcn", "coco17")
    with pytest.raises(LayoutError, match="input layout h36m17 does not match the model's "
                       "layout coco17: no conversion exists from h36m17 to coco17"):
        coco.check_input("h36m17")
    model.check_input(Sequence(np.zeros((5, 25, 3), np.float32), layout="kinect25", fps=30)
                      .replace(layout="ntu25"))  # same layout: no error


def test_wrong_joint_count_fails_before_any_tensor_op():
    model = _model("ctrgcn", "ntu25")

    class Exploding(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            if func not in (torch.Tensor.shape.__get__, torch.Tensor.dim):
                raise AssertionError(f"tensor op {func} ran before the layout check")
            return super().__torch_function__(func, types, args, kwargs or {})

    x = torch.zeros(1, 1, 4, 17, 3).as_subclass(Exploding)
    with pytest.raises(LayoutError, match="input has 17 joints but the model's layout ntu25 "
                       "has 25; layouts with 17 joints: coco17, h36m17"):
        model(x)
    with pytest.raises(LayoutError, match="input has 2 channels per joint but the model takes 3"):
        model(torch.zeros(1, 1, 4, 25, 2))
    with pytest.raises(SequenceError, match=r"input must have shape \(N, M, T, V, C\)"):
        model(torch.zeros(4, 25, 3))


@pytest.mark.parametrize("name", GCNS)
def test_eval_folding_equals_batchnorm_in_eval(name):
    """The fused eval path computes exactly what the training graph does with frozen BN."""
    model = _model(name)
    _randomise_bn(model)
    x = torch.randn(2, 1, 12, 25, 3)
    model.eval()
    with torch.no_grad():
        fused = model(x)
    model.train()
    for mod in model.modules():
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
            mod.eval()
    with torch.no_grad():
        plain = model(x)
    torch.testing.assert_close(fused, plain, rtol=1e-4, atol=1e-4)


def _naive_unit_gcn(unit: GraphConv, x: torch.Tensor) -> torch.Tensor:
    """PYSKL's formula: conv to K*C', einsum over subsets and joints, BN, ReLU."""
    y = torch.nn.functional.conv2d(x.contiguous(), unit.conv.weight, unit.conv.bias)
    n, _, t, v = y.shape
    y = y.view(n, unit.num_subsets, -1, t, v)
    z = torch.einsum("nkctv,kvw->nctw", y, unit.A * unit.PA)
    return torch.relu(unit.bn(z))


@pytest.mark.parametrize("c_in,c_out", [(3, 16), (16, 16), (16, 8)])
def test_graph_conv_equals_the_pyskl_formula(c_in, c_out):
    torch.manual_seed(0)
    unit = GraphConv(c_in, c_out, graph_tensor("ntu25", "stgcn_spatial"))
    unit.PA.data.uniform_(0.5, 1.5)
    _randomise_bn(unit)
    x = to_cl(torch.randn(2, c_in, 6, 25))
    for mode in (unit.train, unit.eval):
        mode()
        for m in unit.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()
        torch.testing.assert_close(unit(x), _naive_unit_gcn(unit, x), rtol=1e-4, atol=1e-5)


def test_multiscale_tcn_eval_equals_train_with_frozen_bn():
    torch.manual_seed(0)
    tcn = MultiScaleTCN(12, 12, kernel=5, stride=2, dilations=(1, 2))
    _randomise_bn(tcn)
    x = to_cl(torch.randn(2, 12, 10, 5))
    tcn.eval()
    fused = tcn(x)
    tcn.train()
    for m in tcn.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
    torch.testing.assert_close(fused, tcn(x), rtol=1e-5, atol=1e-5)
    assert fused.shape == (2, 12, 5, 5)


def test_convbn_one_by_one_is_a_gemm_and_matches_conv():
    torch.manual_seed(0)
    unit = ConvBN(8, 4, 1, stride=(2, 1))
    _randomise_bn(unit)
    unit.eval()
    x = to_cl(torch.randn(3, 8, 9, 5))
    ref = unit.bn(unit.conv(x.contiguous()))
    torch.testing.assert_close(unit(x), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", GCNS + ("posec3d",))
def test_bf16_forward_is_close_to_fp32(name):
    model = _model(name).eval()
    _randomise_bn(model)
    x = torch.rand(2, 1, 8, 25, 3)
    with torch.no_grad():
        ref = model(x)
        if native_bf16():
            model.set_precision("bf16")
        else:
            with pytest.warns(RuntimeWarning, match="no native bfloat16 arithmetic"):
                model.set_precision("bf16")
        out = model(x)
    assert out.dtype == torch.float32
    scale = ref.abs().max().item()
    assert (out - ref).abs().max().item() <= 0.05 * scale + 1e-3
    with pytest.raises(ValueError, match="unknown precision 'fp16'"):
        model.set_precision("fp16")


@pytest.mark.parametrize("name", GCNS + ("posec3d",))
def test_eval_is_deterministic(name):
    model = _model(name).eval()
    x = torch.rand(2, 1, 8, 25, 3)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


@pytest.mark.parametrize("name", GCNS + ("posec3d",))
def test_gradient_step_changes_weights_and_reaches_the_first_layer(name):
    model = _model(name).train()
    first = [p for n, p in model.named_parameters()
             if n.startswith(("backbone.blocks.0.", "backbone.stages.0.", "backbone.stem."))]
    before = [p.detach().clone() for p in first]
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.rand(4, 1, 8, 25, 3)
    loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert first and any(p.grad is not None and p.grad.abs().sum() > 0 for p in first)
    opt.step()
    assert any(not torch.equal(b, p.detach()) for b, p in zip(before, first))


def test_hop_scales_are_column_normalised_hops():
    adj = build_graph("coco17", "adjacency")[0].astype(np.float64)
    s = hop_scales(adj, 4)
    assert s.shape == (4, 17, 17)
    np.testing.assert_allclose(s[0], np.eye(17))
    # nose (0) to left_eye (1) is one hop; nose to left_ear (3) two
    assert s[1, 0, 1] > 0 and s[1, 0, 3] == 0 and s[2, 0, 3] > 0 and s[2, 0, 1] == 0
    np.testing.assert_allclose(s[1].sum(0), np.ones(17), rtol=1e-6)


def test_heatmaps_peak_at_the_joint_and_follow_the_score():
    maker = PseudoHeatmaps(size=21, frames=None, sigma=1.0, score=True, margin=0.0)
    kp = torch.zeros(1, 1, 1, 3, 3)
    kp[0, 0, 0, :, :2] = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.5, 0.25]])
    kp[0, 0, 0, :, 2] = torch.tensor([1.0, 1.0, 0.5])
    vol = maker(kp)  # (1, 3, 1, 21, 21)
    assert vol.shape == (1, 3, 1, 21, 21)
    peak = [divmod(int(vol[0, j, 0].argmax()), 21) for j in range(3)]
    assert peak == [(0, 0), (20, 20), (5, 10)]  # (row = y, col = x)
    assert vol[0, 2].max().item() == pytest.approx(0.5, abs=1e-6)
    assert uniform_frame_indices(10, 4).tolist() == [1, 3, 6, 8]
    assert uniform_frame_indices(3, 6).tolist() == [0, 0, 1, 1, 2, 2]


def test_persons_are_pooled_and_mvc_needs_the_built_person_count():
    model = _model("stgcn", num_persons=2).eval()
    x = torch.randn(2, 2, 8, 25, 3)
    with torch.no_grad():
        both = model.get_representation(x)
        one = model.get_representation(x[:, :1])
    assert both.shape == one.shape == (2, 64)
    mvc = _model("ctrgcn", num_persons=2)
    with pytest.raises(SequenceError, match="input has 1 persons but the model was built for 2"):
        mvc(x[:, :1])


def _naive_ctrgc(unit, x: torch.Tensor) -> torch.Tensor:
    """PYSKL's ``unit_ctrgcn`` written out per subset (conv1..conv4, einsum, BN, residual)."""
    k, r = unit.num_subsets, unit.rel
    f = torch.nn.functional
    wr, br = unit.rel_conv.weight, unit.rel_conv.bias
    wf, bf = unit.feat_conv.weight, unit.feat_conv.bias
    c = unit.out_channels
    y = 0
    for i in range(k):
        x1 = f.conv2d(x, wr[i * r:(i + 1) * r], br[i * r:(i + 1) * r]).mean(-2)
        j = (k + i) * r
        x2 = f.conv2d(x, wr[j:j + r], br[j:j + r]).mean(-2)
        x3 = f.conv2d(x, wf[i * c:(i + 1) * c], bf[i * c:(i + 1) * c])
        rel = torch.tanh(x1.unsqueeze(-1) - x2.unsqueeze(-2))
        m = f.conv2d(rel, unit.rel_weight[i][..., None, None], unit.rel_bias[i])
        m = m * unit.alpha + unit.A[i][None, None]
        y = y + torch.einsum("ncuv,nctu->nctv", m, x3)
    res = unit.down(x) if unit.down is not None else x
    return torch.relu(unit.bn(y) + res)


@pytest.mark.parametrize("c_in,c_out", [(3, 16), (16, 16)])
def test_ctrgc_unit_equals_the_pyskl_formula(c_in, c_out):
    from flag3d.models.ctrgcn import ChannelTopologyGraphConv

    torch.manual_seed(0)
    unit = ChannelTopologyGraphConv(c_in, c_out, graph_tensor("coco17", "spatial"))
    unit.alpha.data.fill_(0.7)
    unit.feat_conv.bias.data.normal_()  # non-zero conv3 and conv4 biases: both go through
    unit.rel_bias.data.normal_()  # the aggregation as column sums of the graphs
    _randomise_bn(unit)
    unit.eval()
    x = torch.randn(2, c_in, 6, 17)
    with torch.no_grad():  # the in-place, copy-free aggregation
        torch.testing.assert_close(unit(x), _naive_ctrgc(unit, x), rtol=1e-4, atol=1e-5)
    x.requires_grad_(True)  # the differentiable aggregation
    y = unit(x)
    torch.testing.assert_close(y, _naive_ctrgc(unit, x), rtol=1e-4, atol=1e-5)
    y.sum().backward()
    assert x.grad is not None and unit.A.grad is not None and float(unit.A.grad.abs().sum()) > 0


@pytest.mark.parametrize("t,stride", [(1, 1), (2, 1), (7, 1), (7, 2), (8, 2), (100, 2)])
def test_temporal_max_pool3_equals_max_pool2d(t, stride):
    from flag3d.models.layers import temporal_max_pool3

    torch.manual_seed(0)
    x = torch.randn(2, 3, t, 5)
    want = torch.nn.functional.max_pool2d(x, (3, 1), (stride, 1), (1, 0))
    assert torch.equal(temporal_max_pool3(x, stride), want)
    assert torch.equal(temporal_max_pool3(to_cl(x), stride), want)


def _naive_aagcn(unit, x: torch.Tensor) -> torch.Tensor:
    """PYSKL's ``unit_aagcn`` written out per subset, with the three attentions."""
    f = torch.nn.functional
    n, c_in, t, v = x.shape
    k, r, c = unit.num_subsets, unit.inter, unit.out_channels
    emb = f.conv2d(x, unit.embed.weight, unit.embed.bias)
    y = 0
    for i in range(k):
        a1 = emb[:, i * r:(i + 1) * r].permute(0, 3, 1, 2).reshape(n, v, r * t)
        b1 = emb[:, (k + i) * r:(k + i + 1) * r].reshape(n, r * t, v)
        adj = unit.A[i] + torch.tanh(a1 @ b1 / (r * t)) * unit.alpha
        z = (x.reshape(n, c_in * t, v) @ adj).view(n, c_in, t, v)
        y = y + f.conv2d(z, unit.weight[i * c:(i + 1) * c], unit.bias[i])
    res = unit.down(x) if unit.down is not None else x
    y = torch.relu(unit.bn(y) + res)
    se = torch.sigmoid(unit.conv_sa(y.mean(-2)))
    y = y * se.unsqueeze(-2) + y
    se = torch.sigmoid(unit.conv_ta(y.mean(-1)))
    y = y * se.unsqueeze(-1) + y
    se = torch.sigmoid(unit.fc2c(torch.relu(unit.fc1c(y.mean(-1).mean(-1)))))
    return y * se.unsqueeze(-1).unsqueeze(-1) + y


@pytest.mark.parametrize("c_in,c_out", [(3, 16), (16, 16)])
def test_aagcn_unit_equals_the_pyskl_formula(c_in, c_out):
    from flag3d.models.aagcn import AdaptiveGraphConv

    torch.manual_seed(0)
    unit = AdaptiveGraphConv(c_in, c_out, graph_tensor("coco17", "spatial"))
    unit.alpha.data.fill_(0.5)
    for lin in (unit.conv_ta, unit.fc2c):  # PYSKL starts these at 0; make them matter
        torch.nn.init.normal_(lin.weight, 0.0, 0.3)
    _randomise_bn(unit)
    unit.eval()
    x = to_cl(torch.randn(2, c_in, 6, 17))
    with torch.no_grad():
        torch.testing.assert_close(unit(x), _naive_aagcn(unit, x.contiguous()),
                                   rtol=1e-4, atol=1e-5)


def test_msg3d_pathways_equal_the_pyskl_formulas():
    from flag3d.models.msg3d import G3DPathway, MultiScaleGraphConv

    torch.manual_seed(0)
    f = torch.nn.functional
    adj = build_graph("coco17", "adjacency")[0].astype(np.float64)
    x = torch.randn(2, 6, 9, 17)
    # multi-scale GCN: einsum over the scales, then 1x1 conv + BN + ReLU
    gcn = MultiScaleGraphConv(6, 8, torch.from_numpy(hop_scales(adj, 4)))
    gcn.PA.data.normal_(0.0, 0.1)
    _randomise_bn(gcn)
    gcn.eval()
    agg = torch.einsum("kvu,nctv->nkctu", gcn.A + gcn.PA, x).reshape(2, 4 * 6, 9, 17)
    ref = torch.relu(gcn.mlp.bn(gcn.mlp.conv(agg)))
    torch.testing.assert_close(gcn(to_cl(x)), ref, rtol=1e-4, atol=1e-5)
    # G3D: nn.Unfold windows -> space-time GCN -> Conv3d (1, window, 1) collapse + BN
    path = G3DPathway(6, 8, adj, num_scales=3, window=3, stride=2)
    _randomise_bn(path)
    path.eval()
    win = f.unfold(x, (3, 1), padding=(1, 0), stride=(2, 1)).view(2, 6, 3, -1, 17)
    win = win.permute(0, 1, 3, 2, 4).reshape(2, 6, -1, 3 * 17)
    g = path.gcn
    agg = torch.einsum("kvu,nctv->nkctu", g.A + g.PA, win).reshape(2, 3 * 6, -1, 3 * 17)
    mid = torch.relu(g.mlp.bn(g.mlp.conv(agg)))
    w3 = path.collapse.conv.weight.unsqueeze(-1)  # (C', C, 1, window, 1)
    col = f.conv3d(mid.reshape(2, 6, -1, 3, 17), w3, path.collapse.conv.bias).squeeze(3)
    ref = path.collapse.bn(col)
    torch.testing.assert_close(path(to_cl(x)), ref, rtol=1e-4, atol=1e-5)
    assert ref.shape == (2, 8, 5, 17)


@pytest.mark.parametrize("kernel,stride", [((1, 3, 3), (2, 2, 2)), ((3, 1, 1), (1, 1, 1)),
                                           ((1, 1, 1), (2, 2, 2)), ((1, 7, 7), (1, 1, 1))])
def test_separable_conv3d_equals_conv3d(kernel, stride):
    from flag3d.models.posec3d import Conv3dBN

    torch.manual_seed(0)
    unit = Conv3dBN(5, 6, kernel, stride=stride)
    _randomise_bn(unit)
    unit.eval()
    x = torch.randn(2, 5, 6, 9, 9)
    pad = tuple(k // 2 for k in kernel)
    ref = torch.relu(unit.bn(torch.nn.functional.conv3d(x, unit.weight, None, stride, pad)))
    out = unit(x.contiguous(memory_format=torch.channels_last_3d))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
