"""Counting one recording with a trained model: count, repetition boundaries, density.

How a recording of any length is counted (:meth:`Counter.count`):

1. **Normalise** (:func:`flag3d.data.counting.normalize`): convert to ``flag3d24``, fill
   missing joints, centre, turn, scale.  Too few frames, no valid joints or no motion give
   ``count = 0`` with the reason; a layout without a conversion is an error.
2. **Working frame rate.**  The period is estimated from the autocorrelation of the joint
   motion and the sequence is resampled so one repetition spans about
   ``target_frames_per_rep`` (20) frames; a 128-frame window then holds about six
   repetitions, whatever the tempo, and fast repetitions never shrink to a frame or two.
3. **Windows.**  Overlapping 128-frame windows (step ``hop`` = 64) cover the whole
   recording; their densities are merged with weights that sum to one at every frame
   (:func:`flag3d.data.counting.stitch`), so a 5-minute recording with 100+ repetitions is
   counted in full.
4. **Second look.**  When the repetitions found are much longer or shorter than intended
   (the autocorrelation picked a double period, e.g. for left/right alternation), the
   recording is counted again at the rate the first pass implies.
5. **Count and boundaries**: the count is the rounded sum of the density; repetitions come
   from :func:`flag3d.tasks.counting_segments.segment_density`, reported in seconds and in
   frames of the input.

The default engine is numpy (:mod:`flag3d.models.counting_numpy`: no torch import, so the
command line answers in well under a second); ``engine="torch"`` runs the torch model.

Example:
    >>> from flag3d.synth import SynthConfig, generate_sequence
    >>> from flag3d.tasks.counting_infer import count_sequence
    >>> seq = generate_sequence("A049", seed=3, config=SynthConfig(reps=(6, 6))).clean["flag3d24"]
    >>> res = count_sequence(seq)  # the shipped model  # doctest: +SKIP
    >>> res.count, len(res.repetitions)  # doctest: +SKIP
    (6, 6)
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from flag3d.data.counting import (
    Prepared, estimate_period, normalize, normalize_array, resample_rate, stitch,
    window_features, window_starts, working_rate,
)
from flag3d.errors import FormatError, TaxonomyError
from flag3d.skeleton.sequence import Sequence
from flag3d.tasks.counting_segments import segment_density

PathLike = Union[str, "os.PathLike[str]"]
Engine = Callable[[np.ndarray, Optional[np.ndarray]], Tuple[np.ndarray, np.ndarray]]

#: Name of the shipped weights folder inside ``flag3d/weights``.
SHIPPED = "counting-hlgcn"
TEXTS_FILE = "texts.safetensors"


@dataclass
class Repetition:
    """One repetition: ``[start, end)`` in seconds and in frames of the input."""

    start_s: float
    end_s: float
    start_frame: int
    end_frame: int

    def to_dict(self) -> Dict[str, Any]:
        return {"start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3),
                "start_frame": self.start_frame, "end_frame": self.end_frame}


@dataclass
class CountResult:
    """What :meth:`Counter.count` found.

    Attributes:
        count: number of repetitions (0 for degenerate input; see ``reason``).
        repetitions: one :class:`Repetition` per repetition, in time order.
        density: per input frame, sums to ``count_raw``.
        reason: why nothing could be counted (``None`` when counting ran).
        count_raw: the unrounded sum of the density.
        fps: input frame rate; working_rate: frame rate the model saw; period_s: the
            estimated period (``None`` when none stood out).
        activity: the activity id whose text guided the model (``None``: no text).
    """

    count: int
    repetitions: List[Repetition]
    density: np.ndarray
    reason: Optional[str] = None
    count_raw: float = 0.0
    fps: float = 30.0
    working_rate: Optional[float] = None
    period_s: Optional[float] = None
    activity: Optional[str] = None
    passes: int = 0

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready summary (without the density)."""
        return {"count": self.count, "count_raw": round(self.count_raw, 4),
                "repetitions": [r.to_dict() for r in self.repetitions], "reason": self.reason,
                "fps": self.fps, "working_rate": self.working_rate,
                "period_s": None if self.period_s is None else round(self.period_s, 3),
                "activity": self.activity}


def shipped_weights() -> Path:
    """Folder of the shipped counting model."""
    return Path(__file__).resolve().parent.parent / "weights" / SHIPPED


def _load_texts(folder: Path) -> Dict[str, np.ndarray]:
    p = folder / TEXTS_FILE
    if not p.is_file():
        return {}
    from safetensors.numpy import load_file

    return {k: v.astype(np.float32) for k, v in load_file(str(p)).items()}


def _numpy_engine(folder: Path, settings: Dict[str, Any]) -> Engine:
    from safetensors.numpy import load_file

    from flag3d.models.counting_numpy import NumpyCountingModel

    try:
        state = load_file(str(folder / "model.safetensors"))
    except Exception as err:  # safetensors raises its own types
        raise FormatError(f"unreadable model.safetensors ({err})", path=folder) from None
    model = NumpyCountingModel(state, settings)
    return model


def _torch_engine(folder: Path, settings: Dict[str, Any]) -> Engine:
    import torch

    from flag3d.models.checkpoint import load_weights
    from flag3d.models.counting import CountingModel

    model = CountingModel(**settings)
    load_weights(model, folder)
    model.eval()

    def run(x: np.ndarray, text: Optional[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            t = None if text is None else torch.from_numpy(text)
            d, f = model.forward_features(torch.from_numpy(x), t)
        return d.numpy(), f.numpy()

    return run


class Counter:
    """A loaded counting model plus the inference settings of its config.

    Args:
        engine: ``(x (N, 6, T, V), text (N, D) or None) -> (density (N, T), feats (N, C, T))``.
        config: the checkpoint's ``config.json`` (model, text and inference keys).
        texts: activity id -> text embedding at the model's text level.
        source: where the weights came from (for messages).
    """

    def __init__(self, engine: Engine, config: Dict[str, Any],
                 texts: Optional[Dict[str, np.ndarray]] = None, source: str = "") -> None:
        from flag3d.models.counting_settings import MODEL_DEFAULTS

        self.engine = engine
        self.config = {**MODEL_DEFAULTS, **config}
        self.texts = dict(texts or {})
        self.source = source
        self.frames = int(self.config["frames"])
        self.hop = int(self.config.get("hop", self.frames // 2))
        self.target = float(self.config.get("target_frames_per_rep", 20.0))
        lo, hi = self.config.get("rate_bounds", [4.0, 60.0])
        self.rate_bounds = (float(lo), float(hi))
        self.refine = int(self.config.get("refine", 0))
        self.batch = 32

    @property
    def uses_text(self) -> bool:
        return self.config.get("text_mode", "none") != "none"

    # ------------------------------------------------------------------ text
    def text_for(self, activity: Optional[str], strict: bool = True
                 ) -> Tuple[Optional[np.ndarray], Optional[str]]:
        """``(embedding, activity id)`` for ``activity`` (zeros and ``None`` without one)."""
        dim = int(self.config["text_dim"])
        if not self.uses_text:  # still check and report the activity the user named
            if activity is None:
                return None, None
            from flag3d.taxonomy import get_activity

            try:
                return None, get_activity(activity).id
            except TaxonomyError:
                if strict:
                    raise
                return None, None
        if activity is None:
            return np.zeros(dim, np.float32), None
        if activity in self.texts:  # an exact id: no taxonomy lookup needed
            return np.asarray(self.texts[activity], np.float32), str(activity)
        from flag3d.taxonomy import get_activity

        try:
            act = get_activity(activity)
        except TaxonomyError:
            if strict:
                raise
            return np.zeros(dim, np.float32), None
        vec = self.texts.get(act.id)
        if vec is None:
            from flag3d.text import encode_activity, get_encoder

            enc = get_encoder(self.config.get("text_encoder", "minilm"))
            if int(enc.dim) != dim:
                raise FormatError(f"text encoder {enc.name} gives {enc.dim}-d vectors but the "
                                  f"model expects {dim}-d text embeddings", path=self.source)
            vec = encode_activity(act.id, int(self.config.get("text_level", 1)), enc)
            self.texts[act.id] = vec
        return np.asarray(vec, np.float32), act.id

    # --------------------------------------------------------------- counting
    def densities(self, joints: np.ndarray, fps: float, rate: float,
                  text: Optional[np.ndarray]) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """Stitched density (and features) at ``rate`` fps over the whole recording."""
        length = max(1, int(math.floor(len(joints) / fps * rate + 1e-9)))
        work = resample_rate(joints, fps, rate, 0.0, n=length)
        starts = window_starts(length, self.frames, self.hop)
        wins = []
        for s in starts:
            w = work[s:s + self.frames]
            if len(w) < self.frames:
                w = np.concatenate([w, np.repeat(w[-1:], self.frames - len(w), axis=0)])
            wins.append(window_features(w))
        x = np.stack(wins).astype(np.float32)
        dens, feats = [], []
        for i in range(0, len(x), self.batch):
            xb = x[i:i + self.batch]
            tb = None if text is None else np.repeat(text[None], len(xb), axis=0)
            d, f = self.engine(xb, tb)
            dens.extend(d)
            feats.extend(f)
        density = stitch(dens, starts, length)
        fstitched = None
        if self.refine > 0:
            fstitched = np.stack([stitch([f[c] for f in feats], starts, length)
                                  for c in range(feats[0].shape[0])])
        return density, fstitched

    def count(self, seq: Union[Sequence, np.ndarray], activity: Optional[str] = None,
              layout: Optional[str] = None, fps: Optional[float] = None) -> CountResult:
        """Count the repetitions of ``seq`` (a :class:`Sequence`, or an array with ``layout``
        and ``fps``; NaN marks missing joints in an array)."""
        if isinstance(seq, Sequence):
            prep = normalize(seq)
            meta_act = seq.meta.get("activity")
        else:
            if layout is None or fps is None:
                raise FormatError("counting a bare array needs layout= and fps=")
            prep = normalize_array(seq, layout, fps)
            meta_act = None
        if activity is not None:
            text, act_id = self.text_for(activity, strict=True)
        else:
            text, act_id = self.text_for(meta_act, strict=False)
        return self.count_prepared(prep, text, act_id)

    def count_prepared(self, prep: Prepared, text: Optional[np.ndarray] = None,
                       activity: Optional[str] = None) -> CountResult:
        """Count an already normalised sequence (see :meth:`count`)."""
        n_in = prep.num_frames
        if prep.joints is None:
            return CountResult(0, [], np.zeros(n_in, np.float32), reason=prep.reason,
                               fps=prep.fps, activity=activity)
        joints, fps = prep.joints, prep.fps
        duration = len(joints) / fps
        period = estimate_period(joints, fps)
        lo, hi = self.rate_bounds
        rate = working_rate(period, duration, self.target, lo, hi, self.frames)
        density, feats = self.densities(joints, fps, rate, text)
        segs = segment_density(density, feats, refine=self.refine)
        passes = 1
        spacing = _spacing(segs)
        if spacing is not None and not 0.6 * self.target <= spacing <= 1.6 * self.target:
            rate2 = min(max(rate * self.target / spacing, lo), hi)
            if abs(rate2 - rate) / rate > 0.2:
                rate = rate2
                density, feats = self.densities(joints, fps, rate, text)
                segs = segment_density(density, feats, refine=self.refine)
                passes = 2
        total = float(density.sum())
        frames = []
        for s, e in segs:
            f0 = int(min(max(round(s / rate * fps), 0), n_in - 1))
            f1 = int(min(max(round(e / rate * fps), f0 + 1), n_in))
            frames.append((f0, f1))
        frames = trim_still_edges(frames, joints, fps)
        reps = [Repetition(f0 / fps, f1 / fps, f0, f1) for f0, f1 in frames]
        return CountResult(len(reps), reps, _to_input_frames(density, rate, fps, n_in),
                           reason=None, count_raw=total, fps=fps, working_rate=rate,
                           period_s=period, activity=activity, passes=passes)


def trim_still_edges(frames: List[Tuple[int, int]], joints: np.ndarray, fps: float,
                     still: float = 0.25, keep: float = 0.5) -> List[Tuple[int, int]]:
    """Trim standing-still frames off the free edges of each repetition.

    The density bumps are smooth, so ``mu +- 3 sigma`` can reach into a rest before the first
    repetition or after the last one.  A *free* edge (the recording's ends or a gap to the
    neighbouring repetition; never a boundary shared with one) moves inwards while the mean
    joint speed stays below ``still`` x the repetition's 90th-percentile speed, keeping at
    least ``keep`` of the repetition.  Frames are ``[start, end)`` of ``joints``.

    Example:
        >>> import numpy as np
        >>> t = np.arange(100) / 10.0
        >>> x = np.where((t >= 3) & (t < 7), np.sin(np.pi * (t - 3) / 4), 0.0)
        >>> joints = np.zeros((100, 2, 3)); joints[:, 1, 1] = x
        >>> trim_still_edges([(0, 100)], joints, 10.0, keep=0.3)  # moves from 3 s to 7 s
        [(29, 71)]
    """
    n = len(joints)
    if not frames or n < 3:
        return frames
    speed = np.linalg.norm(np.diff(joints, axis=0), axis=-1).mean(axis=-1) * fps
    speed = np.concatenate([speed, speed[-1:]])
    k = max(int(round(0.1 * fps)), 1)
    speed = np.convolve(np.pad(speed, k, mode="edge"), np.ones(2 * k + 1) / (2 * k + 1), mode="valid")
    out = []
    for i, (a, b) in enumerate(frames):
        a0, b0 = a, b
        seg = speed[a:b]
        if len(seg) < 4:
            out.append((a, b))
            continue
        thr = still * float(np.percentile(seg, 90))
        min_len = max(int(keep * (b - a)), 2)
        free_start = i == 0 or frames[i - 1][1] < a
        free_end = i == len(frames) - 1 or frames[i + 1][0] > b
        if free_start:
            while b - a > min_len and speed[a] < thr:
                a += 1
        if free_end:
            while b - a > min_len and speed[b - 1] < thr:
                b -= 1
        out.append((a, b) if b > a else (a0, b0))
    return out


def _spacing(segs: List[Tuple[float, float]]) -> Optional[float]:
    """Median distance between repetition centres (frames), ``None`` below 2 repetitions."""
    if len(segs) < 2:
        return None
    centres = np.array([(s + e) / 2.0 for s, e in segs])
    return float(np.median(np.diff(centres)))


def _to_input_frames(density: np.ndarray, rate: float, fps: float, n: int) -> np.ndarray:
    """Re-bin a working-rate density onto the input frames, keeping its mass."""
    cum = np.concatenate([[0.0], np.cumsum(density, dtype=np.float64)])
    t_work = np.arange(len(cum)) / rate
    t_in = np.arange(n + 1) / fps
    return np.diff(np.interp(t_in, t_work, cum)).astype(np.float32)


@lru_cache(maxsize=8)
def _cached(folder: str, engine: str, stamp: int) -> Counter:
    root = Path(folder)
    if not root.is_dir():
        raise FormatError("checkpoint folder not found", path=root)
    for name in ("model.safetensors", "config.json"):  # no torch import here
        if not (root / name).is_file():
            raise FormatError(f"not a flag3d checkpoint: {name} is missing", path=root)
    try:
        config = json.loads((root / "config.json").read_text(encoding="utf-8"))
    except ValueError as err:
        raise FormatError(f"unreadable config.json ({err})", path=root) from None
    from flag3d.models.counting_settings import model_settings

    settings = model_settings(config)
    if engine == "numpy":
        run = _numpy_engine(root, settings)
    elif engine == "torch":
        run = _torch_engine(root, settings)
    else:
        raise ValueError(f"engine must be 'numpy' or 'torch', got {engine!r}")
    return Counter(run, config, _load_texts(root), source=str(root))


def load_counter(checkpoint: Optional[PathLike] = None, engine: str = "numpy") -> Counter:
    """A :class:`Counter` for a checkpoint folder (default: the shipped model), cached."""
    folder = Path(checkpoint) if checkpoint is not None else shipped_weights()
    if checkpoint is None and not (folder / "model.safetensors").is_file():
        raise FormatError("the shipped counting model is not installed; pass --checkpoint",
                          path=folder)
    weights = folder / "model.safetensors"
    stamp = weights.stat().st_mtime_ns if weights.is_file() else 0
    return _cached(str(folder.resolve()), engine, stamp)


def count_sequence(seq: Union[Sequence, np.ndarray], checkpoint: Optional[PathLike] = None,
                   activity: Optional[str] = None, engine: str = "numpy",
                   **kw: Any) -> CountResult:
    """Count the repetitions of one recording (see the module docstring).

    Args:
        seq: a 3D :class:`Sequence` in any layout with a conversion to ``flag3d24``, or a
            ``(T, V, 3)`` array with ``layout=`` and ``fps=`` (NaN = missing joint).
        checkpoint: a checkpoint folder; default the shipped model.
        activity: the activity (id or name) whose text guides the model; default the
            sequence's ``meta["activity"]`` when the taxonomy knows it, else no text.
        engine: ``"numpy"`` (default, no torch import) or ``"torch"``.
    """
    if isinstance(seq, Sequence):
        prep = normalize(seq)
        if prep.joints is None:  # degenerate input: count 0 with the reason, no model needed
            return CountResult(0, [], np.zeros(prep.num_frames, np.float32), reason=prep.reason,
                               fps=prep.fps, activity=activity)
    return load_counter(checkpoint, engine).count(seq, activity=activity, **kw)
