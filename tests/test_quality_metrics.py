"""Quality metrics: Eq. 1, Spearman, Fisher-z averaging, R-l2, accuracy and F1."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from flag3d.errors import Flag3dError
from flag3d.metrics.quality import (
    binary_metrics, eq1_score, fisher_mean, grouped_spearman, per_standard_metrics,
    relative_l2, spearman,
)
from flag3d.synth import quality_score


def test_eq1_known_values_and_range():
    assert eq1_score(np.ones((5, 3))) == 9.0
    assert eq1_score(np.zeros((2, 3))) == 3.0
    # one standard failed in half of the repetitions: 6 + 1 + 0 + 1
    assert eq1_score([[1, 0, 1], [1, 1, 1]]) == 8.0
    # probabilities: g is linear, so the soft score is the mean of the hard ones
    assert eq1_score([[0.5, 0.5, 0.5]]) == pytest.approx(6.0)


def test_eq1_agrees_with_the_generator_score():
    rng = np.random.default_rng(3)
    for _ in range(20):
        y = (rng.random((int(rng.integers(1, 9)), 3)) > 0.3).astype(int)
        assert eq1_score(y) == pytest.approx(quality_score(y))


@pytest.mark.parametrize("bad, msg", [
    (np.zeros((0, 3)), "n_reps >= 1"),
    ([[1.5, 1, 1]], "in \\[0, 1\\]"),
    ([[np.nan, 1, 1]], "finite"),
])
def test_eq1_rejects_no_repetition_and_bad_values(bad, msg):
    with pytest.raises(Flag3dError, match=msg):
        eq1_score(bad)


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, 40).astype(float)
    b = a + rng.normal(0, 2, 40)
    assert spearman(a, b) == pytest.approx(spearmanr(a, b)[0], abs=1e-12)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    assert math.isnan(spearman([1, 2], [1, 2]))


def test_fisher_mean_is_not_the_plain_mean_and_skips_nan():
    assert fisher_mean([0.5, 0.9]) == pytest.approx(np.tanh((np.arctanh(0.5) + np.arctanh(0.9)) / 2))
    assert fisher_mean([0.5, 0.9]) > 0.7  # the plain mean would be 0.7
    assert fisher_mean([0.3, float("nan")]) == pytest.approx(0.3)
    assert math.isnan(fisher_mean([]))


def test_grouped_spearman_per_group_and_fisher_mean():
    gt = [1, 2, 3, 4, 1, 2, 3, 4]
    pred = [1, 2, 3, 4, 4, 3, 2, 1]
    g = grouped_spearman(gt, pred, ["a"] * 4 + ["b"] * 4)
    assert g["per_group"]["a"] == {"rho": pytest.approx(1.0), "n": 4}
    assert g["per_group"]["b"]["rho"] == pytest.approx(-1.0)
    assert g["fisher_mean"] == pytest.approx(0.0, abs=1e-9)


def test_relative_l2_known_value_and_errors():
    assert relative_l2([3.0, 9.0], [6.0, 9.0]) == pytest.approx(0.25)
    assert relative_l2([0.2, 0.4], [0.3, 0.4], s_min=0.0, s_max=1.0) == pytest.approx(0.05)
    with pytest.raises(Flag3dError, match="equally long"):
        relative_l2([1.0], [1.0, 2.0])


def test_binary_metrics_fault_is_the_positive_class():
    # truth: 2 faults (0) and 2 meets (1); one fault missed
    m = binary_metrics([0, 0, 1, 1], [0, 1, 1, 1])
    assert m["accuracy"] == 0.75 and m["faults"] == 2
    assert m["precision"] == 1.0 and m["recall"] == 0.5
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["f1_meets"] == pytest.approx(0.8)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)


def test_per_standard_metrics_columns_and_pooled():
    y = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 1]])
    p = np.array([[0.9, 0.1, 0.8], [0.7, 0.6, 0.2], [0.4, 0.9, 0.4]])
    m = per_standard_metrics(y, p, names=["a", "b", "c"])
    assert m["a"]["accuracy"] == 1.0 and m["b"]["f1"] == 1.0
    assert m["c"]["accuracy"] == pytest.approx(2 / 3)
    assert m["all"]["n"] == 9 and m["all"]["faults"] == 3
