"""The text-encoder interface shared by every encoder, and its input checks.

A :class:`TextEncoder` turns a list of sentences into a float32 array of shape
``(N, dim)`` whose rows have unit L2 norm, so a dot product of two rows is their cosine
similarity.  ``identity`` is a string that changes whenever the vectors could change
(other weights, other settings); the embedding cache files vectors under it.

Example:
    >>> import numpy as np
    >>> from flag3d.text.base import check_texts, normalize_rows
    >>> check_texts(["Squat", "Sumo Squat"])
    ['Squat', 'Sumo Squat']
    >>> check_texts("Squat")
    Traceback (most recent call last):
    ...
    flag3d.text.base.TextEncoderError: encode() takes a list of texts, got one str; wrap it: ['Squat']
    >>> normalize_rows(np.array([[3.0, 4.0]]))
    array([[0.6, 0.8]], dtype=float32)
"""

from __future__ import annotations

from typing import List, Protocol, Sequence, runtime_checkable

import numpy as np

from flag3d.errors import Flag3dError


class TextEncoderError(Flag3dError):
    """A text encoder cannot be found or loaded, or was given unusable text."""


@runtime_checkable
class TextEncoder(Protocol):
    """What every text encoder provides.

    Attributes:
        name: short human name (``"minilm"``, ``"hash384"``, a model folder's name).
        dim: length of each embedding.
        identity: a string that changes whenever the vectors could change (weights,
            settings, algorithm version); the on-disk cache keys entries by it.
    """

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def identity(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts``: float32, shape ``(len(texts), dim)``, unit-norm rows."""
        ...


def check_texts(texts: Sequence[str]) -> List[str]:
    """``texts`` as a list, after checking every item is a non-blank string.

    Raises:
        TextEncoderError: a bare string (a common slip that would encode its characters),
            a non-string item, or a blank text.
    """
    if isinstance(texts, (str, bytes)):
        shown = texts if len(texts) <= 40 else texts[:37] + "..."
        raise TextEncoderError(f"encode() takes a list of texts, got one str; wrap it: [{shown!r}]")
    try:
        items = list(texts)
    except TypeError:
        raise TextEncoderError(
            f"encode() takes a list of texts, got {type(texts).__name__}"
        ) from None
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise TextEncoderError(f"text {i} is a {type(t).__name__}, not a str")
        if not t.strip():
            raise TextEncoderError(f"text {i} is empty")
    return items


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` scaled to unit L2 norm, as float32 (all-zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def check_output(vectors: np.ndarray, n: int, dim: int, who: str) -> np.ndarray:
    """Check an encoder's raw output and return it with unit-norm float32 rows.

    Raises:
        TextEncoderError: wrong shape, or NaN/inf values.
    """
    arr = np.asarray(vectors)
    if arr.shape != (n, dim):
        raise TextEncoderError(f"encoder {who} returned shape {arr.shape}, expected {(n, dim)}")
    if not np.all(np.isfinite(arr)):
        raise TextEncoderError(f"encoder {who} returned NaN or infinite values")
    return normalize_rows(arr)
