"""Lazy imports of the optional video dependencies (PyAV and MediaPipe).

``flag3d.video`` imports without them; the first call that needs one imports it here and,
when it is missing, raises :class:`MissingDependencyError` (a one-line
:class:`~flag3d.errors.Flag3dError`, so the CLI prints it and exits 2) that says how to
install the ``video`` extra.

Example:
    >>> from flag3d.video.deps import MissingDependencyError, require
    >>> try:
    ...     require("no_such_module_xyz", "pose from video")
    ... except MissingDependencyError as err:
    ...     print(err)
    pose from video needs the optional dependency no_such_module_xyz: pip install -e '.[video]'
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from flag3d.errors import Flag3dError

#: How to install what this package needs.
INSTALL_HINT = "pip install -e '.[video]'"


class MissingDependencyError(Flag3dError):
    """An optional dependency (PyAV, MediaPipe) is not installed."""


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``purpose``."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"{purpose} needs the optional dependency {module}: {INSTALL_HINT}"
        ) from None


def require_av() -> ModuleType:
    """The PyAV module (video decoding)."""
    return require("av", "reading video")


def require_mediapipe_pose() -> ModuleType:
    """MediaPipe's legacy pose solution module (``mediapipe.solutions.pose``).

    Sets ``GLOG_minloglevel=2`` first (unless already set) so MediaPipe's C++ logging
    stays quiet; this must happen before MediaPipe's native library loads.
    """
    os.environ.setdefault("GLOG_minloglevel", "2")
    mp = require("mediapipe", "pose from video")
    try:
        return mp.solutions.pose
    except AttributeError:
        raise MissingDependencyError(
            f"pose from video needs mediapipe 0.10.21 with the bundled pose models "
            f"(mediapipe {getattr(mp, '__version__', '?')} has no mp.solutions.pose): "
            f"{INSTALL_HINT}"
        ) from None
