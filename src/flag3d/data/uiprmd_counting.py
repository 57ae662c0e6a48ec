"""A real repetition-counting set built from UI-PRMD single repetitions.

UI-PRMD holds, per subject (s01..s10) and movement (m01..m10), 10 correct and 10 incorrect
*segmented* single repetitions of real Kinect motion.  :func:`build_counting_set` joins
2-20 of them into multi-repetition sequences whose repetition boundaries are known exactly.

How a sequence is made (all random choices come from ``SeedSequence([seed, movement,
subject, k])``, so a sequence does not depend on which other subjects or movements are
built with it):

* **Which repetitions.**  ``n`` is uniform in ``reps`` (default 2..20).  The repetitions are
  drawn from the subject's pool for that movement (10 correct + 10 incorrect, mixed; filter
  with ``correct=True/False``) **without replacement** in random order while ``n`` fits the
  pool, with replacement beyond.  A real set mixes good and faulty repetitions; the ids and
  the correct flags used are recorded in ``meta["source_ids"]`` / ``meta["rep_correct"]``.
* **Placement.**  Each repetition is translated horizontally (x and z only; the floor stays
  at y = 0) so that its first-frame waist position equals the first repetition's; the
  vector applied is ``meta["source_offsets"][k]``.  Repetition frames are otherwise copied
  unchanged: frames ``[start_k, end_k)`` equal the source frames plus that offset.
* **Rests and transitions.**  Between two repetitions the end pose is held for a rest drawn
  from ``rest`` (default 0-2 s) with breathing (upper body rising 2-3 mm at 0.2-0.33 Hz),
  an inverted-pendulum sway of a few mm (feet stay planted) and 1-2 mm sensor jitter, all
  faded in and out so the hold starts and ends exactly at the pose.  Then a
  minimum-jerk interpolation moves every joint from the end pose to the next start pose.
  Its length (at least 0.2-0.5 s) is chosen so that its peak per-frame joint displacement
  stays below the *median* per-frame peak displacement inside the two repetitions, so the
  seams never move faster than the recorded motion (:func:`seam_report` checks it).
* **Boundaries.**  ``meta["repetitions"]`` lists ``[start, end)`` of the copied source frames.
  Rest, transition, margin and idle frames belong to **no** repetition.
* **Margins and idle.**  ``margin`` (default 0-1 s) holds the first/last pose before the
  first and after the last repetition.  ``idle=(lo, hi)`` adds standing still of ``lo``-``hi``
  seconds (5-15 s in the acceptance test) before the first repetition, after the last one
  and in ``idle_gaps`` randomly chosen gaps between repetitions, with a larger sway (1-2 cm)
  and slow arm drift; the frames are listed in ``meta["idle"]``.  Idle draws come from
  their own random stream: the same sequence with and without idle differs only by the
  inserted standing (same repetitions, rests and transitions).
* **Split.**  By subject, the ``uiprmd`` protocol: s01-s07 train, s08-s10 test.

Output: :class:`~flag3d.skeleton.Sequence` in layout ``uiprmd22`` (or ``layout=`` via
:func:`flag3d.skeleton.convert.convert`, e.g. ``"flag3d24"``), metres, y up, 30 fps.  Meta:
``id`` (``"m01_s01_c00"``), ``activity``, ``label``, ``subject``, ``split``, ``repetitions``,
``source="uiprmd-counting"``, ``synthetic=False``, ``units="m"``, ``domain="real"``,
``source_ids``, ``rep_correct``, ``source_offsets``, ``idle``, ``seed``.

:func:`save_counting_set` writes a :class:`~flag3d.data.Store` (fast reload) or a FLAG3D++
counting folder (``fmt="flag3d-rac"``, joints converted to ``flag3d24``);
:func:`load_counting_set` reads either; :func:`cached_counting_set` builds once and reloads
from the cache folder afterwards.

Example:
    >>> from flag3d.data.uiprmd_counting import build_counting_set, seam_report
    >>> seqs = build_counting_set(subjects=["s01"], movements=["m01"], n_per_pair=2,
    ...                           seed=0)  # doctest: +SKIP
    >>> s = seqs[0]; s.meta["id"], s.meta["split"], len(s.meta["repetitions"])  # doctest: +SKIP
    ('m01_s01_c00', 'train', 14)
    >>> r = seam_report(s); r["seam_max"] <= r["inside_max"]  # doctest: +SKIP
    True
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence as Seq, Tuple, Union

import numpy as np

from flag3d.data.splits import PROTOCOLS
from flag3d.errors import Flag3dError, StoreError
from flag3d.paths import cache_dir, shared_data_dir
from flag3d.skeleton.convert import convert
from flag3d.skeleton.sequence import Sequence

PathLike = Union[str, "os.PathLike[str]"]
Pool = Dict[Tuple[str, str], List[Sequence]]

SOURCE = "uiprmd-counting"
FPS = 30.0
MOVEMENTS: Tuple[str, ...] = tuple(f"m{k:02d}" for k in range(1, 11))
SUBJECTS: Tuple[str, ...] = tuple(f"s{k:02d}" for k in range(1, 11))
TEST_SUBJECTS: Tuple[str, ...] = tuple(PROTOCOLS["uiprmd"].test or ())
_VERSION = 1  # bump when the construction changes (invalidates the cache)

# uiprmd22 joint groups used by the rest/idle motion.
_UPPER = (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)  # chest and everything above it
_ARMS = (8, 9, 12, 13)  # elbows and wrists


def split_of(subject: str) -> str:
    """``"test"`` for s08-s10 (the ``uiprmd`` protocol), ``"train"`` otherwise."""
    return "test" if subject in TEST_SUBJECTS else "train"


def _ids(values: Optional[Iterable[Union[int, str]]], prefix: str, known: Tuple[str, ...]
         ) -> List[str]:
    if values is None:
        return list(known)
    if isinstance(values, (str, int)):
        values = [values]
    out = []
    for v in values:
        name = f"{prefix}{int(v):02d}" if isinstance(v, int) or str(v).isdigit() else str(v).lower()
        if name not in known:
            raise Flag3dError(f"unknown UI-PRMD {prefix}-id {v!r}; known: {known[0]}..{known[-1]}")
        out.append(name)
    return sorted(set(out))


def uiprmd_root(root: Optional[PathLike] = None) -> Path:
    """The UI-PRMD folder: ``root`` or ``<shared data>/uiprmd``; a clear error when absent."""
    if root is not None:
        p = Path(root)
    else:
        shared = shared_data_dir()
        if shared is None:
            raise StoreError("UI-PRMD not found: set FLAG3D_SHARED_DATA or pass root=")
        p = shared / "uiprmd"
    if not p.is_dir():
        raise StoreError("UI-PRMD folder not found (expected correct/ and incorrect/)", path=p)
    return p


def load_pool(root: Optional[PathLike] = None, subjects: Optional[Iterable[Any]] = None,
              movements: Optional[Iterable[Any]] = None) -> Pool:
    """The single repetitions per ``(movement, subject)``, correct first, by episode."""
    from flag3d.io import iter_sequences  # imported here: registers every format

    path = uiprmd_root(root)
    subs, movs = _ids(subjects, "s", SUBJECTS), _ids(movements, "m", MOVEMENTS)
    pool: Pool = {}
    for seq in iter_sequences(path, fmt="uiprmd", movements=movs, subjects=subs):
        pool.setdefault((seq.meta["activity"], seq.meta["subject"]), []).append(seq)
    return pool


# ---------------------------------------------------------------- rests and transitions
def _window(n: int) -> np.ndarray:
    """sin^2 fade that is 0 just before the first and just after the last frame."""
    return np.sin(np.pi * (np.arange(n) + 1.0) / (n + 1.0)) ** 2


def _smooth_noise(rng: np.random.Generator, n: int, std: float, width: int) -> np.ndarray:
    """Gaussian noise low-passed by a moving average of ``width`` frames, ``(n, 3)``."""
    k = max(int(width), 1)
    raw = rng.normal(0.0, 1.0, (n + k - 1, 3))
    out = np.stack([np.convolve(raw[:, c], np.ones(k) / np.sqrt(k), "valid") for c in range(3)],
                   axis=1)
    return std * out


def hold(pose: np.ndarray, n: int, rng: np.random.Generator, fps: float = FPS,
         idle: bool = False) -> np.ndarray:
    """``n`` frames holding ``pose`` (V, 3) with breathing, sway and jitter, ``(n, V, 3)``.

    The added motion fades in and out, so the hold joins ``pose`` without a step.  Idle
    holds (``idle=True``) sway 1-2 cm and let the arms drift slowly; rests sway a few mm.
    """
    if n <= 0:
        return np.zeros((0,) + pose.shape, np.float32)
    t = np.arange(n) / fps
    floor = pose[:, 1].min()
    height = np.clip((pose[:, 1] - floor) / max(np.ptp(pose[:, 1]), 1e-6), 0.0, 1.0)
    out = np.repeat(pose[None].astype(np.float64), n, axis=0)
    # breathing: the upper body rises and falls
    f_b = rng.uniform(0.2, 0.33)
    breath = rng.uniform(0.002, 0.003) * np.sin(2 * np.pi * f_b * t + rng.uniform(0, 2 * np.pi))
    out[:, list(_UPPER), 1] += breath[:, None]
    out[:, 1, 1] += 0.4 * breath
    # inverted-pendulum sway: displacement grows with height, feet stay where they are
    amp = rng.uniform(0.01, 0.02) if idle else rng.uniform(0.003, 0.006)
    sway = _smooth_noise(rng, n, 1.0, int(fps * 1.5))
    sway[:, 1] = 0.0
    sway *= amp / max(float(np.abs(sway).max()), 1e-9)
    out += sway[:, None, :] * height[None, :, None]
    if idle:  # slow arm drift of up to ~2 cm
        drift = _smooth_noise(rng, n, 1.0, int(fps * 2.0))
        drift *= rng.uniform(0.01, 0.02) / max(float(np.abs(drift).max()), 1e-9)
        out[:, list(_ARMS)] += drift[:, None, :]
    out += _smooth_noise(rng, n * pose.shape[0], rng.uniform(0.001, 0.002) / np.sqrt(3), 3
                         ).reshape(n, pose.shape[0], 3)
    out = pose[None] + (out - pose[None]) * _window(n)[:, None, None]
    return out.astype(np.float32)


def _peak_speed(x: np.ndarray) -> np.ndarray:
    """Per-frame maximum joint displacement of ``(T, V, 3)``, ``(T-1,)``."""
    if x.shape[0] < 2:
        return np.zeros(0)
    return np.linalg.norm(np.diff(x, axis=0), axis=-1).max(axis=1)


def transition(a: np.ndarray, b: np.ndarray, max_step: float, min_frames: int) -> np.ndarray:
    """Frames strictly between poses ``a`` and ``b`` on a minimum-jerk path, ``(n, V, 3)``.

    ``n`` is at least ``min_frames`` and large enough that no joint moves more than
    ``max_step`` metres between consecutive frames (the minimum-jerk peak speed is 1.875
    times the mean).
    """
    dist = float(np.linalg.norm(b - a, axis=-1).max())
    n_steps = max(int(min_frames) + 1, int(np.ceil(1.875 * dist / max(max_step, 1e-6))))
    s = np.arange(1, n_steps) / n_steps
    s = 10 * s ** 3 - 15 * s ** 4 + 6 * s ** 5
    return (a[None] + s[:, None, None] * (b - a)[None]).astype(np.float32)


# ------------------------------------------------------------------------ one sequence
def join_repetitions(reps: Seq[np.ndarray], rng: np.random.Generator, *, fps: float = FPS,
                     rest: Tuple[float, float] = (0.0, 2.0),
                     margin: Tuple[float, float] = (0.0, 1.0),
                     idle: Optional[Tuple[float, float]] = None, idle_gaps: int = 1,
                     idle_rng: Optional[np.random.Generator] = None,
                     ) -> Tuple[np.ndarray, List[List[int]], List[List[int]], List[List[float]]]:
    """Join single repetitions ``(T_k, V, 3)`` (joint 0 = root) into one sequence.

    Everything about idle blocks is drawn from ``idle_rng`` (default ``rng``): with a
    separate generator, the same ``rng`` gives the same rests and transitions with and
    without idle, so the two sequences differ only by the inserted standing.

    Returns ``(joints, repetitions, idle_intervals, offsets)``: the joined ``(T, V, 3)``
    array, ``[start, end)`` of every repetition, ``[start, end)`` of every idle block, and the
    horizontal offset added to each repetition.
    """
    irng = rng if idle_rng is None else idle_rng
    if not reps:
        raise Flag3dError("join_repetitions needs at least one repetition")
    anchor = reps[0][0, 0]
    offsets = [np.array([anchor[0] - r[0, 0, 0], 0.0, anchor[2] - r[0, 0, 2]], np.float32)
               for r in reps]
    placed = [r + o for r, o in zip(reps, offsets)]
    idle_at = set()
    if idle is not None and len(reps) > 1 and idle_gaps > 0:
        idle_at = set(irng.choice(len(reps) - 1, min(idle_gaps, len(reps) - 1), replace=False)
                      .tolist())

    def idle_block(pose: np.ndarray) -> np.ndarray:
        assert idle is not None
        return hold(pose, int(round(irng.uniform(*idle) * fps)), irng, fps, idle=True)

    parts: List[np.ndarray] = []
    idle_iv: List[List[int]] = []
    length = 0

    def add(x: np.ndarray, is_idle: bool = False) -> None:
        nonlocal length
        if is_idle and len(x):
            idle_iv.append([length, length + len(x)])
        parts.append(x)
        length += len(x)

    if idle is not None:
        add(idle_block(placed[0][0]), True)
    add(hold(placed[0][0], int(round(rng.uniform(*margin) * fps)), rng, fps))
    intervals: List[List[int]] = []
    for k, r in enumerate(placed):
        intervals.append([length, length + len(r)])
        add(r)
        if k + 1 == len(placed):
            break
        nxt = placed[k + 1]
        add(hold(r[-1], int(round(rng.uniform(*rest) * fps)), rng, fps))
        if k in idle_at:
            add(idle_block(r[-1]), True)
        speed = np.concatenate([_peak_speed(r), _peak_speed(nxt)])
        step = float(np.median(speed)) if speed.size else 0.02
        add(transition(r[-1], nxt[0], step, int(round(rng.uniform(0.2, 0.5) * fps))))
    add(hold(placed[-1][-1], int(round(rng.uniform(*margin) * fps)), rng, fps))
    if idle is not None:
        add(idle_block(placed[-1][-1]), True)
    joints = np.concatenate(parts, axis=0).astype(np.float32)
    return joints, intervals, idle_iv, [o.tolist() for o in offsets]


def seam_report(seq: Sequence) -> Dict[str, float]:
    """Largest per-frame joint displacement inside the repetitions and outside them.

    ``inside_max`` (and the median ``inside_median``) is taken over steps between two
    frames of one repetition, ``seam_max`` over every other step (rests, transitions, idle
    and the steps into and out of a repetition).  A joined sequence without jumps has
    ``seam_max <= inside_max``; by construction transitions stay near ``inside_median``.
    """
    speed = _peak_speed(seq.joints)
    inside = np.zeros(speed.shape, bool)
    for s, e in seq.meta.get("repetitions", []):
        inside[s:e - 1] = True
    ins, out = speed[inside], speed[~inside]
    return {"inside_max": float(ins.max()) if ins.size else 0.0,
            "inside_median": float(np.median(ins)) if ins.size else 0.0,
            "seam_max": float(out.max()) if out.size else 0.0}


def _draw(pool: List[Sequence], n: int, rng: np.random.Generator) -> List[Sequence]:
    if n <= len(pool):
        return [pool[i] for i in rng.permutation(len(pool))[:n]]
    return [pool[i] for i in rng.integers(0, len(pool), n)]


def build_counting_set(root: Optional[PathLike] = None, subjects: Optional[Iterable[Any]] = None,
                       movements: Optional[Iterable[Any]] = None, n_per_pair: int = 4,
                       reps: Tuple[int, int] = (2, 20), seed: int = 0,
                       rest: Tuple[float, float] = (0.0, 2.0),
                       idle: Optional[Tuple[float, float]] = None, idle_gaps: int = 1,
                       margin: Tuple[float, float] = (0.0, 1.0), correct: Optional[bool] = None,
                       layout: str = "uiprmd22", pool: Optional[Pool] = None) -> List[Sequence]:
    """Multi-repetition sequences of real UI-PRMD motion with exact boundaries.

    Args:
        root: the UI-PRMD folder (default ``<shared data>/uiprmd``).
        subjects, movements: ids to build (``"s01"``/``1``, ``"m01"``/``1``); default all.
        n_per_pair: sequences per (subject, movement).
        reps: inclusive range of repetitions per sequence.
        seed: the set's seed (see the module docstring for what it decides).
        rest: range of the rest between repetitions, seconds.
        idle: ``(lo, hi)`` seconds of standing still added at the start, at the end and in
            ``idle_gaps`` gaps; ``None`` for none.
        margin: range of the hold before the first and after the last repetition, seconds.
        correct: ``None`` mixes correct and incorrect repetitions; ``True``/``False`` keeps one.
        layout: output layout (``"uiprmd22"`` as read, or a conversion target like
            ``"flag3d24"``).
        pool: already loaded repetitions from :func:`load_pool` (skips reading).

    Returns:
        Sequences ordered by movement, subject and index ``k``.
    """
    lo, hi = reps
    if not 1 <= lo <= hi:
        raise Flag3dError(f"reps must be a range 1 <= lo <= hi, got {reps}")
    for name, rng_ in (("rest", rest), ("margin", margin), ("idle", idle or (0.0, 0.0))):
        if not 0.0 <= rng_[0] <= rng_[1]:
            raise Flag3dError(f"{name} must be a range 0 <= lo <= hi seconds, got {rng_}")
    if n_per_pair < 0:
        raise Flag3dError(f"n_per_pair must be >= 0, got {n_per_pair}")
    subs, movs = _ids(subjects, "s", SUBJECTS), _ids(movements, "m", MOVEMENTS)
    if pool is None:
        pool = load_pool(root, subs, movs)
    out: List[Sequence] = []
    for mov in movs:
        for sub in subs:
            cands = [s for s in pool.get((mov, sub), [])
                     if correct is None or bool(s.meta.get("correct")) == bool(correct)]
            if not cands:
                continue
            for k in range(n_per_pair):
                key = [int(seed), int(mov[1:]), int(sub[1:]), k]
                rng = np.random.default_rng(np.random.SeedSequence(key))
                idle_rng = np.random.default_rng(np.random.SeedSequence(key + [1]))
                chosen = _draw(cands, int(rng.integers(lo, hi + 1)), rng)
                joints, iv, idle_iv, offs = join_repetitions(
                    [c.joints for c in chosen], rng, fps=FPS, rest=rest, margin=margin,
                    idle=idle, idle_gaps=idle_gaps, idle_rng=idle_rng)
                meta = {
                    "id": f"{mov}_{sub}_c{k:02d}", "activity": mov,
                    "label": int(mov[1:]) - 1, "subject": sub, "split": split_of(sub),
                    "repetitions": iv, "source": SOURCE, "synthetic": False, "units": "m",
                    "domain": "real", "source_ids": [c.meta["id"] for c in chosen],
                    "rep_correct": [bool(c.meta.get("correct")) for c in chosen],
                    "source_offsets": offs, "idle": idle_iv, "seed": int(seed),
                }
                seq = Sequence(joints, "uiprmd22", fps=FPS, meta=meta)
                out.append(convert(seq, layout) if layout != "uiprmd22" else seq)
    if not out:
        raise StoreError(f"no UI-PRMD repetitions for subjects {subs} and movements {movs}")
    return out


# ------------------------------------------------------------------------ save / load
def save_counting_set(sequences: Iterable[Sequence], path: PathLike, fmt: str = "store",
                      overwrite: bool = False) -> Path:
    """Write the set as a :class:`~flag3d.data.Store` or a FLAG3D++ counting folder.

    ``fmt="flag3d-rac"`` converts the joints to ``flag3d24`` (the folder's layout) and writes
    ``skeleton/<id>.npy`` plus ``<split>_rac/<id>.csv``.
    """
    p = Path(path)
    if fmt == "store":
        from flag3d.data.store import Store

        store = Store.create(p, overwrite=overwrite)
        try:
            store.append(sequences)
        finally:
            store.close()
    elif fmt == "flag3d-rac":
        from flag3d.io import write_sequences

        if p.exists() and any(p.iterdir()) and not overwrite:
            raise StoreError("folder is not empty (pass overwrite=True)", path=p)
        write_sequences(p, (convert(s, "flag3d24") for s in sequences), "flag3d-rac")
    else:
        raise StoreError(f"unknown fmt {fmt!r}; use 'store' or 'flag3d-rac'", path=p)
    return p


def load_counting_set(path: PathLike, split: Optional[str] = None) -> List[Sequence]:
    """Read a set written by :func:`save_counting_set` (either format), optionally one split."""
    p = Path(path)
    if (p / "store.json").is_file():
        from flag3d.data.store import Store

        with Store.open(p) as store:
            rows = store.select(split=split) if split else np.arange(len(store))
            return list(store.iter(rows))
    from flag3d.io import iter_sequences

    seqs = list(iter_sequences(p, fmt="flag3d-rac"))
    return [s for s in seqs if split is None or s.meta.get("split") == split]


def cache_key(**params: Any) -> str:
    """A short hash of the construction parameters (and the construction version)."""
    blob = json.dumps({"v": _VERSION, **params}, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def _canonical(params: Dict[str, Any]) -> Dict[str, Any]:
    """All construction parameters with defaults filled in and ids normalised (the cache key)."""
    import inspect

    bound = inspect.signature(build_counting_set).bind(**params)
    bound.apply_defaults()
    args = dict(bound.arguments)
    for k in ("root", "pool"):
        args.pop(k, None)
    args["subjects"] = _ids(args["subjects"], "s", SUBJECTS)
    args["movements"] = _ids(args["movements"], "m", MOVEMENTS)
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in args.items()}


def cached_counting_set(cache: Optional[PathLike] = None, split: Optional[str] = None,
                        **params: Any) -> List[Sequence]:
    """:func:`build_counting_set` once, then reload from ``<cache>/uiprmd-counting-<key>``.

    ``params`` are the keyword arguments of :func:`build_counting_set` (``pool`` is used for
    building but is not part of the key); ``cache`` defaults to
    :func:`flag3d.paths.cache_dir`.  The key covers every construction parameter with its
    default filled in, so ``seed=0`` and ``seed=0, reps=(2, 20)`` share one cache.
    """
    folder = Path(cache or cache_dir()) / f"uiprmd-counting-{cache_key(**_canonical(params))}"
    if not (folder / "store.json").is_file():
        # build beside the target and rename: concurrent builders never see half a store
        tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
        save_counting_set(build_counting_set(**params), tmp, overwrite=True)
        try:
            os.rename(tmp, folder)
        except OSError:  # another process finished first: keep theirs
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    return load_counting_set(folder, split=split)
