"""The write side of a dataset store: appending sequences and rewriting the split column.

:class:`StoreWriter` is a mixin of :class:`~flag3d.data.store.Store` (use it through a
``Store``).  Every change follows the same crash-safe order: array bytes are written and
fsynced first, then a new manifest is renamed over the old one (the commit point).  Array
bytes no committed row references, left by a failed append, are cut away (``_reclaim``)
when the next writer takes the lock.

Example:
    >>> import numpy as np, tempfile, os
    >>> from flag3d.skeleton import Sequence
    >>> from flag3d.data import Store
    >>> tmp = tempfile.TemporaryDirectory()
    >>> store = Store.create(os.path.join(tmp.name, "demo"))
    >>> store.append([Sequence(np.zeros((4, 17, 2)), "coco17", meta={"id": f"s{k}"})
    ...               for k in range(2)], chunk_size=1)
    2
    >>> store.set_split({"s1": "test"})
    >>> store.table.column("split").to_pylist()
    [None, 'test']
    >>> store.close(); tmp.cleanup()
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import (
    TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Sequence as SeqType, Union,
)

import numpy as np
import pyarrow as pa

from flag3d.data.lock import WriteLock
from flag3d.data.manifest import SCHEMA, check_annotations, encode_meta, group_name
from flag3d.data.manifest_io import ARRAYS, F32, F64, MANIFEST, TIMES_FILE, write_manifest
from flag3d.data.progress import ImportProgress
from flag3d.errors import Flag3dError, StoreError
from flag3d.skeleton.layouts import get_layout
from flag3d.skeleton.sequence import Sequence


class _Appender:
    """Open array files and pending manifest rows of one :meth:`StoreWriter.append` call."""

    def __init__(self, store: "StoreWriter") -> None:
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


class StoreWriter:
    """Writing methods of :class:`~flag3d.data.store.Store` (which provides the state below)."""

    _path: Path
    _table: pa.Table
    _groups: List[str]
    _group_code: np.ndarray
    _offset: np.ndarray
    _conf_off: np.ndarray
    _times_off: np.ndarray
    _frames: np.ndarray
    _persons: np.ndarray

    if TYPE_CHECKING:  # provided by Store
        @property
        def _arrays(self) -> Path: ...
        def __len__(self) -> int: ...
        def _index(self) -> Dict[str, int]: ...
        def refresh(self) -> None: ...
        def _set_table(self, table: pa.Table, new_ids: Optional[List[str]] = None) -> None: ...

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
                row_bytes = F64
            elif name.endswith(".conf.f32") or name.endswith(".f32"):
                group = name.split(".", 1)[0]
                lay, _, c = group.rpartition("-c")
                try:
                    v = get_layout(lay).num_joints
                    row_bytes = v * F32 * (1 if name.endswith(".conf.f32") else int(c))
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
                with ImportProgress(progress, total) as tick:
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
        offset = app.write(group + ".f32", seq.joints, v * c * F32)
        conf_off = -1
        if seq.confidence is not None:
            conf_off = app.write(group + ".conf.f32", seq.confidence, v * F32)
        times_off = -1
        if seq.times is not None:
            times_off = app.write(TIMES_FILE, np.asarray(seq.times, np.float64), F64)
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
        write_manifest(self._path, table)
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
            write_manifest(self._path, table)
            self._set_table(table)
