"""The standard scorer G(C_i, S_j) (:class:`flag3d.models.quality.QualityScorer`) in numpy.

``flag3d analyze`` scores every repetition against its three standards; running G in numpy
keeps torch (about 2 s to import) out of the analysis.  Same evaluation-mode function as the
torch model: the HL-GCN encoder (:class:`~flag3d.models.hlgcn_numpy.NumpyHLGCN`), mean and
max pooling, the projected sentence, the log duration, the MLP head.  ``tests/test_quality_numpy.py``
checks both engines agree to 1e-4.

Example:
    >>> import numpy as np, torch  # torch only to make random weights for the example
    >>> from flag3d.models.quality import QualityScorer
    >>> from flag3d.models.quality_numpy import NumpyQualityScorer
    >>> cfg = {"layout": "uiprmd22", "channels": [8, 8], "strides": [1, 2], "text_dim": 4}
    >>> g = QualityScorer(**cfg).eval()
    >>> npg = NumpyQualityScorer({k: v.numpy() for k, v in g.state_dict().items()}, cfg)
    >>> x = np.random.default_rng(0).normal(size=(3, 9, 16, 22)).astype(np.float32)
    >>> text, dur = np.ones((3, 4), np.float32), np.full(3, 2.0, np.float32)
    >>> ref = g(torch.from_numpy(x), torch.from_numpy(text), torch.from_numpy(dur)).detach().numpy()
    >>> bool(np.abs(npg(x, text, dur) - ref).max() < 1e-4)
    True
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import numpy as np

from flag3d.models.hlgcn_numpy import NumpyHLGCN
from flag3d.models.numpy_ops import layer_norm, linear, relu

#: The constructor defaults of :class:`flag3d.models.quality.QualityScorer` (a test keeps
#: them equal), applied to saved configs that leave a key out.
QUALITY_DEFAULTS: Dict[str, Any] = {
    "layout": "flag3d24", "graph": "spatial", "in_channels": 9, "channels": (32, 32, 64, 64),
    "strides": (1, 2, 1, 2), "kernel": 9, "text_mode": "hierarchical", "fusion": "mul",
    "text_dim": 384, "text_hidden": 64, "dropout": 0.1, "head_hidden": 64, "head_text": True,
    "head_dropout": 0.2, "head_duration": True,
}


class NumpyQualityScorer(NumpyHLGCN):
    """Evaluation-mode G from a state dict and the scorer's config (see :data:`QUALITY_DEFAULTS`)."""

    def __init__(self, state: Mapping[str, np.ndarray], config: Mapping[str, Any]) -> None:
        cfg = {**QUALITY_DEFAULTS, **{k: v for k, v in config.items() if k in QUALITY_DEFAULTS}}
        super().__init__(state, cfg)
        self.head_text = bool(cfg["head_text"])
        self.head_duration = bool(cfg["head_duration"])

    def check(self) -> None:
        """Run one tiny clip through the network: a state that does not fit the config fails
        here (``KeyError``/``ValueError``), not in the middle of an analysis."""
        cin = self.p["encoder.data_bn.weight"].size // self.num_joints
        for key in ("text_proj.0.weight", "encoder.text_proj.0.fc1.weight"):
            if key in self.p:
                dim = self.p[key].shape[1]
                break
        else:
            dim = int(self.s.get("text_dim", 384))
        self(np.zeros((1, cin, 8, self.num_joints), np.float32), np.zeros((1, dim), np.float32),
             np.ones(1, np.float32))

    def features(self, x: np.ndarray, text: Optional[np.ndarray],
                 duration: np.ndarray) -> np.ndarray:
        """The head's input ``(N, width)``: pooled encoder output, projected text, log duration."""
        h = self.encode(x, text)
        parts = [h.mean(axis=(2, 3)), h.max(axis=(2, 3))]
        if self.head_text:
            if text is None:
                raise ValueError("this scorer needs the standard's text embedding")
            t = linear(np.asarray(text, np.float32), self.p["text_proj.0.weight"],
                       self.p["text_proj.0.bias"])
            parts.append(layer_norm(t, self.p["text_proj.1.weight"], self.p["text_proj.1.bias"]))
        if self.head_duration:
            d = np.maximum(np.asarray(duration, np.float32), 1e-2)
            parts.append(np.log(d)[:, None])
        return np.concatenate(parts, axis=1).astype(np.float32)

    def __call__(self, x: np.ndarray, text: Optional[np.ndarray],
                 duration: np.ndarray) -> np.ndarray:
        """Logits ``(N,)``."""
        f = relu(linear(self.features(x, text, duration), self.p["head.0.weight"],
                        self.p["head.0.bias"]))
        return linear(f, self.p["head.3.weight"], self.p["head.3.bias"])[:, 0]

    def score_batch(self, x: np.ndarray, text: np.ndarray, duration: np.ndarray) -> np.ndarray:
        """Logits ``(N, K)`` of ``N`` clips against their ``K`` standards ``text (N, K, D)``."""
        n, k = x.shape[0], text.shape[1]
        logits = self(np.repeat(x, k, axis=0), text.reshape(n * k, -1),
                      np.repeat(np.asarray(duration, np.float32), k))
        return logits.reshape(n, k)

    def stacked_text_points(self, text: np.ndarray) -> np.ndarray:
        """``(blocks, N, V)`` text points; zeros when the encoder has no text."""
        pts = self.text_points(text)
        if pts[0] is None:
            return np.zeros((len(pts), text.shape[0], self.num_joints), np.float32)
        return np.stack(pts).astype(np.float32)
