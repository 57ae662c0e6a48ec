"""The DFT path of the temporal convolutions equals the direct convolution, and is taken
only where it applies and pays off."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from flag3d.models import layers
from flag3d.models.recognition import build_recognizer
from flag3d.models.temporal_dft import (
    can_use_dft,
    dft_enabled,
    dft_temporal_conv,
    prefer_dft,
    use_dft,
)


def _cl(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("c_in,c_out,t,k,dilation,stride,bias", [
    (16, 24, 25, 9, 1, 1, True),    # odd DFT length (29)
    (8, 8, 50, 9, 1, 1, False),     # even DFT length (54), no bias
    (12, 20, 31, 9, 1, 2, True),    # strided: every second output of the inverse
    (8, 8, 17, 5, 2, 1, True),      # dilated kernel 5 (pad 4)
    (4, 6, 1, 9, 1, 1, True),       # a single frame
])
def test_equals_direct_convolution(c_in, c_out, t, k, dilation, stride, bias):
    torch.manual_seed(0)
    x = _cl(torch.randn(3, c_in, t, 7))
    w = torch.randn(c_out, c_in, k, 1)
    b = torch.randn(c_out) if bias else None
    pad = dilation * (k - 1) // 2
    want = F.conv2d(x, w, b, stride=(stride, 1), padding=(pad, 0), dilation=(dilation, 1))
    got = dft_temporal_conv(x, w, b, padding=pad, dilation=dilation, stride=stride)
    assert got.shape == want.shape
    assert got.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-4 * float(want.abs().max()))


def test_nchw_input_gives_the_same_result():
    torch.manual_seed(1)
    x = torch.randn(2, 8, 20, 5)  # plain contiguous
    w, b = torch.randn(8, 8, 9, 1), torch.randn(8)
    want = F.conv2d(x, w, b, padding=(4, 0))
    assert torch.allclose(dft_temporal_conv(x, w, b, padding=4), want, atol=1e-4)


def test_cached_matrices_serve_every_mode():
    from flag3d.models import temporal_dft

    temporal_dft._dft_matrices.cache_clear()
    x = _cl(torch.randn(1, 4, 13, 3))
    w, b = torch.randn(4, 4, 9, 1), torch.randn(4)
    with torch.inference_mode():  # first use inside inference mode fills the cache
        first = dft_temporal_conv(x, w, b, padding=4)
    forward, inverse = temporal_dft._dft_matrices(13, 17, 1)
    assert not forward.is_inference() and not inverse.is_inference()
    with torch.no_grad():  # and the cached matrices still serve outside it
        again = dft_temporal_conv(x, w, b, padding=4)
    assert torch.equal(first, again)


def test_bad_arguments_are_named():
    x = _cl(torch.randn(1, 8, 20, 5))
    with pytest.raises(ValueError, match="'same' padding"):
        dft_temporal_conv(x, torch.randn(8, 8, 9, 1), padding=2)
    with pytest.raises(ValueError, match=r"does not fit input \(1, 8, 20, 5\)"):
        dft_temporal_conv(x, torch.randn(8, 4, 9, 1), padding=4)


def test_cost_model_decisions():
    # the cases measured on this CPU: 256 ch at T = 25 and 128 ch at T = 50 gain,
    # 64 ch at T = 100 and the strided layers do not; short kernels never take the path
    assert prefer_dft(25, 9, 256, 256, padding=4)
    assert prefer_dft(50, 9, 128, 128, padding=4)
    assert not prefer_dft(100, 9, 64, 64, padding=4)
    assert not prefer_dft(100, 9, 128, 128, stride=2, padding=4)
    assert not prefer_dft(50, 9, 256, 256, stride=2, padding=4)
    assert not prefer_dft(25, 3, 256, 256, padding=1)
    assert not prefer_dft(25, 9, 256, 256, padding=0)  # not a 'same' convolution


def test_applies_only_without_autograd_fp32_and_autocast():
    x = _cl(torch.randn(1, 8, 10, 5))
    w = torch.randn(8, 8, 9, 1)
    assert can_use_dft(x, w)
    assert not can_use_dft(x.contiguous(), w)  # NCHW: the direct path keeps its layout
    assert not can_use_dft(x.double(), w.double())
    assert not can_use_dft(x, w.requires_grad_())
    with torch.no_grad():
        assert can_use_dft(x, w)
    w.requires_grad_(False)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not can_use_dft(x, w)
    previous = use_dft(False)
    try:
        assert not dft_enabled() and not can_use_dft(x, w)
    finally:
        use_dft(previous)
    assert dft_enabled() == previous


def test_stgcn_inference_takes_the_path_and_matches(monkeypatch):
    torch.manual_seed(0)
    model = build_recognizer("stgcn", "ntu25", 10).eval()
    x = torch.randn(2, 1, 100, 25, 3)
    calls = []
    real = layers.dft_temporal_conv

    def spy(*args, **kwargs):
        calls.append(tuple(args[0].shape))
        return real(*args, **kwargs)

    monkeypatch.setattr(layers, "dft_temporal_conv", spy)
    with torch.inference_mode():
        fast = model(x)
        # blocks 6-7 (128 ch, T = 50) and 9-10 (256 ch, T = 25)
        assert calls == [(2, 128, 50, 25)] * 2 + [(2, 256, 25, 25)] * 2
        previous = use_dft(False)
        try:
            direct = model(x)
        finally:
            use_dft(previous)
    assert len(calls) == 4  # the switch really turned the path off
    assert torch.allclose(fast, direct, rtol=1e-4, atol=1e-4 * float(direct.abs().max()))
    assert torch.equal(fast.argmax(-1), direct.argmax(-1))


def test_training_forward_keeps_the_direct_path(monkeypatch):
    model = build_recognizer("stgcn", "coco17", 5, base_channels=16).train()

    def fail(*args, **kwargs):
        raise AssertionError("the DFT path must not run while autograd records")

    monkeypatch.setattr(layers, "dft_temporal_conv", fail)
    out = model(torch.randn(2, 1, 24, 17, 3))
    out.sum().backward()
    assert out.shape == (2, 5)
