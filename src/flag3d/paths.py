"""Where flag3d finds the shared real data and keeps its caches.

The shared real data (UI-PRMD, Keraal, RepCount-A, the squat video) is never part of the
project; it is read from ``$FLAG3D_SHARED_DATA`` or, when that is unset, from the first
``../shared/data`` found above the current directory or above the installed package.

Example:
    >>> from flag3d.paths import shared_data_dir
    >>> d = shared_data_dir()  # a Path, or None when the data is not on this machine
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

ENV_SHARED = "FLAG3D_SHARED_DATA"
ENV_CACHE = "FLAG3D_CACHE"


def shared_data_dir() -> Optional[Path]:
    """The shared real-data folder, or ``None`` when it cannot be found."""
    env = os.environ.get(ENV_SHARED)
    if env:
        p = Path(env).expanduser()
        return p if p.is_dir() else None
    starts = [Path.cwd(), Path(__file__).resolve().parent]
    for start in starts:
        for base in [start, *start.parents]:
            cand = base / "shared" / "data"
            if cand.is_dir() and base.name != "shared":
                return cand
    return None


def cache_dir() -> Path:
    """A writable cache folder (``$FLAG3D_CACHE`` or ``~/.cache/flag3d``), created on use."""
    p = Path(os.environ.get(ENV_CACHE, Path.home() / ".cache" / "flag3d")).expanduser()
    p.mkdir(parents=True, exist_ok=True)
    return p
