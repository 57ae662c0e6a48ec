"""The HL-GCN encoder (:class:`flag3d.models.hlgcn.HLGCN`) in plain numpy, evaluation mode.

The counting model and the quality scorer G both put a head on this encoder; their numpy
engines (:mod:`flag3d.models.counting_numpy`, :mod:`flag3d.models.quality_numpy`) extend
:class:`NumpyHLGCN`, so ``flag3d count`` and ``flag3d analyze`` run without importing torch.
The tests check it against the torch encoder to 1e-4 for every text mode and fusion.

Example:
    >>> import numpy as np, torch  # torch only to make random weights for the example
    >>> from flag3d.models.hlgcn import HLGCN
    >>> from flag3d.models.hlgcn_numpy import NumpyHLGCN
    >>> net = HLGCN(channels=(8, 8), text_dim=4, in_channels=6).eval()
    >>> enc = NumpyHLGCN({f"encoder.{k}": v.numpy() for k, v in net.state_dict().items()},
    ...                  {"layout": "flag3d24", "graph": "spatial", "channels": [8, 8],
    ...                   "text_mode": "shared", "fusion": "mul"})
    >>> x = np.random.default_rng(0).normal(size=(2, 6, 16, 24)).astype(np.float32)
    >>> e = np.ones((2, 4), np.float32)
    >>> ref = net(torch.from_numpy(x), torch.from_numpy(e)).detach().numpy()
    >>> bool(np.abs(enc.encode(x, e) - ref).max() < 1e-4)
    True
"""

from __future__ import annotations

import math
from typing import Any, List, Mapping, Optional

import numpy as np

from flag3d.errors import FormatError, LayoutError
from flag3d.models.numpy_ops import StateDict, conv1x1, layer_norm, linear, relu, softmax, temporal_conv
from flag3d.skeleton.graph import build_graph
from flag3d.skeleton.layouts import get_layout


class NumpyHLGCN:
    """Evaluation-mode HL-GCN encoder from a state dict whose keys start with ``encoder.``.

    Args:
        state: parameter and buffer arrays keyed as in the torch model's ``state_dict``.
        settings: ``layout``, ``graph``, ``channels``, ``strides`` (default all 1),
            ``text_mode`` and ``fusion`` of the encoder.
    """

    prefix = "encoder"

    def __init__(self, state: Mapping[str, np.ndarray], settings: Mapping[str, Any]) -> None:
        self.params = StateDict(state)
        self.p = self.params.p
        self.s = dict(settings)
        lay = get_layout(self.s["layout"])
        self.layout, self.num_joints = lay.name, lay.num_joints
        self.k = build_graph(lay, self.s.get("graph", "spatial")).shape[0]
        self.channels = list(self.s["channels"])
        self.strides = list(self.s.get("strides") or [1] * len(self.channels))
        self.text_mode = self.s.get("text_mode", "none")
        self.fusion = self.s.get("fusion", "mul")
        if f"{self.prefix}.data_bn.weight" not in self.p:
            raise FormatError(f"not an HL-GCN model state ({self.prefix}.data_bn.weight missing)")

    def text_points(self, text: Optional[np.ndarray]) -> List[Optional[np.ndarray]]:
        """Per block, the text points ``(N, V)`` of sentence embeddings ``(N, D)`` (or ``None``)."""
        nb = len(self.channels)
        if self.text_mode == "none" or text is None:
            return [None] * nb
        text = np.asarray(text, dtype=np.float32)

        def proj(i: int) -> np.ndarray:
            pre = f"{self.prefix}.text_proj.{i}"
            h = linear(text, self.p[f"{pre}.fc1.weight"], self.p[f"{pre}.fc1.bias"])
            h = layer_norm(h, self.p[f"{pre}.norm.weight"], self.p[f"{pre}.norm.bias"])
            return linear(h, self.p[f"{pre}.fc2.weight"], self.p[f"{pre}.fc2.bias"])

        if self.text_mode == "shared":
            return [proj(0)] * nb
        return [proj(i) for i in range(nb)]

    def _conv(self, x: np.ndarray, name: str, stride: int = 1) -> np.ndarray:
        return conv1x1(x, self.p[f"{name}.weight"], self.p.get(f"{name}.bias"), stride)

    def _gcn(self, x: np.ndarray, pre: str, cout: int, t: Optional[np.ndarray]) -> np.ndarray:
        n, _, T, V = x.shape
        y = self._conv(x, f"{pre}.proj").reshape(n, self.k, cout * T, V)
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
            q = self._conv(fb, f"{pre}.q").reshape(n, h, d, T, V).transpose(0, 1, 3, 4, 2)
            kv = self._conv(ybar, f"{pre}.kv").reshape(n, 2, h, d, T, V)
            kk = kv[:, 0].transpose(0, 1, 3, 4, 2)
            vv = kv[:, 1].transpose(0, 1, 3, 4, 2)
            logits = np.matmul(q, kk.transpose(0, 1, 2, 4, 3)) / math.sqrt(d)
            logits = logits + t[:, None, None, None, :]
            att = softmax(logits, -1)
            fused = np.matmul(att, vv).transpose(0, 1, 4, 2, 3).reshape(n, cout, T, V)
        else:
            fc = (ybar * t[:, None, None, :]).mean(-1, keepdims=True)
            fused = fb * fc if self.fusion == "mul" else fb + fc
        return fab + fused

    def encode(self, x: np.ndarray, text: Optional[np.ndarray] = None) -> np.ndarray:
        """Encoder features ``(N, C', T', V)`` of ``(N, C, T, V)`` inputs."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 4 or x.shape[-1] != self.num_joints:
            raise LayoutError(
                f"expected input (N, C, T, {self.num_joints}) for layout {self.layout}, got "
                f"{tuple(x.shape)}; convert the skeleton to {self.layout} first")
        n, c, T, V = x.shape
        bn = self.params
        scale, shift = bn.bn(f"{self.prefix}.data_bn")
        x = x.transpose(0, 1, 3, 2).reshape(n, c * V, T) * scale[None, :, None] + shift[None, :, None]
        x = np.ascontiguousarray(x.reshape(n, c, V, T).transpose(0, 1, 3, 2), dtype=np.float32)
        cin = c
        for i, (cout, stride, t) in enumerate(zip(self.channels, self.strides,
                                                  self.text_points(text))):
            pre = f"{self.prefix}.blocks.{i}"
            g = bn.bn2d(self._gcn(x, f"{pre}.gcn", cout, t), f"{pre}.bn1")
            if i > 0:
                g = g + (x if cin == cout else bn.bn2d(self._conv(x, f"{pre}.gres.0"),
                                                       f"{pre}.gres.1"))
            h = relu(g)
            out = bn.bn2d(temporal_conv(h, self.p[f"{pre}.tcn.weight"], self.p[f"{pre}.tcn.bias"],
                                        stride), f"{pre}.bn2")
            if i > 0:
                if cin == cout and stride == 1:
                    out = out + x
                else:
                    out = out + bn.bn2d(self._conv(x, f"{pre}.res.0", stride), f"{pre}.res.1")
            x = relu(out).astype(np.float32)
            cin = cout
        return x
