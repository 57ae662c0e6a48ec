"""The counting network in plain numpy, for inference without importing torch.

Importing torch takes about 2.5 s on a small CPU machine, more than the whole budget of
``flag3d count`` (under 1 s for a minute of motion).  This module runs the same network as
:class:`flag3d.models.counting.CountingModel` in evaluation mode from its state dict
(``model.safetensors`` read with ``safetensors.numpy``): BatchNorm uses the running
statistics, dropout is off.  ``tests/test_hlgcn.py`` checks that both engines give the same
density to 1e-4 for every text mode and fusion.

Example:
    >>> import numpy as np
    >>> from flag3d.models.counting_numpy import NumpyCountingModel
    >>> import torch  # only to make random weights for the example
    >>> from flag3d.models.counting import build_model
    >>> m = build_model({"channels": [8, 8], "text_dim": 4, "frames": 16}).eval()
    >>> npm = NumpyCountingModel({k: v.numpy() for k, v in m.state_dict().items()}, m.settings)
    >>> x = np.random.default_rng(0).normal(size=(2, 6, 16, 24)).astype(np.float32)
    >>> e = np.ones((2, 4), np.float32)
    >>> ref = m(torch.from_numpy(x), torch.from_numpy(e)).detach().numpy()
    >>> bool(np.abs(npm(x, e)[0] - ref).max() < 1e-4)
    True
"""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from flag3d.errors import FormatError, LayoutError
from flag3d.skeleton.graph import build_graph
from flag3d.skeleton.layouts import get_layout

EPS = 1e-5


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0, out=x)


def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = x - x.max(axis=axis, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=axis, keepdims=True)
    return x


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + EPS) * w + b


def _linear(x: np.ndarray, w: np.ndarray, b: Optional[np.ndarray]) -> np.ndarray:
    # a 2-D product goes to BLAS; numpy's stacked matmul with a transposed weight does not
    y = (np.ascontiguousarray(x).reshape(-1, x.shape[-1]) @ w.T).reshape(x.shape[:-1] + (w.shape[0],))
    return y + b if b is not None else y


class NumpyCountingModel:
    """Evaluation-mode forward pass of a counting model from its state dict.

    Args:
        state: parameter and buffer arrays keyed as in the torch model's ``state_dict``.
        settings: the model settings (:data:`flag3d.models.counting.MODEL_DEFAULTS` keys).
    """

    def __init__(self, state: Mapping[str, np.ndarray], settings: Mapping[str, Any]) -> None:
        self.p = {k: np.asarray(v, dtype=np.float32) for k, v in state.items()}
        self.s = dict(settings)
        lay = get_layout(self.s["layout"])
        self.layout, self.num_joints = lay.name, lay.num_joints
        self.k = build_graph(lay, self.s["graph"]).shape[0]
        self.channels = list(self.s["channels"])
        self.strides = list(self.s.get("strides") or [1] * len(self.channels))
        self.text_mode = self.s["text_mode"]
        self.fusion = self.s["fusion"]
        if "encoder.data_bn.weight" not in self.p:
            raise FormatError("not a counting model state (encoder.data_bn.weight missing)")
        self._bn: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}

    # ------------------------------------------------------------------ helpers
    def _bn_affine(self, name: str) -> Tuple[np.ndarray, np.ndarray]:
        if name not in self._bn:
            w, b = self.p[f"{name}.weight"], self.p[f"{name}.bias"]
            mean, var = self.p[f"{name}.running_mean"], self.p[f"{name}.running_var"]
            scale = w / np.sqrt(var + EPS)
            self._bn[name] = (scale.astype(np.float32), (b - mean * scale).astype(np.float32))
        return self._bn[name]

    def _bn2d(self, x: np.ndarray, name: str) -> np.ndarray:
        scale, shift = self._bn_affine(name)
        return x * scale[None, :, None, None] + shift[None, :, None, None]

    def _conv1x1(self, x: np.ndarray, name: str, stride: int = 1) -> np.ndarray:
        w = self.p[f"{name}.weight"]
        w = w.reshape(w.shape[0], -1)
        if stride > 1:
            x = x[:, :, ::stride]
        n, c, t, v = x.shape
        y = np.matmul(w, x.reshape(n, c, t * v)).reshape(n, -1, t, v)
        return y + self.p[f"{name}.bias"][None, :, None, None]

    def _tconv(self, x: np.ndarray, name: str, stride: int) -> np.ndarray:
        w = self.p[f"{name}.weight"]  # (O, C, k, 1)
        o, c, k, _ = w.shape
        pad = (k - 1) // 2
        n, _, t, v = x.shape
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (0, 0)))
        t_out = (t + 2 * pad - k) // stride + 1
        out = np.zeros((n, o, t_out * v), dtype=np.float32)
        for dk in range(k):
            sl = xp[:, :, dk: dk + stride * (t_out - 1) + 1: stride]
            out += np.matmul(w[:, :, dk, 0], sl.reshape(n, c, t_out * v))
        return out.reshape(n, o, t_out, v) + self.p[f"{name}.bias"][None, :, None, None]

    # ------------------------------------------------------------------ encoder
    def _text_points(self, text: Optional[np.ndarray]) -> list:
        nb = len(self.channels)
        if self.text_mode == "none" or text is None:
            return [None] * nb

        def proj(i: int) -> np.ndarray:
            pre = f"encoder.text_proj.{i}"
            h = _linear(text, self.p[f"{pre}.fc1.weight"], self.p[f"{pre}.fc1.bias"])
            h = _layer_norm(h, self.p[f"{pre}.norm.weight"], self.p[f"{pre}.norm.bias"])
            return _linear(h, self.p[f"{pre}.fc2.weight"], self.p[f"{pre}.fc2.bias"])

        if self.text_mode == "shared":
            return [proj(0)] * nb
        return [proj(i) for i in range(nb)]

    def _gcn(self, x: np.ndarray, pre: str, cout: int, t: Optional[np.ndarray]) -> np.ndarray:
        n, _, T, V = x.shape
        y = self._conv1x1(x, f"{pre}.proj").reshape(n, self.k, cout * T, V)
        yk = np.ascontiguousarray(y.transpose(1, 0, 2, 3)).reshape(self.k, n * cout * T, V)
        a, b = self.p[f"{pre}.A"], self.p[f"{pre}.B"]
        # one large matrix product per subset (numpy's stacked matmul of 24x24 blocks is slow)
        mats = a + b if t is None else np.concatenate([a + b, b], axis=-1)
        acc = yk[0] @ mats[0]
        for k in range(1, self.k):
            acc += yk[k] @ mats[k]
        if t is None:
            return acc.reshape(n, cout, T, V)
        both = acc.reshape(n, cout, T, 2 * V)
        fab = both[..., :V]
        fb = np.ascontiguousarray(both[..., V:])
        ybar = yk.mean(0).reshape(n, cout, T, V)
        if self.fusion == "xattn":
            h = 4
            d = cout // h
            q = self._conv1x1(fb, f"{pre}.q").reshape(n, h, d, T, V).transpose(0, 1, 3, 4, 2)
            kv = self._conv1x1(ybar, f"{pre}.kv").reshape(n, 2, h, d, T, V)
            kk = kv[:, 0].transpose(0, 1, 3, 4, 2)
            vv = kv[:, 1].transpose(0, 1, 3, 4, 2)
            logits = np.matmul(q, kk.transpose(0, 1, 2, 4, 3)) / math.sqrt(d)
            logits = logits + t[:, None, None, None, :]
            att = _softmax(logits, -1)
            fused = np.matmul(att, vv).transpose(0, 1, 4, 2, 3).reshape(n, cout, T, V)
        else:
            fc = (ybar * t[:, None, None, :]).mean(-1, keepdims=True)
            fused = fb * fc if self.fusion == "mul" else fb + fc
        return fab + fused

    def encode(self, x: np.ndarray, text: Optional[np.ndarray] = None) -> np.ndarray:
        """Encoder features ``(N, C', T', V)`` of ``(N, C, T, V)`` inputs."""
        if x.ndim != 4 or x.shape[-1] != self.num_joints:
            raise LayoutError(
                f"expected input (N, C, T, {self.num_joints}) for layout {self.layout}, got "
                f"{tuple(x.shape)}; convert the skeleton to {self.layout} first")
        n, c, T, V = x.shape
        scale, shift = self._bn_affine("encoder.data_bn")
        x = x.transpose(0, 1, 3, 2).reshape(n, c * V, T) * scale[None, :, None] + shift[None, :, None]
        x = np.ascontiguousarray(x.reshape(n, c, V, T).transpose(0, 1, 3, 2), dtype=np.float32)
        cin = c
        for i, (cout, stride, t) in enumerate(zip(self.channels, self.strides,
                                                  self._text_points(text))):
            pre = f"encoder.blocks.{i}"
            g = self._bn2d(self._gcn(x, f"{pre}.gcn", cout, t), f"{pre}.bn1")
            if i > 0:
                g = g + (x if cin == cout else self._bn2d(self._conv1x1(x, f"{pre}.gres.0"),
                                                          f"{pre}.gres.1"))
            h = _relu(g)
            out = self._bn2d(self._tconv(h, f"{pre}.tcn", stride), f"{pre}.bn2")
            if i > 0:
                if cin == cout and stride == 1:
                    out = out + x
                else:
                    out = out + self._bn2d(self._conv1x1(x, f"{pre}.res.0", stride),
                                           f"{pre}.res.1")
            x = _relu(out).astype(np.float32)
            cin = cout
        return x

    # --------------------------------------------------------------------- head
    @staticmethod
    def _resize(h: np.ndarray, size: int) -> np.ndarray:
        """Linear resize along the last axis (torch ``align_corners=False``)."""
        t = h.shape[-1]
        if t == size:
            return h
        src = np.maximum((np.arange(size) + 0.5) * (t / size) - 0.5, 0.0)
        i0 = np.floor(src).astype(np.int64)
        i1 = np.minimum(i0 + 1, t - 1)
        lam = (src - i0).astype(np.float32)
        return h[..., i0] * (1.0 - lam) + h[..., i1] * lam

    @staticmethod
    def _avg_pool(h: np.ndarray, s: int) -> np.ndarray:
        """``avg_pool1d(h, s, 1, s // 2, count_include_pad=False)`` on the last axis."""
        if s == 1:
            return h
        t = h.shape[-1]
        c = np.concatenate([np.zeros(h.shape[:-1] + (1,), np.float64),
                            np.cumsum(h, axis=-1, dtype=np.float64)], axis=-1)
        lo = np.clip(np.arange(t) - s // 2, 0, t)
        hi = np.clip(np.arange(t) + s // 2 + 1, 0, t)
        return ((c[..., hi] - c[..., lo]) / (hi - lo)).astype(np.float32)

    def head(self, feats: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Density ``(N, frames)`` and per-frame features from encoder features."""
        s = self.s
        frames = int(s["frames"])
        h = self._resize(feats.mean(-1), frames).astype(np.float32)
        n, _, t = h.shape
        heads, dim = int(s["sim_heads"]), int(s["sim_dim"])
        maps = []
        for i, sc in enumerate(s["sim_scales"]):
            hs = self._avg_pool(h, int(sc))
            w, b = self.p[f"head.sim.{i}.weight"], self.p[f"head.sim.{i}.bias"]
            qk = (np.matmul(w[:, :, 0], hs) + b[None, :, None]).reshape(n, 2, heads, dim, t)
            logits = np.matmul(qk[:, 0].transpose(0, 1, 3, 2), qk[:, 1]) / math.sqrt(dim)
            maps.append(_softmax(logits, -1))
        sim = np.concatenate(maps, axis=1)  # (n, m, t, t)
        w = self.p["head.conv.weight"]  # (o, m, 3, 3)
        o, m = w.shape[:2]
        sp = np.pad(sim, ((0, 0), (0, 0), (1, 1), (1, 1)))
        z = np.zeros((n, o, t * t), dtype=np.float32)
        for dy in range(3):
            for dx in range(3):
                z += np.matmul(w[:, :, dy, dx],
                               np.ascontiguousarray(sp[:, :, dy:dy + t, dx:dx + t]).reshape(n, m, t * t))
        z = z.reshape(n, o, t, t) + self.p["head.conv.bias"][None, :, None, None]
        z = _relu(self._bn2d(z, "head.bn"))
        rows = z.transpose(0, 2, 1, 3).reshape(n, t, o * t)
        x = _linear(rows, self.p["head.row.weight"], self.p["head.row.bias"]) + self.p["head.pos"]
        for i in range(int(s["tf_layers"])):
            x = self._block(x, f"head.blocks.{i}", int(s["tf_heads"]))
        x = _layer_norm(x, self.p["head.ln.weight"], self.p["head.ln.bias"])
        x = _relu(_linear(x, self.p["head.fc1.weight"], self.p["head.fc1.bias"]))
        dens = np.logaddexp(0.0, _linear(x, self.p["head.fc2.weight"], self.p["head.fc2.bias"]))[..., 0]
        return dens.astype(np.float32), h

    def _block(self, x: np.ndarray, pre: str, heads: int) -> np.ndarray:
        n, t, d = x.shape
        p = self.p
        y = _layer_norm(x, p[f"{pre}.ln1.weight"], p[f"{pre}.ln1.bias"])
        qkv = _linear(y, p[f"{pre}.qkv.weight"], p[f"{pre}.qkv.bias"])
        qkv = qkv.reshape(n, t, 3, heads, d // heads).transpose(2, 0, 3, 1, 4)
        att = _softmax(np.matmul(qkv[0], qkv[1].transpose(0, 1, 3, 2)) / math.sqrt(d // heads))
        y = np.matmul(att, qkv[2]).transpose(0, 2, 1, 3).reshape(n, t, d)
        x = x + _linear(y, p[f"{pre}.out.weight"], p[f"{pre}.out.bias"])
        y = _layer_norm(x, p[f"{pre}.ln2.weight"], p[f"{pre}.ln2.bias"])
        y = _relu(_linear(y, p[f"{pre}.ff1.weight"], p[f"{pre}.ff1.bias"]))
        return x + _linear(y, p[f"{pre}.ff2.weight"], p[f"{pre}.ff2.bias"])

    def __call__(self, x: np.ndarray, text: Optional[np.ndarray] = None
                 ) -> Tuple[np.ndarray, np.ndarray]:
        """Density ``(N, frames)`` and per-frame features ``(N, C, frames)``."""
        x = np.asarray(x, dtype=np.float32)
        if text is not None:
            text = np.asarray(text, dtype=np.float32)
        return self.head(self.encode(x, text))
