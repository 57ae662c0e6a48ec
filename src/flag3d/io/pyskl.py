"""PYSKL / MMAction2 skeleton annotation pickles (format ``pyskl``: ``.pkl`` / ``.pickle``).

The file holds one dict::

    {"split": {"train": [id, ...], "val": [id, ...]},      # optional
     "annotations": [{"frame_dir": id, "label": int, "total_frames": T,
                      "keypoint": float array (M, T, V, C),
                      "keypoint_score": (M, T, V),             # 2D files
                      "img_shape": (h, w), ...}, ...]}

FLAG3D's ``flag3d.pkl`` is 3D ``ntu25`` (one person, 60 classes), ``flag2d.pkl`` 2D ``coco17``.

Reading never runs code from the file: :class:`RestrictedUnpickler` rebuilds numpy arrays,
numpy scalars and plain containers (numpy 1.x ``numpy.core.*`` and numpy 2.x
``numpy._core.*`` names) and refuses everything else with
:class:`~flag3d.errors.UnsafePickleError`.

Reader conventions (``read_pyskl(path, layout=None, split=None, fps=None,
drop_empty_persons=False)``):

* layout: ``C == 3, V == 25`` -> ``ntu25``; ``C == 2, V == 17`` -> ``coco17``; otherwise the
  unique layout with V joints, else a :class:`~flag3d.errors.LayoutError` asking for ``layout=``.
* persons: ``M == 1`` is squeezed to ``(T, V, C)``; ``M > 1`` keeps ``(M, T, V, C)``.
  PYSKL pads missing persons with zeros; ``drop_empty_persons=True`` removes persons whose
  keypoints are all zero (keeping at least one).
* split: ``meta["split"]`` is the first split (in file order) listing the sample; when several
  list it, ``meta["splits"]`` holds all of them.  With ``split="val"`` only that split's samples
  are read and ``meta["split"]`` is ``"val"``.
* fps: the ``fps`` argument, else an annotation's ``fps`` key, else 30.
* meta: ``id`` = ``frame_dir``, ``label``, ``source="pyskl"``, ``units`` (``"m"`` for 3D --
  assumed, as in the NTU pickles; ``"px"`` for 2D), ``img_shape`` ``[h, w]``, and every other
  annotation key whose value is plain data (numbers, strings, lists; arrays are skipped).
  Keys stored in the annotation win over these defaults, so a written file reads back as written.
  A top-level ``"synthetic": True`` marks every sample synthetic.
* ``keypoint_score`` becomes :attr:`Sequence.confidence`; coordinates are returned as stored.

The writer stores keypoints as float32 ``(M, T, V, C)``, adds ``keypoint_score`` (ones when a
sequence has no confidence) for 2D, ``img_shape`` from meta, ``fps`` and the remaining
JSON-serialisable meta keys in each annotation, and ``"synthetic": True`` at the top level and in
each synthetic annotation.  Time stamps are not stored (PYSKL has no field for them).

Example:
    >>> import numpy as np, tempfile, os
    >>> from flag3d.skeleton import Sequence
    >>> s = Sequence(np.zeros((8, 25, 3)), "ntu25", meta={"id": "a", "label": 3, "split": "train"})
    >>> p = os.path.join(tempfile.mkdtemp(), "x.pkl")
    >>> write_pyskl(p, [s])
    >>> [(r.meta["id"], r.meta["label"], r.meta["split"], r.joints.shape) for r in read_pyskl(p)]
    [('a', 3, 'train', (8, 25, 3))]
"""

from __future__ import annotations

import _compat_pickle
import collections
import importlib
import io
import pickle
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

import numpy as np

from flag3d.errors import FormatError, Flag3dError, LayoutError, PathLike, UnsafePickleError
from flag3d.io.registry import register_format
from flag3d.skeleton.layouts import find_layout_for
from flag3d.skeleton.sequence import Sequence

_HANDLED = ("frame_dir", "label", "total_frames", "keypoint", "keypoint_score", "img_shape")
_SKIP = object()


def _latin1_encode(text: Any, encoding: str = "latin1") -> bytes:
    """The ``_codecs.encode(str, "latin1")`` that protocol-2 pickles use for ``bytes``."""
    if not isinstance(text, str) or encoding.replace("-", "").lower() != "latin1":
        raise pickle.UnpicklingError(f"refused _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _numpy_core(sub: str) -> Any:
    try:  # numpy._core (numpy >= 1.26), else numpy.core
        return importlib.import_module(f"numpy._core.{sub}")
    except ImportError:
        return importlib.import_module(f"numpy.core.{sub}")


def _allowed() -> Dict[Tuple[str, str], Any]:
    """(module, name) -> object: what numpy 1.x/2.x array and scalar pickles reference."""
    multiarray, numeric = _numpy_core("multiarray"), _numpy_core("numeric")
    table: Dict[Tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("_codecs", "encode"): _latin1_encode,
    }
    for core in ("numpy.core", "numpy._core"):
        table[(f"{core}.multiarray", "_reconstruct")] = multiarray._reconstruct
        table[(f"{core}.multiarray", "scalar")] = multiarray.scalar
        table[(f"{core}.numeric", "_frombuffer")] = numeric._frombuffer
    for obj in (set, frozenset, bytes, bytearray, complex):
        table[("builtins", obj.__name__)] = obj
    return table


def _py3_name(module: str, name: str) -> Tuple[str, str]:
    """The Python 3 name of a global as protocol 0-2 pickles spell it (``__builtin__.eval``)."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays/scalars and plain containers, nothing else.

    Args:
        file: a binary file object.
        path: the file name used in the error message.
    """

    def __init__(self, file: io.BufferedIOBase, path: PathLike = "<pickle>") -> None:
        super().__init__(file, encoding="latin1")  # latin1: numpy arrays from Python 2
        self._path = path
        self._table = _allowed()

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._table:
            module, name = _py3_name(module, name)
        try:
            return self._table[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refused to load {module}.{name}: the pickle asks for more than numpy arrays "
                "and plain containers (it may run code); not loaded",
                path=self._path,
            ) from None


def _restricted_load(path: PathLike) -> Any:
    p = Path(path)
    if not p.is_file():
        raise FormatError("no such file", path=p)
    if p.stat().st_size == 0:
        raise FormatError("empty file", path=p)
    with open(p, "rb") as f:
        try:
            return RestrictedUnpickler(f, path=p).load()
        except Flag3dError:
            raise
        except (EOFError, pickle.UnpicklingError) as err:
            raise FormatError(f"truncated or corrupt pickle ({err})", path=p) from None
        except Exception as err:  # allowed constructors fail in many ways on corrupt input
            raise FormatError(f"corrupt pickle ({type(err).__name__}: {err})", path=p) from None


def load_pyskl_dict(path: PathLike) -> Dict[str, Any]:
    """The raw top-level dict of a PYSKL pickle, loaded with :class:`RestrictedUnpickler`."""
    data = _restricted_load(path)
    if not isinstance(data, dict):
        raise FormatError(f"not a PYSKL annotation pickle: top level is a "
                          f"{type(data).__name__}, expected a dict", path=path)
    return data


def _plain(value: Any) -> Any:
    """``value`` as JSON-like data (numpy scalars -> Python, tuples -> lists), or ``_SKIP``."""
    if isinstance(value, np.generic) and not isinstance(value, np.void):
        return _plain(value.item())
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return _SKIP if any(v is _SKIP for v in items) else items
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        items = {k: _plain(v) for k, v in value.items()}
        return _SKIP if any(v is _SKIP for v in items.values()) else items
    return _SKIP


def _infer_layout(v: int, c: int) -> str:
    if (c, v) == (3, 25):
        return "ntu25"
    if (c, v) == (2, 17):
        return "coco17"
    name = find_layout_for(v)
    if name is None:
        raise LayoutError(f"cannot tell the layout of keypoints with V={v}, C={c}; "
                          "pass layout= (see flag3d.skeleton.layouts.layout_names())")
    return name


def _split_index(splits: Any, path: PathLike) -> Dict[str, List[str]]:
    """sample id -> split names listing it, in file order."""
    if splits is None:
        return {}
    if not isinstance(splits, dict):
        raise FormatError(f"'split' must map names to id lists, got {type(splits).__name__}",
                          path=path)
    index: Dict[str, List[str]] = {}
    for name, ids in splits.items():
        if not isinstance(ids, (list, tuple)):
            raise FormatError(f"split {name!r} is a {type(ids).__name__}, expected a list of ids",
                              path=path)
        for sid in ids:
            index.setdefault(str(sid), []).append(str(name))
    return index


def _to_sequence(ann: Any, k: int, path: PathLike, layout: Optional[str], fps: Optional[float],
                 splits: List[str], top_synthetic: bool, drop_empty: bool) -> Sequence:
    if not isinstance(ann, dict):
        raise FormatError(f"annotation {k} is a {type(ann).__name__}, expected a dict", path=path)
    sid = str(ann.get("frame_dir", f"#{k}"))
    where = f"sample {sid}"
    if "frame_dir" not in ann:
        raise FormatError(f"annotation {k} has no 'frame_dir'", path=path)
    if "label" not in ann:
        raise FormatError(f"{where}: no 'label'", path=path)
    label = _plain(ann["label"])
    if isinstance(label, bool) or not isinstance(label, (int, float)) or label != int(label):
        raise FormatError(f"{where}: label {ann['label']!r} is not an integer", path=path)
    kp = ann.get("keypoint")
    if not isinstance(kp, np.ndarray) or not np.issubdtype(kp.dtype, np.number):
        raise FormatError(f"{where}: 'keypoint' is missing or not a numeric array", path=path)
    if kp.ndim != 4:
        raise FormatError(f"{where}: 'keypoint' has shape {kp.shape}, expected (M, T, V, C)",
                          path=path)
    m, t, v, c = kp.shape
    if "total_frames" in ann and _plain(ann["total_frames"]) != t:
        raise FormatError(f"{where}: total_frames is {ann['total_frames']} but 'keypoint' has "
                          f"{t} frames", path=path)
    score = ann.get("keypoint_score")
    if score is not None:
        if not isinstance(score, np.ndarray) or score.shape != (m, t, v):
            shape = getattr(score, "shape", type(score).__name__)
            raise FormatError(f"{where}: 'keypoint_score' has shape {shape}, expected "
                              f"{(m, t, v)}", path=path)
    if drop_empty and m > 1:
        keep = [i for i in range(m) if np.any(kp[i])] or [0]
        kp = kp[keep]
        score = None if score is None else score[keep]
    if kp.shape[0] == 1:
        kp = kp[0]
        score = None if score is None else score[0]
    meta: Dict[str, Any] = {"id": sid, "label": int(label), "source": "pyskl",
                            "units": "m" if c == 3 else "px"}
    if splits:
        meta["split"] = splits[0]
        if len(splits) > 1:
            meta["splits"] = list(splits)
    if "img_shape" in ann:
        try:
            meta["img_shape"] = [int(x) for x in np.asarray(ann["img_shape"]).ravel()]
        except (TypeError, ValueError):
            raise FormatError(f"{where}: img_shape {ann['img_shape']!r} is not (h, w)",
                              path=path) from None
    for key, value in ann.items():
        if key not in _HANDLED and isinstance(key, str):
            plain = _plain(value)
            if plain is not _SKIP:
                meta[key] = plain
    if top_synthetic:
        meta["synthetic"] = True
    seq_fps = fps if fps is not None else meta.pop("fps", 30.0)
    meta.pop("fps", None)
    try:
        return Sequence(kp, layout or _infer_layout(v, c), fps=seq_fps, confidence=score,
                        meta=meta, path=str(path))
    except Flag3dError as err:
        raise type(err)(f"{where}: {err.problem}", path=path) from None


def read_pyskl(path: PathLike, layout: Optional[str] = None, split: Optional[str] = None,
               fps: Optional[float] = None, drop_empty_persons: bool = False) -> Iterator[Sequence]:
    """Yield the samples of a PYSKL pickle as sequences (see the module docstring)."""
    data = load_pyskl_dict(path)
    anns = data.get("annotations")
    if not isinstance(anns, (list, tuple)):
        raise FormatError("not a PYSKL annotation pickle: no 'annotations' list "
                          f"(keys: {', '.join(map(str, data)) or 'none'})", path=path)
    index = _split_index(data.get("split"), path)
    if split is not None and split not in (data.get("split") or {}):
        known = ", ".join(map(str, data.get("split") or {})) or "none"
        raise FormatError(f"no split {split!r} (splits: {known})", path=path)
    top_synthetic = bool(data.get("synthetic", False))
    for k, ann in enumerate(anns):
        sid = str(ann.get("frame_dir")) if isinstance(ann, dict) else None
        names = index.get(sid, []) if sid is not None else []
        if split is not None:
            if split not in names:
                continue
            names = [split] + [n for n in names if n != split]
        yield _to_sequence(ann, k, path, layout, fps, names, top_synthetic, drop_empty_persons)


def _annotation(seq: Sequence, k: int, path: PathLike) -> Dict[str, Any]:
    meta = seq.meta
    sid = str(meta.get("id", f"{k:06d}"))
    label = _plain(meta.get("label"))
    if isinstance(label, bool) or not isinstance(label, int):
        raise FormatError(f"sequence {sid} has no integer meta['label'] (got {label!r}); PYSKL "
                          "annotations need a class label", path=path)
    kp = seq.joints if seq.has_persons else seq.joints[None]
    ann: Dict[str, Any] = {"frame_dir": sid, "label": label,
                           "total_frames": int(kp.shape[1]),
                           "keypoint": np.ascontiguousarray(kp, dtype=np.float32)}
    if seq.confidence is not None:
        conf = seq.confidence if seq.has_persons else seq.confidence[None]
        ann["keypoint_score"] = np.ascontiguousarray(conf, dtype=np.float32)
    elif seq.dims == 2:
        ann["keypoint_score"] = np.ones(kp.shape[:-1], dtype=np.float32)
    if "img_shape" in meta:
        ann["img_shape"] = tuple(int(x) for x in meta["img_shape"])
    ann["fps"] = seq.fps
    for key, value in meta.items():
        if key in ("id", "label", "split", "splits", "img_shape") or key in ann:
            continue
        plain = _plain(value)
        if plain is _SKIP:
            raise FormatError(f"sequence {sid}: meta[{key!r}] is not plain data "
                              "(numbers, strings, lists, dicts)", path=path)
        ann[key] = plain
    if seq.synthetic:
        ann["synthetic"] = True
    return ann


def write_pyskl(path: PathLike, sequences: Iterable[Sequence],
                split: Optional[Dict[str, List[str]]] = None, protocol: int = 4) -> None:
    """Write ``sequences`` as a PYSKL pickle.

    Args:
        path: the ``.pkl`` file to write.
        sequences: sequences with ``meta["label"]`` (and ideally ``meta["id"]``).
        split: split name -> sample ids; by default built from ``meta["splits"]`` or
            ``meta["split"]`` in order of first appearance.
        protocol: pickle protocol.
    """
    anns, built, synthetic = [], {}, False
    for k, seq in enumerate(sequences):
        ann = _annotation(seq, k, path)
        anns.append(ann)
        synthetic = synthetic or seq.synthetic
        names = seq.meta.get("splits") or ([seq.meta["split"]] if "split" in seq.meta else [])
        for name in names:
            built.setdefault(str(name), []).append(ann["frame_dir"])
    dup = sorted(i for i, n in collections.Counter(a["frame_dir"] for a in anns).items() if n > 1)
    if dup:
        raise FormatError(f"duplicate sample ids {dup[:3]}; PYSKL needs unique frame_dir",
                          path=path)
    data: Dict[str, Any] = {"split": {k: list(v) for k, v in (split or built).items()},
                            "annotations": anns}
    if synthetic:
        data["synthetic"] = True
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=protocol)


def _detect(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in (".pkl", ".pickle")


register_format(
    "pyskl", "PYSKL / MMAction2 skeleton annotation pickle (.pkl), e.g. FLAG3D flag3d.pkl",
    _detect, read_pyskl, write_pyskl,
)
