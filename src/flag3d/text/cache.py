"""An on-disk embedding cache in front of any text encoder.

Layout: ``<root>/<name>-<key>/<h[:2]>/<h>.npy`` where ``key`` is the first 16 hex digits
of SHA-256 of the encoder's ``identity`` (weights fingerprint and settings) and ``h`` the
SHA-256 of the text (UTF-8, exactly as given).  One small ``.npy`` (float32, ``(dim,)``)
per text; an ``encoder.json`` beside them records name, identity and dim for people.
The default root is ``flag3d.paths.cache_dir() / "text"`` (``$FLAG3D_CACHE`` or
``~/.cache/flag3d``).

* Two encoders with different identities never share a folder, so a changed model never
  returns stale vectors.
* Writes go to a temporary file in the same folder, then ``os.replace``: a reader sees the
  old entry, the new one or none, never half a file, so any number of processes may share a
  cache.  Two processes computing the same text write identical bytes.
* An entry that cannot be read, has the wrong shape or dtype, or is not a finite unit vector
  is recomputed and rewritten (with a warning), never returned and never a crash.
* A cache folder that cannot be written (read-only disk) degrades to no caching, with one
  warning.

:class:`CachedEncoder` also keeps recent vectors in memory, so repeated look-ups in one
process do not touch the disk.

Example:
    >>> import tempfile
    >>> from flag3d.text.cache import CachedEncoder
    >>> from flag3d.text.hashing import HashingEncoder
    >>> root = tempfile.mkdtemp()
    >>> enc = CachedEncoder(HashingEncoder(dim=32), root=root)
    >>> enc.encode(["Sumo Squat", "Sumo Squat"]).shape
    (2, 32)
    >>> enc.stats
    {'memory': 0, 'disk': 0, 'computed': 1, 'rewritten': 0}
    >>> again = CachedEncoder(HashingEncoder(dim=32), root=root)
    >>> _ = again.encode(["Sumo Squat"]); again.stats["disk"]
    1
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from flag3d.text.base import TextEncoder, check_output, check_texts

PathLike = Union[str, "os.PathLike[str]"]

log = logging.getLogger(__name__)

#: How far a stored vector's norm may be from 1 before it counts as corrupt.
NORM_TOLERANCE = 1e-3
#: Vectors kept in memory per :class:`CachedEncoder`.
MEMORY_ITEMS = 4096

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def text_digest(text: str) -> str:
    """SHA-256 (hex) of ``text`` as UTF-8: the file name of its cache entry."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def encoder_key(encoder: TextEncoder) -> str:
    """Folder name of ``encoder``'s entries: ``<safe name>-<16 hex of sha256(identity)>``."""
    safe = _SAFE.sub("_", encoder.name).strip("._-")[:40] or "encoder"
    return f"{safe}-{hashlib.sha256(encoder.identity.encode('utf-8')).hexdigest()[:16]}"


def default_root() -> Path:
    """``flag3d.paths.cache_dir() / "text"``."""
    from flag3d.paths import cache_dir

    return cache_dir() / "text"


class EmbeddingStore:
    """The files of one encoder: ``get``/``put`` vectors by text.

    Args:
        folder: the encoder's folder (created on the first write).
        dim: expected vector length.
    """

    def __init__(self, folder: PathLike, dim: int) -> None:
        self.folder = Path(folder)
        self.dim = dim
        self.writable = True

    def path(self, text: str) -> Path:
        """File of ``text``'s entry (may not exist)."""
        h = text_digest(text)
        return self.folder / h[:2] / f"{h}.npy"

    def get(self, text: str) -> Optional[np.ndarray]:
        """The stored vector of ``text``; ``None`` when absent, or corrupt (with a warning)."""
        p = self.path(text)
        try:
            arr = np.load(p, allow_pickle=False)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, ValueError, EOFError) as err:
            warnings.warn(f"{p}: unreadable text-embedding cache entry ({err}); recomputing", stacklevel=3)
            return None
        problem = self._problem(arr)
        if problem:
            warnings.warn(f"{p}: bad text-embedding cache entry ({problem}); recomputing", stacklevel=3)
            return None
        return arr

    def _problem(self, arr: np.ndarray) -> str:
        if arr.dtype != np.float32 or arr.shape != (self.dim,):
            return f"{arr.dtype} {arr.shape}, expected float32 ({self.dim},)"
        if not np.all(np.isfinite(arr)):
            return "NaN or inf"
        norm = float(np.linalg.norm(arr))
        if abs(norm - 1.0) > NORM_TOLERANCE:
            return f"norm {norm:.4f}, expected 1"
        return ""

    def put(self, text: str, vector: np.ndarray) -> bool:
        """Store ``vector`` for ``text`` atomically; ``False`` when the folder is not writable."""
        if not self.writable:
            return False
        p = self.path(text)
        tmp = None
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".tmp-", suffix=".npy")
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, np.ascontiguousarray(vector, dtype=np.float32), allow_pickle=False)
            os.replace(tmp, p)
            return True
        except OSError as err:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
            self.writable = False
            warnings.warn(
                f"{self.folder}: cannot write the text-embedding cache ({err.strerror or err}); "
                "continuing without it",
                stacklevel=3,
            )
            return False

    def write_info(self, info: Dict[str, object]) -> None:
        """Write ``encoder.json`` (for people) once; failures are ignored."""
        p = self.folder / "encoder.json"
        if p.exists() or not self.writable:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(info, fh, indent=1)
            os.replace(tmp, p)
        except OSError:
            pass


class CachedEncoder:
    """``encoder`` with a disk cache (and a small memory cache) in front.

    It is itself a :class:`~flag3d.text.base.TextEncoder` with the same ``name``, ``dim``
    and ``identity``; only texts found in neither cache reach ``encoder.encode``, in one
    batch, each distinct text once.

    Args:
        encoder: the encoder to wrap.
        root: cache root (default :func:`default_root`, resolved on first use).

    Attributes:
        stats: how many distinct texts came from ``memory``, ``disk``, were ``computed``,
            and how many corrupt entries were ``rewritten``.
    """

    def __init__(self, encoder: TextEncoder, root: Optional[PathLike] = None) -> None:
        self.encoder = encoder
        self._root = Path(root).expanduser() if root is not None else None
        self._store: Optional[EmbeddingStore] = None
        self._memory: "OrderedDict[str, np.ndarray]" = OrderedDict()
        self.stats = {"memory": 0, "disk": 0, "computed": 0, "rewritten": 0}

    def __repr__(self) -> str:
        return f"CachedEncoder({self.encoder!r})"

    @property
    def name(self) -> str:
        return self.encoder.name

    @property
    def dim(self) -> int:
        return self.encoder.dim

    @property
    def identity(self) -> str:
        return self.encoder.identity

    @property
    def store(self) -> EmbeddingStore:
        """The encoder's folder in the cache (resolving the root on first use)."""
        if self._store is None:
            root = self._root if self._root is not None else default_root()
            self._store = EmbeddingStore(root / encoder_key(self.encoder), self.dim)
        return self._store

    def _remember(self, text: str, vec: np.ndarray) -> None:
        self._memory[text] = vec
        self._memory.move_to_end(text)
        while len(self._memory) > MEMORY_ITEMS:
            self._memory.popitem(last=False)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-norm float32 embeddings, shape ``(len(texts), dim)``, from the caches first."""
        items = check_texts(texts)
        found: Dict[str, np.ndarray] = {}
        missing: List[str] = []
        corrupt: set[str] = set()
        for t in dict.fromkeys(items):  # distinct, in order
            if t in self._memory:
                found[t] = self._memory[t]
                self._memory.move_to_end(t)
                self.stats["memory"] += 1
                continue
            p = self.store.path(t)
            vec = self.store.get(t)
            if vec is None:
                missing.append(t)
                if p.exists():
                    corrupt.add(t)
            else:
                found[t] = vec
                self._remember(t, vec)
                self.stats["disk"] += 1
        if missing:
            new = check_output(self.encoder.encode(missing), len(missing), self.dim, self.name)
            self.store.write_info(
                {"name": self.name, "dim": self.dim, "identity": self.identity,
                 "encoder": type(self.encoder).__name__}
            )
            for t, vec in zip(missing, new):
                vec = vec.copy()
                self.store.put(t, vec)
                found[t] = vec
                self._remember(t, vec)
            self.stats["computed"] += len(missing)
            self.stats["rewritten"] += len(corrupt)
            log.debug("text cache %s: %d computed", self.store.folder, len(missing))
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        for i, t in enumerate(items):
            out[i] = found[t]
        return out
