"""Train/test splits by subject or by activity, and the published protocols.

Every function is pure: it takes the manifest (a pandas DataFrame, a pyarrow Table, a
:class:`~flag3d.data.Store`, or directly the list of subject / activity values, one per row)
and returns one split name per row (``"train"`` or ``"test"``) as a numpy array.  Write it
with :meth:`Store.set_split <flag3d.data.Store.set_split>` (atomic).

Groups are assigned whole: a subject (or activity) never appears in both splits.  Random
assignments sort the distinct values, permute them with ``numpy.random.default_rng(seed)``
and send the first ``n_test`` to test, so a seed always gives the same split.

Protocols (:data:`PROTOCOLS`):

==================  ==========  ==============================================================
name                by          rule
==================  ==========  ==============================================================
``flag3d``          subject     in-domain recognition: 7 train / 3 test subjects of the 10
                                (our convention: the 7 lowest subject ids train; a release's
                                own split lists, when a reader provides them, take precedence)
``flag3d-quality``  subject     FLAG3D++ quality assessment: people 8:2 at random (seed 0)
``flag3d-counting`` activity    FLAG3D++ counting: activities 50:10 at random (seed 0); with
                                fewer activities the same 1/6 test fraction
``uiprmd``          subject     UI-PRMD: s01-s07 train, s08-s10 test
==================  ==========  ==============================================================

Example:
    >>> from flag3d.data.splits import split_by_subject, split_by_activity
    >>> list(split_by_subject(["s01", "s08", "s02", "s08"], test=["s08"]))
    ['train', 'test', 'train', 'test']
    >>> s = split_by_activity([f"A{k:03d}" for k in range(1, 61)], n_test=10, seed=0)
    >>> int((s == "test").sum()), int((s == "train").sum())
    (10, 50)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence

import numpy as np

from flag3d.errors import StoreError


class SplitError(StoreError):
    """A split cannot be made as asked (unknown names, overlapping lists, missing values)."""


@dataclass(frozen=True)
class Protocol:
    """A named split rule."""

    name: str
    by: str
    description: str
    train: Optional[Sequence[str]] = None
    test: Optional[Sequence[str]] = None
    test_fraction: Optional[float] = None
    n_train: Optional[int] = None
    seed: int = 0


PROTOCOLS: Dict[str, Protocol] = {
    p.name: p for p in (
        Protocol("flag3d", "subject", "FLAG3D in-domain: 7 lowest subject ids train, 3 test",
                 n_train=7),
        Protocol("flag3d-quality", "subject", "FLAG3D++ quality: subjects 8:2 at random",
                 test_fraction=0.2),
        Protocol("flag3d-counting", "activity",
                 "FLAG3D++ counting: activities 50:10 (1/6 test) at random",
                 test_fraction=10 / 60),
        Protocol("uiprmd", "subject", "UI-PRMD: s01-s07 train, s08-s10 test",
                 train=tuple(f"s{k:02d}" for k in range(1, 8)),
                 test=tuple(f"s{k:02d}" for k in range(8, 11))),
    )
}


def column_values(manifest: Any, column: str) -> List[Optional[str]]:
    """The values of ``column`` from a DataFrame, Table or Store, or ``manifest`` itself."""
    table = getattr(manifest, "table", None)
    if table is not None and hasattr(table, "column_names"):  # a Store
        manifest = table
    if hasattr(manifest, "column_names"):  # pyarrow Table
        if column not in manifest.column_names:
            raise SplitError(f"the manifest has no column {column!r}")
        values = manifest.column(column).to_pylist()
    elif hasattr(manifest, "columns") and hasattr(manifest, "iloc"):  # pandas DataFrame
        if column not in manifest.columns:
            raise SplitError(f"the manifest has no column {column!r}")
        values = manifest[column].tolist()
    else:
        values = list(manifest)
    return [None if _missing(v) else str(v) for v in values]


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def _names(values: Optional[Iterable[str]]) -> Optional[List[str]]:
    """A list of names; comma-separated strings are split (``"s01,s02"``)."""
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    out: List[str] = []
    for v in values:
        out.extend(x.strip() for x in str(v).split(",") if x.strip())
    return out


def assign_groups(
    values: Sequence[Optional[str]],
    *,
    what: str,
    train: Optional[Iterable[str]] = None,
    test: Optional[Iterable[str]] = None,
    n_test: Optional[int] = None,
    test_fraction: Optional[float] = None,
    seed: int = 0,
) -> np.ndarray:
    """``"train"``/``"test"`` per row, keeping each distinct value (group) in one split.

    Explicit ``train``/``test`` lists win; with only one of them the other split is the
    rest.  Otherwise ``n_test`` groups (or ``round(test_fraction * groups)``, at least 1 and
    at most all but one) go to test at random with ``seed``.
    """
    missing = sum(v is None for v in values)
    if missing:
        raise SplitError(f"{missing} of {len(values)} rows have no {what}; cannot split by {what}")
    groups = sorted(set(values))  # type: ignore[arg-type]
    if not groups:
        raise SplitError("nothing to split: the manifest is empty")
    tr, te = _names(train), _names(test)
    if tr is not None or te is not None:
        tr_set, te_set = set(tr or []), set(te or [])
        both = sorted(tr_set & te_set)
        if both:
            raise SplitError(f"{what} {', '.join(both)} listed for both train and test")
        for name, chosen in (("train", tr), ("test", te)):
            if chosen is not None and chosen and not set(chosen) & set(groups):
                raise SplitError(
                    f"none of the {name} {what}s ({', '.join(chosen)}) appear in the manifest "
                    f"({what}s: {_preview(groups)})"
                )
        if tr is None:
            tr_set = set(groups) - te_set
        elif te is None:
            te_set = set(groups) - tr_set
        left = [g for g in groups if g not in tr_set and g not in te_set]
        if left:
            raise SplitError(f"{what}s {_preview(left)} are in neither the train nor the test list")
        test_set = te_set
    else:
        if len(groups) < 2:
            raise SplitError(f"only one {what} ({groups[0]}); a random split needs two or more")
        if n_test is None:
            frac = 0.3 if test_fraction is None else float(test_fraction)
            if not 0.0 < frac < 1.0:
                raise SplitError(f"test fraction must be between 0 and 1, got {test_fraction}")
            n_test = int(round(frac * len(groups)))
        n_test = min(max(int(n_test), 1), len(groups) - 1)
        perm = np.random.default_rng(seed).permutation(len(groups))
        test_set = {groups[j] for j in perm[:n_test]}
    return np.array(["test" if v in test_set else "train" for v in values], dtype=object)


def _preview(names: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" ... ({len(names)} in all)" if len(names) > limit else "")


def split_by_subject(
    manifest: Any,
    *,
    train: Optional[Iterable[str]] = None,
    test: Optional[Iterable[str]] = None,
    n_test: Optional[int] = None,
    test_fraction: Optional[float] = None,
    seed: int = 0,
) -> np.ndarray:
    """Split rows by the ``subject`` column (see :func:`assign_groups`; default 30 % test)."""
    return assign_groups(column_values(manifest, "subject"), what="subject", train=train,
                         test=test, n_test=n_test, test_fraction=test_fraction, seed=seed)


def split_by_activity(
    manifest: Any,
    *,
    train: Optional[Iterable[str]] = None,
    test: Optional[Iterable[str]] = None,
    n_test: Optional[int] = None,
    test_fraction: Optional[float] = None,
    seed: int = 0,
) -> np.ndarray:
    """Split rows by the ``activity`` column (default: the FLAG3D++ 1/6 test fraction)."""
    if train is None and test is None and n_test is None and test_fraction is None:
        test_fraction = 10 / 60
    return assign_groups(column_values(manifest, "activity"), what="activity", train=train,
                         test=test, n_test=n_test, test_fraction=test_fraction, seed=seed)


def protocol_split(name: str, manifest: Any, seed: Optional[int] = None) -> np.ndarray:
    """Split names per row for protocol ``name`` (see :data:`PROTOCOLS`)."""
    try:
        p = PROTOCOLS[name]
    except KeyError:
        raise SplitError(f"unknown protocol {name!r}; known: {', '.join(PROTOCOLS)}") from None
    values = column_values(manifest, p.by)
    seed = p.seed if seed is None else seed
    if p.n_train is not None:
        groups = sorted({v for v in values if v is not None})
        if len(groups) != p.n_train + 3:
            raise SplitError(
                f"protocol {name} expects {p.n_train + 3} {p.by}s, the manifest has "
                f"{len(groups)} ({_preview(groups)})"
            )
        return assign_groups(values, what=p.by, train=groups[: p.n_train], seed=seed)
    return assign_groups(values, what=p.by, train=p.train, test=p.test,
                         test_fraction=p.test_fraction, seed=seed)
