"""Data for quality assessment: UI-PRMD repetitions and m01 scores, the synthetic corpus, texts.

**UI-PRMD** (:func:`uiprmd_clips`): the 2000 segmented Kinect repetitions (10 movements x
10 subjects x 10 episodes x correct/incorrect), one :class:`~flag3d.tasks.quality_clips.Clip`
each.  A correct repetition meets all three standards of its movement (keys ``[1, 1, 1]``);
an incorrect one violates at least one, which one is not labelled (keys unknown,
``correct = 0``).  Split by subject: s01-s07 train (a validation subject inside), s08-s10
test.  Clips are cached under ``flag3d.paths.cache_dir()/quality`` (reading the 4000 text
files takes about a minute).

**m01 scores** (:func:`m01_scores`): ``uiprmd-scores/Labels_Correct.csv`` and
``Labels_Incorrect.csv`` hold 90 scores each for the 100 deep squats (m01) per kind.  They
were produced by the scores' authors from the *Vicon* recordings, which dropped ten
episodes "due to missing values during the data recording" and "a few other inconsistent
episodes": the kept 1-based indices of the subject-major, episode-minor list are
``2:10 12:20 22:30 32:40 42:50 51:60 62:63 65:70 72:80 82:84 86:90 91:100`` (their
``Prepare_Data_for_NN.m``), the same for both kinds.  So the unaccounted-for episodes are
e01 of s01, s02, s03, s04, s05, s07, s08, s09 plus s07 e04 and s09 e05
(:data:`M01_UNSCORED`); s06 and s10 keep all ten.  Checked on our data before use:

* segmenting the 90 correct scores into 10 constant blocks (lengths 7-11) by least squares
  finds the boundaries 7, 18, 27, 38, 48, 55, 63, 72, 80; the documented order predicts
  9, 18, 27, 36, 45, 55, 63, 72, 80 (six identical, including the irregular 55, 63, 72, 80
  that only this exclusion produces); a plain 9 x 10 order predicts 10, 20, ..., 80
  (squared error 0.00535 against 0.00284 for the documented order);
* within subjects, the scores follow the Kinect kinematics under this order: correct
  repetitions vs peak knee flexion rho = -0.39 (only 1.9 % of 2000 random order-keeping
  90-of-100 alignments reach it), incorrect repetitions vs peak trunk inclination rho =
  -0.54 (0.85 % of random alignments reach it).

The held-out subjects s08-s10 have 27 scored correct and 27 scored incorrect repetitions.

**Synthetic** (:func:`synthetic_recordings`, :func:`synthetic_clips`): recordings of
:mod:`flag3d.synth` with exact per-repetition, per-standard labels; split by subject
(FLAG3D++ protocol, people 8:2) with :func:`synthetic_split`.

**Texts** (:func:`standard_texts`): the embedding of every standard sentence, keyed
``"<activity>:<j>"``.

Example:
    >>> from flag3d.tasks.quality_data import M01_UNSCORED, synthetic_recordings, synthetic_clips
    >>> len(M01_UNSCORED), M01_UNSCORED[:2]
    (10, ('s01_e01', 's02_e01'))
    >>> recs = synthetic_recordings(n=2, seed=0, reps=(2, 3))
    >>> clips = synthetic_clips(recs, frames=32)
    >>> len(clips) == sum(len(r.repetitions) for r in recs), clips[0].pos.shape
    (True, (32, 24, 3))
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence as Seq, Tuple, Union

import numpy as np

from flag3d.errors import FormatError, StoreError
from flag3d.skeleton.sequence import Sequence
from flag3d.tasks.quality_clips import Clip, make_clip, side_rule

PathLike = Union[str, "os.PathLike[str]"]

UIPRMD_TRAIN = tuple(f"s{i:02d}" for i in range(1, 8))
UIPRMD_TEST = ("s08", "s09", "s10")
UIPRMD_MOVEMENTS = tuple(f"m{i:02d}" for i in range(1, 11))

#: 1-based kept indices of the m01 score files (subject-major, episode-minor).
_M01_KEPT = ((2, 10), (12, 20), (22, 30), (32, 40), (42, 50), (51, 60), (62, 63), (65, 70),
             (72, 80), (82, 84), (86, 90), (91, 100))
#: The ten m01 episodes without a score (``"sSS_eEE"``).
M01_UNSCORED: Tuple[str, ...] = tuple(
    f"s{(i - 1) // 10 + 1:02d}_e{(i - 1) % 10 + 1:02d}" for i in range(1, 101)
    if not any(a <= i <= b for a, b in _M01_KEPT))
CACHE_VERSION = 1


def m01_score_order() -> List[str]:
    """The ``"sSS_eEE"`` of score row 0..89 (both files)."""
    return [f"s{(i - 1) // 10 + 1:02d}_e{(i - 1) % 10 + 1:02d}" for a, b in _M01_KEPT
            for i in range(a, b + 1)]


def _read_scores(path: Path) -> np.ndarray:
    if not path.is_file():
        raise FormatError("score file not found", path=path)
    try:
        vals = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=1)
    except ValueError as err:
        raise FormatError(f"unreadable score CSV ({str(err).splitlines()[0]})", path=path) from None
    if vals.shape != (90,):
        raise FormatError(f"expected 90 scores (one per line), found {vals.size}", path=path)
    if not np.isfinite(vals).all() or (vals < 0).any() or (vals > 1).any():
        raise FormatError("scores must be finite numbers in [0, 1]", path=path)
    return vals


def m01_scores(folder: PathLike) -> Dict[str, float]:
    """Map UI-PRMD repetition ids (``"m01_s02_e03"``, ``"m01_s02_e03_inc"``) to their score.

    Args:
        folder: the ``uiprmd-scores`` folder with ``Labels_Correct.csv`` and
            ``Labels_Incorrect.csv``.
    """
    root = Path(folder)
    order = m01_score_order()
    out: Dict[str, float] = {}
    for name, suffix in (("Labels_Correct.csv", ""), ("Labels_Incorrect.csv", "_inc")):
        for key, v in zip(order, _read_scores(root / name)):
            out[f"m01_{key}{suffix}"] = float(v)
    return out


# ---------------------------------------------------------------------------- UI-PRMD
def _cache_file(folder: Path, frames: int, movements: Seq[str],
                canonical_side: Union[bool, str]) -> Path:
    from flag3d.paths import cache_dir

    rule = side_rule(canonical_side)
    side = canonical_side if rule in (None, "motion") else rule  # old keys for False/True
    stamp = f"{folder.resolve()}|{frames}|{','.join(movements)}|{side}|{CACHE_VERSION}"
    key = hashlib.sha256(stamp.encode()).hexdigest()[:12]
    return cache_dir() / "quality" / f"uiprmd-{key}.npz"


def _save_clips(path: Path, clips: List[Clip]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = [{"id": c.id, "activity": c.activity, "subject": c.subject, "duration": c.duration,
             "keys": c.keys.tolist(), "correct": c.correct, "sequence": c.sequence,
             "rep": c.rep} for c in clips]
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp.npz")
    np.savez(tmp, pos=np.stack([c.pos for c in clips]), meta=np.array(json.dumps(meta)))
    os.replace(tmp, path)


def _load_clips(path: Path) -> List[Clip]:
    with np.load(path, allow_pickle=False) as z:
        pos = z["pos"]
        meta = json.loads(str(z["meta"]))
    if len(meta) != len(pos):
        raise StoreError("clip cache is inconsistent; delete it", path=path)
    return [Clip(id=m["id"], activity=m["activity"], subject=m["subject"], pos=p,
                 duration=float(m["duration"]), keys=np.asarray(m["keys"], dtype=np.int64),
                 correct=int(m["correct"]), sequence=m["sequence"], rep=int(m["rep"]))
            for m, p in zip(meta, pos)]


def uiprmd_clips(folder: PathLike, frames: int = 48, movements: Optional[Iterable[str]] = None,
                 scores: Optional[PathLike] = None, cache: bool = True,
                 canonical_side: Union[bool, str] = False) -> List[Clip]:
    """Every UI-PRMD repetition of ``movements`` (default all) as a clip, in reader order.

    Args:
        folder: the ``uiprmd`` dataset folder.
        frames: clip length after resampling.
        scores: the ``uiprmd-scores`` folder; when given, m01 clips get their score.
        cache: reuse / write the clip cache.
        canonical_side: mirror clips so the more active side is the right one (``True`` /
            ``"motion"`` or ``"angles"``, see :func:`flag3d.tasks.quality_clips.normalize_clip`).
    """
    root = Path(folder)
    if not root.is_dir():
        raise FormatError("UI-PRMD folder not found", path=root)
    movs = sorted({m.lower() for m in movements}) if movements else list(UIPRMD_MOVEMENTS)
    path = _cache_file(root, frames, movs, canonical_side)
    clips: Optional[List[Clip]] = None
    if cache and path.is_file():
        try:
            clips = _load_clips(path)
        except (OSError, ValueError, KeyError, StoreError):
            clips = None
    if clips is None:
        from flag3d.io import iter_sequences

        clips = []
        for seq in iter_sequences(root, "uiprmd", movements=movs):
            m = seq.meta
            clips.append(make_clip(seq.joints, seq.layout, frames, seq.fps, id=m["id"],
                                   activity=m["activity"], subject=m["subject"],
                                   correct=1 if m["correct"] else 0,
                                   canonical_side=canonical_side))
        if not clips:
            raise FormatError(f"no UI-PRMD repetitions of {', '.join(movs)}", path=root)
        if cache:
            _save_clips(path, clips)
    if scores is not None:
        table = m01_scores(scores)
        for c in clips:
            c.score = table.get(c.id, float("nan"))
    return clips


# -------------------------------------------------------------------------- synthetic
@dataclass
class Recording:
    """A labelled multi-repetition recording (synthetic, or any sequence with labels)."""

    id: str
    activity: str
    subject: str
    seq: Sequence
    repetitions: np.ndarray  # (n, 2) [start, end) frames
    keys: np.ndarray  # (n, 3)
    score: float


def synthetic_recordings(n: int = 500, seed: int = 0, reps: Tuple[int, int] = (4, 12),
                         noisy: bool = True, start: int = 0, fault_rate: float = 0.13,
                         activities: Optional[Seq[str]] = None) -> List[Recording]:
    """Recordings ``start..n`` of the synthetic corpus (3D ``flag3d24``; sensor noise when ``noisy``)."""
    from flag3d.synth import SynthConfig, generate_corpus

    cfg = SynthConfig(n_sequences=n, seed=seed, reps=tuple(reps), views=(), corrupt=noisy,
                      fault_rate=fault_rate,
                      activities=tuple(activities) if activities else None)
    out = []
    for s in generate_corpus(cfg, start=start):
        seq = (s.noisy if noisy else s.clean)["flag3d24"]
        out.append(Recording(id=seq.meta["id"], activity=s.activity, subject=s.subject,
                             seq=seq, repetitions=s.repetitions.copy(),
                             keys=s.quality.copy(), score=float(s.score)))
    return out


def recording_clips(rec: Recording, frames: int, reps: Optional[np.ndarray] = None,
                    keys: Optional[np.ndarray] = None,
                    canonical_side: Union[bool, str] = False) -> List[Clip]:
    """Clips of one recording's repetitions (default its ground-truth ones with their labels)."""
    from flag3d.skeleton.transforms import fill_missing

    seq = rec.seq
    joints = seq.joints
    if seq.confidence is not None and (seq.confidence <= 0).any():
        joints, _ = fill_missing(joints, seq.confidence)
    r = rec.repetitions if reps is None else np.asarray(reps, dtype=int).reshape(-1, 2)
    k = rec.keys if (reps is None and keys is None) else keys
    out = []
    for i, (a, b) in enumerate(r):
        a, b = max(0, int(a)), min(len(joints), int(b))
        if b - a < 2:
            continue
        out.append(make_clip(joints[a:b], seq.layout, frames, seq.fps, id=f"{rec.id}#{i}",
                             activity=rec.activity, subject=rec.subject,
                             keys=None if k is None else k[i], sequence=rec.id, rep=i,
                             canonical_side=canonical_side))
    return out


def synthetic_clips(recs: Iterable[Recording], frames: int = 48,
                    canonical_side: Union[bool, str] = False) -> List[Clip]:
    """The ground-truth repetitions of every recording as clips."""
    return [c for r in recs for c in recording_clips(r, frames, canonical_side=canonical_side)]


def synthetic_split(subjects: Iterable[str], test_fraction: float = 0.2, seed: int = 0,
                    val: int = 1) -> Tuple[List[str], List[str], List[str]]:
    """People 8:2 (FLAG3D++): ``(train, val, test)`` subject lists from a seeded permutation.

    ``val`` subjects are taken from the training people for model selection.
    """
    subs = sorted(set(subjects))
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 8, 2]))
    perm = [subs[i] for i in rng.permutation(len(subs))]
    n_test = max(1, int(round(test_fraction * len(subs))))
    test = sorted(perm[:n_test])
    val_s = sorted(perm[n_test:n_test + val])
    train = sorted(perm[n_test + val:])
    return train, val_s, test


# ------------------------------------------------------------------------------ texts
def text_key(activity: str, j: int) -> str:
    """Key of standard ``j`` of ``activity`` in a text table."""
    return f"{activity}:{j}"


def standard_texts(activities: Iterable[str], encoder: str = "minilm") -> Dict[str, np.ndarray]:
    """``{"<activity>:<j>": embedding}`` for the three standards of every activity."""
    from flag3d.taxonomy import get_activity
    from flag3d.text import encode_standards, get_encoder

    enc = get_encoder(encoder)
    out: Dict[str, np.ndarray] = {}
    for a in dict.fromkeys(activities):
        act = get_activity(a)
        emb = encode_standards(act, enc)
        for j in range(3):
            out[text_key(act.id, j)] = emb[j].astype(np.float32)
    return out
