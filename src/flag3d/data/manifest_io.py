"""The files of a dataset store on disk: their names, the marker, and the manifest's IO.

:mod:`flag3d.data.manifest` says what a manifest row holds; this module reads and writes
the files themselves.  :func:`write_manifest` is the commit point of every change (write a
temporary file, fsync, rename over ``manifest.parquet``); :func:`read_manifest` checks the
marker, the version and the columns, and raises a one-line :class:`~flag3d.errors.StoreError`
naming the store for anything wrong.  :func:`pread_into` fills an array straight from a file.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from flag3d.data.manifest import SCHEMA
    >>> from flag3d.data.manifest_io import read_manifest, write_manifest, write_marker
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     write_manifest(Path(tmp), SCHEMA.empty_table())
    ...     write_marker(Path(tmp))
    ...     read_manifest(Path(tmp)).num_rows
    0
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from flag3d.data.manifest import SCHEMA
from flag3d.errors import StoreError

FORMAT = "flag3d-store"
VERSION = 1
MARKER = "store.json"
MANIFEST = "manifest.parquet"
ARRAYS = "arrays"
TIMES_FILE = "times.f64"

#: Bytes per stored value: joints and confidence are float32, time stamps float64.
F32 = 4
F64 = 8


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename inside it) to disk, where the platform allows."""
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


def pread_into(fd: int, out: np.ndarray, offset: int) -> int:
    """Fill ``out`` from ``fd`` at byte ``offset``; returns the number of bytes read."""
    view = memoryview(out).cast("B")
    done = 0
    while done < len(view):
        n = os.preadv(fd, [view[done:]], offset + done)
        if n <= 0:
            break
        done += n
    return done


def single_chunk(col: "pa.ChunkedArray") -> pa.Array:
    """The column as one contiguous array."""
    if col.num_chunks == 1:
        return col.chunk(0)
    return pa.concat_arrays(col.chunks) if col.num_chunks else pa.array([], type=col.type)


def write_marker(root: Path) -> None:
    """Write ``store.json`` (format, version, flag3d version, creation time) atomically."""
    from flag3d import __version__

    marker = {"format": FORMAT, "version": VERSION, "flag3d": __version__,
              "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    tmp = root / (MARKER + ".tmp")
    tmp.write_text(json.dumps(marker, indent=2) + "\n")
    os.replace(tmp, root / MARKER)
    fsync_dir(root)


def write_manifest(root: Path, table: pa.Table) -> None:
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
    fsync_dir(root)


def read_manifest(root: Path) -> pa.Table:
    """The manifest of the store at ``root``, cast to :data:`SCHEMA` (checked first)."""
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
