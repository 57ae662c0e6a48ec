"""Temporal ``(k, 1)`` convolutions through a real DFT over time, for inference on CPU.

A 9x1 temporal convolution with C input and C' output channels costs ``2*9*T*C*C'`` FLOPs
per joint track; it is most of a GCN's inference time (ST-GCN: 72 % of the FLOPs), and
oneDNN already runs it near this CPU's peak, so the only way to make it faster is to do
fewer FLOPs.  Zero-pad the track to a length ``L >= T + pad`` (then the circular convolution
equals the zero-padded one on the first T outputs), take the real DFT of the input and of the
kernel: the channel mixing becomes, per frequency ``f = 0..L//2``, one complex
``(N*V, C) @ (C, C')`` product.  With Gauss's three-multiplication complex product that is
``6*(L//2+1)*C*C'`` FLOPs per track instead of ``18*T*C*C'``, about 3x fewer for T = 25-50.
The DFTs themselves are GEMMs with a small ``(2F, T)`` matrix (cheap at 128-256 channels,
not at 64: the cost model :func:`prefer_dft` decides per call).  A strided convolution
keeps only every ``stride``-th row of the inverse DFT.

The result equals ``F.conv2d`` to float32 rounding (relative error ~2e-6, see
``tests/test_temporal_dft.py``).  It is used only where no gradient is recorded, in float32,
outside autocast, on channels-last input; everything else runs the direct convolution.
:func:`use_dft` switches it off globally (``FLAG3D_TEMPORAL_DFT=0`` does the same), which the
speed benchmark uses to count the architecture's nominal FLOPs.

Example:
    >>> import torch, torch.nn.functional as F
    >>> from flag3d.models.temporal_dft import dft_temporal_conv
    >>> x = torch.randn(2, 16, 25, 5).contiguous(memory_format=torch.channels_last)
    >>> w, b = torch.randn(32, 16, 9, 1), torch.randn(32)
    >>> y = dft_temporal_conv(x, w, b, padding=4)
    >>> bool(torch.allclose(y, F.conv2d(x, w, b, padding=(4, 0)), atol=1e-3))
    True
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from typing import Optional, Tuple

import torch

_ENABLED = os.environ.get("FLAG3D_TEMPORAL_DFT", "1").strip().lower() not in ("0", "false", "no")

#: take the DFT path when its FLOP estimate is below this fraction of the direct one
#: (measured here: 256 ch, T=25 at an estimate of 0.23 ran 2-2.7x faster; 128 ch, T=50 at 0.29
#: 1.5x; 64 ch, T=100 at 0.55 and the strided layers at 0.44-0.63 gained nothing)
COST_RATIO = 0.4


def use_dft(enabled: bool) -> bool:
    """Switch the DFT path on or off for the whole process; returns the previous setting.

    Example:
        >>> from flag3d.models.temporal_dft import use_dft
        >>> before = use_dft(False); _ = use_dft(before)
    """
    global _ENABLED
    previous, _ENABLED = _ENABLED, bool(enabled)
    return previous


def dft_enabled() -> bool:
    """Whether the DFT path may be taken (see :func:`use_dft`)."""
    return _ENABLED


def _length(t: int, pad: int) -> int:
    """The DFT length: the shortest for which the circular convolution is the padded one."""
    return t + pad


def prefer_dft(t: int, kernel: int, in_channels: int, out_channels: int, stride: int = 1,
               padding: int = 0, dilation: int = 1) -> bool:
    """Whether the DFT path is estimated to be clearly cheaper for this temporal convolution.

    Example:
        >>> prefer_dft(25, 9, 256, 256, padding=4), prefer_dft(100, 9, 64, 64, padding=4)
        (True, False)
    """
    if stride < 1 or kernel < 5 or 2 * padding != dilation * (kernel - 1):
        return False
    nf = _length(t, padding) // 2 + 1
    t_out = (t - 1) // stride + 1
    direct = 2.0 * kernel * t_out * in_channels * out_channels
    dft = (6.0 * nf * in_channels * out_channels
           + 4.0 * nf * (t * in_channels + t_out * out_channels))
    return dft < COST_RATIO * direct


def can_use_dft(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether the DFT path applies to these tensors (not whether it pays off)."""
    return (_ENABLED and x.dim() == 4 and weight.dim() == 4 and weight.shape[-1] == 1
            and x.dtype == torch.float32 and weight.dtype == torch.float32
            and x.device.type == "cpu"
            and x.is_contiguous(memory_format=torch.channels_last)
            and not torch.is_autocast_enabled("cpu")
            and not (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)))


@lru_cache(maxsize=64)
def _dft_matrices(t: int, length: int, stride: int = 1) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(forward (2F, T), inverse (T_out, 2F))`` real DFT matrices, rows/columns ordered
    (re|im, f); the inverse has the rows of the kept outputs ``0, stride, 2*stride, ...``.

    Built in float64 and rounded once; treat them as read-only (they are cached).  Made as
    normal tensors even when first asked for inside ``torch.inference_mode``, so the cached
    copies serve every later mode.
    """
    with torch.inference_mode(False):
        return _build_dft_matrices(t, length, stride)


def _build_dft_matrices(t: int, length: int, stride: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """The matrices of :func:`_dft_matrices`, uncached."""
    nf = length // 2 + 1
    f = torch.arange(nf, dtype=torch.float64)
    u = torch.arange(t, dtype=torch.float64)
    ang = (2.0 * math.pi / length) * f[:, None] * u[None, :]  # (F, T)
    forward = torch.cat([torch.cos(ang), -torch.sin(ang)], 0)
    # real inverse: y[u] = (1/L) * sum_f c_f * (Re Y_f cos - Im Y_f sin), c_f = 2 except the
    # bins that are their own mirror image (f = 0, and f = L/2 for even L)
    c = torch.full((nf,), 2.0, dtype=torch.float64)
    c[0] = 1.0
    if length % 2 == 0:
        c[-1] = 1.0
    kept = ang.T[::stride]
    inverse = torch.cat([c * torch.cos(kept), -c * torch.sin(kept)], 1) / length
    return forward.float().contiguous(), inverse.float().contiguous()


def _kernel_dft(weight: torch.Tensor, length: int, pad: int, dilation: int
                ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Real and imaginary parts ``(F, C, C')`` of the DFT of the circularly placed kernel."""
    c_out, c_in, k, _ = weight.shape
    nf = length // 2 + 1
    # tap j of the cross-correlation sits at circular position (pad - j*dilation) mod L
    pos = torch.tensor([(pad - j * dilation) % length for j in range(k)], dtype=torch.float64)
    ang = (2.0 * math.pi / length) * torch.arange(nf, dtype=torch.float64)[:, None] * pos[None, :]
    taps = weight[:, :, :, 0].permute(2, 1, 0).reshape(k, c_in * c_out)
    h_re = (torch.cos(ang).float() @ taps).view(nf, c_in, c_out)
    h_im = (-torch.sin(ang).float() @ taps).view(nf, c_in, c_out)
    return h_re, h_im


def dft_temporal_conv(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                      padding: int = 0, dilation: int = 1, stride: int = 1) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, (stride, 1), (padding, 0), (dilation, 1))`` via the DFT.

    ``x`` is ``(N, C, T, V)`` (channels-last is copy-free), ``weight`` ``(C', C, k, 1)`` with a
    "same" padding (``2*padding == dilation*(k-1)``).  Returns ``(N, C', T_out, V)``
    channels-last, ``T_out = (T - 1) // stride + 1``.
    """
    n, c_in, t, v = x.shape
    c_out, c_w, k, kv = weight.shape
    if c_w != c_in or kv != 1:
        raise ValueError(f"weight {tuple(weight.shape)} does not fit input {tuple(x.shape)} "
                         "for a (k, 1) temporal convolution")
    if 2 * padding != dilation * (k - 1):
        raise ValueError(f"the DFT path needs 'same' padding: 2*{padding} != {dilation}*({k}-1)")
    length = _length(t, padding)
    nf = length // 2 + 1
    forward, inverse = _dft_matrices(t, length, stride)
    t_out = inverse.shape[0]
    h_re, h_im = _kernel_dft(weight, length, padding, dilation)
    # 1. DFT over time, one GEMM per sample: (2F, T) @ (T, V*C)
    xt = x.permute(0, 2, 3, 1).reshape(n, t, v * c_in)
    spec = torch.bmm(forward.expand(n, -1, -1), xt)  # (N, 2F, V*C)
    spec = spec.transpose(0, 1).contiguous().view(2, nf, n * v, c_in)  # (re|im, F, N*V, C)
    x_re, x_im = spec[0], spec[1]
    # 2. channel mixing per frequency, Gauss's product: k1 = (a+b)c, re = k1 - b(c+d),
    #    im = k1 + a(d-c) for (a+ib)(c+id)
    out = torch.empty(2, nf, n * v, c_out, dtype=x.dtype)
    torch.bmm(x_re + x_im, h_re, out=out[0])
    out[1].copy_(out[0])
    out[0].baddbmm_(x_im, h_re + h_im, alpha=-1.0)
    out[1].baddbmm_(x_re, h_im - h_re)
    # 3. inverse DFT per sample, reading the (2F, V*C') block of each sample through strides;
    #    the bias rides along as the GEMM's additive term
    spec_out = out.view(2 * nf, n, v * c_out).transpose(0, 1)
    if bias is None:
        y = torch.bmm(inverse.expand(n, -1, -1), spec_out)
    else:
        y = torch.baddbmm(bias.to(x.dtype).repeat(v).view(1, 1, v * c_out),
                          inverse.expand(n, -1, -1), spec_out)
    return y.view(n, t_out, v, c_out).permute(0, 3, 1, 2)


__all__ = ["COST_RATIO", "can_use_dft", "dft_enabled", "dft_temporal_conv", "prefer_dft",
           "use_dft"]
