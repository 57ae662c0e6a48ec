"""Synthetic FLAG3D-like motion with exact labels for counting and quality assessment.

Procedural 3D motion of 25 FLAG3D activities (:func:`synth_activities`) on a kinematic
``flag3d24`` body, with per-repetition boundaries, per-repetition fault labels for the
three standards of each activity, the FLAG3D++ score (Eq. 1), ``ntu25`` joints, ``coco17``
projections through sampled cameras and documented sensor corruption.  Deterministic by
seed; see ``docs/synthetic.md``.

Example:
    >>> from flag3d.synth import SynthConfig, generate_sequence, primary_signal
    >>> s = generate_sequence("A020", seed=1, config=SynthConfig(reps=(5, 5)))
    >>> s.count, s.clean["flag3d24"].layout, s.clean["ntu25"].num_joints, len(s.views)
    (5, 'flag3d24', 25, 3)
    >>> s.clean["flag3d24"].meta["synthetic"], 3.0 <= s.score <= 9.0
    (True, True)
"""

from flag3d.synth.corpus import (
    Subject,
    SynthConfig,
    SynthSample,
    corpus_item,
    generate_corpus,
    generate_sequence,
    make_subject,
    subjects,
    synth_activities,
)
from flag3d.synth.faults import STANDARDS, quality_score
from flag3d.synth.signals import primary_signal

__all__ = [
    "STANDARDS", "Subject", "SynthConfig", "SynthSample", "corpus_item", "generate_corpus",
    "generate_sequence", "make_subject", "primary_signal", "quality_score", "subjects",
    "synth_activities",
]
