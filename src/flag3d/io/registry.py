"""The format registry: one entry per file format, looked up by name or detected from a path.

Each format module (``pyskl``, ``flag3d_rac``, ``uiprmd``, ``keraal``, ``npz`` ...) calls
:func:`register_format` once at import with a reader (path -> iterator of
:class:`~flag3d.skeleton.Sequence`), an optional writer (path, sequences) and a detector
(path -> bool).  :mod:`flag3d.io` imports every format module, so the registry is complete
once ``flag3d.io`` is imported.

Example:
    >>> from flag3d.io import format_names
    >>> "pyskl" in format_names()
    True
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Union

from flag3d.errors import Flag3dError, FormatError
from flag3d.skeleton.sequence import Sequence

PathLike = Union[str, "os.PathLike[str]"]
Reader = Callable[..., Iterator[Sequence]]
Writer = Callable[..., None]
Detector = Callable[[Path], bool]


@dataclass(frozen=True)
class FormatInfo:
    """A registered file format."""

    name: str
    description: str
    reader: Optional[Reader]
    writer: Optional[Writer]
    detect: Detector


_FORMATS: Dict[str, FormatInfo] = {}


def register_format(
    name: str,
    description: str,
    detect: Detector,
    reader: Optional[Reader] = None,
    writer: Optional[Writer] = None,
) -> FormatInfo:
    """Register (or replace) a format under ``name``."""
    info = FormatInfo(name, description, reader, writer, detect)
    _FORMATS[name] = info
    return info


def format_names() -> List[str]:
    """Names of the registered formats, in registration order."""
    return list(_FORMATS)


def get_format(name: str) -> FormatInfo:
    """The format called ``name``; the error lists the known ones."""
    try:
        return _FORMATS[name]
    except KeyError:
        raise FormatError(
            f"unknown format {name!r}; known formats: {', '.join(_FORMATS)}"
        ) from None


def detect_format(path: PathLike) -> str:
    """Name of the first registered format whose detector accepts ``path``."""
    p = Path(path)
    if not p.exists():
        raise FormatError("no such file or folder", path=p)
    for info in _FORMATS.values():
        try:
            if info.detect(p):
                return info.name
        except OSError:
            continue
    raise FormatError(
        f"cannot tell the format (known formats: {', '.join(_FORMATS)}); "
        "name it with --format",
        path=p,
    )


def iter_sequences(path: PathLike, fmt: Optional[str] = None, **opts: Any) -> Iterator[Sequence]:
    """Read every sequence in ``path`` (a file or a folder), detecting the format if needed.

    Errors from the reader are re-raised as :class:`Flag3dError` naming ``path``.
    """
    name = fmt or detect_format(path)
    info = get_format(name)
    if info.reader is None:
        raise FormatError(f"format {name} can be written but not read", path=path)
    try:
        yield from info.reader(path, **opts)
    except Flag3dError as err:
        raise err.with_path(path) from None


def read_sequence(path: PathLike, fmt: Optional[str] = None, **opts: Any) -> Sequence:
    """Read a file that holds exactly one sequence."""
    seqs = iter_sequences(path, fmt, **opts)
    first = next(seqs, None)
    if first is None:
        raise FormatError("holds no sequence", path=path)
    if next(seqs, None) is not None:
        raise FormatError(
            "holds several sequences; use flag3d.io.iter_sequences or 'flag3d data import'",
            path=path,
        )
    return first


def write_sequences(path: PathLike, sequences: Iterable[Sequence], fmt: str, **opts: Any) -> None:
    """Write ``sequences`` to ``path`` in format ``fmt``."""
    info = get_format(fmt)
    if info.writer is None:
        raise FormatError(f"format {fmt} can be read but not written", path=path)
    try:
        info.writer(path, sequences, **opts)
    except Flag3dError as err:
        raise err.with_path(path) from None
