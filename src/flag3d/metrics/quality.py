"""Quality-assessment metrics (FLAG3D++ Sec. 5.2): pure functions on arrays.

* :func:`eq1_score` - FLAG3D++ Eq. 1, ``s = delta + sum_j g(mean_i y_ij)`` with
  ``g(x) = 2x - 1`` (``delta = 6``, so ``s`` is in [3, 9]).  ``y`` may be 0/1 key scores or
  probabilities (``g`` is linear, so the soft score is the expected hard score when the
  repetitions are independent).
* :func:`spearman` - Spearman's rank correlation (ties get average ranks); ``nan`` when
  either side is constant or there are fewer than 3 values.
* :func:`fisher_mean` - the average of several correlations through Fisher's z
  (``tanh(mean(atanh(r)))``, optionally weighted), as FLAG3D++ Table 8 averages body parts.
* :func:`grouped_spearman` - Spearman per group (body part or movement) and their Fisher
  average.
* :func:`relative_l2` - ``mean(|s - s_hat| / (s_max - s_min))`` (R-l2; the range is the
  ground-truth score range, by default the Eq. 1 range 3..9).
* :func:`binary_metrics` / :func:`per_standard_metrics` - accuracy, precision, recall and
  F1 of the key scores.  The *positive* class is the **fault** (``y = 0``, the standard is
  violated), the class a user needs found; ``f1_meets`` and ``macro_f1`` are given too.
  A threshold is one probability for every standard or one per standard
  (:func:`standard_thresholds`).
* :func:`choose_thresholds` - per standard, the decision threshold with the best fault F1
  on labelled (validation) repetitions.

Example:
    >>> import numpy as np
    >>> from flag3d.metrics.quality import eq1_score, spearman, fisher_mean, relative_l2
    >>> eq1_score(np.array([[1, 1, 1], [1, 0, 1], [1, 0, 0], [1, 1, 1]]))
    7.5
    >>> round(spearman([1, 2, 3, 4], [10, 20, 40, 30]), 3)
    0.8
    >>> round(fisher_mean([0.5, 0.9]), 4)
    0.7661
    >>> relative_l2([6.0, 9.0], [7.5, 9.0])
    0.125
    >>> m = binary_metrics([1, 1, 0, 0], [1, 0, 0, 0])
    >>> m["accuracy"], round(m["f1"], 3)
    (0.75, 0.8)
    >>> standard_thresholds([0.4, 0.5, 0.6]).tolist(), standard_thresholds(0.5).tolist()
    ([0.4, 0.5, 0.6], [0.5, 0.5, 0.5])
"""

from __future__ import annotations

import math
from typing import Any, Dict, Hashable, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from flag3d.errors import Flag3dError

#: Eq. 1 constants and the resulting score range.
DELTA = 6.0
SCORE_MIN, SCORE_MAX = 3.0, 9.0


def eq1_score(keys: "np.ndarray | Sequence[Sequence[float]]", delta: float = DELTA) -> float:
    """FLAG3D++ Eq. 1 from ``(n_reps, n_standards)`` key scores (0/1 or probabilities).

    Raises:
        Flag3dError: no repetition (the score is then undefined, never a number), a value
            outside [0, 1], or NaN.
    """
    y = np.asarray(keys, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] == 0 or y.shape[1] == 0:
        raise Flag3dError(f"Eq. 1 needs key scores of shape (n_reps >= 1, n_standards), "
                          f"got {tuple(y.shape)}")
    if not np.isfinite(y).all() or (y < 0).any() or (y > 1).any():
        raise Flag3dError("Eq. 1 key scores must be finite values in [0, 1]")
    return float(delta + np.sum(2.0 * y.mean(axis=0) - 1.0))


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) with ties sharing the mean rank."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    xs = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and xs[j + 1] == xs[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    return ranks


def spearman(a: Iterable[float], b: Iterable[float]) -> float:
    """Spearman's rho of two equally long series (``nan`` when undefined)."""
    x = np.asarray(list(a), dtype=np.float64)
    y = np.asarray(list(b), dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise Flag3dError(f"spearman needs two 1-D series of equal length, got {x.shape} and {y.shape}")
    if len(x) < 3 or not (np.isfinite(x).all() and np.isfinite(y).all()):
        return float("nan")
    rx, ry = _ranks(x), _ranks(y)
    rx -= rx.mean()
    ry -= ry.mean()
    den = math.sqrt(float(rx @ rx) * float(ry @ ry))
    return float(rx @ ry / den) if den > 0 else float("nan")


def fisher_mean(rs: Iterable[float], weights: Optional[Iterable[float]] = None) -> float:
    """Average correlations through Fisher's z; ``nan`` entries are skipped."""
    r = np.asarray(list(rs), dtype=np.float64)
    w = np.ones_like(r) if weights is None else np.asarray(list(weights), dtype=np.float64)
    ok = np.isfinite(r) & (w > 0)
    if not ok.any():
        return float("nan")
    z = np.arctanh(np.clip(r[ok], -0.999999, 0.999999))
    return float(np.tanh(np.sum(w[ok] * z) / np.sum(w[ok])))


def grouped_spearman(gt: Sequence[float], pred: Sequence[float],
                     groups: Sequence[Hashable]) -> Dict[str, Any]:
    """Spearman per group and their Fisher-z average.

    Returns ``{"per_group": {group: {"rho", "n"}}, "fisher_mean": float, "overall": float}``
    (``overall`` is the Spearman of all items pooled).
    """
    g = np.asarray(gt, dtype=np.float64)
    p = np.asarray(pred, dtype=np.float64)
    keys = list(groups)
    if not (len(g) == len(p) == len(keys)):
        raise Flag3dError("grouped_spearman: gt, pred and groups must have the same length")
    per: Dict[str, Dict[str, Any]] = {}
    for k in dict.fromkeys(keys):
        m = np.array([x == k for x in keys])
        per[str(k)] = {"rho": spearman(g[m], p[m]), "n": int(m.sum())}
    return {"per_group": per,
            "fisher_mean": fisher_mean([v["rho"] for v in per.values()]),
            "overall": spearman(g, p)}


def relative_l2(gt: Iterable[float], pred: Iterable[float],
                s_min: float = SCORE_MIN, s_max: float = SCORE_MAX) -> float:
    """R-l2 = ``mean(|s - s_hat| / (s_max - s_min))``."""
    g = np.asarray(list(gt), dtype=np.float64)
    p = np.asarray(list(pred), dtype=np.float64)
    if g.shape != p.shape or g.size == 0:
        raise Flag3dError(f"relative_l2 needs two equally long non-empty series, got {g.shape}, {p.shape}")
    if not s_max > s_min:
        raise Flag3dError(f"relative_l2: s_max ({s_max}) must exceed s_min ({s_min})")
    return float(np.mean(np.abs(g - p)) / (s_max - s_min))


def _f1(tp: float, fp: float, fn: float) -> float:
    return 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) > 0 else float("nan")


def binary_metrics(y_true: Iterable[int], y_pred: Iterable[int]) -> Dict[str, float]:
    """Accuracy, fault precision/recall/F1 (positive = fault, ``y = 0``), ``f1_meets``, ``macro_f1``."""
    t = np.asarray(list(y_true)).astype(int)
    p = np.asarray(list(y_pred)).astype(int)
    if t.shape != p.shape or t.size == 0:
        raise Flag3dError(f"binary_metrics needs two equally long non-empty label series, got {t.shape}, {p.shape}")
    fault_t, fault_p = t == 0, p == 0
    tp = float(np.sum(fault_t & fault_p))
    fp = float(np.sum(~fault_t & fault_p))
    fn = float(np.sum(fault_t & ~fault_p))
    tn = float(np.sum(~fault_t & ~fault_p))
    f1 = _f1(tp, fp, fn)
    f1_meets = _f1(tn, fn, fp)
    return {
        "n": int(t.size), "faults": int(fault_t.sum()), "accuracy": float((tp + tn) / t.size),
        "precision": tp / (tp + fp) if tp + fp else float("nan"),
        "recall": tp / (tp + fn) if tp + fn else float("nan"),
        "f1": f1, "f1_meets": f1_meets,
        "macro_f1": float(np.nanmean([f1, f1_meets])) if not (math.isnan(f1) and math.isnan(f1_meets)) else float("nan"),
    }


def standard_thresholds(threshold: Union[float, Sequence[float]], k: int = 3) -> np.ndarray:
    """``(k,)`` decision thresholds from one threshold or ``k`` per-standard ones."""
    t = np.asarray(threshold, dtype=np.float64).reshape(-1)
    if t.size == 1:
        t = np.repeat(t, k)
    if t.size != k or not np.isfinite(t).all() or (t < 0).any() or (t > 1).any():
        raise Flag3dError(f"thresholds must be one or {k} probabilities in [0, 1], got "
                          f"{np.asarray(threshold).tolist()}")
    return t


#: Candidate thresholds of :func:`choose_thresholds`.
THRESHOLD_GRID = tuple(round(0.05 * i, 2) for i in range(1, 20))


def choose_thresholds(y_true: np.ndarray, prob: np.ndarray,
                      grid: Sequence[float] = THRESHOLD_GRID) -> Tuple[List[float], List[float]]:
    """Per column of ``(n, k)`` labels / probabilities, the grid threshold with the best fault F1.

    Ties go to the threshold closest to 0.5; a column without a labelled fault keeps 0.5.
    Returns ``(thresholds, fault F1 at them)``.  Choose on validation data, never on test.
    """
    t = np.asarray(y_true)
    p = np.asarray(prob, dtype=np.float64)
    if t.ndim != 2 or t.shape != p.shape:
        raise Flag3dError(f"choose_thresholds needs (n, k) labels and probabilities, got {t.shape}, {p.shape}")
    thr: List[float] = []
    f1s: List[float] = []
    for j in range(t.shape[1]):
        known = t[:, j] >= 0
        yt, pj = t[known, j], p[known, j]
        if not (yt == 0).any():
            thr.append(0.5)
            f1s.append(float("nan"))
            continue
        scored = [(binary_metrics(yt, (pj >= g).astype(int))["f1"], -abs(g - 0.5), float(g))
                  for g in grid]
        best = max(scored, key=lambda s: (np.nan_to_num(s[0], nan=-1.0), s[1]))
        thr.append(best[2])
        f1s.append(float(best[0]))
    return thr, f1s


def per_standard_metrics(y_true: np.ndarray, prob: np.ndarray,
                         threshold: Union[float, Sequence[float]] = 0.5,
                         names: Optional[Sequence[str]] = None) -> Dict[str, Dict[str, float]]:
    """:func:`binary_metrics` for each column of ``(n, n_standards)`` labels and probabilities
    (predicted ``1`` = meets when ``prob >= threshold``, one threshold or one per column)
    plus ``"all"`` pooled."""
    t = np.asarray(y_true)
    p = np.asarray(prob, dtype=np.float64)
    if t.ndim != 2 or t.shape != p.shape:
        raise Flag3dError(f"per_standard_metrics needs (n, k) labels and probabilities, got {t.shape}, {p.shape}")
    hard = (p >= standard_thresholds(threshold, t.shape[1])).astype(int)
    cols: List[str] = list(names) if names is not None else [f"standard{j}" for j in range(t.shape[1])]
    out = {c: binary_metrics(t[:, j], hard[:, j]) for j, c in enumerate(cols)}
    out["all"] = binary_metrics(t.ravel(), hard.ravel())
    return out
