"""A dataset store for large skeleton corpora: a Parquet manifest plus flat float32 arrays.

A store holds any number of :class:`~flag3d.skeleton.Sequence` records (FLAG3D has 180K;
200K+ works) without ever loading the corpus into memory.  Reads go through ``os.preadv``
straight into the returned array, so iterating over a store much larger than RAM keeps the
process memory flat (file pages stay in the kernel's page cache, not in the process).

Layout on disk::

    my_store/
      store.json                 marker: {"format": "flag3d-store", "version": 1, ...}
      manifest.parquet           one row per sequence (the commit point, replaced atomically)
      arrays/
        <layout>-c<C>.f32        joints of every sequence with that layout and C, frames back
                                 to back: raw little-endian float32 "frame rows" of V*C values;
                                 a (M, T, V, C) sequence takes M*T rows, person-major
        <layout>-c<C>.conf.f32   confidence rows of V values, only for sequences that have one
        times.f64                per-frame time stamps (float64), only for sequences with times
      .lock                      taken (flock) by the one process allowed to write

Manifest columns (see :mod:`flag3d.data.manifest`): ``id`` (unique), ``activity``, ``label``,
``subject``, ``split``, ``layout``, ``joints`` (V), ``dims`` (C), ``fps``, ``frames`` (T),
``persons`` (M), ``person_axis`` (whether the joints had the M axis), ``rep_start`` /
``rep_end`` (list<int32>, exclusive ends), ``quality`` (list<list<int8>>), ``score``,
``correct``, ``source``, ``synthetic``, ``domain``, ``view``, ``units``, ``origin`` (the
file it was imported from), ``array`` (group = file stem), ``offset`` (first frame row in
the group file), ``conf_offset`` / ``times_offset`` (-1 when absent) and ``meta_json``
(every other metadata key).  ``Sequence.meta`` round-trips exactly after normalisation to
JSON types (tuples become lists, numpy numbers become Python numbers); a sequence without
``meta["id"]`` gets one (``<id_prefix><row number>``) and comes back with it.

Crash safety: :meth:`Store.append` writes array bytes first (flushed and fsynced), then
writes a new manifest to a temporary file and renames it over ``manifest.parquet``.  Rows
are committed in chunks of ``chunk_size`` sequences: when an append fails (the input
raises, the process is killed, the disk fills up), the store reopens with every chunk
committed before the failure and none of the chunk in progress.  ``chunk_size=None``
commits once at the end (all or nothing).  Array bytes past what the manifest references
are ignored, and the next append truncates them away.  Only one writer at a time: a second
one gets a :class:`~flag3d.errors.StoreError`.  Readers never lock; they see the manifest as
it was when they opened (``refresh()`` to see new rows).

Example:
    >>> import numpy as np, tempfile, os
    >>> from flag3d.skeleton import Sequence
    >>> from flag3d.data import Store
    >>> tmp = tempfile.TemporaryDirectory()
    >>> root = os.path.join(tmp.name, "demo")
    >>> store = Store.create(root)
    >>> seqs = [Sequence(np.full((50, 24, 3), k, np.float32), "flag3d24", fps=30,
    ...                  meta={"id": f"s{k}", "activity": "A010", "subject": "P01",
    ...                        "repetitions": [[0, 25], [25, 50]]}) for k in range(3)]
    >>> store.append(seqs)
    3
    >>> len(store), store.get("s2").joints[0, 0, 0], store[1].meta["repetitions"]
    (3, np.float32(2.0), [[0, 25], [25, 50]])
    >>> with Store.open(root) as again:
    ...     [s.meta["id"] for s in again.iter(store.select(activity="A010"))]
    ['s0', 's1', 's2']
    >>> store.close(); tmp.cleanup()
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq  # noqa: F401  (kept as store.pq: tests patch pq.write_table here)

from flag3d.data.lock import WriteLock
from flag3d.data.manifest import SCHEMA, MetaDecoder, group_name
from flag3d.data.manifest_io import (
    ARRAYS, F32, F64, FORMAT, MANIFEST, MARKER, TIMES_FILE, VERSION, pread_into, read_manifest,
    single_chunk, write_manifest, write_marker,
)
from flag3d.data.query import filter_mask
from flag3d.data.validate import ValidationReport, validate_store
from flag3d.data.writer import StoreWriter
from flag3d.errors import Flag3dError, StoreError
from flag3d.skeleton.sequence import Sequence

__all__ = ["ARRAYS", "FORMAT", "MANIFEST", "MARKER", "TIMES_FILE", "VERSION", "Store"]

PathLike = Union[str, "os.PathLike[str]"]


class Store(StoreWriter):
    """A folder of skeleton sequences: a Parquet manifest and flat float32 arrays.

    Use :meth:`create` or :meth:`open`; see the module docstring for the layout on disk.
    """

    def __init__(self, path: PathLike, table: pa.Table) -> None:
        self._path = Path(path)
        self._fds: Dict[str, int] = {}
        self._id_index: Optional[Dict[str, int]] = None
        self._set_table(table)

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(cls, path: PathLike, overwrite: bool = False) -> "Store":
        """Make an empty store at ``path`` (a new or empty folder).

        With ``overwrite=True`` an existing *store* there is deleted first; a folder that
        is not a store is never deleted.
        """
        root = Path(path)
        if root.exists():
            if not root.is_dir():
                raise StoreError("exists and is not a folder; cannot create a store here", path=root)
            if (root / MARKER).exists():
                if not overwrite:
                    raise StoreError(
                        "a store already exists here; open it to append, or overwrite it",
                        path=root,
                    )
                with WriteLock(root):
                    shutil.rmtree(root)
            elif any(root.iterdir()):
                raise StoreError(
                    "folder is not empty and is not a flag3d store; refusing to create a store in it",
                    path=root,
                )
        (root / ARRAYS).mkdir(parents=True, exist_ok=True)
        write_manifest(root, SCHEMA.empty_table())
        write_marker(root)
        return cls(root, SCHEMA.empty_table())

    @classmethod
    def open(cls, path: PathLike) -> "Store":
        """Open an existing store (raises :class:`StoreError` when ``path`` is not one)."""
        root = Path(path)
        return cls(root, read_manifest(root))

    @classmethod
    def open_or_create(cls, path: PathLike) -> "Store":
        """Open the store at ``path``, creating it when the folder is missing or empty."""
        root = Path(path)
        if (root / MARKER).exists():
            return cls.open(root)
        return cls.create(root)

    # ------------------------------------------------------------------- state
    def _set_table(self, table: pa.Table, new_ids: Optional[List[str]] = None) -> None:
        table = table.combine_chunks()
        self._table = table
        n = table.num_rows

        def ints(name: str, dtype: Any) -> np.ndarray:
            col = table.column(name)
            if col.null_count:
                raise StoreError(f"manifest column {name} has missing values", path=self._path)
            return col.to_numpy().astype(dtype, copy=False) if n else np.zeros(0, dtype)

        self._offset = ints("offset", np.int64)
        self._conf_off = ints("conf_offset", np.int64)
        self._times_off = ints("times_offset", np.int64)
        self._frames = ints("frames", np.int64)
        self._persons = ints("persons", np.int64)
        self._joints = ints("joints", np.int64)
        self._dims = ints("dims", np.int64)
        self._fps = ints("fps", np.float64)
        self._paxis = ints("person_axis", bool)
        self._layout_code, self._layouts = self._codes("layout")
        self._group_code, self._groups = self._codes("array")
        self._meta = MetaDecoder(table)
        if new_ids is not None and self._id_index is not None:
            start = n - len(new_ids)
            for k, sid in enumerate(new_ids):
                self._id_index[sid] = start + k
        else:
            self._id_index = None

    def _codes(self, name: str) -> "tuple[np.ndarray, List[str]]":
        col = self._table.column(name)
        if col.null_count:
            raise StoreError(f"manifest column {name} has missing values", path=self._path)
        if self._table.num_rows == 0:
            return np.zeros(0, np.int32), []
        enc = single_chunk(col).dictionary_encode()
        return enc.indices.to_numpy().astype(np.int32), enc.dictionary.to_pylist()

    def refresh(self) -> None:
        """Re-read the manifest to see rows committed since this store was opened."""
        self._set_table(read_manifest(self._path))

    def close(self) -> None:
        """Close the open array files (the store can still be used; files reopen on demand)."""
        for fd in self._fds.values():
            try:
                os.close(fd)
            except OSError:  # pragma: no cover
                pass
        self._fds.clear()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    def __getstate__(self) -> Dict[str, Any]:
        return {"path": str(self._path)}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__init__(state["path"], read_manifest(Path(state["path"])))  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"Store({str(self._path)!r}, {len(self)} sequences)"

    # ------------------------------------------------------------------ queries
    @property
    def path(self) -> Path:
        """The store folder."""
        return self._path

    @property
    def table(self) -> pa.Table:
        """The manifest as a pyarrow Table (zero-copy; do not modify)."""
        return self._table

    @property
    def manifest(self) -> "Any":
        """The manifest as a new pandas DataFrame (one row per sequence)."""
        return self._table.to_pandas()

    @property
    def ids(self) -> List[str]:
        """All sequence ids in row order."""
        return self._table.column("id").to_pylist()

    def __len__(self) -> int:
        return self._table.num_rows

    def _index(self) -> Dict[str, int]:
        if self._id_index is None:
            self._id_index = {sid: i for i, sid in enumerate(self._table.column("id").to_pylist())}
        return self._id_index

    def index_of(self, seq_id: str) -> int:
        """Row number of sequence ``seq_id``."""
        try:
            return self._index()[seq_id]
        except KeyError:
            raise StoreError(f"no sequence with id {seq_id!r}", path=self._path) from None

    def __contains__(self, seq_id: object) -> bool:
        return seq_id in self._index()

    def select(self, **filters: Any) -> np.ndarray:
        """Row numbers whose columns match every filter, in row order.

        Each keyword is a manifest column (``split``, ``activity``, ``subject``, ``source``,
        ``layout``, ``synthetic``, ``label``, ``domain``, ``view`` ...) and a value or a list of
        accepted values; ``None`` as a value matches missing entries.
        """
        return np.flatnonzero(filter_mask(self._table, filters, self._path))

    # ------------------------------------------------------------------ reading
    def _fd(self, name: str) -> int:
        fd = self._fds.get(name)
        if fd is None:
            try:
                fd = os.open(self._arrays / name, os.O_RDONLY)
            except FileNotFoundError:
                raise StoreError(f"array file {ARRAYS}/{name} is missing", path=self._path) from None
            self._fds[name] = fd
        return fd

    @property
    def _arrays(self) -> Path:
        return self._path / ARRAYS

    def _read_block(self, name: str, out: np.ndarray, first_row: int, row_bytes: int, i: int) -> None:
        got = pread_into(self._fd(name), out, first_row * row_bytes)
        if got != out.nbytes:
            raise StoreError(
                f"array file {ARRAYS}/{name} is truncated: sequence "
                f"{self._id_at(i)!r} needs bytes {first_row * row_bytes}.."
                f"{first_row * row_bytes + out.nbytes}, only {got} of them are there",
                path=self._path,
            )

    def _id_at(self, i: int) -> str:
        return self._table.column("id")[i].as_py()

    def _build(self, i: int) -> Sequence:
        meta = self._meta.meta(i)
        layout = self._layouts[self._layout_code[i]]
        group = self._groups[self._group_code[i]]
        t, m, c = int(self._frames[i]), int(self._persons[i]), int(self._dims[i])
        v = int(self._joints[i])
        sid = str(meta["id"]) if "id" in meta else self._id_at(i)
        if group != group_name(layout, c):
            raise StoreError(
                f"sequence {sid!r} has layout {layout} with C={c} but sits in array group "
                f"{group}", path=self._path,
            )
        shape = (m, t, v, c) if self._paxis[i] else (t, v, c)
        joints = np.empty(shape, np.float32)
        self._read_block(group + ".f32", joints, int(self._offset[i]), v * c * F32, i)
        conf = None
        if self._conf_off[i] >= 0:
            conf = np.empty(shape[:-1], np.float32)
            self._read_block(group + ".conf.f32", conf, int(self._conf_off[i]), v * F32, i)
        times = None
        if self._times_off[i] >= 0:
            times = np.empty(t, np.float64)
            self._read_block(TIMES_FILE, times, int(self._times_off[i]), F64, i)
        try:
            return Sequence(joints, layout, fps=float(self._fps[i]), confidence=conf,
                            times=times, meta=meta, path=f"{self._path}#{sid}")
        except Flag3dError as err:
            raise StoreError(err.problem, path=f"{self._path}#{sid}") from None

    def __getitem__(self, key: Union[int, str]) -> Sequence:
        if isinstance(key, str):
            return self.get(key)
        n = len(self)
        i = int(key)
        if not -n <= i < n:
            raise StoreError(f"row {i} is out of range (the store has {n} sequences)",
                             path=self._path)
        return self._build(i % n)

    def get(self, seq_id: str) -> Sequence:
        """The sequence with id ``seq_id``."""
        return self._build(self.index_of(seq_id))

    def __iter__(self) -> Iterator[Sequence]:
        return self.iter()

    def iter(
        self,
        indices: Optional[Iterable[int]] = None,
        **filters: Any,
    ) -> Iterator[Sequence]:
        """Stream sequences with bounded memory.

        Args:
            indices: row numbers to read, in this order (default: every row in store order).
            **filters: column filters as in :meth:`select` (``split="train"`` ...), applied
                on top of ``indices``.
        """
        n = len(self)
        if indices is None:
            rows = np.arange(n, dtype=np.int64)
        else:
            rows = np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices,
                              dtype=np.int64).reshape(-1)
            bad = (rows < -n) | (rows >= n)
            if bad.any():
                raise StoreError(f"row {int(rows[bad][0])} is out of range (the store has "
                                 f"{n} sequences)", path=self._path)
            rows = rows % max(n, 1)
        if filters:
            rows = rows[filter_mask(self._table, filters, self._path)[rows]]
        self._advise_sequential()
        for i in rows:
            yield self._build(int(i))

    def _advise_sequential(self) -> None:
        advise = getattr(os, "posix_fadvise", None)
        if advise is None:  # pragma: no cover
            return
        for g in self._groups:
            for name in (g + ".f32", g + ".conf.f32"):
                if (self._arrays / name).exists():
                    try:
                        advise(self._fd(name), 0, 0, os.POSIX_FADV_SEQUENTIAL)
                    except OSError:  # pragma: no cover
                        pass

    # --------------------------------------------------------------- inspection
    def summary(self) -> Dict[str, Any]:
        """Counts for ``flag3d data info``: rows, frames, hours, and per-column tallies."""
        t = self._table

        def counts(name: str) -> Dict[str, int]:
            if t.num_rows == 0:
                return {}
            vc = pc.value_counts(t.column(name)).to_pylist()
            out = {("(none)" if d["values"] is None else str(d["values"])): d["counts"] for d in vc}
            return dict(sorted(out.items()))

        frames = int(self._frames.sum()) if len(self) else 0
        seconds = float((self._frames / self._fps).sum()) if len(self) else 0.0
        synthetic = int(pc.sum(pc.fill_null(t.column("synthetic"), False).cast(pa.int64())).as_py() or 0) \
            if t.num_rows else 0
        disk = sum(p.stat().st_size for p in self._path.rglob("*") if p.is_file())
        return {
            "path": str(self._path), "rows": len(self), "frames": frames,
            "hours": seconds / 3600.0, "synthetic": synthetic, "bytes": disk,
            "layouts": counts("array"), "activity": counts("activity"),
            "subject": counts("subject"), "split": counts("split"), "source": counts("source"),
        }

    def validate(self, values: bool = True, max_problems: int = 100) -> ValidationReport:
        """Check every row; returns a :class:`ValidationReport` (never raises for bad rows).

        Checks: ids present and unique, known layout and joint count, C in {2, 3}, the
        array group matching layout and C, positive frames/persons/fps, every referenced
        byte inside its file and no two rows sharing bytes, repetition bounds inside the
        sequence, one quality row per repetition, readable ``meta_json``, and (with
        ``values=True``) finite joints, confidence and increasing time stamps.
        """
        return validate_store(self, values=values, max_problems=max_problems)

