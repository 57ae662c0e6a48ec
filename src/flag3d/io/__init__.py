"""Readers and writers, one module per format, behind one registry.

Importing this package registers every format module, so ``iter_sequences`` and
``detect_format`` know them all.

Example:
    >>> from flag3d.io import format_names
    >>> sorted(format_names())[:1]  # doctest: +SKIP
    ['flag3d-rac']
"""

from flag3d.io.registry import (
    FormatInfo,
    detect_format,
    format_names,
    get_format,
    iter_sequences,
    read_sequence,
    register_format,
    write_sequences,
)

# Format modules register themselves on import.  Keep this list in one place.
from flag3d.io import formats as _formats  # noqa: F401,E402

__all__ = [
    "FormatInfo", "detect_format", "format_names", "get_format", "iter_sequences",
    "read_sequence", "register_format", "write_sequences",
]
