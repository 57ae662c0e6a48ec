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
    >>> root = os.path.join(tempfile.mkdtemp(), "demo")
    >>> store = Store.create(root)
    >>> seqs = [Sequence(np.full((50, 24, 3), k, np.float32), "flag3d24", fps=30,
    ...                  meta={"id": f"s{k}", "activity": "A010", "subject": "P01",
    ...                        "repetitions": [[0, 25], [25, 50]]}) for k in range(3)]
    >>> store.append(seqs)
    3
    >>> len(store), store.get("s2").joints[0, 0, 0], store[1].meta["repetitions"]
    (3, np.float32(2.0), [[0, 25], [25, 50]])
    >>> [s.meta["id"] for s in Store.open(root).iter(store.select(activity="A010"))]
    ['s0', 's1', 's2']
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import (
    Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence as SeqType, Union,
)

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flag3d.data.lock import WriteLock
from flag3d.data.manifest import (
    SCHEMA, MetaDecoder, check_annotations, encode_meta, group_name,
)
from flag3d.data.validate import ValidationReport, validate_store
from flag3d.errors import Flag3dError, StoreError
from flag3d.skeleton.layouts import get_layout
from flag3d.skeleton.sequence import Sequence

PathLike = Union[str, "os.PathLike[str]"]

FORMAT = "flag3d-store"
VERSION = 1
MARKER = "store.json"
MANIFEST = "manifest.parquet"
ARRAYS = "arrays"
TIMES_FILE = "times.f64"

_F32 = 4
_F64 = 8


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _pread_into(fd: int, out: np.ndarray, offset: int) -> int:
    """Fill ``out`` from ``fd`` at byte ``offset``; returns the number of bytes read."""
    view = memoryview(out).cast("B")
    done = 0
    while done < len(view):
        n = os.preadv(fd, [view[done:]], offset + done)
        if n <= 0:
            break
        done += n
    return done


def _one(values: Any, what: str) -> List[Any]:
    """A filter value as a list (a single value or any iterable of values)."""
    if isinstance(values, (str, bytes, bool, int, float, np.generic)):
        return [values]
    try:
        return list(values)
    except TypeError:
        raise StoreError(f"cannot filter {what} by {values!r}") from None


class _Appender:
    """Open array files and pending manifest rows of one :meth:`Store.append` call."""

    def __init__(self, store: "Store") -> None:
        self.store = store
        self.files: Dict[str, Any] = {}
        self.rows: Dict[str, int] = {}  # next free row per file name
        self.pending: Dict[str, List[Any]] = {name: [] for name in SCHEMA.names}
        self.pending_ids: Dict[str, int] = {}

    def next_row(self, name: str, row_bytes: int) -> int:
        if name not in self.rows:
            self.rows[name] = self.store._committed_rows(name, row_bytes)
        return self.rows[name]

    def write(self, name: str, arr: np.ndarray, row_bytes: int) -> int:
        """Write ``arr`` at the end of ``arrays/<name>``; returns its first row."""
        first = self.next_row(name, row_bytes)
        f = self.files.get(name)
        if f is None:
            f = open(self.store._arrays / name, "ab", buffering=1 << 20)
            self.files[name] = f
        f.write(memoryview(np.ascontiguousarray(arr)).cast("B"))
        self.rows[name] = first + arr.nbytes // row_bytes
        return first

    def sync(self) -> None:
        for f in self.files.values():
            f.flush()
            os.fsync(f.fileno())

    def __len__(self) -> int:
        return len(self.pending["id"])

    def clear(self) -> None:
        for v in self.pending.values():
            v.clear()
        self.pending_ids.clear()

    def close(self) -> None:
        for f in self.files.values():
            try:
                f.close()
            except OSError:  # pragma: no cover
                pass
        self.files.clear()


class Store:
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
        from flag3d import __version__

        _write_manifest(root, SCHEMA.empty_table())
        marker = {"format": FORMAT, "version": VERSION, "flag3d": __version__,
                  "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        tmp = root / (MARKER + ".tmp")
        tmp.write_text(json.dumps(marker, indent=2) + "\n")
        os.replace(tmp, root / MARKER)
        _fsync_dir(root)
        return cls(root, SCHEMA.empty_table())

    @classmethod
    def open(cls, path: PathLike) -> "Store":
        """Open an existing store (raises :class:`StoreError` when ``path`` is not one)."""
        root = Path(path)
        return cls(root, _read_manifest(root))

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
        enc = _single_chunk(col).dictionary_encode()
        return enc.indices.to_numpy().astype(np.int32), enc.dictionary.to_pylist()

    def refresh(self) -> None:
        """Re-read the manifest to see rows committed since this store was opened."""
        self._set_table(_read_manifest(self._path))

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
        self.__init__(state["path"], _read_manifest(Path(state["path"])))  # type: ignore[misc]

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
        return np.flatnonzero(self._mask(filters))

    def _mask(self, filters: Mapping[str, Any]) -> np.ndarray:
        n = len(self)
        mask = np.ones(n, bool)
        for name, value in filters.items():
            if value is None:
                continue
            if name not in self._table.column_names or name == "meta_json":
                raise StoreError(
                    f"cannot select by {name!r}; manifest columns: "
                    f"{', '.join(c for c in self._table.column_names if c != 'meta_json')}",
                    path=self._path,
                )
            wanted = _one(value, name)
            col = self._table.column(name)
            keep = [v for v in wanted if v is not None]
            try:
                m = np.zeros(n, bool)
                if keep:
                    hit = pc.is_in(col, value_set=pa.array(keep, type=col.type))
                    m = hit.fill_null(False).to_numpy(zero_copy_only=False)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
                raise StoreError(
                    f"cannot select {name} = {value!r}: column {name} holds {col.type} values",
                    path=self._path,
                ) from None
            if any(v is None for v in wanted):
                m |= col.is_null().to_numpy(zero_copy_only=False)
            mask &= m
        return mask

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
        got = _pread_into(self._fd(name), out, first_row * row_bytes)
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
        self._read_block(group + ".f32", joints, int(self._offset[i]), v * c * _F32, i)
        conf = None
        if self._conf_off[i] >= 0:
            conf = np.empty(shape[:-1], np.float32)
            self._read_block(group + ".conf.f32", conf, int(self._conf_off[i]), v * _F32, i)
        times = None
        if self._times_off[i] >= 0:
            times = np.empty(t, np.float64)
            self._read_block(TIMES_FILE, times, int(self._times_off[i]), _F64, i)
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
            rows = rows[self._mask(filters)[rows]]
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

    # ------------------------------------------------------------------ writing
    def _committed_rows(self, name: str, row_bytes: int) -> int:
        """Rows of ``arrays/<name>`` the manifest references (checked against the file)."""
        end = 0
        if name == TIMES_FILE:
            sel = self._times_off >= 0
            if sel.any():
                end = int((self._times_off[sel] + self._frames[sel]).max())
        else:
            group, kind = name.split(".", 1)
            if group in self._groups:
                g = self._group_code == self._groups.index(group)
                offs = self._offset if kind == "f32" else self._conf_off
                g &= offs >= 0
                if g.any():
                    end = int((offs[g] + self._frames[g] * self._persons[g]).max())
        p = self._arrays / name
        size = p.stat().st_size if p.exists() else 0
        if size < end * row_bytes:
            raise StoreError(
                f"array file {ARRAYS}/{name} is truncated ({size} bytes, the manifest needs "
                f"{end * row_bytes}); run 'flag3d data validate'", path=self._path,
            )
        return end

    def _reclaim(self) -> None:
        """Cut array bytes no committed row references (left by a failed append)."""
        for p in sorted(self._arrays.iterdir()):
            name = p.name
            if name == TIMES_FILE:
                row_bytes = _F64
            elif name.endswith(".conf.f32") or name.endswith(".f32"):
                group = name.split(".", 1)[0]
                lay, _, c = group.rpartition("-c")
                try:
                    v = get_layout(lay).num_joints
                    row_bytes = v * _F32 * (1 if name.endswith(".conf.f32") else int(c))
                except (Flag3dError, ValueError):
                    continue
            else:
                continue
            keep = self._committed_rows(name, row_bytes) * row_bytes
            if p.stat().st_size > keep:
                os.truncate(p, keep)
        for p in self._path.glob(f".{MANIFEST}.tmp-*"):
            p.unlink(missing_ok=True)

    def append(
        self,
        sequences: Iterable[Sequence],
        *,
        chunk_size: Optional[int] = 4096,
        layout: Optional[str] = None,
        on_duplicate: str = "error",
        id_prefix: str = "seq",
        progress: bool = False,
        total: Optional[int] = None,
    ) -> int:
        """Add sequences (streamed; committed every ``chunk_size``); returns how many were added.

        Args:
            sequences: any iterable of :class:`Sequence`, e.g. ``flag3d.io.iter_sequences``.
            chunk_size: sequences per commit; ``None`` commits once at the end.
            layout: when given, every sequence must have this layout.
            on_duplicate: ``"error"`` (default) or ``"skip"`` for an id already stored.
            id_prefix: prefix of the ids given to sequences without ``meta["id"]``.
            progress: show a progress bar on stderr.
            total: expected number of sequences (for the progress bar).
        """
        if on_duplicate not in ("error", "skip"):
            raise StoreError(f"on_duplicate must be 'error' or 'skip', got {on_duplicate!r}",
                             path=self._path)
        if chunk_size is not None and chunk_size < 1:
            raise StoreError(f"chunk_size must be >= 1, got {chunk_size}", path=self._path)
        want = get_layout(layout).name if layout is not None else None
        with WriteLock(self._path):
            self.refresh()
            self._reclaim()
            app = _Appender(self)
            added = 0
            try:
                with _progress(progress, total) as tick:
                    for seq in sequences:
                        if self._add_one(app, seq, want, on_duplicate, id_prefix):
                            added += 1
                        tick()
                        if chunk_size is not None and len(app) >= chunk_size:
                            self._commit(app)
                self._commit(app)
            finally:
                app.close()
        return added

    def _add_one(self, app: _Appender, seq: Sequence, want: Optional[str],
                 on_duplicate: str, id_prefix: str) -> bool:
        if not isinstance(seq, Sequence):
            raise StoreError(f"can only store Sequence objects, got {type(seq).__name__}",
                             path=self._path)
        where = seq.path or "sequence"
        try:
            cols, meta_json = encode_meta(seq.meta, f"{where}: meta")
        except StoreError as err:
            raise err.with_path(self._path) from None
        index = self._index()
        sid = cols["id"]
        if sid is None:
            k = len(index) + len(app.pending_ids)
            while f"{id_prefix}{k:07d}" in index or f"{id_prefix}{k:07d}" in app.pending_ids:
                k += 1
            sid = f"{id_prefix}{k:07d}"
            cols["id"] = sid
        if sid in index or sid in app.pending_ids:
            if on_duplicate == "skip":
                return False
            raise StoreError(f"duplicate id {sid!r} (already in the store); ids must be unique",
                             path=self._path)
        if want is not None and seq.layout != want:
            raise StoreError(
                f"sequence {sid!r} has layout {seq.layout}, but layout {want} was required",
                path=self._path,
            )
        problem = check_annotations(cols, seq.num_frames)
        if problem:
            raise StoreError(f"sequence {sid!r}: {problem}", path=seq.path or self._path)
        v, c = seq.num_joints, seq.dims
        group = group_name(seq.layout, c)
        offset = app.write(group + ".f32", seq.joints, v * c * _F32)
        conf_off = -1
        if seq.confidence is not None:
            conf_off = app.write(group + ".conf.f32", seq.confidence, v * _F32)
        times_off = -1
        if seq.times is not None:
            times_off = app.write(TIMES_FILE, np.asarray(seq.times, np.float64), _F64)
        row = dict(cols)
        row.update(
            layout=seq.layout, joints=v, dims=c, fps=float(seq.fps), frames=seq.num_frames,
            persons=seq.num_persons, person_axis=seq.has_persons, origin=seq.path,
            array=group, offset=offset, conf_offset=conf_off, times_offset=times_off,
            meta_json=meta_json,
        )
        for name in SCHEMA.names:
            app.pending[name].append(row[name])
        app.pending_ids[sid] = len(app.pending_ids)
        return True

    def _commit(self, app: _Appender) -> None:
        if not len(app):
            return
        app.sync()
        new = pa.Table.from_pydict(app.pending, schema=SCHEMA)
        table = pa.concat_tables([self._table, new])
        _write_manifest(self._path, table)
        new_ids = list(app.pending["id"])
        app.clear()
        self._set_table(table, new_ids=new_ids)

    def set_split(self, splits: Union[Mapping[str, Optional[str]], SeqType[Optional[str]], np.ndarray]) -> None:
        """Write the ``split`` column atomically.

        Args:
            splits: either one split name (or ``None``) per row, in row order, or a mapping
                ``id -> split`` (rows not named keep their split).
        """
        with WriteLock(self._path):
            self.refresh()
            n = len(self)
            current = self._table.column("split").to_pylist()
            if isinstance(splits, Mapping):
                index = self._index()
                values = list(current)
                for sid, name in splits.items():
                    if sid not in index:
                        raise StoreError(f"no sequence with id {sid!r}", path=self._path)
                    values[index[sid]] = name
            else:
                values = list(splits)
                if len(values) != n:
                    raise StoreError(
                        f"got {len(values)} split names for {n} sequences", path=self._path)
            for v in values:
                if v is not None and not isinstance(v, str):
                    raise StoreError(f"split names must be strings, got {v!r}", path=self._path)
            changed = [i for i in range(n) if values[i] != current[i]]
            metas = self._table.column("meta_json").to_pylist()
            for i in changed:  # the column becomes the truth: drop any verbatim copy
                if metas[i] and '"split"' in metas[i]:
                    rest = json.loads(metas[i])
                    rest.pop("split", None)
                    metas[i] = json.dumps(rest, ensure_ascii=False) if rest else None
            table = self._table.set_column(
                self._table.schema.get_field_index("split"), SCHEMA.field("split"),
                pa.array(values, type=pa.string()))
            table = table.set_column(
                table.schema.get_field_index("meta_json"), SCHEMA.field("meta_json"),
                pa.array(metas, type=pa.string()))
            _write_manifest(self._path, table)
            self._set_table(table)

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


# ---------------------------------------------------------------------- helpers
def _single_chunk(col: "pa.ChunkedArray") -> pa.Array:
    if col.num_chunks == 1:
        return col.chunk(0)
    return pa.concat_arrays(col.chunks) if col.num_chunks else pa.array([], type=col.type)


def _write_manifest(root: Path, table: pa.Table) -> None:
    """Write ``table`` to a temporary file, fsync it, and rename it over the manifest."""
    tmp = root / f".{MANIFEST}.tmp-{os.getpid()}"
    try:
        pq.write_table(table, tmp, compression="zstd")
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, root / MANIFEST)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(root)


def _read_manifest(root: Path) -> pa.Table:
    if not root.exists():
        raise StoreError("no such store (make one with 'flag3d data import' or Store.create)",
                         path=root)
    if not root.is_dir():
        raise StoreError("not a flag3d store (it is a file, a store is a folder)", path=root)
    marker = root / MARKER
    if not marker.exists():
        raise StoreError(f"not a flag3d store (no {MARKER})", path=root)
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError) as err:
        raise StoreError(f"{MARKER} is unreadable ({err})", path=root) from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise StoreError(f"not a flag3d store ({MARKER} does not say format {FORMAT!r})", path=root)
    if int(info.get("version", 0)) > VERSION:
        raise StoreError(
            f"store version {info.get('version')} was written by a newer flag3d "
            f"(this one reads version {VERSION})", path=root,
        )
    mpath = root / MANIFEST
    if not mpath.exists():
        raise StoreError(f"{MANIFEST} is missing", path=root)
    try:
        table = pq.read_table(mpath)
    except (OSError, pa.ArrowException) as err:
        raise StoreError(f"{MANIFEST} is unreadable ({' '.join(str(err).split())})",
                         path=root) from None
    missing = [n for n in SCHEMA.names if n not in table.column_names]
    if missing:
        raise StoreError(f"{MANIFEST} lacks columns {', '.join(missing)}", path=root)
    try:
        return table.select(SCHEMA.names).cast(SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as err:
        raise StoreError(f"{MANIFEST} has wrong column types ({err})", path=root) from None


class _progress:
    """A context manager that yields a ``tick()`` updating an optional rich progress bar."""

    def __init__(self, enabled: bool, total: Optional[int]) -> None:
        self.enabled, self.total = enabled, total
        self.bar: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return lambda: None
        from rich.console import Console
        from rich.progress import (
            BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
        )

        cols: List[Any] = [TextColumn("importing")]
        if self.total:
            cols += [BarColumn(), MofNCompleteColumn()]
        else:
            cols += [TextColumn("{task.completed} sequences")]
        cols += [TextColumn("{task.fields[rate]}"), TimeElapsedColumn()]
        self.bar = Progress(*cols, console=Console(stderr=True), transient=False)
        self.bar.__enter__()
        self.task = self.bar.add_task("import", total=self.total, rate="")
        self.t0 = time.perf_counter()
        self.n = 0
        return self.tick

    def tick(self) -> None:
        self.n += 1
        if self.n % 64 == 0:
            self._show()

    def _show(self) -> None:
        rate = self.n / max(time.perf_counter() - self.t0, 1e-9)
        self.bar.update(self.task, completed=self.n, rate=f"{rate:,.0f}/s")

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self._show()
            self.bar.__exit__(*exc)
