"""flag3d's own single-sequence files: ``.npz`` (format ``npz``), ``.json`` (``json``) and folders
of them (``npz-dir``).

**npz** (``numpy.savez_compressed``; read with ``allow_pickle=False``, no object arrays):

=============  ==============================================================================
``joints``     float32 ``(T, V, C)`` or ``(M, T, V, C)``
``confidence`` optional float32, ``joints.shape[:-1]``
``times``      optional float64 ``(T,)``, seconds
``meta``       0-d unicode array holding a JSON object:
               ``{"format": "flag3d-sequence", "version": 1, "layout": ..., "fps": ...,
               "meta": {...}}``
=============  ==============================================================================

**json** (UTF-8, strict JSON, ``"format"`` first so the file can be recognised)::

    {"format": "flag3d-sequence", "version": 1, "layout": "coco17", "fps": 30.0,
     "joints": [[[x, y], ...], ...], "confidence": [[...]] or null,
     "times": [...] or null, "meta": {...}}

Float32 values survive the text round trip exactly.  ``meta`` must be JSON-serialisable
(numpy scalars are converted); a synthetic sequence keeps ``"synthetic": true`` there.

**npz-dir**: a folder holding only such ``.npz`` / ``.json`` files, read in name order; the
writer writes ``<id>.npz`` per sequence (``meta["id"]`` or the index).

Example:
    >>> import numpy as np, tempfile, os
    >>> from flag3d.skeleton import Sequence
    >>> s = Sequence(np.ones((4, 17, 2)), "coco17", fps=25, meta={"id": "a", "synthetic": True})
    >>> p = os.path.join(tempfile.mkdtemp(), "a.npz")
    >>> write_npz(p, [s])
    >>> r = next(read_npz(p))
    >>> r.layout, r.fps, r.meta, bool((r.joints == s.joints).all())
    ('coco17', 25.0, {'id': 'a', 'synthetic': True}, True)
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional

import numpy as np

from flag3d.errors import FormatError, PathLike
from flag3d.io.registry import register_format
from flag3d.skeleton.sequence import Sequence

FORMAT = "flag3d-sequence"
VERSION = 1
_JSON_HEAD = re.compile(rb'\s*\{\s*"format"\s*:\s*"flag3d-sequence"')


def _jsonable(value: Any) -> Any:
    """numpy scalars/arrays -> Python values, recursively (json.dumps does the checking)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    return value


def _dump_meta(meta: Dict[str, Any], path: PathLike) -> Dict[str, Any]:
    try:
        plain = _jsonable(meta)
        json.dumps(plain, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise FormatError(f"meta is not JSON-serialisable ({err})", path=path) from None
    return plain


def _header(seq: Sequence, path: PathLike) -> Dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "layout": seq.layout, "fps": seq.fps,
            "meta": _dump_meta(seq.meta, path)}


def _check_header(head: Any, path: PathLike) -> None:
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise FormatError(f"not a {FORMAT} file (no \"format\": \"{FORMAT}\")", path=path)
    if head.get("version") != VERSION:
        raise FormatError(f"{FORMAT} version {head.get('version')!r} is not supported "
                          f"(this flag3d reads version {VERSION})", path=path)
    for key in ("layout", "fps"):
        if key not in head:
            raise FormatError(f"no {key!r} in the header", path=path)
    if not isinstance(head.get("meta", {}), dict):
        raise FormatError("'meta' must be a JSON object", path=path)


def _one(sequences: Iterable[Sequence], path: PathLike, fmt: str) -> Sequence:
    seqs = list(sequences)
    if len(seqs) != 1:
        raise FormatError(f"a {fmt} file holds exactly one sequence, got {len(seqs)}; "
                          "write a folder with format npz-dir", path=path)
    return seqs[0]


def _nonempty(path: PathLike) -> Path:
    p = Path(path)
    if not p.is_file():
        raise FormatError("no such file", path=p)
    if p.stat().st_size == 0:
        raise FormatError("empty file", path=p)
    return p


# ---------------------------------------------------------------------------- npz
def write_npz(path: PathLike, sequences: Iterable[Sequence]) -> None:
    """Write one sequence to ``path`` (``.npz``)."""
    seq = _one(sequences, path, "npz")
    arrays: Dict[str, np.ndarray] = {
        "joints": np.asarray(seq.joints, dtype=np.float32),
        "meta": np.array(json.dumps(_header(seq, path), allow_nan=False)),
    }
    if seq.confidence is not None:
        arrays["confidence"] = np.asarray(seq.confidence, dtype=np.float32)
    if seq.times is not None:
        arrays["times"] = np.asarray(seq.times, dtype=np.float64)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:  # a file object keeps numpy from appending ".npz"
        np.savez_compressed(f, **arrays)


def _member(data: Any, key: str, p: Path) -> np.ndarray:
    try:
        return data[key]
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise FormatError(f"array {key!r} holds Python objects; refused (only numeric "
                              "arrays are read, nothing is unpickled)", path=p) from None
        raise FormatError(f"corrupt array {key!r} ({err})", path=p) from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as err:
        raise FormatError(f"truncated or corrupt .npz ({type(err).__name__}: {err})",
                          path=p) from None


def read_npz(path: PathLike) -> Iterator[Sequence]:
    """Yield the one sequence of a flag3d ``.npz`` file."""
    p = _nonempty(path)
    try:
        data = np.load(p, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        raise FormatError(f"not a readable .npz ({type(err).__name__}: {err})", path=p) from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise FormatError("not an .npz archive (a plain .npy array?)", path=p)
    try:
        missing = [k for k in ("joints", "meta") if k not in data.files]
        if missing:
            raise FormatError(f"no {' or '.join(missing)} array (found: "
                              f"{', '.join(data.files) or 'none'})", path=p)
        arrays = {k: _member(data, k, p) for k in ("joints", "confidence", "times", "meta")
                  if k in data.files}
    finally:
        data.close()
    try:
        head = json.loads(str(arrays.pop("meta")))
    except ValueError:
        raise FormatError("the 'meta' entry is not JSON", path=p) from None
    _check_header(head, p)
    yield Sequence(arrays["joints"], head["layout"], fps=head["fps"],
                   confidence=arrays.get("confidence"), times=arrays.get("times"),
                   meta=head.get("meta", {}), path=str(p))


# --------------------------------------------------------------------------- json
def write_json(path: PathLike, sequences: Iterable[Sequence]) -> None:
    """Write one sequence to ``path`` (``.json``)."""
    seq = _one(sequences, path, "json")
    head = _header(seq, path)
    doc = {key: head[key] for key in ("format", "version", "layout", "fps")}
    doc["joints"] = seq.joints.tolist()  # float32 -> float64 repr, exact when read back
    doc["confidence"] = None if seq.confidence is None else seq.confidence.tolist()
    doc["times"] = None if seq.times is None else seq.times.tolist()
    doc["meta"] = head["meta"]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, allow_nan=False)


def read_json(path: PathLike) -> Iterator[Sequence]:
    """Yield the one sequence of a flag3d ``.json`` file."""
    p = _nonempty(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise FormatError("not a UTF-8 text file", path=p) from None
    except ValueError as err:
        raise FormatError(f"not valid JSON ({err})", path=p) from None
    _check_header(doc, p)
    arrays: Dict[str, Optional[np.ndarray]] = {}
    for key, dtype in (("joints", np.float32), ("confidence", np.float32),
                       ("times", np.float64)):
        value = doc.get(key)
        try:
            arrays[key] = None if value is None else np.asarray(value, dtype=dtype)
        except (TypeError, ValueError):
            raise FormatError(f"{key!r} is not a regular numeric array (ragged or not numbers)",
                              path=p) from None
    if arrays["joints"] is None:
        raise FormatError("no 'joints'", path=p)
    yield Sequence(arrays["joints"], doc["layout"], fps=doc["fps"],
                   confidence=arrays["confidence"], times=arrays["times"],
                   meta=doc.get("meta", {}), path=str(p))


def _is_flag3d_json(p: Path) -> bool:
    if not (p.is_file() and p.suffix.lower() == ".json"):
        return False
    with open(p, "rb") as f:
        head = f.read(256)
    return _JSON_HEAD.match(head) is not None


# ------------------------------------------------------------------------ npz-dir
def _members(folder: Path) -> List[Path]:
    return sorted(q for q in folder.iterdir() if not q.name.startswith("."))


def read_npz_dir(path: PathLike) -> Iterator[Sequence]:
    """Yield the sequences of every ``.npz`` / ``.json`` file in a folder, in name order."""
    folder = Path(path)
    if not folder.is_dir():
        raise FormatError("not a folder", path=folder)
    for q in _members(folder):
        if q.suffix.lower() == ".npz":
            yield from read_npz(q)
        elif q.suffix.lower() == ".json":
            yield from read_json(q)


def write_npz_dir(path: PathLike, sequences: Iterable[Sequence]) -> None:
    """Write one ``<id>.npz`` per sequence into the folder ``path``."""
    folder = Path(path)
    seen = set()
    for k, seq in enumerate(sequences):
        sid = str(seq.meta.get("id", f"{k:06d}"))
        if sid in seen or not sid or "/" in sid or "\\" in sid or sid.startswith("."):
            raise FormatError(f"sequence id {sid!r} is duplicated or not a valid file name",
                              path=folder)
        seen.add(sid)
        write_npz(folder / f"{sid}.npz", [seq])


def _detect_dir(p: Path) -> bool:
    if not p.is_dir():
        return False
    files = _members(p)
    return bool(files) and all(
        q.suffix.lower() == ".npz" and q.is_file() or _is_flag3d_json(q) for q in files
    )


register_format("npz", "flag3d single-sequence .npz (joints, confidence, times, JSON meta)",
                lambda p: p.is_file() and p.suffix.lower() == ".npz", read_npz, write_npz)
register_format("json", "flag3d single-sequence .json (\"format\": \"flag3d-sequence\")",
                _is_flag3d_json, read_json, write_json)
register_format("npz-dir", "a folder of flag3d .npz / .json sequence files",
                _detect_dir, read_npz_dir, write_npz_dir)
