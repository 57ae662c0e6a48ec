"""Recognition datasets: labelled sample sets from every source, and the clip dataset.

Sources (``DataSpec.dataset``):

* ``"pyskl"`` -- a PYSKL / MMAction2 pickle (FLAG3D's ``flag3d.pkl``: 3D ``ntu25``;
  ``flag2d.pkl``: 2D ``coco17`` with scores); the sets are the pickle's named splits
  (``train_split`` / ``test_split``) or, with ``train_subjects`` / ``test_subjects``, subjects.
* ``"store"`` -- a :class:`flag3d.data.Store`; rows by the ``split`` column (or subjects).
* ``"uiprmd"`` -- the real UI-PRMD repetitions (10 movements, ``uiprmd22``, metres), split by
  subject (default s01-s07 train, s08-s10 test).  The first read (about 45 s) is cached as a
  store under ``$FLAG3D_CACHE/recognition/``.
* ``"synthetic"`` -- the synthetic protocols of :mod:`flag3d.data.synth_protocols`
  (built once, cached as a store; splits ``train``, ``test`` and, for 2D, ``cross``).

A :class:`SampleSet` is a list-like view of sequences with their ids, subjects, activities
and raw labels, all of one layout.  :func:`class_names` and :func:`encode_labels` map them to
class indices (``label_by="label"``: the stored integer label; ``"activity"``: the index of
the activity id in a sorted list).  :class:`RecognitionDataset` applies a
:class:`~flag3d.data.recognition_pipeline.Pipeline` and returns ``{"x", "label", "index"}``;
``torch.utils.data.DataLoader`` takes it as is.

Example:
    >>> import numpy as np
    >>> from flag3d.skeleton import Sequence
    >>> from flag3d.data.recognition import SampleSet, RecognitionDataset, class_names, encode_labels
    >>> from flag3d.data.recognition_pipeline import Pipeline
    >>> rng = np.random.default_rng(0)
    >>> seqs = [Sequence(rng.normal(size=(30, 22, 3)), "uiprmd22",
    ...                  meta={"id": f"m0{k}_s01", "label": k - 1, "activity": f"m0{k}"})
    ...         for k in (1, 2)]
    >>> train = SampleSet.from_sequences(seqs, name="demo")
    >>> classes = class_names([train], label_by="label")
    >>> ds = RecognitionDataset(train, encode_labels(train, classes, "label"),
    ...                         Pipeline("uiprmd22", dims=3, clip_len=8, normalize="center"))
    >>> classes, len(ds), ds[1]["x"].shape, ds[1]["label"]
    (['m01', 'm02'], 2, (1, 1, 8, 22, 3), 1)
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence as Seq, Tuple, Union

import numpy as np

from flag3d.data.recognition_pipeline import Pipeline
from flag3d.errors import Flag3dError, FormatError, LayoutError
from flag3d.paths import cache_dir, shared_data_dir
from flag3d.skeleton.convert import convert
from flag3d.skeleton.layouts import get_layout
from flag3d.skeleton.sequence import Sequence

PathLike = Union[str, "os.PathLike[str]"]
DATASETS = ("pyskl", "store", "uiprmd", "synthetic")
LABEL_BY = ("label", "activity")
UIPRMD_TRAIN = tuple(f"s{k:02d}" for k in range(1, 8))
UIPRMD_TEST = tuple(f"s{k:02d}" for k in range(8, 11))


# ------------------------------------------------------------------------ sample sets
@dataclass
class SampleSet:
    """Sequences of one layout with their labels, read on demand.

    Attributes:
        name: where the set comes from (for messages), e.g. ``"uiprmd:test"``.
        ids, subjects, activities, raw_labels: per sample (``None`` where unknown).
        layout, dims: the common layout and coordinate count.
    """

    name: str
    ids: List[str]
    subjects: List[Optional[str]]
    activities: List[Optional[str]]
    raw_labels: List[Optional[int]]
    layout: str
    dims: int
    fetch: Callable[[int], Sequence] = field(repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    def sequence(self, i: int) -> Sequence:
        """Sample ``i`` as a :class:`Sequence`."""
        return self.fetch(i)

    @classmethod
    def from_sequences(cls, seqs: Seq[Sequence], name: str) -> "SampleSet":
        """A set over in-memory sequences (all of one layout and dimension)."""
        seqs = list(seqs)
        if not seqs:
            raise Flag3dError(f"{name}: no sequences")
        layouts = sorted({(s.layout, s.dims) for s in seqs})
        if len(layouts) > 1:
            raise LayoutError(f"{name}: mixed layouts {', '.join(f'{l} ({d}D)' for l, d in layouts)}; "
                              "convert them to one layout first")
        return cls(
            name=name, ids=[str(s.meta.get("id", f"#{k}")) for k, s in enumerate(seqs)],
            subjects=[_opt_str(s.meta.get("subject")) for s in seqs],
            activities=[_opt_str(s.meta.get("activity")) for s in seqs],
            raw_labels=[_opt_int(s.meta.get("label")) for s in seqs],
            layout=layouts[0][0], dims=layouts[0][1], fetch=seqs.__getitem__,
        )

    @classmethod
    def from_store(cls, store: Any, rows: Iterable[int], name: str) -> "SampleSet":
        """A set over rows of a :class:`flag3d.data.Store` (read lazily)."""
        rows = [int(r) for r in rows]
        if not rows:
            raise Flag3dError(f"{name}: no sequences selected", path=store.path)
        t = store.table
        col = {c: t.column(c).to_pylist() for c in
               ("id", "subject", "activity", "label", "layout", "dims")}
        layouts = sorted({(col["layout"][r], int(col["dims"][r])) for r in rows})
        if len(layouts) > 1:
            raise LayoutError(f"{name}: mixed layouts {', '.join(f'{l} ({d}D)' for l, d in layouts)}; "
                              "select rows of one layout", path=store.path)
        return cls(
            name=name, ids=[str(col["id"][r]) for r in rows],
            subjects=[_opt_str(col["subject"][r]) for r in rows],
            activities=[_opt_str(col["activity"][r]) for r in rows],
            raw_labels=[_opt_int(col["label"][r]) for r in rows],
            layout=layouts[0][0], dims=layouts[0][1],
            fetch=_StoreFetch(store, rows),
        )

    def converted(self, layout: str) -> "SampleSet":
        """The same samples converted to ``layout`` on read (identity when already there)."""
        layout = get_layout(layout).name
        if layout == self.layout:
            return self
        convert(Sequence(np.zeros((1, get_layout(self.layout).num_joints, self.dims)),
                         self.layout), layout)  # fails now, naming both, if impossible
        inner = self.fetch
        return dataclasses.replace(self, layout=layout, name=f"{self.name}>{layout}",
                                   fetch=lambda i: convert(inner(i), layout))


class _StoreFetch:
    """Picklable ``i -> store[rows[i]]`` (DataLoader workers copy the dataset)."""

    def __init__(self, store: Any, rows: List[int]) -> None:
        self.store, self.rows = store, rows

    def __call__(self, i: int) -> Sequence:
        return self.store[self.rows[i]]


def _opt_str(v: Any) -> Optional[str]:
    return None if v is None or (isinstance(v, float) and v != v) else str(v)


def _opt_int(v: Any) -> Optional[int]:
    if v is None or isinstance(v, bool) or (isinstance(v, float) and v != v):
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------------- labels
def class_names(sets: Seq[SampleSet], label_by: str = "label",
                label_names: Optional[str] = None) -> List[str]:
    """The class list of a protocol (index = class).

    ``label_by="activity"``: the sorted activity ids of all sets.  ``label_by="label"``:
    ``max label + 1`` classes, named by their activity when every sample of a label has the
    same one (``label_names="flag3d"`` names 60 classes ``A001``..``A060``), else ``"<k>"``.
    """
    if label_by not in LABEL_BY:
        raise Flag3dError(f"label_by must be one of {', '.join(LABEL_BY)}, got {label_by!r}")
    if label_by == "activity":
        acts = set()
        for s in sets:
            for i, a in enumerate(s.activities):
                if a is None:
                    raise Flag3dError(f"{s.name}: sample {s.ids[i]} has no activity; use "
                                      "label_by=label")
                acts.add(a)
        return sorted(acts)
    if label_names == "flag3d":
        return [f"A{k:03d}" for k in range(1, 61)]
    if label_names is not None:
        raise Flag3dError(f"label_names must be 'flag3d' or empty, got {label_names!r}")
    names: Dict[int, set] = {}
    for s in sets:
        for i, y in enumerate(s.raw_labels):
            if y is None or y < 0:
                raise Flag3dError(f"{s.name}: sample {s.ids[i]} has no integer label >= 0")
            names.setdefault(y, set()).add(s.activities[i])
    n = max(names) + 1
    out = []
    for k in range(n):
        acts = names.get(k, {None})
        out.append(next(iter(acts)) if len(acts) == 1 and None not in acts else str(k))
    return out


def encode_labels(s: SampleSet, classes: Seq[str], label_by: str = "label") -> np.ndarray:
    """Class index of every sample of ``s`` under ``classes`` (errors name the sample)."""
    out = np.empty(len(s), dtype=np.int64)
    if label_by == "activity":
        index = {c: k for k, c in enumerate(classes)}
        for i, a in enumerate(s.activities):
            if a not in index:
                raise Flag3dError(f"{s.name}: sample {s.ids[i]} has activity {a!r}, which is "
                                  f"not among the model's {len(classes)} classes")
            out[i] = index[a]
        return out
    for i, y in enumerate(s.raw_labels):
        if y is None or not 0 <= y < len(classes):
            raise Flag3dError(f"{s.name}: sample {s.ids[i]} has label {y!r}; the model has "
                              f"{len(classes)} classes (0..{len(classes) - 1})")
        out[i] = y
    return out


# ------------------------------------------------------------------------ dataset
class RecognitionDataset:
    """Map-style dataset: ``ds[i] = {"x": (K, M, T, V, C') float32, "label": int, "index": i}``.

    Call :meth:`set_epoch` at the start of every training epoch so random clips and
    augmentation differ between epochs (and repeat exactly on a rerun).
    """

    def __init__(self, samples: SampleSet, labels: np.ndarray, pipeline: Pipeline) -> None:
        if samples.layout != pipeline.layout:
            raise LayoutError(f"{samples.name}: data layout {samples.layout} differs from the "
                              f"pipeline's {pipeline.layout}")
        if len(labels) != len(samples):
            raise ValueError(f"{len(labels)} labels for {len(samples)} samples")
        self.samples, self.labels, self.pipeline = samples, np.asarray(labels), pipeline
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the random clips / augmentation of ``epoch`` (training)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> Dict[str, Any]:
        seq = self.samples.sequence(i)
        x = self.pipeline(seq, index=i, epoch=self.epoch)
        return {"x": x, "label": int(self.labels[i]), "index": int(i)}


# --------------------------------------------------------------------- the sources
@dataclass(frozen=True)
class DataSpec:
    """Where a protocol's samples come from (the data keys of a recognition config)."""

    dataset: str = "uiprmd"
    data_path: Optional[str] = None
    train_split: str = "train"
    test_split: str = "test"
    train_subjects: Optional[Tuple[str, ...]] = None
    test_subjects: Optional[Tuple[str, ...]] = None
    synth_protocol: str = "3d"
    synth_per_pair: int = 2
    synth_seed: int = 0
    synth_reps: Tuple[int, int] = (2, 5)
    cache: bool = True

    @classmethod
    def from_config(cls, cfg: Any) -> "DataSpec":
        """Pick this class's fields from any config object that has them."""
        kw = {}
        for f in dataclasses.fields(cls):
            if hasattr(cfg, f.name):
                v = getattr(cfg, f.name)
                kw[f.name] = tuple(v) if isinstance(v, list) else v
        return cls(**kw)


def _subjects_rows(subjects: Seq[Optional[str]], wanted: Seq[str], name: str) -> List[int]:
    want = set(wanted)
    rows = [i for i, s in enumerate(subjects) if s in want]
    if not rows:
        seen = sorted({s for s in subjects if s is not None})
        raise Flag3dError(f"{name}: no sample of subjects {', '.join(wanted)} "
                          f"(subjects present: {', '.join(seen[:20]) or 'none'})")
    return rows


def cached_store_dir(kind: str, key: str) -> Path:
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    return cache_dir() / "recognition" / f"{kind}-{digest}"


def build_cached_store(folder: Path, sequences: Callable[[], Iterable[Sequence]]) -> Path:
    """Write ``sequences()`` into a store at ``folder`` unless a complete one is there.

    The store is built in a temporary sibling and renamed into place, so concurrent
    builders (DDP ranks under ``torchrun``) never see a half-written store.
    """
    from flag3d.data.store import Store

    if (folder / "complete").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    with Store.create(tmp) as store:
        store.append(sequences(), chunk_size=None)
    (tmp / "complete").write_text("ok\n")
    try:
        os.rename(tmp, folder)
    except OSError:  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
        if not (folder / "complete").is_file():
            raise
    return folder


def _uiprmd_source(spec: DataSpec) -> Any:
    """The UI-PRMD repetitions: a cached store, or a list of sequences with ``cache=False``."""
    from flag3d.data.store import Store
    from flag3d.io.uiprmd import iter_uiprmd

    if spec.data_path:
        root = Path(spec.data_path)
    else:
        shared = shared_data_dir()
        if shared is None:
            raise Flag3dError("UI-PRMD not found: set data_path or FLAG3D_SHARED_DATA "
                              "(the folder holding uiprmd/)")
        root = shared / "uiprmd"
    if not root.is_dir():
        raise FormatError("UI-PRMD folder not found", path=root)
    if not spec.cache:
        return list(iter_uiprmd(root))
    folder = build_cached_store(cached_store_dir("uiprmd", str(root.resolve())),
                                lambda: iter_uiprmd(root))
    return Store.open(folder)


def load_sets(spec: DataSpec, which: Seq[str] = ("train", "test")) -> Dict[str, SampleSet]:
    """The sample sets ``which`` (``"train"`` and/or ``"test"``) of ``spec``."""
    if spec.dataset not in DATASETS:
        raise Flag3dError(f"unknown dataset {spec.dataset!r}; use one of {', '.join(DATASETS)}")
    split_of = {"train": spec.train_split, "test": spec.test_split}
    subj_of = {"train": spec.train_subjects, "test": spec.test_subjects}
    out: Dict[str, SampleSet] = {}
    if spec.dataset == "uiprmd":
        src = _uiprmd_source(spec)
        seqs = src if isinstance(src, list) else None
        subjects = ([s.meta.get("subject") for s in seqs] if seqs is not None
                    else src.table.column("subject").to_pylist())
        groups = {"train": spec.train_subjects or UIPRMD_TRAIN,
                  "test": spec.test_subjects or UIPRMD_TEST}
        for w in which:
            rows = _subjects_rows(subjects, groups[w], f"uiprmd:{w}")
            out[w] = (SampleSet.from_sequences([seqs[r] for r in rows], f"uiprmd:{w}")
                      if seqs is not None else SampleSet.from_store(src, rows, f"uiprmd:{w}"))
        return out
    if spec.dataset in ("store", "synthetic"):
        from flag3d.data.store import Store

        if spec.dataset == "synthetic":
            from flag3d.data.synth_protocols import SynthProtocol, synthetic_store

            proto = SynthProtocol(kind=spec.synth_protocol, per_pair=spec.synth_per_pair,
                                  seed=spec.synth_seed, reps=tuple(spec.synth_reps))
            path = synthetic_store(proto, cache=spec.cache)
        else:
            if not spec.data_path:
                raise Flag3dError("dataset 'store' needs data_path (the store folder)")
            path = Path(spec.data_path)
        store = Store.open(path)
        t = store.table
        for w in which:
            name = f"{spec.dataset}:{w}"
            if subj_of[w]:
                rows = _subjects_rows(t.column("subject").to_pylist(), subj_of[w], name)
            else:
                rows = [int(r) for r in store.select(split=split_of[w])]
                if not rows:
                    splits = sorted({str(s) for s in t.column("split").to_pylist() if s})
                    raise Flag3dError(f"{name}: no rows with split {split_of[w]!r} "
                                      f"(splits: {', '.join(splits) or 'none'})", path=path)
            out[w] = SampleSet.from_store(store, rows, name)
        return out
    # pyskl
    from flag3d.io.pyskl import read_pyskl

    if not spec.data_path:
        raise Flag3dError("dataset 'pyskl' needs data_path (the .pkl file)")
    seqs = list(read_pyskl(spec.data_path))
    for w in which:
        name = f"{Path(spec.data_path).name}:{w}"
        if subj_of[w]:
            rows = _subjects_rows([_opt_str(s.meta.get("subject")) for s in seqs], subj_of[w], name)
        else:
            rows = [i for i, s in enumerate(seqs)
                    if split_of[w] in (s.meta.get("splits") or [s.meta.get("split")])]
            if not rows:
                names = sorted({n for s in seqs for n in (s.meta.get("splits")
                                                          or [s.meta.get("split")]) if n})
                raise Flag3dError(f"no samples in split {split_of[w]!r} (splits: "
                                  f"{', '.join(names) or 'none'})", path=spec.data_path)
        out[w] = SampleSet.from_sequences([seqs[r] for r in rows], name)
    return out
