"""Evaluation-mode network operations in plain numpy, shared by the numpy engines.

Importing torch costs about 2 s on this kind of machine, more than a short command may take
in total, so the models that ``flag3d analyze`` and ``flag3d count`` run at inference have
numpy twins (:mod:`flag3d.models.hlgcn_numpy`, :mod:`flag3d.models.counting_numpy`,
:mod:`flag3d.models.quality_numpy`, :mod:`flag3d.models.recognition_numpy`).  They read the
torch model's state dict (``model.safetensors`` through ``safetensors.numpy``) and call these
functions; BatchNorm uses its running statistics and dropout is off.  Tensors are
``(N, C, T, V)`` float32 like the torch models'.

Example:
    >>> import numpy as np
    >>> from flag3d.models.numpy_ops import temporal_conv
    >>> x = np.ones((1, 2, 5, 3), np.float32)
    >>> w = np.ones((4, 2, 3, 1), np.float32)
    >>> temporal_conv(x, w, np.zeros(4, np.float32))[0, 0, :, 0].tolist()  # zero padding
    [4.0, 6.0, 6.0, 6.0, 4.0]
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Tuple

import numpy as np

EPS = 1e-5


def relu(x: np.ndarray) -> np.ndarray:
    """ReLU in place."""
    return np.maximum(x, 0.0, out=x)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis`` (``x`` is overwritten)."""
    x = x - x.max(axis=axis, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=axis, keepdims=True)
    return x


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, without overflow warnings for large ``|x|``."""
    return (0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float32)))).astype(np.float32)


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """LayerNorm over the last axis (``eps=1e-5`` as torch's default)."""
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + EPS) * w + b


def linear(x: np.ndarray, w: np.ndarray, b: Optional[np.ndarray]) -> np.ndarray:
    """``x @ w.T + b`` over the last axis of ``x``."""
    # a 2-D product goes to BLAS; numpy's stacked matmul with a transposed weight does not
    y = (np.ascontiguousarray(x).reshape(-1, x.shape[-1]) @ w.T).reshape(x.shape[:-1] + (w.shape[0],))
    return y + b if b is not None else y


class StateDict:
    """A state dict of float32 arrays with folded BatchNorms (cached per layer name)."""

    def __init__(self, state: Mapping[str, np.ndarray]) -> None:
        self.p: Dict[str, np.ndarray] = {k: np.asarray(v, dtype=np.float32)
                                         for k, v in state.items()}
        self._bn: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}

    def __getitem__(self, key: str) -> np.ndarray:
        return self.p[key]

    def __contains__(self, key: object) -> bool:
        return key in self.p

    def get(self, key: str) -> Optional[np.ndarray]:
        """The array or ``None``."""
        return self.p.get(key)

    def bn(self, name: str) -> Tuple[np.ndarray, np.ndarray]:
        """``(scale, shift)`` with ``BN(x) == x * scale + shift`` for the BatchNorm ``name``."""
        if name not in self._bn:
            w, b = self.p.get(f"{name}.weight"), self.p.get(f"{name}.bias")
            mean, var = self.p[f"{name}.running_mean"], self.p[f"{name}.running_var"]
            scale = 1.0 / np.sqrt(var + EPS)
            if w is not None:
                scale = w * scale
            shift = -mean * scale + (b if b is not None else 0.0)
            self._bn[name] = (scale.astype(np.float32), shift.astype(np.float32))
        return self._bn[name]

    def bn2d(self, x: np.ndarray, name: str) -> np.ndarray:
        """BatchNorm2d ``name`` on ``(N, C, T, V)``."""
        scale, shift = self.bn(name)
        return x * scale[None, :, None, None] + shift[None, :, None, None]


def conv1x1(x: np.ndarray, w: np.ndarray, b: Optional[np.ndarray], stride: int = 1) -> np.ndarray:
    """A 1x1 convolution of ``(N, C, T, V)`` (temporal ``stride``); ``w`` is ``(O, C, 1, 1)``."""
    w = w.reshape(w.shape[0], -1)
    if stride > 1:
        x = x[:, :, ::stride]
    n, c, t, v = x.shape
    y = np.matmul(w, np.ascontiguousarray(x).reshape(n, c, t * v)).reshape(n, -1, t, v)
    return y + b[None, :, None, None] if b is not None else y


def temporal_conv(x: np.ndarray, w: np.ndarray, b: Optional[np.ndarray], stride: int = 1,
                  dilation: int = 1) -> np.ndarray:
    """A ``(k, 1)`` convolution over time with zero padding keeping ``T`` (at stride 1).

    ``w`` is ``(O, C, k, 1)``; padding ``(k - 1) * dilation // 2`` as PyTorch's modules here.
    """
    o, c, k, _ = w.shape
    pad = (k - 1) * dilation // 2
    n, _, t, v = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (0, 0)))
    span = (k - 1) * dilation + 1
    t_out = (t + 2 * pad - span) // stride + 1
    out = np.zeros((n, o, t_out * v), dtype=np.float32)
    for dk in range(k):
        s = dk * dilation
        sl = xp[:, :, s: s + stride * (t_out - 1) + 1: stride]
        out += np.matmul(w[:, :, dk, 0], np.ascontiguousarray(sl).reshape(n, c, t_out * v))
    out = out.reshape(n, o, t_out, v)
    return out + b[None, :, None, None] if b is not None else out


__all__ = ["EPS", "StateDict", "conv1x1", "layer_norm", "linear", "relu", "sigmoid", "softmax",
           "temporal_conv"]
