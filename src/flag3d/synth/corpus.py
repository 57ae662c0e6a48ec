"""Generate synthetic FLAG3D-like samples: configuration, subjects, one sample, a corpus.

A sample is fully determined by ``(config, seed, index, activity, subject)``; in a corpus
sample ``i`` has activity ``activities[i % A]`` and subject ``(i // A) % n_subjects``, so
any chunk of a corpus can be generated on its own (in parallel) and matches the whole.
Subjects depend only on ``(seed, subject index)``: each keeps its body proportions, its
fault propensity ("skill"), its tempo and its amount of sway across the corpus.

Outputs per sample (:class:`SynthSample`): clean and corrupted 3D ``flag3d24`` and ``ntu25``
sequences (``domain="mocap"``, metres) and, per camera view, clean (``"rendered-clean"``)
and noisy (``"noisy"``) 2D ``coco17`` sequences in pixels.  Every sequence carries the
labels in ``meta`` (see :data:`flag3d.skeleton.sequence.META_KEYS`).  Writing files is left
to :mod:`flag3d.io` and the store.

Example:
    >>> from flag3d.synth.corpus import SynthConfig, generate_corpus
    >>> cfg = SynthConfig(n_sequences=2, reps=(2, 4), views=("front",))
    >>> [(s.activity, s.subject, s.count) for s in generate_corpus(cfg)]
    [('A002', 'S001', 3), ('A006', 'S002', 4)]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Dict, Iterator, List, Optional, Tuple
from typing import Sequence as Seq

import numpy as np

from flag3d.errors import Flag3dError
from flag3d.skeleton.sequence import Sequence
from flag3d.synth.activities import activity_ids, get_activity
from flag3d.synth.body import Body, rot_y, sample_body
from flag3d.synth.camera import VIEWS
from flag3d.synth.context import MotionContext, smooth_noise
from flag3d.synth.faults import plan_faults, quality_score
from flag3d.synth.render import place, render_views, sensor_3d
from flag3d.synth.timeline import make_timeline

GENERATOR_VERSION = 1


@dataclass(frozen=True)
class SynthConfig:
    """Settings of the generator (all durations in seconds, distances in metres).

    Attributes:
        n_sequences: corpus size.
        activities: ids to generate (default: all implemented).
        reps: inclusive range of the number of repetitions.
        fps: frame rate.
        n_subjects: number of distinct subjects in a corpus.
        seed: corpus seed.
        fault_rate: mean per-standard, per-repetition fault probability.
        noise_std, drop_rate: 3D corruption (Gaussian std in m, missing joint-frame share).
        noise_px, drop_rate_2d: 2D detection noise (px) and missing keypoint share.
        idle, transition, pause: duration ranges; pause_prob: chance of a pause after a rep.
        tempo_jitter: per-rep duration variation (+-); speed: per-sequence tempo range.
        views: 2D camera views, one coco17 pair (clean, noisy) per entry.
        portrait_prob: chance of a 1080x1920 portrait image.
        yaw_deg: initial facing within +-yaw_deg of +z; position_m: initial offset range.
        drift_yaw_deg, drift_m: slow drift of the facing and of the position.
        body_variation: per-segment length variation (std, fraction).
        corrupt: also produce the corrupted 3D sequences.
    """

    n_sequences: int = 100
    activities: Optional[Tuple[str, ...]] = None
    reps: Tuple[int, int] = (1, 40)
    fps: float = 30.0
    n_subjects: int = 10
    seed: int = 0
    fault_rate: float = 0.13
    noise_std: float = 0.004
    drop_rate: float = 0.002
    noise_px: float = 2.5
    drop_rate_2d: float = 0.01
    idle: Tuple[float, float] = (0.5, 2.0)
    transition: Tuple[float, float] = (0.6, 1.2)
    pause: Tuple[float, float] = (0.3, 1.5)
    pause_prob: float = 0.12
    tempo_jitter: float = 0.25
    speed: Tuple[float, float] = (0.8, 1.25)
    views: Tuple[str, ...] = ("front", "side", "oblique")
    portrait_prob: float = 0.25
    yaw_deg: float = 15.0
    position_m: float = 0.3
    drift_yaw_deg: float = 8.0
    drift_m: float = 0.08
    body_variation: float = 0.03
    corrupt: bool = True

    def __post_init__(self) -> None:
        def bad(msg: str) -> None:
            raise Flag3dError(f"SynthConfig: {msg}")

        if self.n_sequences < 0:
            bad(f"n_sequences must be >= 0, got {self.n_sequences}")
        lo, hi = self.reps
        if not 1 <= lo <= hi:
            bad(f"reps must be a range 1 <= lo <= hi, got {self.reps}")
        if self.fps <= 0 or self.n_subjects < 1:
            bad(f"fps must be > 0 and n_subjects >= 1, got {self.fps}, {self.n_subjects}")
        for name in ("fault_rate", "pause_prob", "drop_rate", "drop_rate_2d", "portrait_prob"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                bad(f"{name} must be in [0, 1], got {v}")
        for name in ("idle", "transition", "pause", "speed"):
            a, b = getattr(self, name)
            if not 0.0 <= a <= b or (name == "speed" and a <= 0):
                bad(f"{name} must be a range 0 <= lo <= hi, got {(a, b)}")
        for v in self.views:
            if v not in VIEWS:
                bad(f"unknown view {v!r}; known views: {', '.join(VIEWS)}")
        for a in self.activity_list():
            get_activity(a)

    def activity_list(self) -> List[str]:
        """The activity ids of the corpus, in order."""
        return [a.upper() for a in self.activities] if self.activities else activity_ids()

    def to_dict(self, changed_only: bool = False) -> Dict[str, Any]:
        """JSON-able settings (``SynthConfig.from_dict`` reverses it).

        ``changed_only`` keeps only the fields that differ from the defaults (what each
        sequence's metadata records, to keep per-sequence metadata small).
        """
        items = _config_items(self)
        if changed_only:
            base = dict(_config_items(_DEFAULT_CONFIG))
            items = tuple((k, v) for k, v in items if base[k] != v)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in items}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "SynthConfig":
        """Settings from :meth:`to_dict` output."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs: Dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                  for k, v in d.items() if k in names}
        return cls(**kwargs)


_DEFAULT_CONFIG = SynthConfig()


@lru_cache(maxsize=64)
def _config_items(cfg: SynthConfig) -> Tuple[Tuple[str, Any], ...]:
    return tuple((f.name, getattr(cfg, f.name)) for f in dataclasses.fields(cfg))


@dataclass(frozen=True)
class Subject:
    """A synthetic performer: body, fault propensity, tempo and sway."""

    index: int
    body: Body
    propensity: float
    tempo: float
    sway: float

    @property
    def id(self) -> str:
        """``"S001"`` for index 0."""
        return f"S{self.index + 1:03d}"

    def params(self) -> Dict[str, float]:
        """JSON-able description."""
        return {**self.body.params(), "propensity": round(self.propensity, 6),
                "tempo": round(self.tempo, 6), "sway": round(self.sway, 6)}


@lru_cache(maxsize=4096)
def make_subject(seed: int, index: int, variation: float = 0.03) -> Subject:
    """Subject ``index`` of the corpus with ``seed`` (deterministic)."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 1, int(index)]))
    body = sample_body(rng, variation=variation)
    prop = float(np.exp(rng.normal(0.0, 0.6) - 0.18))  # mean about 1; some are much worse
    tempo = float(np.clip(rng.normal(1.0, 0.08), 0.8, 1.2))
    sway = float(rng.uniform(0.7, 1.4))
    return Subject(index, body, prop, tempo, sway)


@dataclass
class SynthSample:
    """One generated recording with its labels.

    Attributes:
        clean: ``{"flag3d24": Sequence, "ntu25": Sequence}`` exact 3D joints.
        noisy: the same with sensor corruption (empty when ``config.corrupt`` is False).
        views_clean / views: per camera, exact and noisy 2D ``coco17`` sequences.
        repetitions: ``(n, 2)`` ``[start, end)`` frames.  quality: ``(n, 3)`` 0/1 labels.
        severity: ``(n, 3)`` fault severities (0 where no fault).  score: Eq. (1).
    """

    index: int
    seed: int
    activity: str
    subject: str
    clean: Dict[str, Sequence]
    noisy: Dict[str, Sequence]
    views_clean: List[Sequence]
    views: List[Sequence]
    repetitions: np.ndarray
    quality: np.ndarray
    severity: np.ndarray
    score: float
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """Number of repetitions."""
        return int(self.repetitions.shape[0])


def _placement(rng: np.random.Generator, t: np.ndarray, cfg: SynthConfig) -> tuple:
    """Initial facing and position plus slow drift: ``(yaw0, (T, 3, 3), (T, 3))``."""
    yaw0 = np.radians(rng.uniform(-cfg.yaw_deg, cfg.yaw_deg))
    ramp = t / max(float(t[-1]), 1.0)
    slow = rng.uniform(-1, 1, 3) * ramp[:, None] + smooth_noise(rng, t, [0.5] * 3, 0.01, 0.05)
    yaw = yaw0 + np.radians(cfg.drift_yaw_deg) * slow[:, 0]
    off = rng.uniform(-cfg.position_m, cfg.position_m, 2)
    trans = np.zeros((t.shape[0], 3))
    trans[:, 0] = off[0] + cfg.drift_m * slow[:, 1]
    trans[:, 2] = off[1] + cfg.drift_m * slow[:, 2]
    return yaw0, rot_y(yaw), trans


def generate_sequence(activity: str, seed: int = 0, config: Optional[SynthConfig] = None, *,
                      index: int = 0, subject: Optional[int] = None) -> SynthSample:
    """Generate one sample of ``activity`` (deterministic in all arguments).

    Args:
        activity: an implemented id (:func:`synth_activities`).
        seed: the corpus seed (subjects and the sample's randomness derive from it).
        config: settings (default :class:`SynthConfig`); ``config.seed`` is not used here.
        index: the sample's index in its corpus.
        subject: subject index (default: drawn from the sample's randomness).
    """
    cfg = config or SynthConfig()
    spec = get_activity(activity)
    if seed < 0 or index < 0 or (subject is not None and subject < 0):
        raise Flag3dError(f"seed, index and subject must be >= 0, got {seed}, {index}, {subject}")
    ss = np.random.SeedSequence([int(seed), 0, int(index), spec.label])
    rng_motion, rng_place, rng_sensor, rng_cam = (np.random.default_rng(s) for s in ss.spawn(4))
    if subject is None:
        subject = int(rng_motion.integers(cfg.n_subjects))
    subj = make_subject(seed, subject, cfg.body_variation)
    n_reps = int(rng_motion.integers(cfg.reps[0], cfg.reps[1] + 1))
    tr = (1.5 * cfg.transition[0], 1.5 * cfg.transition[1]) if spec.floor else cfg.transition
    tl = make_timeline(rng_motion, n_reps, spec.rep_seconds * subj.tempo, cfg.fps, cfg.speed,
                       cfg.tempo_jitter, cfg.pause_prob * spec.pause_scale, cfg.pause,
                       cfg.idle, tr)
    plan = plan_faults(rng_motion, n_reps, cfg.fault_rate, subj.propensity)
    ctx = MotionContext(tl, plan, subj.body, rng_motion, alternate=spec.alternate,
                        sway_scale=subj.sway)
    yaw0, rmat, trans = _placement(rng_place, ctx.t, cfg)
    motion = place(spec.program(ctx), rmat, trans)

    score = quality_score(plan.labels)
    severity = np.round(plan.severity, 4)
    subj_dict = subj.params()
    probs = tuple(round(float(p), 6) for p in plan.probs)
    extra = {"tempo_factor": round(tl.speed, 6),
             "initial_yaw_deg": round(float(np.degrees(yaw0)), 4)}

    def meta(**more: Any) -> Dict[str, Any]:
        """A fresh metadata dict (every Sequence owns its own)."""
        m: Dict[str, Any] = {
            "id": f"{spec.id}-synth-s{seed}-{index:06d}-{subj.id}", "activity": spec.id,
            "label": spec.label, "subject": subj.id, "repetitions": tl.reps.tolist(),
            "quality": plan.labels.tolist(), "score": score,
            "standards": list(spec.standards), "source": "synthetic", "synthetic": True,
            "seed": int(seed),
            "generator": {
                "name": "flag3d.synth", "version": GENERATOR_VERSION, "index": int(index),
                "subject_index": int(subject), "config": cfg.to_dict(changed_only=True),
                "subject": dict(subj_dict), **extra, "fault_probs": list(probs),
                "severity": severity.tolist(),
                "sides": ctx.rep_side.astype(int).tolist(),
            },
        }
        m.update(more)
        return m

    clean, noisy = sensor_3d(motion, subj.body, meta, cfg, rng_sensor)
    views_clean, views = render_views(motion, subj.body, meta, cfg, rng_cam, yaw0, spec.floor)
    return SynthSample(index=int(index), seed=int(seed), activity=spec.id, subject=subj.id,
                       clean=clean, noisy=noisy, views_clean=views_clean, views=views,
                       repetitions=tl.reps.copy(), quality=plan.labels.copy(),
                       severity=plan.severity.copy(), score=score)


def corpus_item(config: SynthConfig, index: int) -> Tuple[str, int]:
    """``(activity, subject index)`` of sample ``index`` of a corpus.

    Activities cycle fastest; the subject is shifted by one every full cycle, so even a
    corpus of one cycle covers every subject and each activity meets every subject.
    """
    acts = config.activity_list()
    a, k = index % len(acts), index // len(acts)
    return acts[a], (a + k) % config.n_subjects


def generate_corpus(config: Optional[SynthConfig] = None, start: int = 0,
                    stop: Optional[int] = None) -> Iterator[SynthSample]:
    """Samples ``start..stop`` (default all ``n_sequences``) of the corpus of ``config``."""
    cfg = config or SynthConfig()
    stop = cfg.n_sequences if stop is None else min(stop, cfg.n_sequences)
    for i in range(start, stop):
        act, subj = corpus_item(cfg, i)
        yield generate_sequence(act, cfg.seed, cfg, index=i, subject=subj)


def synth_activities() -> List[str]:
    """Ids of the activities the generator implements."""
    return activity_ids()


def subjects(config: SynthConfig) -> Seq[Subject]:
    """The subjects of the corpus of ``config``."""
    return [make_subject(config.seed, k, config.body_variation) for k in range(config.n_subjects)]
