"""Row filters on a store manifest: which rows have ``split="train"``, ``activity=[...]`` ...

Each filter names a manifest column and gives one accepted value or a list of them; ``None``
among the values matches missing entries, and a filter whose value is ``None`` is ignored.
A row is kept when it passes every filter.  Used by :meth:`Store.select
<flag3d.data.store.Store.select>` and :meth:`Store.iter <flag3d.data.store.Store.iter>`.

Example:
    >>> import pyarrow as pa
    >>> from flag3d.data.query import filter_mask
    >>> table = pa.table({"split": ["train", None, "test"], "label": [1, 2, 3]})
    >>> filter_mask(table, {"split": ["train", None]}).tolist()
    [True, True, False]
    >>> filter_mask(table, {"split": "test", "label": [1, 3]}).tolist()
    [False, False, True]
"""

from __future__ import annotations

import os
from typing import Any, List, Mapping, Optional, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flag3d.errors import StoreError


def _one(values: Any, what: str) -> List[Any]:
    """A filter value as a list (a single value or any iterable of values)."""
    if isinstance(values, (str, bytes, bool, int, float, np.generic)):
        return [values]
    try:
        return list(values)
    except TypeError:
        raise StoreError(f"cannot filter {what} by {values!r}") from None


def filter_mask(table: pa.Table, filters: Mapping[str, Any],
                path: Optional[Union[str, "os.PathLike[str]"]] = None) -> np.ndarray:
    """A boolean mask of the rows of ``table`` matching every filter (errors name ``path``)."""
    n = table.num_rows
    mask = np.ones(n, bool)
    for name, value in filters.items():
        if value is None:
            continue
        if name not in table.column_names or name == "meta_json":
            raise StoreError(
                f"cannot select by {name!r}; manifest columns: "
                f"{', '.join(c for c in table.column_names if c != 'meta_json')}",
                path=path,
            )
        wanted = _one(value, name)
        col = table.column(name)
        keep = [v for v in wanted if v is not None]
        try:
            m = np.zeros(n, bool)
            if keep:
                hit = pc.is_in(col, value_set=pa.array(keep, type=col.type))
                m = hit.fill_null(False).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            raise StoreError(
                f"cannot select {name} = {value!r}: column {name} holds {col.type} values",
                path=path,
            ) from None
        if any(v is None for v in wanted):
            m |= col.is_null().to_numpy(zero_copy_only=False)
        mask &= m
    return mask
