"""Checkpoints we ship and load: ``model.safetensors`` + ``config.json`` + ``info.json``.

A checkpoint is a folder.  ``model.safetensors`` holds the weights (no pickle, safe to load
from anywhere), ``config.json`` the resolved settings the model was built and trained with
(:mod:`flag3d.config`), ``info.json`` what produced it (task, model class, flag3d version,
data, metrics).  Lightning's own ``.ckpt`` files are kept only for resuming a run and are
never loaded from a path a user hands in.

Example:
    >>> import tempfile, torch
    >>> from flag3d.models.checkpoint import save_checkpoint, load_checkpoint
    >>> net = torch.nn.Linear(3, 2)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = save_checkpoint(d, net, {"hidden": 3}, info={"task": "demo"})
    ...     state, cfg, info = load_checkpoint(d)
    ...     sorted(state), cfg["hidden"], info["task"]
    (['bias', 'weight'], 3, 'demo')
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, Union

import numpy as np

from flag3d import __version__
from flag3d.errors import FormatError

if TYPE_CHECKING:  # torch is imported only where a torch checkpoint is made or loaded
    import torch

PathLike = Union[str, "os.PathLike[str]"]
CHECKPOINT_FILES = ("model.safetensors", "config.json", "info.json")


def _write_json(path: Path, data: Dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def save_checkpoint(folder: PathLike, model: torch.nn.Module, config: Dict[str, Any],
                    info: Optional[Dict[str, Any]] = None) -> Path:
    """Write ``model``'s weights, its ``config`` and ``info`` into ``folder`` (created)."""
    from safetensors.torch import save_file

    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = root / "model.safetensors.tmp"
    save_file(state, str(tmp))
    os.replace(tmp, root / "model.safetensors")
    _write_json(root / "config.json", dict(config))
    meta = {"flag3d_version": __version__, "model_class": type(model).__name__,
            "parameters": int(sum(p.numel() for p in model.parameters()))}
    meta.update(info or {})
    _write_json(root / "info.json", meta)
    return root


def load_checkpoint(folder: PathLike) -> Tuple[Dict[str, "torch.Tensor"], Dict[str, Any], Dict[str, Any]]:
    """Read ``(state_dict, config, info)`` from a checkpoint folder (no pickle involved)."""
    from safetensors.torch import load_file

    return _read(folder, load_file)


def load_checkpoint_arrays(folder: PathLike) -> Tuple[Dict[str, np.ndarray], Dict[str, Any], Dict[str, Any]]:
    """:func:`load_checkpoint` with numpy arrays, without importing torch (the numpy engines)."""
    from safetensors.numpy import load_file

    return _read(folder, load_file)


def _read(folder: PathLike, load_file: Any) -> Tuple[Dict[str, Any], Dict[str, Any], Dict[str, Any]]:
    root = Path(folder)
    if not root.is_dir():
        raise FormatError("checkpoint folder not found", path=root)
    for name in CHECKPOINT_FILES[:2]:
        if not (root / name).is_file():
            raise FormatError(f"not a flag3d checkpoint: {name} is missing", path=root)
    try:
        state = load_file(str(root / "model.safetensors"))
    except Exception as err:  # safetensors raises its own error types
        raise FormatError(f"unreadable model.safetensors ({err})", path=root) from None
    try:
        config = json.loads((root / "config.json").read_text(encoding="utf-8"))
        info_path = root / "info.json"
        info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.is_file() else {}
    except ValueError as err:
        raise FormatError(f"unreadable JSON in checkpoint ({err})", path=root) from None
    return state, config, info


def load_weights(model: torch.nn.Module, folder: PathLike, strict: bool = True) -> Dict[str, Any]:
    """Load a checkpoint's weights into ``model``; returns its config.

    A shape or key mismatch is reported as one line naming the checkpoint.
    """
    state, config, _ = load_checkpoint(folder)
    try:
        model.load_state_dict(state, strict=strict)
    except RuntimeError as err:
        first = str(err).strip().splitlines()
        raise FormatError(f"weights do not fit {type(model).__name__}: "
                          f"{' '.join(first[:2])[:300]}", path=folder) from None
    return config
