"""Repetition-counting metrics: MAE, OBO@a, interval IoU, per-body-part tables.

Two conventions are in use and every result says which one it follows
(:attr:`CountingMetrics.convention`, :data:`CONVENTIONS`):

``"flag3d"`` (the released FLAG3D++ evaluation; our default)
    the predicted count is used as it is (the sum of the density, **not rounded**) and
    ``MAE = mean(|pred - gt| / (gt + 0.1))``.
``"transrac"`` (TransRAC, the paper's formula)
    the predicted count is **rounded** (half to even, like ``torch.round``) and
    ``MAE = mean(|pred - gt| / gt)``; a ground-truth count of 0 is refused.

In both, ``OBO@a`` is the fraction of sequences with ``|pred - gt| <= a`` for
``a`` in ``(0.4, 0.6, 0.8, 1.0)`` (compared with a 1e-9 tolerance, so 2.6 vs 3 is within
0.4), and ``OBO@Avg`` is the mean of the four.  With rounding OBO@0.4 = OBO@0.6 = OBO@0.8
(the exact-count rate), which is why integer-count rows of FLAG3D++ Table 3 repeat a value.

Repetition intervals (``[start, end)`` frames) are scored by :func:`interval_metrics`:
predicted and ground-truth repetitions are matched one-to-one by the Hungarian algorithm
maximising the total IoU (pairs with IoU 0 are never matched); ``mean_iou`` is the sum of
the matched IoUs divided by the number of ground-truth repetitions (a missed repetition
counts 0; extra predictions do not lower it, they lower ``precision``); ``precision`` and
``recall`` count matched pairs with IoU >= ``threshold`` (0.5) over the predicted and the
ground-truth repetitions.  Conventions for empty sets: no ground truth
and no prediction is perfect (all 1.0); no ground truth but predictions gives mean IoU 0,
precision 0, recall 1; no prediction gives precision 1 (nothing wrong was said), recall 0.
Over a data set (:func:`interval_metrics_many`) the counts are pooled (micro average).

Per-group tables (:func:`grouped_metrics`, FLAG3D++ Table 5 style) group FLAG3D activities
by the taxonomy's body part (optionally merged into the paper's columns, :data:`TABLE5_GROUPS`)
and UI-PRMD movements by movement.

Example:
    >>> from flag3d.metrics.counting import counting_metrics
    >>> m = counting_metrics([2.6, 5.0, 0.0], [3, 4, 2])
    >>> round(m.mae, 6), round(m.obo[0.4], 4), round(m.obo[1.0], 4), round(m.obo_avg, 6)
    (0.441772, 0.3333, 0.6667, 0.416667)
    >>> t = counting_metrics([2.6, 5.0, 0.0], [3, 4, 2], convention="transrac")
    >>> round(t.mae, 6), t.convention
    (0.416667, 'TransRAC: pred rounded, MAE = |pred-gt|/gt')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence as Seq, Tuple

import numpy as np

from flag3d.errors import Flag3dError

OBO_THRESHOLDS: Tuple[float, ...] = (0.4, 0.6, 0.8, 1.0)
CONVENTIONS: Dict[str, str] = {
    "flag3d": "FLAG3D++ release: pred not rounded, MAE = |pred-gt|/(gt+0.1)",
    "transrac": "TransRAC: pred rounded, MAE = |pred-gt|/gt",
}
_TOL = 1e-9

#: Body part -> column of FLAG3D++ Table 5 (chest & back, neck & abdomen merged).
TABLE5_GROUPS: Dict[str, str] = {
    "chest": "chest & back", "back": "chest & back", "shoulder": "shoulder", "arm": "arm",
    "neck": "neck & abdomen", "abdomen": "neck & abdomen", "waist": "waist", "hip": "hip",
    "leg": "leg", "whole body": "whole body",
}


class MetricError(Flag3dError):
    """Counts that cannot be scored (shape mismatch, NaN, negative, gt 0 under TransRAC)."""


@dataclass(frozen=True)
class CountingMetrics:
    """Counting results of one set of sequences.

    Attributes:
        mae: mean relative absolute error (see the convention).
        obo: ``{a: fraction with |pred - gt| <= a}`` for ``a`` in :data:`OBO_THRESHOLDS`.
        obo_avg: mean of the ``obo`` values.
        n: number of sequences.
        convention: a human-readable label of the convention, for table headers.
        convention_name: ``"flag3d"`` or ``"transrac"``.
    """

    mae: float
    obo: Dict[float, float]
    obo_avg: float
    n: int
    convention: str
    convention_name: str = "flag3d"
    extra: Dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> Dict[str, Any]:
        """JSON-able dict: ``mae``, ``obo@0.4`` ... ``obo@1.0``, ``obo@avg``, ``n``."""
        d: Dict[str, Any] = {"mae": self.mae}
        d.update({f"obo@{a:g}": v for a, v in self.obo.items()})
        d.update({"obo@avg": self.obo_avg, "n": self.n, "convention": self.convention_name})
        return d


def _counts(pred: Iterable[float], gt: Iterable[float]) -> Tuple[np.ndarray, np.ndarray]:
    p = np.asarray(list(pred) if not isinstance(pred, np.ndarray) else pred, dtype=np.float64)
    g = np.asarray(list(gt) if not isinstance(gt, np.ndarray) else gt, dtype=np.float64)
    if p.ndim != 1 or p.shape != g.shape:
        raise MetricError(f"pred and gt must be 1-D of equal length, got {p.shape} and {g.shape}")
    if p.size == 0:
        raise MetricError("no counts to score (empty pred and gt)")
    for name, a in (("pred", p), ("gt", g)):
        if not np.isfinite(a).all():
            k = int(np.argmax(~np.isfinite(a)))
            raise MetricError(f"{name} contains NaN or inf at index {k}")
        if (a < 0).any():
            raise MetricError(f"{name} contains a negative count at index {int(np.argmax(a < 0))}")
    return p, g


def _check(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise MetricError(f"unknown convention {convention!r}; use one of {', '.join(CONVENTIONS)}")
    return convention


def prepare_counts(pred: Iterable[float], gt: Iterable[float], convention: str = "flag3d"
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """Validated float arrays, ``pred`` rounded under the TransRAC convention."""
    p, g = _counts(pred, gt)
    if _check(convention) == "transrac":
        p = np.rint(p)
        if (g <= 0).any():
            raise MetricError(f"the TransRAC MAE divides by gt, which is 0 at index "
                              f"{int(np.argmax(g <= 0))}; use convention='flag3d'")
    return p, g


def mae(pred: Iterable[float], gt: Iterable[float], convention: str = "flag3d") -> float:
    """Mean relative absolute error under ``convention``."""
    p, g = prepare_counts(pred, gt, convention)
    denom = g + 0.1 if convention == "flag3d" else g
    return float(np.mean(np.abs(p - g) / denom))


def obo(pred: Iterable[float], gt: Iterable[float], alpha: float = 1.0,
        convention: str = "flag3d") -> float:
    """Fraction of sequences with ``|pred - gt| <= alpha``."""
    p, g = prepare_counts(pred, gt, convention)
    return float(np.mean(np.abs(p - g) <= alpha + _TOL))


def counting_metrics(pred: Iterable[float], gt: Iterable[float], convention: str = "flag3d",
                     thresholds: Seq[float] = OBO_THRESHOLDS) -> CountingMetrics:
    """MAE, OBO@a and OBO@Avg of predicted against true counts."""
    p, g = prepare_counts(pred, gt, convention)
    denom = g + 0.1 if convention == "flag3d" else g
    err = np.abs(p - g)
    obos = {float(a): float(np.mean(err <= a + _TOL)) for a in thresholds}
    return CountingMetrics(mae=float(np.mean(err / denom)), obo=obos,
                           obo_avg=float(np.mean(list(obos.values()))), n=int(p.size),
                           convention=CONVENTIONS[convention], convention_name=convention)


# ------------------------------------------------------------------ groups (Table 5)
def group_of(activity: Optional[str], merge: bool = True) -> str:
    """The table group of an activity id: its body part (FLAG3D) or itself (UI-PRMD ``m01``).

    ``merge`` maps body parts to the FLAG3D++ Table 5 columns (:data:`TABLE5_GROUPS`).
    Unknown or missing ids give ``"unknown"``.
    """
    if not activity:
        return "unknown"
    a = str(activity)
    if a.lower().startswith("m") and a[1:].isdigit():
        return a.lower()
    from flag3d.errors import TaxonomyError
    from flag3d.taxonomy import get_activity

    try:
        part = get_activity(a).body_part
    except TaxonomyError:
        return "unknown"
    return TABLE5_GROUPS.get(part, part) if merge else part


def grouped_metrics(pred: Iterable[float], gt: Iterable[float], groups: Iterable[str],
                    convention: str = "flag3d") -> Dict[str, CountingMetrics]:
    """Metrics per group (sorted by name) plus ``"all"``."""
    p, g = _counts(pred, gt)
    grp = np.asarray(list(groups), dtype=object)
    if grp.shape != p.shape:
        raise MetricError(f"groups has {grp.size} entries for {p.size} counts")
    out = {str(k): counting_metrics(p[grp == k], g[grp == k], convention)
           for k in sorted(set(grp.tolist()))}
    out["all"] = counting_metrics(p, g, convention)
    return out


# ------------------------------------------------------------------- intervals
@dataclass(frozen=True)
class IntervalMetrics:
    """How well predicted repetition intervals match the true ones.

    Attributes:
        mean_iou: matched IoU summed over ground-truth repetitions / their number.
        precision, recall, f1: of matched pairs with IoU >= ``threshold``.
        n_pred, n_gt, n_hit: repetitions predicted, true, and matched at the threshold.
        threshold: the IoU threshold.
    """

    mean_iou: float
    precision: float
    recall: float
    f1: float
    n_pred: int
    n_gt: int
    n_hit: int
    threshold: float

    def as_dict(self) -> Dict[str, Any]:
        """JSON-able dict of the fields."""
        return {k: getattr(self, k) for k in
                ("mean_iou", "precision", "recall", "f1", "n_pred", "n_gt", "n_hit", "threshold")}


def _intervals(x: Any, what: str) -> np.ndarray:
    if x is None or len(x) == 0:
        return np.zeros((0, 2))
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 2:
        raise MetricError(f"{what} intervals must be [[start, end), ...], got shape {a.shape}")
    if a.size and not (a[:, 1] > a[:, 0]).all():
        raise MetricError(f"{what} interval {int(np.argmax(a[:, 1] <= a[:, 0]))} has end <= start")
    return a


def iou_matrix(pred: Any, gt: Any) -> np.ndarray:
    """IoU of every predicted ``[s, e)`` with every true one, ``(n_pred, n_gt)``."""
    p, g = _intervals(pred, "predicted"), _intervals(gt, "true")
    inter = np.clip(np.minimum(p[:, None, 1], g[None, :, 1])
                    - np.maximum(p[:, None, 0], g[None, :, 0]), 0.0, None)
    union = (p[:, None, 1] - p[:, None, 0]) + (g[None, :, 1] - g[None, :, 0]) - inter
    return inter / np.maximum(union, 1e-12)


def match_intervals(pred: Any, gt: Any) -> List[Tuple[int, int, float]]:
    """One-to-one matching maximising total IoU: ``[(pred index, gt index, iou), ...]``."""
    from scipy.optimize import linear_sum_assignment

    iou = iou_matrix(pred, gt)
    if iou.size == 0:
        return []
    rows, cols = linear_sum_assignment(-iou)
    return sorted((int(r), int(c), float(iou[r, c])) for r, c in zip(rows, cols) if iou[r, c] > 0)


def _interval_result(iou_sum: float, n_pred: int, n_gt: int, n_hit: int, thr: float
                     ) -> IntervalMetrics:
    if n_gt == 0:
        mean_iou = 1.0 if n_pred == 0 else 0.0
    else:
        mean_iou = iou_sum / n_gt
    precision = 1.0 if n_pred == 0 else n_hit / n_pred
    recall = 1.0 if n_gt == 0 else n_hit / n_gt
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return IntervalMetrics(mean_iou, precision, recall, f1, n_pred, n_gt, n_hit, thr)


def interval_metrics(pred: Any, gt: Any, threshold: float = 0.5) -> IntervalMetrics:
    """Interval IoU, precision and recall of one sequence (see the module docstring)."""
    m = match_intervals(pred, gt)
    n_pred, n_gt = len(_intervals(pred, "predicted")), len(_intervals(gt, "true"))
    return _interval_result(sum(i for _, _, i in m), n_pred, n_gt,
                            sum(i >= threshold for _, _, i in m), threshold)


def interval_metrics_many(preds: Iterable[Any], gts: Iterable[Any], threshold: float = 0.5
                          ) -> IntervalMetrics:
    """Pooled (micro) interval metrics over many sequences."""
    iou_sum, n_pred, n_gt, n_hit, n_seq = 0.0, 0, 0, 0, 0
    for p, g in zip(preds, gts):
        one = interval_metrics(p, g, threshold)
        iou_sum += one.mean_iou * one.n_gt if one.n_gt else 0.0
        n_pred, n_gt, n_hit = n_pred + one.n_pred, n_gt + one.n_gt, n_hit + one.n_hit
        n_seq += 1
    if n_seq == 0:
        raise MetricError("no sequences to score")
    return _interval_result(iou_sum, n_pred, n_gt, n_hit, threshold)


# ------------------------------------------------------------------------ tables
def format_table(rows: Mapping[str, CountingMetrics], title: str = "") -> str:
    """A plain-text table (Table 3 style) with the convention in the header."""
    conv = {m.convention for m in rows.values()}
    head = f"{title}  [{'; '.join(sorted(conv))}]" if title else f"[{'; '.join(sorted(conv))}]"
    width = max([len("method")] + [len(k) for k in rows]) + 2
    cols = ["MAE", "OBO@0.4", "OBO@0.6", "OBO@0.8", "OBO@1", "OBO@Avg", "n"]
    lines = [head, "method".ljust(width) + "".join(c.rjust(9) for c in cols)]
    for name, m in rows.items():
        vals = [m.mae, *(m.obo.get(a, float("nan")) for a in OBO_THRESHOLDS), m.obo_avg]
        lines.append(name.ljust(width) + "".join(f"{v:9.4f}" for v in vals) + f"{m.n:9d}")
    return "\n".join(lines)
