"""Quality assessment of one recording: segmentation, per-standard probabilities, Eq. 1.

:func:`assess` is the inference API (FLAG3D++ Eq. 12-14 and Eq. 1):

1. **Repetitions** - given by the caller (ground truth, frames ``[start, end)``), or found
   by :func:`segment`: the counting model (:func:`flag3d.tasks.counting_infer.count_sequence`,
   the shipped model or ``counter_checkpoint``) when it is installed, else the
   training-free joint-angle counter (:class:`flag3d.baselines.angles.AngleCounter`).
   :attr:`QualityResult.segmentation` says which.
2. **Key scores** - each repetition is normalised (:mod:`flag3d.tasks.quality_clips`) and
   scored by G against the activity's three standards: ``probabilities[i, j]`` is the
   probability that repetition ``i`` meets standard ``j``; ``keys = probabilities >=
   threshold``.  The threshold is the checkpoint's: its per-standard ``thresholds`` (chosen
   on the validation people, :mod:`flag3d.tasks.quality_threshold`) when its config has
   them, else its ``threshold`` (default 0.5).
3. **Score** - Eq. 1 on the 0/1 keys (``score``) and on the probabilities (``score_soft``).

A recording without any repetition (too short, no motion, nothing counted) is **not
assessable**: ``score`` is ``None``, ``assessable`` is False and ``reason`` says why - never
a number.

Checkpoints: a folder from ``flag3d train quality`` (weights, config, standard-text
embeddings), or by default the shipped model for the activity's source
(``weights/quality-uiprmd`` for UI-PRMD movements m01-m10, ``weights/quality-synthetic``
for FLAG3D activities).

Example:
    >>> import numpy as np
    >>> from flag3d.skeleton import Sequence
    >>> from flag3d.tasks.quality_infer import assess
    >>> still = Sequence(np.zeros((20, 24, 3)), "flag3d24")
    >>> r = assess(still, repetitions=[], activity="A049", checkpoint=None)  # doctest: +SKIP
    >>> r.score, r.assessable, r.reason  # doctest: +SKIP
    (None, False, 'no repetition to assess (0 repetitions given)')
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence as Seq, Tuple, Union

import numpy as np

from flag3d.errors import FormatError, SequenceError, TaxonomyError
from flag3d.skeleton.sequence import Sequence

PathLike = Union[str, "os.PathLike[str]"]
TEXTS_FILE = "texts.safetensors"
SHIPPED = {"uiprmd": "quality-uiprmd", "flag3d": "quality-synthetic"}


@dataclass
class QualityResult:
    """What :func:`assess` found for one recording.

    Attributes:
        activity: taxonomy id; standards: the three standard keys (column order).
        repetitions: ``(n, 2)`` ``[start, end)`` input frames of the assessed repetitions.
        probabilities: ``(n, 3)`` probability that repetition i meets standard j.
        keys: ``(n, 3)`` 0/1 key scores (``probabilities >= threshold``).
        threshold: the decision threshold, one for all standards or a list of three.
        score: Eq. 1 on ``keys`` (``None`` when not assessable); score_soft: on the
            probabilities.
        assessable: False when there is no repetition; reason: why.
        segmentation: where the repetitions came from (``"given"``, ``"counting model
            (<folder>)"``, ``"training-free joint-angle counter"``).
        checkpoint: the scorer's folder; fps: input frame rate.
    """

    activity: str
    standards: Tuple[str, ...]
    repetitions: np.ndarray
    probabilities: np.ndarray
    keys: np.ndarray
    score: Optional[float]
    score_soft: Optional[float]
    assessable: bool
    reason: Optional[str]
    segmentation: str
    checkpoint: str
    fps: float = 30.0
    threshold: Union[float, List[float]] = 0.5
    text_points: Optional[np.ndarray] = field(default=None, repr=False)

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready summary."""
        return {
            "activity": self.activity, "standards": list(self.standards),
            "assessable": self.assessable, "reason": self.reason,
            "score": None if self.score is None else round(self.score, 4),
            "score_soft": None if self.score_soft is None else round(self.score_soft, 4),
            "repetitions": [
                {"index": i, "start_frame": int(a), "end_frame": int(b),
                 "start_s": round(a / self.fps, 3), "end_s": round(b / self.fps, 3),
                 "probabilities": [round(float(p), 4) for p in self.probabilities[i]],
                 "keys": [int(k) for k in self.keys[i]]}
                for i, (a, b) in enumerate(self.repetitions)],
            "segmentation": self.segmentation, "checkpoint": self.checkpoint,
            "threshold": self.threshold,
        }


def checkpoint_threshold(config: Dict[str, Any]) -> Union[float, List[float]]:
    """A checkpoint config's decision threshold: its ``thresholds`` (three floats) when set,
    else its ``threshold`` (default 0.5)."""
    per = config.get("thresholds")
    if per is not None:
        from flag3d.metrics.quality import standard_thresholds

        return [float(v) for v in standard_thresholds(per)]
    return float(config.get("threshold", 0.5))


def shipped_weights(source: str = "flag3d") -> Path:
    """Folder of the shipped scorer for ``source`` (``uiprmd`` or ``flag3d``)."""
    return Path(__file__).resolve().parent.parent / "weights" / SHIPPED[source]


class Scorer:
    """A loaded G checkpoint: ``probabilities(clips)`` and the standard-text table.

    ``engine="numpy"`` (default) runs G with :mod:`flag3d.models.quality_numpy` and never
    imports torch (``flag3d analyze`` stays fast to start); ``engine="torch"`` runs the torch
    model (``self.model``).  Both give the same probabilities to 1e-4.
    """

    def __init__(self, folder: PathLike, engine: str = "numpy") -> None:
        if engine not in ("numpy", "torch"):
            raise ValueError(f"engine must be 'numpy' or 'torch', got {engine!r}")
        root = Path(folder)
        self.folder, self.engine = root, engine
        self.model: Any = None
        self._np: Any = None
        if engine == "torch":
            from flag3d.models.checkpoint import load_checkpoint
            from flag3d.models.quality import scorer_from_config

            state, config, info = load_checkpoint(root)
            self.model = scorer_from_config(config)
            try:
                self.model.load_state_dict(state)
            except RuntimeError as err:
                raise FormatError(f"weights do not fit the quality scorer: "
                                  f"{str(err).splitlines()[0][:200]}", path=root) from None
            self.model.eval()
            self.layout = self.model.layout
        else:
            from flag3d.models.checkpoint import load_checkpoint_arrays
            from flag3d.models.quality_numpy import NumpyQualityScorer

            state, config, info = load_checkpoint_arrays(root)
            try:
                self._np = NumpyQualityScorer(state, config)
                self._np.check()
            except (KeyError, ValueError, FormatError) as err:
                raise FormatError(f"weights do not fit the quality scorer: "
                                  f"{str(err).splitlines()[0][:200]}", path=root) from None
            self.layout = self._np.layout
        self.config, self.info = config, info
        self.frames = int(config.get("frames", 48))
        self.threshold = checkpoint_threshold(config)
        self.canonical_side: Union[bool, str] = config.get("canonical_side", False)
        self.texts: Dict[str, np.ndarray] = {}
        p = root / TEXTS_FILE
        if p.is_file():
            from safetensors.numpy import load_file

            self.texts = {k: v.astype(np.float32) for k, v in load_file(str(p)).items()}

    @property
    def thresholds(self) -> np.ndarray:
        """``(3,)`` per-standard decision thresholds."""
        from flag3d.metrics.quality import standard_thresholds

        return standard_thresholds(self.threshold)

    def text_for(self, activity: str) -> np.ndarray:
        """``(3, D)`` embeddings of the activity's standards (table, else the text encoder)."""
        from flag3d.tasks.quality_data import standard_texts, text_key

        keys = [text_key(activity, j) for j in range(3)]
        if not all(k in self.texts for k in keys):
            enc = str(self.config.get("text_encoder", "minilm"))
            self.texts.update(standard_texts([activity], enc))
        return np.stack([self.texts[k] for k in keys])

    def _batches(self, clips: Seq[Any], batch: int
                 ) -> Iterator[Tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
        """``(x, text, duration, n)`` arrays for consecutive batches of ``clips``."""
        from flag3d.tasks.quality_clips import clip_features

        for s in range(0, len(clips), batch):
            part = clips[s:s + batch]
            x = np.stack([clip_features(c.pos, self.layout) for c in part]).astype(np.float32)
            text = np.stack([self.text_for(c.activity) for c in part]).astype(np.float32)
            dur = np.asarray([c.duration for c in part], dtype=np.float32)
            yield x, text, dur, len(part)

    def probabilities(self, clips: Seq[Any], batch: int = 64) -> np.ndarray:
        """``(n, 3)`` probabilities for :class:`~flag3d.tasks.quality_clips.Clip` s."""
        out = []
        if self.engine == "numpy":
            from flag3d.models.numpy_ops import sigmoid

            out = [sigmoid(self._np.score_batch(x, text, dur))
                   for x, text, dur, _ in self._batches(clips, batch)]
        else:
            import torch

            from flag3d.models.quality import score_batch

            with torch.no_grad():
                out = [torch.sigmoid(score_batch(self.model, torch.from_numpy(x),
                                                 torch.from_numpy(text),
                                                 torch.from_numpy(dur))).numpy()
                       for x, text, dur, _ in self._batches(clips, batch)]
        return np.concatenate(out) if out else np.zeros((0, 3), dtype=np.float32)

    def features(self, clips: Seq[Any], batch: int = 64) -> np.ndarray:
        """``(n, 3 * width)``: the head's input for each clip and standard, concatenated."""
        out = []
        for x, text, dur, n in self._batches(clips, batch):
            args = (np.repeat(x, 3, axis=0), text.reshape(3 * n, -1), np.repeat(dur, 3))
            if self.engine == "numpy":
                f = self._np.features(*args)
            else:
                import torch

                with torch.no_grad():
                    f = self.model.features(*(torch.from_numpy(a) for a in args)).numpy()
            out.append(f.reshape(n, -1))
        return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)

    def text_points(self, activity: str) -> np.ndarray:
        """``(3, V)`` text points of each standard, averaged over the encoder's blocks."""
        text = self.text_for(activity).astype(np.float32)
        if self.engine == "numpy":
            return self._np.stacked_text_points(text).mean(axis=0)
        import torch

        with torch.no_grad():
            pts = self.model.text_points(torch.from_numpy(text))
        return pts.mean(dim=0).numpy()


@lru_cache(maxsize=8)
def _cached_scorer(folder: str, stamp: int, engine: str) -> Scorer:
    return Scorer(folder, engine)


def load_scorer(checkpoint: Optional[PathLike] = None, activity: Optional[str] = None,
                engine: str = "numpy") -> Scorer:
    """A (cached) :class:`Scorer` for a checkpoint, or the shipped one for the activity."""
    if checkpoint is None:
        source = "flag3d"
        if activity is not None:
            from flag3d.taxonomy import get_activity

            source = get_activity(activity).source
        folder = shipped_weights(source)
        if not (folder / "model.safetensors").is_file():
            raise FormatError("the shipped quality model is not installed; pass --checkpoint",
                              path=folder)
    else:
        folder = Path(checkpoint)
    w = folder / "model.safetensors"
    return _cached_scorer(str(folder.resolve()), w.stat().st_mtime_ns if w.is_file() else 0,
                          engine)


def _angle_counter(seq: Sequence) -> Tuple[np.ndarray, str, Optional[str]]:
    from flag3d.baselines.angles import AngleCounter

    pred = AngleCounter().predict(seq)
    reps = np.asarray(pred.repetitions or [], dtype=int).reshape(-1, 2)
    return reps, "training-free joint-angle counter", pred.reason


def segment(seq: Sequence, activity: Optional[str] = None,
            counter_checkpoint: Optional[PathLike] = None,
            method: str = "auto") -> Tuple[np.ndarray, str, Optional[str]]:
    """Repetitions ``(n, 2)`` of a recording, which method found them, and a reason when none.

    ``method="auto"`` uses the counting model when one is installed (or
    ``counter_checkpoint`` is given), else the training-free joint-angle counter;
    ``"model"`` insists on the counting model, ``"angles"`` on the joint-angle counter.
    """
    if method not in ("auto", "model", "angles"):
        raise ValueError(f"method must be auto, model or angles, got {method!r}")
    if method == "angles":
        return _angle_counter(seq)
    try:
        from flag3d.tasks.counting_infer import count_sequence, load_counter

        load_counter(counter_checkpoint)
    except (ImportError, FormatError):
        if counter_checkpoint is not None or method == "model":
            raise
        return _angle_counter(seq)
    res = count_sequence(seq, checkpoint=counter_checkpoint, activity=activity)
    reps = np.asarray([[r.start_frame, r.end_frame] for r in res.repetitions], dtype=int).reshape(-1, 2)
    where = counter_checkpoint if counter_checkpoint is not None else "shipped"
    return reps, f"counting model ({where})", res.reason


def _prepare(seq: Sequence, layout: str) -> Sequence:
    from flag3d.skeleton.convert import convert
    from flag3d.skeleton.transforms import fill_missing

    if seq.dims != 3:
        raise SequenceError("quality assessment needs 3D joints (C = 3)", path=seq.path)
    seq = seq.person(0) if seq.has_persons else seq
    if seq.layout != layout:
        seq = convert(seq, layout)
    if seq.confidence is not None and (seq.confidence <= 0).any():
        joints, conf = fill_missing(seq.joints, seq.confidence)
        seq = seq.replace(joints=joints, confidence=conf)
    return seq


def assess(seq: Sequence, repetitions: Optional[Seq[Seq[int]]] = None,
           activity: Optional[str] = None, checkpoint: Optional[PathLike] = None,
           counter_checkpoint: Optional[PathLike] = None,
           threshold: Union[float, Seq[float], None] = None) -> QualityResult:
    """Assess every repetition of a recording against its activity's three standards.

    Args:
        seq: a 3D :class:`Sequence` (any layout with a conversion to the scorer's layout).
        repetitions: ``[start, end)`` frames of each repetition; ``None``: segment with
            :func:`segment`; an empty list: nothing to assess.
        activity: taxonomy id or name (default ``seq.meta["activity"]``).
        checkpoint: scorer folder (default: the shipped one for the activity).
        counter_checkpoint: counting checkpoint for the segmentation.
        threshold: probability at which a standard counts as met, one or one per standard
            (default: the checkpoint's, see :func:`checkpoint_threshold`).
    """
    from flag3d.metrics.quality import eq1_score, standard_thresholds
    from flag3d.taxonomy import get_activity
    from flag3d.tasks.quality_clips import make_clip

    name = activity if activity is not None else seq.meta.get("activity")
    if not name:
        raise TaxonomyError("assess needs the activity (pass activity=...)", path=seq.path)
    act = get_activity(str(name))
    scorer = load_scorer(checkpoint, act.id)
    thr: Union[float, List[float]] = scorer.threshold if threshold is None else (
        float(threshold) if np.ndim(threshold) == 0
        else [float(v) for v in standard_thresholds(threshold)])
    prepared = _prepare(seq, scorer.layout)
    reason: Optional[str] = None
    if repetitions is None:
        reps, how, reason = segment(seq, act.id, counter_checkpoint)
    else:
        reps = np.asarray(list(repetitions), dtype=int).reshape(-1, 2)
        how = "given"
    n = prepared.num_frames
    reps = np.clip(reps, 0, n)
    keep = (reps[:, 1] - reps[:, 0]) >= 2 if len(reps) else np.zeros(0, bool)
    dropped = int(len(reps) - keep.sum())
    reps = reps[keep]
    empty = np.zeros((0, 3), dtype=np.float32)
    base = dict(activity=act.id, standards=tuple(s.key for s in act.standards),
                segmentation=how, checkpoint=str(scorer.folder), fps=seq.fps, threshold=thr)
    if len(reps) == 0:
        why = reason or (f"no repetition to assess ({len(reps) + dropped} repetitions given)"
                         if how == "given" else "no repetition was found")
        if dropped:
            why += f"; {dropped} shorter than 2 frames dropped"
        return QualityResult(repetitions=np.zeros((0, 2), int), probabilities=empty,
                             keys=empty.astype(int), score=None, score_soft=None,
                             assessable=False, reason=f"not assessable: {why}", **base)
    clips = [make_clip(prepared.joints[a:b], prepared.layout, scorer.frames, prepared.fps,
                       id=f"rep{i}", activity=act.id, subject="",
                       canonical_side=scorer.canonical_side) for i, (a, b) in enumerate(reps)]
    prob = scorer.probabilities(clips)
    keys = (prob >= standard_thresholds(thr)).astype(int)
    return QualityResult(repetitions=reps, probabilities=prob, keys=keys,
                         score=eq1_score(keys), score_soft=eq1_score(prob), assessable=True,
                         reason=None, text_points=scorer.text_points(act.id), **base)
