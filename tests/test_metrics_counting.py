"""Counting metrics against hand-computed values, both conventions, intervals, groups."""

from __future__ import annotations

import pytest

from flag3d.metrics.counting import (
    CONVENTIONS, MetricError, counting_metrics, format_table, group_of, grouped_metrics,
    interval_metrics, interval_metrics_many, iou_matrix, mae, match_intervals, obo,
)

PRED = [2.6, 5.0, 0.0, 10.5]
GT = [3, 4, 2, 10]


def test_flag3d_convention_by_hand():
    # |d| = 0.4, 1, 2, 0.5 ; / (gt + 0.1) = 0.4/3.1, 1/4.1, 2/2.1, 0.5/10.1
    expect = (0.4 / 3.1 + 1 / 4.1 + 2 / 2.1 + 0.5 / 10.1) / 4
    m = counting_metrics(PRED, GT)
    assert m.mae == pytest.approx(expect, abs=1e-12)
    assert m.obo == {0.4: 0.25, 0.6: 0.5, 0.8: 0.5, 1.0: 0.75}
    assert m.obo_avg == pytest.approx((0.25 + 0.5 + 0.5 + 0.75) / 4)
    assert m.n == 4 and m.convention == CONVENTIONS["flag3d"] and "gt+0.1" in m.convention


def test_transrac_convention_rounds_half_to_even():
    # rounded: 3, 5, 0, 10 (10.5 -> 10, half to even); |d| / gt = 0, 1/4, 1, 0
    m = counting_metrics(PRED, GT, convention="transrac")
    assert m.mae == pytest.approx((0 + 0.25 + 1 + 0) / 4)
    assert m.obo == {0.4: 0.5, 0.6: 0.5, 0.8: 0.5, 1.0: 0.75}  # 0.4 = 0.6 = 0.8 when rounded
    assert "rounded" in m.convention
    assert mae(PRED, GT, "transrac") == pytest.approx(m.mae)
    assert obo(PRED, GT, 0.4, "flag3d") == 0.25


def test_obo_boundary_is_inclusive_despite_float_error():
    assert obo([2.6], [3], 0.4) == 1.0  # |2.6 - 3| = 0.39999999999999991
    assert obo([1.8], [1], 0.8) == 1.0
    assert obo([4.0], [3], 0.8) == 0.0


def test_bad_counts_are_refused():
    with pytest.raises(MetricError, match="equal length"):
        counting_metrics([1, 2], [1])
    with pytest.raises(MetricError, match="NaN or inf at index 1"):
        counting_metrics([1, float("nan")], [1, 2])
    with pytest.raises(MetricError, match="divides by gt, which is 0 at index 1"):
        counting_metrics([1, 1], [1, 0], convention="transrac")
    assert counting_metrics([1, 1], [1, 0]).mae == pytest.approx(0.5 * 1 / 0.1)
    with pytest.raises(MetricError, match="unknown convention"):
        counting_metrics([1], [1], convention="rounded")


def test_iou_matrix_and_matching():
    gt = [[0, 10], [10, 20], [30, 40]]
    pred = [[0, 8], [9, 21], [50, 60]]
    iou = iou_matrix(pred, gt)
    assert iou[0, 0] == pytest.approx(8 / 10)
    assert iou[1, 1] == pytest.approx(10 / 12)
    assert iou[1, 0] == pytest.approx(1 / 21)  # overlap [9, 10), union [0, 21)
    assert iou[2].sum() == 0
    assert match_intervals(pred, gt) == [(0, 0, pytest.approx(0.8)), (1, 1, pytest.approx(10 / 12))]


def test_interval_metrics_by_hand():
    gt = [[0, 10], [10, 20], [30, 40]]
    pred = [[0, 8], [9, 21], [50, 60]]
    m = interval_metrics(pred, gt)
    assert m.mean_iou == pytest.approx((0.8 + 10 / 12 + 0) / 3)
    assert (m.n_pred, m.n_gt, m.n_hit) == (3, 3, 2)
    assert m.precision == pytest.approx(2 / 3) and m.recall == pytest.approx(2 / 3)
    # the hungarian matching is one-to-one: one long prediction covers only one repetition
    one = interval_metrics([[0, 20]], [[0, 10], [10, 20]])
    assert (one.n_hit, one.recall, one.precision) == (1, 0.5, 1.0)
    assert one.mean_iou == pytest.approx(0.5 / 2)


def test_interval_empty_conventions_and_pooling():
    assert interval_metrics([], []).as_dict()["mean_iou"] == 1.0
    e = interval_metrics([[0, 5]], [])
    assert (e.mean_iou, e.precision, e.recall) == (0.0, 0.0, 1.0)
    n = interval_metrics(None, [[0, 5]])
    assert (n.mean_iou, n.precision, n.recall) == (0.0, 1.0, 0.0)
    pooled = interval_metrics_many([[[0, 10]], []], [[[0, 10]], [[0, 4], [4, 8]]])
    assert (pooled.n_pred, pooled.n_gt, pooled.n_hit) == (1, 3, 1)
    assert pooled.mean_iou == pytest.approx(1 / 3) and pooled.precision == 1.0
    with pytest.raises(MetricError, match="end <= start"):
        interval_metrics([[5, 5]], [[0, 4]])


def test_groups_table5_and_uiprmd():
    assert group_of("A001") == "chest & back" and group_of("A010") == "chest & back"
    assert group_of("A001", merge=False) == "chest"
    assert group_of("A052") == "leg" and group_of("A057") == "whole body"
    assert group_of("m03") == "m03" and group_of(None) == "unknown"
    g = grouped_metrics([3, 4, 2.0], [3, 5, 2], ["leg", "arm", "leg"])
    assert list(g) == ["arm", "leg", "all"]
    assert g["leg"].obo[0.4] == 1.0 and g["arm"].obo[0.4] == 0.0 and g["all"].n == 3


def test_format_table_names_the_convention():
    t = format_table({"KNN": counting_metrics([3], [3])}, title="synthetic")
    assert t.splitlines()[0] == f"synthetic  [{CONVENTIONS['flag3d']}]"
    assert t.splitlines()[2].split()[:3] == ["KNN", "0.0000", "1.0000"]
