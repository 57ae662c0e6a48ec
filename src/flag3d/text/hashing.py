"""A deterministic, dependency-free text encoder by feature hashing.

Each text is lower-cased and split into words (runs of letters and digits); every word
(unigram) and every pair of neighbouring words (bigram) is hashed with BLAKE2b into one of
``dim`` buckets with a sign taken from another bit of the same hash, the signed counts are
summed and the vector is scaled to unit length.  BLAKE2b, unlike Python's ``hash``, does
not depend on ``PYTHONHASHSEED``, so a text gets the same vector in every process, on
every machine, in every version that keeps :data:`ALGORITHM`.

Texts that share words get a positive cosine similarity; it knows nothing of meaning
(``"squat"`` and ``"deep knee bend"`` are unrelated to it).  Use it for tests and as a
fallback when the MiniLM model is not available.

Example:
    >>> from flag3d.text.hashing import HashingEncoder
    >>> enc = HashingEncoder(dim=64)
    >>> v = enc.encode(["Sumo Squat", "sumo  squat!", "Neck turn"])
    >>> v.shape, v.dtype.name
    ((3, 64), 'float32')
    >>> bool((v[0] == v[1]).all()), round(float(v[0] @ v[0]), 6)
    (True, 1.0)
    >>> enc.identity
    'hash-blake2b-uni-bi-v1:64'
"""

from __future__ import annotations

import hashlib
import re
from typing import Dict, List, Sequence

import numpy as np

from flag3d.text.base import TextEncoderError, check_texts

#: Version tag of the tokenisation + hashing scheme; change it when vectors would change.
ALGORITHM = "hash-blake2b-uni-bi-v1"
#: Default length; the same as MiniLM so the two can be swapped without resizing a model.
DEFAULT_DIM = 384
#: Allowed range of ``dim``.
MIN_DIM, MAX_DIM = 8, 65536

_WORD = re.compile(r"[^\W_]+")
_PERSON = b"flag3d-text-v1"  # BLAKE2b personalisation: separates these hashes from others
_SIGN_BIT = 1 << 63


def words(text: str) -> List[str]:
    """The lower-cased words of ``text`` (runs of letters/digits; punctuation splits)."""
    return _WORD.findall(text.casefold())


def features(text: str) -> List[str]:
    """The hashed features of ``text``: its words and ``"w1 w2"`` word pairs.

    Example:
        >>> features("Push-ups, kneeling")
        ['push', 'ups', 'kneeling', 'push ups', 'ups kneeling']
    """
    w = words(text)
    return w + [f"{a} {b}" for a, b in zip(w, w[1:])]


def _bucket(feature: str, dim: int) -> tuple[int, float]:
    h = int.from_bytes(
        hashlib.blake2b(feature.encode("utf-8"), digest_size=8, person=_PERSON).digest(), "little"
    )
    return (h & (_SIGN_BIT - 1)) % dim, (1.0 if h & _SIGN_BIT else -1.0)


class HashingEncoder:
    """Feature-hashing encoder (see the module docstring).

    Args:
        dim: number of buckets = embedding length, ``8..65536`` (default 384).

    Raises:
        TextEncoderError: ``dim`` out of range; a text without any letter or digit.
    """

    def __init__(self, dim: int = DEFAULT_DIM) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or not MIN_DIM <= dim <= MAX_DIM:
            raise TextEncoderError(
                f"hashing encoder dim must be an integer {MIN_DIM}..{MAX_DIM}, got {dim!r}"
            )
        self._dim = dim
        self._memo: Dict[str, tuple[int, float]] = {}

    def __repr__(self) -> str:
        return f"HashingEncoder(dim={self._dim})"

    @property
    def name(self) -> str:
        return f"hash{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def identity(self) -> str:
        return f"{ALGORITHM}:{self._dim}"

    def _vector(self, i: int, text: str) -> np.ndarray:
        feats = features(text)
        if not feats:
            raise TextEncoderError(f"text {i} has no letters or digits: {text[:40]!r}")
        v = np.zeros(self._dim, dtype=np.float64)
        for f in feats:
            hit = self._memo.get(f)
            if hit is None:
                hit = _bucket(f, self._dim)
                if len(self._memo) < 100_000:
                    self._memo[f] = hit
            v[hit[0]] += hit[1]
        norm = float(np.linalg.norm(v))
        if norm == 0.0:  # every feature cancelled out by collisions: rare, keep it defined
            idx, sign = _bucket("\x00" + " ".join(words(text)), self._dim)
            v[idx], norm = sign, 1.0
        return v / norm

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-norm float32 embeddings, shape ``(len(texts), dim)``."""
        items = check_texts(texts)
        out = np.zeros((len(items), self._dim), dtype=np.float32)
        for i, t in enumerate(items):
            out[i] = self._vector(i, t)
        return out
