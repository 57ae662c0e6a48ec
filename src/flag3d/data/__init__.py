"""Datasets on disk: the store for large corpora, and train/test splits.

:class:`Store` keeps any number of skeleton sequences in one folder (a Parquet manifest and
flat float32 arrays) and streams them back with bounded memory; :mod:`flag3d.data.splits`
assigns splits by subject or by activity (the FLAG3D, FLAG3D++ and UI-PRMD protocols).

Example:
    >>> from flag3d.data import Store, split_by_subject
    >>> list(split_by_subject(["s01", "s09", "s02"], test=["s09"]))
    ['train', 'test', 'train']
"""

from typing import Any

from flag3d.data.splits import PROTOCOLS, protocol_split, split_by_activity, split_by_subject

__all__ = [
    "PROTOCOLS", "Store", "ValidationReport", "protocol_split", "split_by_activity",
    "split_by_subject",
]


def __getattr__(name: str) -> Any:
    # The store pulls in pyarrow (~0.5 s); import it only when it is used, so the analysis
    # and `flag3d count` do not pay for it.
    if name == "Store":
        from flag3d.data.store import Store

        return Store
    if name == "ValidationReport":
        from flag3d.data.validate import ValidationReport

        return ValidationReport
    raise AttributeError(f"module 'flag3d.data' has no attribute {name!r}")
