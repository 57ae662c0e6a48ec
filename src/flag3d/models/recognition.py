"""Skeleton action recognisers: a backbone registry, the classification head, the factory.

:func:`build_recognizer` builds a :class:`Recognizer` around one of the registered backbones
(``stgcn``, ``aagcn``, ``ctrgcn``, ``msg3d``, ``posec3d``) for a joint layout.  Input is
PYSKL's ``keypoint`` layout ``(N, M, T, V, C)`` (batch, persons, frames, joints, coordinates
(+ score)); the output is ``(N, num_classes)`` logits.  :meth:`Recognizer.get_representation`
gives the pooled ``(N, embed_dim)`` embedding the head classifies.

The model checks the layout before touching a tensor: a :class:`~flag3d.skeleton.Sequence`
of another layout, or an array with the wrong joint count or coordinate count, raises a
:class:`~flag3d.errors.LayoutError` that names both layouts and the conversion to use.

``precision="bf16"`` runs the forward pass under CPU autocast with bfloat16 (the logits come
back as float32).  In eval mode every BatchNorm is folded into the weights on the fly.

Example:
    >>> import torch
    >>> from flag3d.errors import LayoutError
    >>> from flag3d.models.recognition import build_recognizer
    >>> model = build_recognizer("stgcn", "ntu25", num_classes=60).eval()
    >>> x = torch.randn(2, 1, 16, 25, 3)
    >>> tuple(model(x).shape), tuple(model.get_representation(x).shape)
    ((2, 60), (2, 256))
    >>> try:
    ...     model.check_input("flag3d24")
    ... except LayoutError as err:
    ...     print(str(err).split(":")[0])
    input layout flag3d24 does not match the model's layout ntu25
"""

from __future__ import annotations

import contextlib
import importlib
import warnings
from typing import Any, Callable, Dict, Iterator, List, Union

import numpy as np
import torch
from torch import nn

from flag3d.errors import LayoutError, SequenceError
from flag3d.models.layers import init_classifier
from flag3d.skeleton.convert import can_convert, conversion_path
from flag3d.skeleton.layouts import get_layout, layout_names
from flag3d.skeleton.sequence import Sequence

#: backbone name -> "module:Class"; imported on first use.
BACKBONES: Dict[str, str] = {
    "stgcn": "flag3d.models.stgcn:STGCN",
    "aagcn": "flag3d.models.aagcn:AAGCN",
    "ctrgcn": "flag3d.models.ctrgcn:CTRGCN",
    "msg3d": "flag3d.models.msg3d:MSG3D",
    "posec3d": "flag3d.models.posec3d:PoseC3D",
}

PRECISIONS = ("fp32", "bf16")


def native_bf16() -> bool:
    """True when PyTorch's CPU kernels can use AVX-512 (where oneDNN has bf16 instructions)."""
    return torch.backends.cpu.get_cpu_capability().upper().startswith("AVX512")


def register_backbone(name: str, target: str) -> None:
    """Register a backbone class given as ``"package.module:Class"``."""
    BACKBONES[name] = target


def backbone_names() -> List[str]:
    """Registered backbone names."""
    return sorted(BACKBONES)


def backbone_class(name: str) -> Callable[..., nn.Module]:
    """The backbone class registered as ``name`` (imported now)."""
    try:
        target = BACKBONES[name.lower()]
    except KeyError:
        raise ValueError(
            f"unknown backbone {name!r}; known backbones: {', '.join(backbone_names())}"
        ) from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def conversion_hint(src: str, dst: str) -> str:
    """How to bring data of layout ``src`` to ``dst``, in words (for error messages)."""
    if can_convert(src, dst):
        chain = ">".join(conversion_path(src, dst))
        return (f"convert it first with flag3d.skeleton.convert.convert(seq, {dst!r}) "
                f"(conversion {chain})")
    return (f"no conversion exists from {src} to {dst}; train a model on {src} or bring "
            f"the data to {dst}")


class ClassifierHead(nn.Module):
    """PYSKL's ``GCNHead``: mean over persons, dropout, one linear layer."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(in_channels, num_classes)
        init_classifier(self.fc)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(embedding))


class Recognizer(nn.Module):
    """A backbone, global pooling and a linear classifier.

    Args:
        backbone: module mapping ``(N, M, T, V, C)`` to features ``(N, M, D, ...)`` with an
            ``out_channels`` attribute (``D``).
        layout: joint layout the backbone's graph was built for.
        num_classes: output classes.
        in_channels: coordinates (+ score) per joint.
        num_persons: person slots the model was built for.
        dropout: dropout before the classifier.
        precision: ``"fp32"`` or ``"bf16"`` (CPU autocast for the forward pass).
        backbone_name: registry name, for reports.
    """

    def __init__(self, backbone: nn.Module, layout: str, num_classes: int, in_channels: int = 3,
                 num_persons: int = 1, dropout: float = 0.0, precision: str = "fp32",
                 backbone_name: str = "") -> None:
        super().__init__()
        self.backbone = backbone
        self.layout = get_layout(layout).name
        self.num_joints = get_layout(layout).num_joints
        self.num_classes = int(num_classes)
        self.in_channels = int(in_channels)
        self.num_persons = int(num_persons)
        self.embed_dim = int(backbone.out_channels)
        self.backbone_name = backbone_name or type(backbone).__name__.lower()
        self.head = ClassifierHead(self.embed_dim, num_classes, dropout)
        self.precision = "fp32"
        self.set_precision(precision)

    # ------------------------------------------------------------------ precision
    def set_precision(self, precision: str) -> "Recognizer":
        """Switch between ``"fp32"`` and ``"bf16"`` (autocast) forward passes."""
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
        if precision == "bf16" and not native_bf16():
            warnings.warn(
                f"this CPU has no native bfloat16 arithmetic (PyTorch capability "
                f"{torch.backends.cpu.get_cpu_capability()}): bf16 runs emulated, slower than fp32",
                RuntimeWarning, stacklevel=2,
            )
        self.precision = precision
        return self

    @contextlib.contextmanager
    def _autocast(self) -> Iterator[None]:
        if self.precision == "bf16":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                yield
        else:
            yield

    # ------------------------------------------------------------------ checks
    def check_input(self, x: Union[Sequence, str, torch.Tensor, np.ndarray]) -> None:
        """Raise :class:`LayoutError` when ``x`` does not fit the model (no tensor op done).

        ``x`` may be a :class:`Sequence`, a layout name, or a ``(N, M, T, V, C)`` array.
        """
        if isinstance(x, (Sequence, str)):
            src = get_layout(x.layout if isinstance(x, Sequence) else x).name
            if src != self.layout:
                raise LayoutError(
                    f"input layout {src} does not match the model's layout {self.layout}: "
                    + conversion_hint(src, self.layout)
                )
            return
        shape = tuple(x.shape)
        if len(shape) != 5:
            raise SequenceError(
                f"input must have shape (N, M, T, V, C) = (batch, persons, frames, joints, "
                f"coordinates), got {shape}"
            )
        n, m, t, v, c = shape
        if v != self.num_joints:
            same = [name for name in layout_names()
                    if get_layout(name).num_joints == v and name == get_layout(name).name]
            hint = (f"; layouts with {v} joints: {', '.join(same)} (convert with "
                    f"flag3d.skeleton.convert.convert(seq, {self.layout!r}) where a conversion "
                    f"exists)") if same else ""
            raise LayoutError(
                f"input has {v} joints but the model's layout {self.layout} has "
                f"{self.num_joints}{hint}"
            )
        if c != self.in_channels:
            raise LayoutError(
                f"input has {c} channels per joint but the model takes {self.in_channels} "
                f"(layout {self.layout})"
            )
        if min(n, m, t) == 0:
            raise SequenceError(f"input has an empty axis: shape {shape}")
        needs_m = getattr(getattr(self.backbone, "data_bn", None), "mode", None) == "MVC"
        if needs_m and m != self.num_persons:
            raise SequenceError(
                f"input has {m} persons but the model was built for {self.num_persons} "
                f"(data_bn='MVC'); pad or select persons"
            )

    # ------------------------------------------------------------------ forward
    def _pool(self, feats: torch.Tensor) -> torch.Tensor:
        n, m, d = feats.shape[:3]
        pooled = feats.reshape(n, m, d, -1).mean(dim=-1)
        return pooled.mean(dim=1)

    def get_representation(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings ``(N, embed_dim)`` (float32), pooled over time, joints and persons."""
        self.check_input(x)
        with self._autocast():
            emb = self._pool(self.backbone(x))
        return emb.float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes)`` (float32) for keypoints ``(N, M, T, V, C)``."""
        self.check_input(x)
        with self._autocast():
            logits = self.head(self._pool(self.backbone(x)))
        return logits.float()

    def extra_repr(self) -> str:
        return (f"backbone={self.backbone_name}, layout={self.layout}, classes={self.num_classes}, "
                f"in_channels={self.in_channels}, persons={self.num_persons}, "
                f"precision={self.precision}")


def build_recognizer(backbone: str, layout: str, num_classes: int, in_channels: int = 3,
                     num_persons: int = 1, **cfg: Any) -> Recognizer:
    """Build a recogniser: ``backbone`` from :data:`BACKBONES` on the graph of ``layout``.

    Keyword options: ``dropout`` (before the classifier, default 0), ``precision``
    (``"fp32"``/``"bf16"``); every other option goes to the backbone's constructor (e.g.
    ``graph_mode``, ``base_channels``, ``data_bn``; see each backbone module).
    """
    dropout = float(cfg.pop("dropout", 0.0))
    precision = str(cfg.pop("precision", "fp32"))
    layout = get_layout(layout).name
    cls = backbone_class(backbone)
    net = cls(layout, in_channels=in_channels, num_persons=num_persons, **cfg)
    return Recognizer(net, layout, num_classes, in_channels=in_channels, num_persons=num_persons,
                      dropout=dropout, precision=precision, backbone_name=backbone.lower())


def parameter_count(model: nn.Module) -> int:
    """Trainable parameters of ``model``."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def describe(model: Recognizer) -> Dict[str, Any]:
    """A JSON-able summary: backbone, layout, classes, parameters, embedding size."""
    return {"backbone": model.backbone_name, "layout": model.layout,
            "num_classes": model.num_classes, "in_channels": model.in_channels,
            "num_persons": model.num_persons, "embed_dim": model.embed_dim,
            "parameters": parameter_count(model), "precision": model.precision}

