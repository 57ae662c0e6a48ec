"""The ST-GCN recogniser (:mod:`flag3d.models.stgcn` + classifier head) in plain numpy.

``flag3d analyze`` names the activity with the shipped ST-GCN before anything else; running
it in numpy keeps the torch import (about 2 s here) out of the analysis.  Same
evaluation-mode function as :class:`flag3d.models.recognition.Recognizer` with an ``stgcn``
backbone: input BatchNorm, ten graph-conv / temporal-conv blocks with residuals, mean pooling
over time, joints and persons, one linear layer.  Other backbones run in torch
(:func:`supports` says which).  ``tests/test_recognition_numpy.py`` checks the logits equal the
torch model's to 1e-4.

Example:
    >>> import numpy as np, torch  # torch only to make random weights for the example
    >>> from flag3d.models.recognition import build_recognizer
    >>> from flag3d.models.recognition_numpy import NumpySTGCN
    >>> net = build_recognizer("stgcn", "coco17", 5, base_channels=8).eval()
    >>> npn = NumpySTGCN({k: v.numpy() for k, v in net.state_dict().items()}, "coco17",
    ...                  in_channels=3, backbone_args={"base_channels": 8})
    >>> x = np.random.default_rng(0).normal(size=(2, 1, 20, 17, 3)).astype(np.float32)
    >>> ref = net(torch.from_numpy(x)).detach().numpy()
    >>> bool(np.abs(npn(x) - ref).max() < 1e-4)
    True
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from flag3d.errors import FormatError, LayoutError, SequenceError
from flag3d.models.numpy_ops import StateDict, conv1x1, linear, relu, softmax, temporal_conv
from flag3d.skeleton.layouts import get_layout

#: ST-GCN constructor options this engine reproduces, with the torch defaults.
STGCN_DEFAULTS: Dict[str, Any] = {
    "graph_mode": "stgcn_spatial", "base_channels": 64, "num_stages": 10,
    "inflate_stages": (5, 8), "down_stages": (5, 8), "ch_ratio": 2.0, "data_bn": "VC",
    "adaptive": "importance", "gcn_with_res": False, "dropout": 0.0,
}


def supports(backbone: str, backbone_args: Optional[Mapping[str, Any]] = None) -> bool:
    """Whether a recogniser of ``backbone`` with ``backbone_args`` runs in this engine."""
    return backbone.lower() == "stgcn" and set(backbone_args or {}) <= set(STGCN_DEFAULTS)


class NumpySTGCN:
    """Evaluation-mode ST-GCN recogniser from its state dict.

    Args:
        state: arrays keyed as the torch :class:`~flag3d.models.recognition.Recognizer`'s
            ``state_dict`` (``backbone.*``, ``head.fc.*``).
        layout: joint layout of the model.
        in_channels: coordinates (+ score) per joint.
        backbone_args: the ST-GCN options the model was built with (``base_channels`` ...).
    """

    def __init__(self, state: Mapping[str, np.ndarray], layout: str, in_channels: int,
                 backbone_args: Optional[Mapping[str, Any]] = None) -> None:
        args = dict(backbone_args or {})
        unknown = set(args) - set(STGCN_DEFAULTS)
        if unknown:
            raise FormatError(f"the numpy ST-GCN does not support {', '.join(sorted(unknown))}")
        self.a = {**STGCN_DEFAULTS, **args}
        self.params = StateDict(state)
        self.p = self.params.p
        lay = get_layout(layout)
        self.layout, self.num_joints, self.in_channels = lay.name, lay.num_joints, int(in_channels)
        self.blocks = self._plan()
        if "head.fc.weight" not in self.p:
            raise FormatError("not a recogniser state (head.fc.weight missing)")

    def _plan(self) -> List[Tuple[str, int, str]]:
        """Per block: ``(prefix, temporal stride, residual kind)``."""
        n = 0
        while f"backbone.blocks.{n}.gcn.conv.weight" in self.p:
            n += 1
        if n == 0:
            raise FormatError("not an ST-GCN state (backbone.blocks.0.gcn.conv.weight missing)")
        stages = list(range(self.a["num_stages"] - n + 1, self.a["num_stages"] + 1))
        out = []
        down = set(self.a["down_stages"])
        for b, stage in enumerate(stages):
            pre = f"backbone.blocks.{b}"
            stride = 2 if stage in down else 1
            if f"{pre}.residual.unit.conv.weight" in self.p:
                kind = "conv"
            elif stage > 1:
                w = self.p[f"{pre}.gcn.conv.weight"]
                k = self.p[f"{pre}.gcn.A"].shape[0]
                kind = "identity" if w.shape[1] == w.shape[0] // k and stride == 1 else "none"
            else:
                kind = "none"
            out.append((pre, stride, kind))
        return out

    def _adjacency(self, pre: str) -> np.ndarray:
        a = self.p[f"{pre}.A"]
        mode = self.a["adaptive"]
        if mode == "importance":
            return a * self.p[f"{pre}.PA"]
        if mode == "offset":
            return a + self.p[f"{pre}.PA"]
        return a

    def _gcn(self, x: np.ndarray, pre: str) -> np.ndarray:
        a = self._adjacency(pre)
        k = a.shape[0]
        y = conv1x1(x, self.p[f"{pre}.conv.weight"], self.p[f"{pre}.conv.bias"])
        n, kc, t, v = y.shape
        c = kc // k
        yk = np.ascontiguousarray(y.reshape(n, k, c * t, v).transpose(1, 0, 2, 3)).reshape(k, -1, v)
        z = yk[0] @ a[0]
        for i in range(1, k):
            z += yk[i] @ a[i]
        z = self.params.bn2d(z.reshape(n, c, t, v), f"{pre}.bn")
        if f"{pre}.down.conv.weight" in self.p:
            z = z + self.params.bn2d(conv1x1(x, self.p[f"{pre}.down.conv.weight"],
                                             self.p.get(f"{pre}.down.conv.bias")), f"{pre}.down.bn")
        elif self.a["gcn_with_res"] and x.shape[1] == c:
            z = z + x
        return relu(z)

    def _data_bn(self, x: np.ndarray) -> np.ndarray:
        n, m, t, v, c = x.shape
        mode = self.a["data_bn"]
        if mode:
            scale, shift = self.params.bn("backbone.data_bn.bn")
            if mode == "MVC":
                y = x.transpose(0, 2, 1, 3, 4).reshape(n * t, m * v * c) * scale + shift
                x = y.reshape(n, t, m, v, c).transpose(0, 2, 1, 3, 4)
            else:
                x = (x.reshape(n * m * t, v * c) * scale + shift).reshape(n, m, t, v, c)
        return np.ascontiguousarray(x.reshape(n * m, t, v, c).transpose(0, 3, 1, 2),
                                    dtype=np.float32)

    def check_input(self, x: np.ndarray) -> None:
        """A one-line error for input that does not fit ``(N, M, T, V, C)`` of this model."""
        if x.ndim != 5:
            raise SequenceError(f"input must have shape (N, M, T, V, C), got {tuple(x.shape)}")
        if x.shape[3] != self.num_joints or x.shape[4] != self.in_channels:
            raise LayoutError(
                f"input (..., V={x.shape[3]}, C={x.shape[4]}) does not fit the model's layout "
                f"{self.layout} (V={self.num_joints}, C={self.in_channels}); convert the "
                f"skeleton to {self.layout} first")

    def get_representation(self, x: np.ndarray) -> np.ndarray:
        """Embeddings ``(N, D)`` pooled over time, joints and persons."""
        x = np.asarray(x, dtype=np.float32)
        self.check_input(x)
        n, m = x.shape[:2]
        h = self._data_bn(x)
        for pre, stride, kind in self.blocks:
            y = self._gcn(h, f"{pre}.gcn")
            y = self.params.bn2d(temporal_conv(y, self.p[f"{pre}.tcn.unit.conv.weight"],
                                               self.p[f"{pre}.tcn.unit.conv.bias"], stride),
                                 f"{pre}.tcn.unit.bn")
            if kind == "identity":
                y = y + h
            elif kind == "conv":
                y = y + self.params.bn2d(conv1x1(h, self.p[f"{pre}.residual.unit.conv.weight"],
                                                 self.p[f"{pre}.residual.unit.conv.bias"], stride),
                                         f"{pre}.residual.unit.bn")
            h = relu(y)
        d = h.shape[1]
        return h.reshape(n, m, d, -1).mean(axis=-1).mean(axis=1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Logits ``(N, classes)`` for keypoints ``(N, M, T, V, C)``."""
        return linear(self.get_representation(x), self.p["head.fc.weight"], self.p["head.fc.bias"])

    def clip_scores(self, x: np.ndarray) -> np.ndarray:
        """Softmax scores ``(N, classes)`` averaged over the clips of ``x`` ``(N, K, M, T, V, C)``."""
        n, k = x.shape[:2]
        logits = self(x.reshape((n * k,) + x.shape[2:]))
        return softmax(logits.astype(np.float32), -1).reshape(n, k, -1).mean(axis=1)
