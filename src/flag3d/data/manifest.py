"""The manifest schema of a dataset store, and how a Sequence's metadata maps onto it.

One manifest row describes one stored :class:`~flag3d.skeleton.Sequence`.  The metadata keys
with a documented meaning (see :mod:`flag3d.skeleton.sequence`) get their own typed columns,
so a corpus can be filtered without parsing JSON; every other key goes to ``meta_json``.

Round trip rule: a key whose value fits its column exactly (``activity`` a ``str``,
``label`` an ``int``, ``repetitions`` a list of integer pairs ...) is stored in the column
only.  A value that does not fit (``subject=3``, ``score=7`` as an int, ``quality`` with
floats) is kept verbatim in ``meta_json`` and the column holds a best-effort copy for queries
(``"3"``, ``7.0``, or null); on reading, ``meta_json`` wins.  Metadata is first normalised to
JSON types: tuples become lists, numpy scalars and arrays become Python numbers and lists,
path objects become strings.  Apart from that normalisation, ``meta`` comes back equal.

Example:
    >>> from flag3d.data.manifest import encode_meta, decode_meta
    >>> cols, rest = encode_meta({"activity": "A010", "repetitions": [(0, 40), (40, 90)],
    ...                           "label": 9, "seed": 3})
    >>> cols["activity"], cols["rep_start"], cols["rep_end"], rest
    ('A010', [0, 40], [40, 90], '{"seed": 3}')
    >>> decode_meta(cols, rest) == {"activity": "A010", "repetitions": [[0, 40], [40, 90]],
    ...                             "label": 9, "seed": 3}
    True
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np
import pyarrow as pa

from flag3d.errors import StoreError

#: String metadata keys stored in their own column.
STRING_KEYS = ("activity", "subject", "split", "source", "domain", "view", "units")

#: Manifest columns, in order.  Location columns: ``array`` names the array group
#: (file ``arrays/<array>.f32``), ``offset`` is the first frame row of the sequence in it,
#: ``conf_offset`` / ``times_offset`` the first row in the confidence / time files (-1: none).
SCHEMA = pa.schema([
    ("id", pa.string()),
    ("activity", pa.string()),
    ("label", pa.int32()),
    ("subject", pa.string()),
    ("split", pa.string()),
    ("layout", pa.string()),
    ("joints", pa.int16()),
    ("dims", pa.int8()),
    ("fps", pa.float64()),
    ("frames", pa.int32()),
    ("persons", pa.int16()),
    ("person_axis", pa.bool_()),
    ("rep_start", pa.list_(pa.int32())),
    ("rep_end", pa.list_(pa.int32())),
    ("quality", pa.list_(pa.list_(pa.int8()))),
    ("score", pa.float64()),
    ("correct", pa.bool_()),
    ("source", pa.string()),
    ("synthetic", pa.bool_()),
    ("domain", pa.string()),
    ("view", pa.string()),
    ("units", pa.string()),
    ("origin", pa.string()),
    ("array", pa.string()),
    ("offset", pa.int64()),
    ("conf_offset", pa.int64()),
    ("times_offset", pa.int64()),
    ("meta_json", pa.string()),
])

#: Columns that carry metadata (decoded back into ``Sequence.meta``).
META_COLUMNS = (
    "id", *STRING_KEYS, "label", "rep_start", "rep_end", "quality", "score", "correct",
    "synthetic", "meta_json",
)

_INT32 = (-(2**31), 2**31 - 1)
_INT8 = (-128, 127)


def group_name(layout: str, dims: int) -> str:
    """Name of the array group (and file stem) for a layout and coordinate count."""
    return f"{layout}-c{int(dims)}"


class _Unstorable(Exception):
    def __init__(self, kind: str, key: str = "") -> None:
        self.kind, self.keys = kind, [key] if key else []


_PLAIN = (str, int, float, bool, type(None))


def _norm(value: Any) -> Any:
    t = type(value)
    if t in _PLAIN:
        return value
    if t is list or t is tuple:
        if all(type(x) in _PLAIN for x in value):
            return list(value)
        out = []
        for k, x in enumerate(value):
            try:
                out.append(_norm(x))
            except _Unstorable as bad:
                bad.keys.insert(0, f"[{k}]")
                raise
        return out
    if t is dict and all(type(k) is str and type(x) in _PLAIN for k, x in value.items()):
        return dict(value)
    if isinstance(value, Mapping):
        res: Dict[str, Any] = {}
        for k, x in value.items():
            if not isinstance(k, str):
                raise _Unstorable(f"a non-string key {k!r}; metadata keys must be strings")
            try:
                res[str(k)] = _norm(x)
            except _Unstorable as bad:
                bad.keys.insert(0, f"[{k!r}]")
                raise
        return res
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return _norm(value.tolist())
    for plain in (bool, int, float, str):  # other subclasses (np.str_, IntEnum ...)
        if isinstance(value, plain):
            return plain(value)
    if isinstance(value, (list, tuple)):
        return _norm(list(value))
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise _Unstorable(f"a value of type {type(value).__name__}, which cannot be stored as JSON")


def normalize(value: Any, where: str = "meta") -> Any:
    """``value`` converted to plain JSON types (raises :class:`StoreError` when impossible)."""
    try:
        return _norm(value)
    except _Unstorable as bad:
        raise StoreError(f"{where}{''.join(bad.keys)} holds {bad.kind}") from None


def _is_int(v: Any, lo_hi: Tuple[int, int]) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo_hi[0] <= v <= lo_hi[1]


def _rep_pairs(v: Any) -> Optional[Tuple[List[int], List[int]]]:
    """``(starts, ends)`` when ``v`` is a list of integer pairs, else ``None``."""
    if not isinstance(v, list):
        return None
    starts, ends = [], []
    for pair in v:
        if not (isinstance(pair, list) and len(pair) == 2
                and _is_int(pair[0], _INT32) and _is_int(pair[1], _INT32)):
            return None
        starts.append(pair[0])
        ends.append(pair[1])
    return starts, ends


def _quality_rows(v: Any) -> Optional[List[List[int]]]:
    if not isinstance(v, list):
        return None
    for row in v:
        if not (isinstance(row, list) and all(_is_int(x, _INT8) for x in row)):
            return None
    return v


def encode_meta(meta: Mapping[str, Any], where: str = "meta") -> Tuple[Dict[str, Any], Optional[str]]:
    """Normalise metadata and split it into column values and the ``meta_json`` remainder.

    Returns ``(columns, meta_json)``; ``columns`` has a value (possibly ``None``) for every
    metadata column except ``meta_json``; ``meta_json`` is ``None`` when nothing remains.
    ``id`` is copied to the column as a string when present (the store fills it otherwise).
    """
    rest = normalize(meta, where)
    cols: Dict[str, Any] = {k: None for k in META_COLUMNS if k != "meta_json"}
    for key in ("id", *STRING_KEYS):
        if key not in rest:
            continue
        v = rest[key]
        if isinstance(v, str):
            cols[key] = rest.pop(key)
        elif isinstance(v, (int, float)):  # best effort for queries; exact value stays in JSON
            cols[key] = str(v)
    if "label" in rest:
        v = rest["label"]
        if _is_int(v, _INT32):
            cols["label"] = rest.pop("label")
    if "score" in rest:
        v = rest["score"]
        if isinstance(v, float):
            cols["score"] = rest.pop("score")
        elif isinstance(v, int) and not isinstance(v, bool):
            cols["score"] = float(v)
    for key in ("correct", "synthetic"):
        if isinstance(rest.get(key), bool):
            cols[key] = rest.pop(key)
    if "repetitions" in rest:
        pairs = _rep_pairs(rest["repetitions"])
        if pairs is not None:
            cols["rep_start"], cols["rep_end"] = pairs
            del rest["repetitions"]
    if "quality" in rest:
        q = _quality_rows(rest["quality"])
        if q is not None:
            cols["quality"] = rest.pop("quality")
    return cols, (json.dumps(rest, ensure_ascii=False) if rest else None)


def decode_meta(cols: Mapping[str, Any], meta_json: Optional[str]) -> Dict[str, Any]:
    """Rebuild ``Sequence.meta`` from a row's metadata columns and its ``meta_json``."""
    meta: Dict[str, Any] = {}
    for key in ("id", "activity", "label", "subject", "split", "source", "domain", "view",
                "units", "score", "correct", "synthetic", "quality"):
        v = cols.get(key)
        if v is not None:
            meta[key] = v
    starts = cols.get("rep_start")
    if starts is not None:
        meta["repetitions"] = [[int(s), int(e)] for s, e in zip(starts, cols["rep_end"])]
    if meta_json:
        meta.update(json.loads(meta_json))
    return meta


class MetaDecoder:
    """Fast per-row access to the metadata columns of a manifest table.

    Low-cardinality strings are dictionary-encoded, numbers and repetition lists are kept
    as numpy arrays, so decoding one row costs a few microseconds instead of one Arrow
    scalar conversion per column.  Memory: a few bytes per row and column.
    """

    _DICT = ("activity", "subject", "split", "source", "domain", "view", "units")

    def __init__(self, table: pa.Table) -> None:
        n = table.num_rows
        self._getters: List[Tuple[str, Any]] = []
        for name in META_COLUMNS:
            col = table.column(name)
            if n == 0 or col.null_count == n:
                continue
            arr = col.chunk(0) if col.num_chunks == 1 else pa.concat_arrays(col.chunks)
            self._getters.append((name, self._getter(name, arr)))

    @staticmethod
    def _getter(name: str, arr: pa.Array) -> Any:
        valid = (np.ones(len(arr), bool) if arr.null_count == 0
                 else arr.is_valid().to_numpy(zero_copy_only=False))
        if name in MetaDecoder._DICT:
            enc = arr.dictionary_encode()
            codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False)
            words = enc.dictionary.to_pylist()
            return lambda i: words[codes[i]] if codes[i] >= 0 else None
        if name in ("label", "score", "correct", "synthetic"):
            vals = arr.fill_null(False if name in ("correct", "synthetic") else 0).to_numpy(
                zero_copy_only=False)
            return lambda i: vals[i].item() if valid[i] else None
        if name in ("rep_start", "rep_end"):
            offs = arr.offsets.to_numpy()
            flat = arr.values.to_numpy(zero_copy_only=False)
            return lambda i: flat[offs[i]:offs[i + 1]].tolist() if valid[i] else None
        return lambda i: arr[i].as_py()

    def columns(self, i: int) -> Dict[str, Any]:
        """The metadata column values of row ``i`` (absent keys: columns that are all null)."""
        return {name: get(i) for name, get in self._getters}

    def meta(self, i: int) -> Dict[str, Any]:
        """``Sequence.meta`` of row ``i``."""
        cols = self.columns(i)
        return decode_meta(cols, cols.pop("meta_json", None))


def check_annotations(meta_cols: Mapping[str, Any], frames: int) -> Optional[str]:
    """The problem with a row's repetitions/quality for a ``frames``-long sequence, or None."""
    starts, ends = meta_cols.get("rep_start"), meta_cols.get("rep_end")
    if starts is None and ends is None:
        reps = None
    elif starts is None or ends is None or len(starts) != len(ends):
        return "rep_start and rep_end have different lengths"
    else:
        reps = len(starts)
        for k, (s, e) in enumerate(zip(starts, ends)):
            if not 0 <= s < e:
                return f"repetition {k} [{s}, {e}] is empty or starts before frame 0"
            if e > frames:
                return f"repetition {k} [{s}, {e}] ends after the last frame ({frames} frames)"
    quality = meta_cols.get("quality")
    if quality is not None and reps is not None and len(quality) != reps:
        return f"quality has {len(quality)} rows for {reps} repetitions"
    return None

