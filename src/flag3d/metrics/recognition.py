"""Action recognition metrics: top-k accuracy, confusion matrix, per-class and per-group accuracy.

Pure functions on arrays: ``scores`` is ``(N, C)`` (probabilities or logits; only the order
matters), ``labels`` is ``(N,)`` integer class indices.  :func:`recognition_report` bundles
them into the JSON-able dict that ``flag3d eval recognition`` prints and saves; per-group
accuracy uses the taxonomy's body parts for FLAG3D activity ids (``A001``..``A060``) and
reports every class on its own otherwise (the UI-PRMD movements).

Example:
    >>> import numpy as np
    >>> from flag3d.metrics.recognition import topk_accuracy, confusion_matrix
    >>> scores = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1]])
    >>> labels = np.array([0, 1, 1])
    >>> topk_accuracy(scores, labels, 1), topk_accuracy(scores, labels, 2)
    (0.3333333333333333, 1.0)
    >>> confusion_matrix(scores.argmax(1), labels, 3).tolist()
    [[1, 0, 0], [1, 0, 1], [0, 0, 0]]
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from flag3d.errors import Flag3dError


def _check(scores: np.ndarray, labels: np.ndarray) -> None:
    if scores.ndim != 2:
        raise Flag3dError(f"scores must be (N, classes), got shape {tuple(scores.shape)}")
    if labels.shape != (scores.shape[0],):
        raise Flag3dError(f"labels have shape {tuple(labels.shape)}, expected ({scores.shape[0]},)")
    if scores.shape[0] == 0:
        raise Flag3dError("no samples to score")
    if labels.min() < 0 or labels.max() >= scores.shape[1]:
        raise Flag3dError(f"labels must lie in [0, {scores.shape[1]}), got "
                          f"{int(labels.min())}..{int(labels.max())}")


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int = 1) -> float:
    """Share of samples whose label is among the ``k`` highest scores (ties: lower index first)."""
    scores, labels = np.asarray(scores), np.asarray(labels, dtype=np.int64)
    _check(scores, labels)
    k = min(int(k), scores.shape[1])
    # stable ranking: a higher score first, ties broken by the class index
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float((order == labels[:, None]).any(axis=1).mean())


def confusion_matrix(pred: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """``(C, C)`` counts: row = true class, column = predicted class."""
    pred, labels = np.asarray(pred, dtype=np.int64), np.asarray(labels, dtype=np.int64)
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (labels, pred), 1)
    return cm


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """Recall of every class from a confusion matrix (NaN for classes without samples)."""
    totals = cm.sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(cm) / np.maximum(totals, 1), np.nan)


def group_accuracy(correct: np.ndarray, groups: Sequence[str]) -> Dict[str, Dict[str, float]]:
    """Accuracy and sample count per group, groups in order of first appearance."""
    correct = np.asarray(correct, dtype=bool)
    out: Dict[str, Dict[str, float]] = {}
    names = list(dict.fromkeys(groups))
    garr = np.asarray(list(groups), dtype=object)
    for g in names:
        m = garr == g
        out[g] = {"accuracy": float(correct[m].mean()), "samples": int(m.sum())}
    return out


def class_groups(classes: Sequence[str]) -> Optional[List[str]]:
    """The taxonomy body part of every class when all are FLAG3D ids, else ``None``."""
    if not classes or not all(len(c) == 4 and c[0] == "A" and c[1:].isdigit() for c in classes):
        return None
    from flag3d.taxonomy import get_activity

    return [get_activity(c, source="flag3d").body_part for c in classes]


def recognition_report(scores: np.ndarray, labels: np.ndarray,
                       classes: Sequence[str]) -> Dict[str, Any]:
    """Top-1, top-5, confusion matrix, per-class and per-body-part accuracy as plain data.

    ``per_group`` holds the FLAG3D body parts when every class is a FLAG3D activity id,
    else one entry per class (e.g. the ten UI-PRMD movements).
    """
    scores, labels = np.asarray(scores), np.asarray(labels, dtype=np.int64)
    _check(scores, labels)
    if scores.shape[1] != len(classes):
        raise Flag3dError(f"scores have {scores.shape[1]} classes but {len(classes)} class names")
    pred = scores.argmax(axis=1)
    cm = confusion_matrix(pred, labels, len(classes))
    pca = per_class_accuracy(cm)
    parts = class_groups(classes)
    correct = pred == labels
    group_of = [parts[y] for y in labels] if parts else [classes[y] for y in labels]
    return {
        "samples": int(len(labels)),
        "top1": topk_accuracy(scores, labels, 1),
        "top5": topk_accuracy(scores, labels, 5),
        "mean_class_accuracy": float(np.nanmean(pca)),
        "classes": list(classes),
        "per_class": {c: (None if np.isnan(a) else float(a)) for c, a in zip(classes, pca)},
        "group_by": "body_part" if parts else "class",
        "per_group": group_accuracy(correct, group_of),
        "confusion": cm.tolist(),
    }
