"""FLAG3D++ repetition-counting folders (format ``flag3d-rac``) and plain ``.npy`` arrays (``npy``).

A counting folder looks like::

    root/
      skeleton/<name>.npy        (T, 24, 3) float, layout ``flag3d24``
      train_rac/<name>.csv       one row per repetition, columns ``Sta,End`` (frame indices)
      test_rac/<name>.csv        any ``<split>_rac/`` folder is read; split = the prefix
      SYNTHETIC.txt              only in folders flag3d writes from generated data

**End convention.**  In the released CSVs ``End`` is the index of the *last* frame of a
repetition (inclusive).  flag3d stores ``meta["repetitions"]`` with an *exclusive* end, so the
reader returns ``[Sta, End + 1]`` and the writer writes ``End = end - 1``; round trips are exact.
Rows must satisfy ``0 <= Sta <= End < T`` and be sorted; consecutive repetitions may share one
boundary frame (``Sta[i+1] == End[i]``, common in repetition annotations), any larger overlap is
a :class:`~flag3d.errors.FormatError` naming the CSV and row.  Extra CSV columns are ignored.

Reader ``read_flag3d_rac(path, split=None, fps=30.0, released_preprocessing=False)``:
coordinates are returned as stored (frame and unit as released) unless
``released_preprocessing=True``, which does what the released loader does: subtract joint 0 from
every joint and negate z (handedness flip).  Sequences without a CSV have no repetitions and no
split.  Meta: ``id`` (file stem), ``activity`` (first 4 characters when they look like ``A052``),
``split``, ``repetitions``, ``source="flag3d-rac"``, ``synthetic`` (from ``SYNTHETIC.txt``).
Per-activity text embeddings of the release are not read here.

The writer takes ``flag3d24`` sequences, writes ``skeleton/<id>.npy`` (float32) and, for
sequences with a split or repetitions, ``<split>_rac/<id>.csv``.  Synthetic sequences get a third
CSV column ``source`` = ``synthetic`` and are listed in ``SYNTHETIC.txt``.

Every ``.npy`` is checked before loading (:func:`load_npy`): empty, truncated or object arrays
give a one-line error; nothing is unpickled.

Example:
    >>> import numpy as np, tempfile
    >>> from flag3d.skeleton import Sequence
    >>> s = Sequence(np.zeros((50, 24, 3)), "flag3d24",
    ...              meta={"id": "A052x", "split": "train", "repetitions": [[0, 20], [20, 50]]})
    >>> root = tempfile.mkdtemp()
    >>> write_flag3d_rac(root, [s])
    >>> open(f"{root}/train_rac/A052x.csv").read().split()
    ['Sta,End', '0,19', '20,49']
    >>> r = next(read_flag3d_rac(root))
    >>> r.meta["activity"], r.meta["repetitions"]
    ('A052', [[0, 20], [20, 50]])
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

import numpy as np

from flag3d.errors import FormatError, LayoutError, PathLike
from flag3d.io.registry import register_format
from flag3d.skeleton.layouts import find_layout_for
from flag3d.skeleton.sequence import Sequence

_ACTIVITY = re.compile(r"A\d{3}")
_SYNTHETIC_NOTE = (
    "# This folder holds GENERATED (synthetic) motion written by flag3d, not recordings.\n"
    "# The ids of the synthetic sequences follow, one per line.\n"
)


def load_npy(path: PathLike) -> np.ndarray:
    """Load a numeric ``.npy`` array after checking its header against the file size."""
    p = Path(path)
    if not p.is_file():
        raise FormatError("no such file", path=p)
    size = p.stat().st_size
    if size == 0:
        raise FormatError("empty file", path=p)
    with open(p, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        except Exception as err:  # numpy parses the header with tokenize/ast: many errors
            raise FormatError(f"not a .npy file or a damaged header ({str(err)[:80]})",
                              path=p) from None
        offset = f.tell()
    if dtype.hasobject:
        raise FormatError("the .npy holds Python objects; refused (only numeric arrays)", path=p)
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size - offset < expected:
        raise FormatError(
            f"truncated .npy: header says {tuple(shape)} {dtype.name} but the file holds "
            f"{size - offset} bytes of data (expected {expected})", path=p)
    try:
        return np.load(p, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise FormatError(f"unreadable .npy ({err})", path=p) from None


def _int_cell(value: str, csv_path: Path, row: int, col: str) -> int:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise FormatError(f"row {row}: {col} = {value!r} is not a frame index",
                          path=csv_path) from None
    if not np.isfinite(x) or x != int(x):
        raise FormatError(f"row {row}: {col} = {value!r} is not a whole frame index",
                          path=csv_path)
    return int(x)


def read_rac_csv(csv_path: PathLike, num_frames: int) -> Tuple[List[List[int]], bool]:
    """Repetitions ``[start, end_exclusive]`` of one CSV, and whether it says ``synthetic``."""
    p = Path(csv_path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise FormatError("not a text CSV file", path=p) from None
    if not text.strip():
        raise FormatError("empty file", path=p)
    rows = csv.DictReader(text.splitlines())
    fields = [c.strip() for c in rows.fieldnames or []]
    if "Sta" not in fields or "End" not in fields:
        raise FormatError(f"needs columns Sta and End, found {', '.join(fields) or 'none'}", path=p)
    reps: List[List[int]] = []
    sources = set()
    for k, row in enumerate(rows, start=1):
        row = {(key or "").strip(): (val or "").strip() for key, val in row.items()}
        sta, end = _int_cell(row["Sta"], p, k, "Sta"), _int_cell(row["End"], p, k, "End")
        if not 0 <= sta <= end < num_frames:
            raise FormatError(f"row {k}: Sta={sta}, End={end} not within 0 <= Sta <= End < "
                              f"{num_frames} (the skeleton's frames)", path=p)
        if reps and sta < reps[-1][1] - 1:
            raise FormatError(f"row {k}: repetition {sta}-{end} overlaps or precedes the previous "
                              f"one ({reps[-1][0]}-{reps[-1][1] - 1})", path=p)
        reps.append([sta, end + 1])
        sources.add(row.get("source", ""))
    return reps, sources == {"synthetic"}


def _split_csvs(root: Path) -> Dict[str, Tuple[str, Path]]:
    """Sequence name -> (split, csv path) from every ``<split>_rac/`` folder."""
    found: Dict[str, Tuple[str, Path]] = {}
    for folder in sorted(d for d in root.iterdir() if d.is_dir() and d.name.endswith("_rac")):
        split = folder.name[: -len("_rac")]
        for csv_path in sorted(folder.glob("*.csv")):
            if csv_path.stem in found:
                raise FormatError(f"sequence {csv_path.stem} is annotated in both "
                                  f"{found[csv_path.stem][1].parent.name}/ and {folder.name}/",
                                  path=root)
            found[csv_path.stem] = (split, csv_path)
    return found


def _synthetic_ids(root: Path) -> set:
    note = root / "SYNTHETIC.txt"
    if not note.is_file():
        return set()
    lines = note.read_text(encoding="utf-8").splitlines()
    return {ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")}


def read_flag3d_rac(path: PathLike, split: Optional[str] = None, fps: float = 30.0,
                    released_preprocessing: bool = False) -> Iterator[Sequence]:
    """Yield the sequences of a FLAG3D++ counting folder (see the module docstring)."""
    root = Path(path)
    skel = root / "skeleton"
    if not skel.is_dir():
        raise FormatError("not a FLAG3D++ counting folder: no skeleton/ folder", path=root)
    csvs = _split_csvs(root)
    synthetic = _synthetic_ids(root)
    for npy in sorted(skel.glob("*.npy")):
        name = npy.stem
        seq_split, csv_path = csvs.get(name, (None, None))
        if split is not None and seq_split != split:
            continue
        joints = load_npy(npy)
        if joints.ndim != 3:
            raise FormatError(f"skeleton array has shape {joints.shape}, expected (T, 24, 3)",
                              path=npy)
        meta: Dict[str, Any] = {"id": name, "source": "flag3d-rac"}
        if _ACTIVITY.fullmatch(name[:4]):
            meta["activity"] = name[:4]
        is_synthetic = name in synthetic
        if csv_path is not None:
            reps, csv_synthetic = read_rac_csv(csv_path, joints.shape[0])
            meta["split"], meta["repetitions"] = seq_split, reps
            is_synthetic = is_synthetic or csv_synthetic
        if is_synthetic:
            meta["synthetic"] = True
        if released_preprocessing and joints.shape[-1] == 3:
            joints = joints - joints[:, :1, :]
            joints[..., 2] *= -1
            meta["preprocessing"] = "released (root-centred, z negated)"
        yield Sequence(joints, "flag3d24", fps=fps, meta=meta, path=str(npy))


def _rac_array(seq: Sequence, sid: str) -> np.ndarray:
    if seq.layout != "flag3d24":
        raise LayoutError(f"sequence {sid} is in layout {seq.layout}; the counting folder needs "
                          f"flag3d24: convert it first with "
                          f"flag3d.skeleton.convert.convert(seq, 'flag3d24')")
    if seq.dims != 3:
        raise LayoutError(f"sequence {sid} is 2D; the counting folder holds 3D skeletons")
    if seq.has_persons:
        if seq.num_persons != 1:
            raise FormatError(f"sequence {sid} has {seq.num_persons} persons; the counting "
                              "folder holds one (use seq.person(m))")
        return seq.joints[0]
    return seq.joints


def _csv_rows(reps: Any, num_frames: int, sid: str, synthetic: bool,
              root: Path) -> List[List[Any]]:
    """CSV rows ``[Sta, End(, source)]`` (inclusive End) for ``[start, end)`` repetitions."""
    rows: List[List[Any]] = []
    for i, rep in enumerate(reps):
        start, end = (int(x) for x in rep)
        if not 0 <= start < end <= num_frames or (rows and start < rows[-1][1]):
            raise FormatError(f"sequence {sid}: repetition {i} [{start}, {end}) is outside the "
                              f"{num_frames} frames or overlaps the previous one", path=root)
        rows.append([start, end - 1] + (["synthetic"] if synthetic else []))
    return rows


def write_flag3d_rac(path: PathLike, sequences: Iterable[Sequence],
                     default_split: Optional[str] = None) -> None:
    """Write a FLAG3D++ counting folder (``default_split`` for sequences without a split)."""
    root = Path(path)
    seen, synthetic = set(), []
    for k, seq in enumerate(sequences):
        sid = str(seq.meta.get("id", f"{k:06d}"))
        if sid in seen or not sid or "/" in sid or sid.startswith("."):
            raise FormatError(f"sequence id {sid!r} is duplicated or not a valid file name",
                              path=root)
        seen.add(sid)
        joints = _rac_array(seq, sid)
        reps = seq.meta.get("repetitions")
        split = seq.meta.get("split", default_split)
        if reps is not None and split is None:
            raise FormatError(f"sequence {sid} has repetitions but no meta['split']; pass "
                              "default_split= to choose its <split>_rac/ folder", path=root)
        rows = _csv_rows(reps or [], seq.num_frames, sid, seq.synthetic, root)
        (root / "skeleton").mkdir(parents=True, exist_ok=True)
        np.save(root / "skeleton" / f"{sid}.npy", np.asarray(joints, dtype=np.float32))
        if seq.synthetic:
            synthetic.append(sid)
        if split is None:
            continue
        folder = root / f"{split}_rac"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{sid}.csv", "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f, lineterminator="\n")
            out.writerow(["Sta", "End"] + (["source"] if seq.synthetic else []))
            out.writerows(rows)
    if synthetic:
        # Merge with ids already marked, so a folder can be written in several calls.
        marked = sorted(_synthetic_ids(root) | set(synthetic))
        (root / "SYNTHETIC.txt").write_text(_SYNTHETIC_NOTE + "\n".join(marked) + "\n",
                                            encoding="utf-8")


def read_npy(path: PathLike, layout: Optional[str] = None,
             fps: float = 30.0) -> Iterator[Sequence]:
    """Yield the one sequence of a plain ``(T, V, C)`` (or ``(M, T, V, C)``) ``.npy`` array.

    The layout is ``layout`` or the unique layout with V joints (``(T, 24, 3)`` -> ``flag3d24``).
    """
    arr = load_npy(path)
    if arr.ndim not in (3, 4):
        raise FormatError(f"array has shape {arr.shape}, expected (T, V, C)", path=path)
    name = layout or find_layout_for(arr.shape[-2])
    if name is None:
        raise LayoutError(f"cannot tell the layout of {arr.shape[-2]} joints; pass layout=",
                          path=path)
    yield Sequence(arr, name, fps=fps, meta={"id": Path(path).stem, "source": "npy"},
                   path=str(path))


def _detect_rac(p: Path) -> bool:
    skel = p / "skeleton"
    return p.is_dir() and skel.is_dir() and next(skel.glob("*.npy"), None) is not None


def _detect_npy(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() == ".npy"


register_format("flag3d-rac", "FLAG3D++ repetition-counting folder (skeleton/*.npy + *_rac/*.csv)",
                _detect_rac, read_flag3d_rac, write_flag3d_rac)
register_format("npy", "a plain (T, V, C) .npy joint array", _detect_npy, read_npy)
