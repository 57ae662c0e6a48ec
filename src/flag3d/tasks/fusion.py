"""Late fusion of saved recognition scores (the joint / bone / motion streams ensemble).

Each score file is the ``scores.npz`` that ``flag3d eval recognition`` writes: ``ids``,
``labels``, ``scores`` ``(N, C)`` (clip-averaged softmax), ``classes`` and ``stream``.  The
fused score is ``sum_i coef_i * scores_i``; files are matched by sample id (the order may
differ), and must agree on the samples, their labels and the class list.

Default coefficients come from each file's stream: 2 for ``joint`` and ``bone``, 1 for
``joint_motion`` and ``bone_motion`` (the 2:2:1:1 of PYSKL's four-stream ensembles).

Example:
    >>> import numpy as np, tempfile, os
    >>> from flag3d.tasks.fusion import fuse_files, save_scores
    >>> d = tempfile.mkdtemp()
    >>> ids, y, cls = ["a", "b"], np.array([0, 1]), ["A001", "A002"]
    >>> save_scores(os.path.join(d, "j.npz"), ids, y, np.array([[.9, .1], [.6, .4]]), cls, "joint")
    >>> save_scores(os.path.join(d, "b.npz"), ids, y, np.array([[.2, .8], [.1, .9]]), cls, "bone")
    >>> r = fuse_files([os.path.join(d, "j.npz"), os.path.join(d, "b.npz")])
    >>> r.coefs, r.single_top1, r.top1
    ([2.0, 2.0], [0.5, 0.5], 1.0)
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from flag3d.errors import FormatError, Flag3dError
from flag3d.metrics.recognition import topk_accuracy

PathLike = Union[str, "os.PathLike[str]"]
DEFAULT_COEFS: Dict[str, float] = {"joint": 2.0, "bone": 2.0, "joint_motion": 1.0,
                                   "bone_motion": 1.0}


@dataclass
class ScoreFile:
    """One stream's saved scores."""

    path: str
    ids: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    classes: List[str]
    stream: str


@dataclass
class FusionResult:
    """Fused scores with top-1/top-5, and each input's own top-1."""

    ids: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    coefs: List[float]
    streams: List[str]
    single_top1: List[float]
    top1: float
    top5: float


def save_scores(path: PathLike, ids: List[str], labels: np.ndarray, scores: np.ndarray,
                classes: List[str], stream: str) -> None:
    """Write a score file (npz, no pickle): what ``flag3d eval recognition`` saves."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    np.savez(p, ids=np.array(ids, dtype=str), labels=np.asarray(labels, dtype=np.int64),
             scores=np.asarray(scores, dtype=np.float32), classes=np.array(classes, dtype=str),
             stream=np.array(stream))


def load_scores(path: PathLike) -> ScoreFile:
    """Read a score file written by :func:`save_scores`."""
    p = Path(path)
    if not p.is_file():
        raise FormatError("score file not found", path=p)
    try:
        with np.load(p, allow_pickle=False) as z:
            missing = [k for k in ("ids", "labels", "scores", "classes") if k not in z.files]
            if missing:
                raise FormatError(f"not a flag3d score file: no {', '.join(missing)} "
                                  "(write it with 'flag3d eval recognition')", path=p)
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise FormatError(f"unreadable score file ({str(err).splitlines()[0]})", path=p) from None
    scores = np.asarray(data["scores"], dtype=np.float64)
    ids, labels = np.asarray(data["ids"]).astype(str), np.asarray(data["labels"], dtype=np.int64)
    if scores.ndim != 2 or scores.shape[0] != len(ids) or labels.shape != ids.shape:
        raise FormatError(f"inconsistent shapes: scores {scores.shape}, ids {ids.shape}, "
                          f"labels {labels.shape}", path=p)
    if not np.isfinite(scores).all():
        raise FormatError("scores contain NaN or inf", path=p)
    if len(set(ids.tolist())) != len(ids):
        raise FormatError("duplicate sample ids", path=p)
    stream = str(data["stream"]) if "stream" in data else ""
    return ScoreFile(str(p), ids, labels, scores, [str(c) for c in data["classes"]], stream)


def fuse(files: Sequence[ScoreFile], coefs: Optional[Sequence[float]] = None) -> FusionResult:
    """Weighted sum of the files' scores (aligned by sample id)."""
    if not files:
        raise Flag3dError("no score files to fuse")
    if coefs is None:
        unknown = [f.path for f in files if f.stream not in DEFAULT_COEFS]
        if unknown:
            raise Flag3dError(f"no default coefficient for the stream of {unknown[0]}; "
                              "give --coef with one number per file")
        coefs = [DEFAULT_COEFS[f.stream] for f in files]
    coefs = [float(c) for c in coefs]
    if len(coefs) != len(files):
        raise Flag3dError(f"{len(coefs)} coefficients for {len(files)} score files")
    ref = files[0]
    order = np.argsort(ref.ids)
    ids, labels = ref.ids[order], ref.labels[order]
    total = np.zeros((len(ids), ref.scores.shape[1]))
    single = []
    for f, c in zip(files, coefs):
        if f.classes != ref.classes:
            raise FormatError(f"class list differs from {ref.path}'s", path=f.path)
        if len(f.ids) != len(ids) or set(f.ids.tolist()) != set(ids.tolist()):
            extra = sorted(set(f.ids.tolist()) ^ set(ids.tolist()))[:3]
            raise FormatError(f"holds other samples than {ref.path} (e.g. {', '.join(extra)})",
                              path=f.path)
        o = np.argsort(f.ids)
        if not np.array_equal(f.labels[o], labels):
            raise FormatError(f"labels differ from {ref.path}'s for the same samples", path=f.path)
        total += c * f.scores[o]
        single.append(topk_accuracy(f.scores[o], labels, 1))
    return FusionResult(ids, labels, total, coefs, [f.stream for f in files], single,
                        topk_accuracy(total, labels, 1), topk_accuracy(total, labels, 5))


def parse_coefs(text: Optional[str]) -> Optional[List[float]]:
    """``"2,2,1,1"`` -> ``[2.0, 2.0, 1.0, 1.0]`` (``None`` stays ``None``)."""
    if text is None or not text.strip():
        return None
    try:
        return [float(x) for x in text.replace(":", ",").split(",") if x.strip()]
    except ValueError:
        raise Flag3dError(f"--coef must be numbers separated by commas, got {text!r}") from None


def fuse_files(paths: Sequence[PathLike], coefs: Optional[Sequence[float]] = None) -> FusionResult:
    """Load and fuse score files."""
    return fuse([load_scores(p) for p in paths], coefs)
