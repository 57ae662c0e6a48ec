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
from typing import Any, Mapping, Optional, Tuple

import numpy as np

from flag3d.errors import FormatError
from flag3d.models.hlgcn_numpy import NumpyHLGCN
from flag3d.models.numpy_ops import layer_norm as _layer_norm
from flag3d.models.numpy_ops import linear as _linear
from flag3d.models.numpy_ops import relu as _relu
from flag3d.models.numpy_ops import softmax as _softmax


class NumpyCountingModel(NumpyHLGCN):
    """Evaluation-mode forward pass of a counting model from its state dict.

    The encoder is :class:`~flag3d.models.hlgcn_numpy.NumpyHLGCN`; this class adds the
    TransRAC-style density head.

    Args:
        state: parameter and buffer arrays keyed as in the torch model's ``state_dict``.
        settings: the model settings (:data:`flag3d.models.counting.MODEL_DEFAULTS` keys).
    """

    def __init__(self, state: Mapping[str, np.ndarray], settings: Mapping[str, Any]) -> None:
        if "encoder.data_bn.weight" not in state:
            raise FormatError("not a counting model state (encoder.data_bn.weight missing)")
        super().__init__(state, settings)

    def _bn2d(self, x: np.ndarray, name: str) -> np.ndarray:
        return self.params.bn2d(x, name)

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
