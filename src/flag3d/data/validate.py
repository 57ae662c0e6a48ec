"""Consistency check of a whole dataset store (``flag3d data validate``).

Every manifest row is checked with vectorised column tests, then the array files are
streamed block by block (bounded memory) to find non-finite values.  Problems are collected
in a :class:`ValidationReport`; nothing is raised for bad rows.

Example:
    >>> import numpy as np, tempfile, os
    >>> from flag3d.data import Store
    >>> from flag3d.skeleton import Sequence
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = Store.create(os.path.join(tmp.name, "s"))
    >>> store.append([Sequence(np.zeros((8, 17, 2)), "coco17", meta={"id": "a"})])
    1
    >>> store.validate().summary()
    'store is valid: 1 sequences, 8 frame rows checked'
    >>> store.close(); tmp.cleanup()
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Dict, Iterable, List, Optional

import numpy as np

from flag3d.data.manifest import check_annotations, group_name
from flag3d.data.manifest_io import ARRAYS, TIMES_FILE, pread_into
from flag3d.errors import Flag3dError
from flag3d.skeleton.layouts import get_layout

if TYPE_CHECKING:  # pragma: no cover
    from flag3d.data.store import Store

_BLOCK_BYTES = 16 << 20


@dataclass
class ValidationReport:
    """What :meth:`Store.validate` found.

    Attributes:
        path: the store.
        rows: number of manifest rows checked.
        frames: frame rows whose values were checked (0 with ``values=False``).
        problems: the first problems found, one line each.
        num_problems: how many problems there are in total.
        notes: harmless findings (e.g. unreferenced bytes that the next append reclaims).
    """

    path: str
    rows: int
    frames: int = 0
    problems: List[str] = field(default_factory=list)
    num_problems: int = 0
    notes: List[str] = field(default_factory=list)
    max_problems: int = 100

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return self.num_problems == 0

    def add(self, problem: str) -> None:
        """Record a problem (only the first ``max_problems`` messages are kept)."""
        self.num_problems += 1
        if len(self.problems) < self.max_problems:
            self.problems.append(problem)

    def summary(self) -> str:
        """One line: ok, or the number of problems and the first one."""
        if self.ok:
            return f"store is valid: {self.rows} sequences, {self.frames} frame rows checked"
        more = f" (first: {self.problems[0]})" if self.problems else ""
        return f"{self.num_problems} problem(s) in {self.rows} sequences{more}"


def validate_store(store: "Store", values: bool = True, max_problems: int = 100) -> "ValidationReport":
    """Check ``store`` row by row (and value by value with ``values=True``)."""
    t = store.table
    n = len(store)
    rep = ValidationReport(str(store.path), n, max_problems=max_problems)
    ids = t.column("id").to_pylist()

    def who(i: int) -> str:
        return f"row {i} (id {ids[i]!r})"

    def flag(rows: Iterable[int], message: Callable[[int], str]) -> None:
        for i in rows:
            i = int(i)
            if len(rep.problems) < rep.max_problems:
                rep.add(f"{who(i)}: {message(i)}")
            else:
                rep.num_problems += 1

    # ids ------------------------------------------------------------------------
    flag(np.flatnonzero(t.column("id").is_null().to_numpy(zero_copy_only=False)),
         lambda i: "has no id")
    seen: Dict[str, int] = {}
    dup = []
    for i, sid in enumerate(ids):
        if sid is None:
            continue
        if sid in seen:
            dup.append(i)
        else:
            seen[sid] = i
    flag(dup, lambda i: f"repeats the id of row {seen[ids[i]]}")

    # shapes, layouts, groups ---------------------------------------------------------
    layouts = store._layouts
    lay_v: Dict[int, Optional[int]] = {}
    for code, name in enumerate(layouts):
        try:
            lay_v[code] = get_layout(name).num_joints
        except Flag3dError:
            lay_v[code] = None
    lcode, v, c = store._layout_code, store._joints, store._dims
    frames, persons, fps = store._frames, store._persons, store._fps
    for code, nv in lay_v.items():
        rows = np.flatnonzero(lcode == code)
        if nv is None:
            flag(rows, lambda i: f"unknown layout {layouts[lcode[i]]!r}")
        else:
            flag(rows[v[rows] != nv], lambda i: f"has {v[i]} joints but layout "
                 f"{layouts[lcode[i]]} has {lay_v[lcode[i]]}")
    flag(np.flatnonzero(~np.isin(c, (2, 3))), lambda i: f"C = {c[i]} (must be 2 or 3)")
    groups, gcode = store._groups, store._group_code
    expected = np.array([group_name(layouts[a], b) for a, b in zip(lcode, c)], dtype=object)
    actual = np.array(groups, dtype=object)[gcode] if n else expected
    flag(np.flatnonzero(expected != actual), lambda i: f"layout {layouts[lcode[i]]} with "
         f"C={c[i]} does not match its array group {groups[gcode[i]]}")
    flag(np.flatnonzero(frames < 1), lambda i: f"has {frames[i]} frames")
    flag(np.flatnonzero(persons < 1), lambda i: f"has {persons[i]} persons")
    flag(np.flatnonzero(~store._paxis & (persons != 1)),
         lambda i: f"has {persons[i]} persons but no person axis")
    flag(np.flatnonzero(~np.isfinite(fps) | (fps <= 0)), lambda i: f"fps is {fps[i]}")
    flag(np.flatnonzero(store._offset < 0), lambda i: f"negative offset {store._offset[i]}")

    # byte ranges -----------------------------------------------------------------
    ranges: List[tuple] = []  # (file name, rows mask, first rows, lengths, row bytes)
    for k, g in enumerate(groups):
        lay, _, cc = g.rpartition("-c")
        try:
            nv = get_layout(lay).num_joints
            nc = int(cc)
        except (Flag3dError, ValueError):
            continue
        in_g = gcode == k
        ranges.append((g + ".f32", in_g, store._offset, frames * persons, nv * nc * 4, nv * nc))
        has_conf = in_g & (store._conf_off >= 0)
        if has_conf.any():
            ranges.append((g + ".conf.f32", has_conf, store._conf_off, frames * persons,
                           nv * 4, nv))
    has_times = store._times_off >= 0
    if has_times.any():
        ranges.append((TIMES_FILE, has_times, store._times_off, frames, 8, 1))
    flag(np.flatnonzero(store._conf_off < -1) if n else [], lambda i: "bad conf_offset")
    flag(np.flatnonzero(store._times_off < -1) if n else [], lambda i: "bad times_offset")

    value_jobs = []
    for fname, mask, first, length, row_bytes, width in ranges:
        rows = np.flatnonzero(mask & (first >= 0))
        if not len(rows):
            continue
        p = store.path / ARRAYS / fname
        size = p.stat().st_size if p.exists() else -1
        if size < 0:
            flag(rows[:1], lambda i: f"array file {ARRAYS}/{fname} is missing "
                 f"({len(rows)} rows use it)")
            continue
        file_rows = size // row_bytes
        end = first[rows] + length[rows]
        over = rows[end > file_rows]
        flag(over, lambda i: f"array file {ARRAYS}/{fname} is truncated: needs frame rows "
             f"{first[i]}..{first[i] + length[i]}, the file has {file_rows}")
        order = rows[np.argsort(first[rows], kind="stable")]
        starts, ends = first[order], first[order] + length[order]
        clash = np.flatnonzero(ends[:-1] > starts[1:])
        flag(order[clash + 1], lambda i: f"shares bytes of {ARRAYS}/{fname} with another row")
        used = int(ends.max())
        if size > used * row_bytes:
            rep.notes.append(f"{ARRAYS}/{fname}: {size - used * row_bytes} bytes past the last "
                             "committed row (left by an interrupted append; the next append "
                             "reclaims them)")
        ok_rows = order[ends <= file_rows]
        if values and len(ok_rows):
            value_jobs.append((fname, ok_rows, first, length, row_bytes, width))

    # annotations and metadata -------------------------------------------------------------
    rs, re_, q = (t.column(k).to_pylist() for k in ("rep_start", "rep_end", "quality"))
    for i in range(n):
        if rs[i] is None and re_[i] is None and q[i] is None:
            continue
        problem = check_annotations({"rep_start": rs[i], "rep_end": re_[i], "quality": q[i]},
                                    int(frames[i]))
        if problem:
            flag([i], lambda _i, p=problem: p)
    for i, text in enumerate(t.column("meta_json").to_pylist()):
        if text is None:
            continue
        try:
            ok = isinstance(json.loads(text), dict)
        except ValueError:
            ok = False
        if not ok:
            flag([i], lambda _i: "meta_json is not a JSON object")

    # values ------------------------------------------------------------------------
    for fname, rows, first, length, row_bytes, width in value_jobs:
        dtype = np.float64 if fname == TIMES_FILE else np.float32
        bad = _scan_file(store.path / ARRAYS / fname, int((first[rows] + length[rows]).max()),
                         row_bytes, width, dtype)
        if fname.endswith(".f32") and not fname.endswith(".conf.f32"):
            rep.frames += int(length[rows].sum())
        if len(bad):
            starts = first[rows]
            k = np.searchsorted(starts, bad, side="right") - 1
            hit = (k >= 0) & (bad < starts[np.maximum(k, 0)] + length[rows][np.maximum(k, 0)])
            culprits: Dict[int, int] = {}
            for r, kk in zip(bad[hit], k[hit]):
                culprits.setdefault(int(rows[kk]), int(r - first[rows[kk]]))
            what = ("time stamps" if fname == TIMES_FILE
                    else "confidence" if fname.endswith(".conf.f32") else "joints")
            flag(sorted(culprits), lambda i: f"{what} contain NaN or inf (frame row "
                 f"{culprits[i]} of the sequence)")
    if values and has_times.any():
        path = store.path / ARRAYS / TIMES_FILE
        if path.exists():
            fd = os.open(path, os.O_RDONLY)
            try:
                for i in np.flatnonzero(has_times):
                    ts = np.empty(int(frames[i]), np.float64)
                    if pread_into(fd, ts, int(store._times_off[i]) * 8) != ts.nbytes:
                        continue  # reported as truncated above
                    if len(ts) > 1 and np.isfinite(ts).all() and not (np.diff(ts) > 0).all():
                        flag([i], lambda _i: "time stamps are not increasing")
            finally:
                os.close(fd)
    return rep


def _scan_file(path: "os.PathLike[str]", rows: int, row_bytes: int, width: int,
               dtype: "type") -> np.ndarray:
    """Frame rows in ``[0, rows)`` of ``path`` that hold a non-finite value."""
    per_block = max(1, _BLOCK_BYTES // row_bytes)
    buf = np.empty(per_block * width, dtype)
    bad: List[np.ndarray] = []
    fd = os.open(path, os.O_RDONLY)
    try:
        advise = getattr(os, "posix_fadvise", None)
        if advise is not None:
            advise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        for start in range(0, rows, per_block):
            count = min(per_block, rows - start)
            view = buf[: count * width]
            pread_into(fd, view, start * row_bytes)
            finite = np.isfinite(view.reshape(count, width)).all(axis=1)
            if not finite.all():
                bad.append(start + np.flatnonzero(~finite))
    finally:
        os.close(fd)
    return np.concatenate(bad) if bad else np.zeros(0, np.int64)
