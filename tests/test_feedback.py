"""Per-repetition feedback: failed standards, sentence, body part, joints, one tip."""

from __future__ import annotations

import json

import numpy as np

from flag3d.feedback import build_feedback
from flag3d.taxonomy import get_activity
from flag3d.tasks.quality_infer import QualityResult


def _result(prob, reps, activity="A049", points=None, score=7.0):
    p = np.asarray(prob, dtype=float)
    act = get_activity(activity)
    return QualityResult(activity, tuple(s.key for s in act.standards), np.asarray(reps), p,
                         (p >= 0.5).astype(int), score, score, True, None, "given", "ckpt",
                         fps=30.0, text_points=points)


def test_failed_standards_worst_first_with_sentence_joints_and_tip():
    act = get_activity("A049")
    fb = build_feedback(_result([[0.9, 0.8, 0.7], [0.3, 0.1, 0.9]], [[0, 45], [50, 95]]))
    ok, bad = fb.repetitions
    assert ok.ok and ok.failed == [] and ok.tip is None
    assert not bad.ok and [c.key for c in bad.failed] == [act.standards[1].key, act.standards[0].key]
    worst = bad.failed[0]
    assert worst.text == act.standards[1].text and worst.body_part == act.standards[1].body_part
    assert worst.joints == list(act.standards[1].joints) and worst.mistake == act.standards[1].mistake
    assert bad.tip == act.standards[1].tip
    assert (bad.start_s, bad.end_s) == (1.667, 3.167)
    assert fb.failure_counts == {act.standards[0].key: 1, act.standards[1].key: 1, act.standards[2].key: 0}
    assert worst.joints_source == "taxonomy" and worst.attention_joints == []


def test_text_point_attention_names_the_top_joints():
    pts = np.zeros((3, 24))
    pts[0, [19, 20, 17]] = [3.0, 2.0, 1.0]  # right_knee, left_ankle, right_hip in flag3d24
    pts[0, 0] = 0.5
    fb = build_feedback(_result([[0.2, 0.9, 0.9]], [[0, 40]], points=pts))
    c = fb.repetitions[0].failed[0]
    assert c.attention_joints == ["right_knee", "left_ankle", "right_hip", "pelvis"]
    assert c.joints_source == "taxonomy+text-point attention"


def test_summary_tip_is_the_most_frequent_failure_and_json_round_trip():
    act = get_activity("m01")
    prob = [[0.9, 0.1, 0.9], [0.9, 0.2, 0.4], [0.3, 0.9, 0.9]]
    fb = build_feedback(_result(prob, [[0, 30], [30, 60], [60, 90]], activity="m01"))
    assert fb.summary_tip == act.standards[1].tip
    d = json.loads(json.dumps(fb.to_dict()))
    assert d["activity"] == "m01" and d["activity_name"] == act.name
    assert [len(r["failed"]) for r in d["repetitions"]] == [1, 2, 1]
    assert d["layout"] == "uiprmd22"


def test_not_assessable_feedback_has_no_score():
    r = QualityResult("A049", ("depth", "knees_track_toes", "torso_upright"), np.zeros((0, 2), int),
                      np.zeros((0, 3)), np.zeros((0, 3), int), None, None, False,
                      "not assessable: no repetition was found", "training-free joint-angle counter", "x")
    fb = build_feedback(r)
    assert fb.score is None and fb.repetitions == [] and fb.summary_tip is None
    assert fb.to_dict()["reason"] == "not assessable: no repetition was found"
