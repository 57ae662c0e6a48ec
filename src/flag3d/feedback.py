"""Per-repetition feedback from a quality assessment: what went wrong, where, and how to fix it.

:func:`build_feedback` turns a :class:`~flag3d.tasks.quality_infer.QualityResult` into
structured data (dataclasses, ``to_dict()`` for JSON) that the analysis report shows:

* for every repetition (:class:`RepetitionFeedback`): its time span, every standard's
  probability of being met, the standards it **failed** (probability below the threshold,
  the checkpoint's per-standard one when it has them),
  worst first, and **one** short corrective tip - the taxonomy tip of its worst failed
  standard;
* for every failed standard (:class:`StandardCheck`): the standard's sentence, the body part,
  the joints involved and the common mistake.  ``joints`` are the joints the taxonomy
  names for the standard (its definition); ``attention_joints`` rank them (plus any other
  joint) by the scorer's **text-point attention** for that standard - the per-joint weights
  ``t_j`` that the standard's sentence gives the graph layers (FLAG3D++ Eq. 9), averaged
  over the layers.  ``joints_source`` says ``"taxonomy+text-point attention"`` or
  ``"taxonomy"`` (when the result carries no text points).  Text points depend on the
  sentence, not on the repetition: they say where the model looks for this standard,
  not where this repetition deviated;
* for the whole recording (:class:`Feedback`): the Eq. 1 score (or ``None`` with the reason
  when the recording is not assessable), how often each standard failed, and the tip
  for the most frequent failure.

Example:
    >>> import numpy as np
    >>> from flag3d.feedback import build_feedback
    >>> from flag3d.tasks.quality_infer import QualityResult
    >>> p = np.array([[0.9, 0.8, 0.95], [0.9, 0.2, 0.4]])
    >>> res = QualityResult("m01", ("depth", "torso_upright", "knees_track_toes"),
    ...                     np.array([[0, 60], [70, 130]]), p, (p >= 0.5).astype(int), 7.0, 7.3,
    ...                     True, None, "given", "demo")
    >>> fb = build_feedback(res)
    >>> [r.ok for r in fb.repetitions], [c.key for c in fb.repetitions[1].failed]
    ([True, False], ['torso_upright', 'knees_track_toes'])
    >>> fb.repetitions[1].tip
    'Lift your chest and press the dowel up and back.'
    >>> fb.to_dict()["failure_counts"]
    {'depth': 0, 'torso_upright': 1, 'knees_track_toes': 1}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from flag3d.metrics.quality import standard_thresholds
from flag3d.skeleton.layouts import get_layout
from flag3d.taxonomy import get_activity

#: How many joints ``attention_joints`` lists.
TOP_JOINTS = 4


@dataclass
class StandardCheck:
    """One standard checked on one repetition."""

    key: str
    index: int
    text: str
    body_part: str
    joints: List[str]
    mistake: str
    tip: str
    probability: float
    met: bool
    attention_joints: List[str] = field(default_factory=list)
    joints_source: str = "taxonomy"


@dataclass
class RepetitionFeedback:
    """Feedback on one repetition: all checks, the failed ones (worst first), one tip."""

    index: int
    start_frame: int
    end_frame: int
    start_s: float
    end_s: float
    ok: bool
    checks: List[StandardCheck]
    failed: List[StandardCheck]
    tip: Optional[str]


@dataclass
class Feedback:
    """Feedback on a recording."""

    activity: str
    activity_name: str
    assessable: bool
    reason: Optional[str]
    score: Optional[float]
    score_soft: Optional[float]
    threshold: Union[float, List[float]]
    repetitions: List[RepetitionFeedback]
    failure_counts: Dict[str, int]
    summary_tip: Optional[str]
    segmentation: str
    layout: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)


def _attention(points: Optional[np.ndarray], j: int, layout: Optional[str]) -> List[str]:
    if points is None or layout is None:
        return []
    lay = get_layout(layout)
    w = np.asarray(points[j], dtype=np.float64)
    if w.shape != (lay.num_joints,) or not np.isfinite(w).all() or np.ptp(w) <= 0:
        return []
    return [lay.joints[k] for k in np.argsort(-w)[:TOP_JOINTS]]


def build_feedback(result: Any, layout: Optional[str] = None) -> Feedback:
    """Feedback from a :class:`~flag3d.tasks.quality_infer.QualityResult` (module docstring).

    Args:
        result: the assessment.
        layout: joint layout of the scorer (for naming text-point joints; default: the
            activity's taxonomy layout).
    """
    act = get_activity(result.activity)
    lay = layout or act.layout
    points = getattr(result, "text_points", None)
    src = "taxonomy+text-point attention" if points is not None else "taxonomy"
    thr_in = result.threshold
    thr_std = standard_thresholds(thr_in, len(act.standards))
    thr: Union[float, List[float]] = (float(thr_in) if np.ndim(thr_in) == 0
                                      else [float(v) for v in thr_std])
    reps: List[RepetitionFeedback] = []
    counts = {s.key: 0 for s in act.standards}
    fps = float(getattr(result, "fps", 30.0)) or 30.0
    for i, (a, b) in enumerate(np.asarray(result.repetitions).reshape(-1, 2)):
        checks = []
        for j, s in enumerate(act.standards):
            p = float(result.probabilities[i, j])
            checks.append(StandardCheck(
                key=s.key, index=j, text=s.text, body_part=s.body_part, joints=list(s.joints),
                mistake=s.mistake, tip=s.tip, probability=round(p, 4), met=bool(p >= thr_std[j]),
                attention_joints=_attention(points, j, lay), joints_source=src))
        failed = sorted([c for c in checks if not c.met], key=lambda c: c.probability)
        for c in failed:
            counts[c.key] += 1
        reps.append(RepetitionFeedback(
            index=i, start_frame=int(a), end_frame=int(b), start_s=round(float(a) / fps, 3),
            end_s=round(float(b) / fps, 3), ok=not failed, checks=checks, failed=failed,
            tip=failed[0].tip if failed else None))
    worst: Optional[Tuple[int, str]] = None
    for s in act.standards:
        if counts[s.key] and (worst is None or counts[s.key] > worst[0]):
            worst = (counts[s.key], s.tip)
    return Feedback(activity=act.id, activity_name=act.name, assessable=bool(result.assessable),
                    reason=result.reason, score=result.score, score_soft=result.score_soft,
                    threshold=thr, repetitions=reps, failure_counts=counts,
                    summary_tip=worst[1] if worst else None,
                    segmentation=str(result.segmentation), layout=lay)
