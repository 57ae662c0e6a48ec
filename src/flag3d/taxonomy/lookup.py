"""Finding an activity from what a user typed: an id, a name, an alias or a misspelling.

Resolution order for :func:`get_activity`:

1. **Ids.**  ``"A052"``, ``"a52"``, ``"A0052"`` and the bare numbers ``"52"`` / ``52`` mean
   FLAG3D activity A052 (bare numbers are always 1-based FLAG3D ids, 1..60, not 0-based
   class labels); ``"m01"`` / ``"M1"`` mean UI-PRMD movement m01.  An id out of range is an
   error, never a name match.
2. **Exact names.**  The name or an alias after normalisation
   (:func:`flag3d.taxonomy.names.name_key`: case, hyphens, spaces, filler words and plural
   endings do not matter), or the same set of words in another order.
3. **Partial names.**  The typed words all occur in the name or an alias of exactly one
   activity (``"cuban press"``).  Several such activities make the query ambiguous
   (``"curls"``: A020 or A021).
4. **Misspellings.**  A :mod:`difflib` similarity of at least ``0.8`` between the normalised
   query and one activity's name or alias, ahead of the next activity by at least ``0.04``.

Anything else raises :class:`~flag3d.errors.TaxonomyError` with one line naming the
closest activities, e.g. ``unknown activity 'xyzzy'; closest: ...``.

Example:
    >>> from flag3d.taxonomy.lookup import get_activity
    >>> [get_activity(q).id for q in ("A052", "a52", "52", "m1", "Squat-Jump", "jumpin jacks")]
    ['A052', 'A052', 'A052', 'm01', 'A051', 'A057']
    >>> get_activity("curls")
    Traceback (most recent call last):
    ...
    flag3d.errors.TaxonomyError: ambiguous activity 'curls'; candidates: A020 Dumbbell Curls, A021 Alternate Dumbbell Curls
"""

from __future__ import annotations

import difflib
import functools
import numbers
import re
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Optional, Tuple, Union

from flag3d.errors import TaxonomyError
from flag3d.taxonomy.loader import EXPECTED_IDS, _check_source, activities
from flag3d.taxonomy.model import Activity
from flag3d.taxonomy.names import name_key, name_tokens

#: Lowest similarity accepted for a misspelling (step 4).
CUTOFF = 0.8
#: How far the best activity must lead the runner-up in similarity.
MARGIN = 0.04
#: Candidates listed in an error message.
MAX_LISTED = 6

_FLAG3D_ID = re.compile(r"a?0*(\d{1,3})")
_UIPRMD_ID = re.compile(r"m0*(\d{1,3})")

Query = Union[str, int, Activity]


@dataclass(frozen=True)
class _Entry:
    activity: Activity
    keys: Tuple[str, ...]  # name_key of the name and each alias
    wordsets: Tuple[FrozenSet[str], ...]  # their token sets


@dataclass(frozen=True)
class _Index:
    by_id: Dict[str, Activity]
    by_key: Dict[str, Activity]
    by_words: Dict[FrozenSet[str], Optional[Activity]]  # None: several activities share the set
    entries: Tuple[_Entry, ...]


@functools.lru_cache(maxsize=None)
def _index(source: Optional[str]) -> _Index:
    acts = activities(source)
    entries = []
    by_key: Dict[str, Activity] = {}
    by_words: Dict[FrozenSet[str], Optional[Activity]] = {}
    for act in acts:
        labels = (act.name, *act.aliases)
        keys = tuple(name_key(x) for x in labels)
        words = tuple(frozenset(name_tokens(x)) for x in labels)
        for k in keys:
            other = by_key.setdefault(k, act)
            if other is not act:  # only possible across the two files
                raise TaxonomyError(
                    f"taxonomy data: name or alias key {k!r} belongs to {other.id} and {act.id}"
                )
        for w in words:
            by_words[w] = act if by_words.get(w, act) is act else None
        entries.append(_Entry(act, keys, words))
    return _Index({a.id: a for a in acts}, by_key, by_words, tuple(entries))


def _by_id(q: str, idx: _Index, query: Query) -> Optional[Activity]:
    """The activity for an id-like query, ``None`` when ``q`` does not look like an id."""
    for pattern, source, fmt in ((_FLAG3D_ID, "flag3d", "A{:03d}"), (_UIPRMD_ID, "uiprmd", "m{:02d}")):
        m = pattern.fullmatch(q)
        if m is None:
            continue
        act_id = fmt.format(int(m.group(1)))
        if act_id in idx.by_id:
            return idx.by_id[act_id]
        ids = EXPECTED_IDS[source]
        known = act_id in ids
        why = "is not in the selected source" if known else f"{source} ids run from {ids[0]} to {ids[-1]}"
        raise TaxonomyError(f"unknown activity id {query!r}; {why}")
    return None


def _similarity(q: str, entry: _Entry) -> float:
    best = 0.0
    for k in entry.keys:
        sm = difflib.SequenceMatcher(None, q, k, autojunk=False)
        if sm.real_quick_ratio() > best and sm.quick_ratio() > best:
            best = max(best, sm.ratio())
    return best


def _listing(acts: List[Activity]) -> str:
    return ", ".join(f"{a.id} {a.name}" for a in acts[:MAX_LISTED])


def get_activity(query: Query, source: Optional[str] = None) -> Activity:
    """The activity meant by ``query`` (an id, a name, an alias or a close misspelling).

    Args:
        query: e.g. ``"A052"``, ``"52"``, ``52``, ``"m01"``, ``"Squat Jump"``, ``"pushups"``,
            or an :class:`Activity` (returned as is).
        source: restrict the search to ``"flag3d"`` or ``"uiprmd"``; ``None`` searches both.

    Raises:
        TaxonomyError: unknown id, unknown or ambiguous name (the message lists the
            closest activities).
    """
    if isinstance(query, Activity):
        return query
    _check_source(source)
    idx = _index(source)
    if isinstance(query, bool) or not isinstance(query, (str, numbers.Integral)):
        raise TaxonomyError(f"activity must be an id or a name, got {type(query).__name__}")
    if isinstance(query, numbers.Integral):
        query = str(int(query))
    q = query.strip().lower()
    if not q:
        raise TaxonomyError("empty activity name")

    act = _by_id(q, idx, query)
    if act is not None:
        return act

    key = name_key(q)
    if not key:
        raise TaxonomyError(f"unknown activity {query!r}; it has no letters or digits")
    if key in idx.by_key:
        return idx.by_key[key]
    words = frozenset(name_tokens(q))
    if idx.by_words.get(words) is not None:
        return idx.by_words[words]  # type: ignore[return-value]

    partial = [e.activity for e in idx.entries if any(words <= w for w in e.wordsets)]
    if len(partial) == 1:
        return partial[0]
    if len(partial) > 1:
        raise TaxonomyError(f"ambiguous activity {query!r}; candidates: {_listing(partial)}")

    scored = sorted(((_similarity(key, e), e.activity) for e in idx.entries), key=lambda t: -t[0])
    (best, best_act), (second, _) = scored[0], scored[1]
    if best >= CUTOFF and best - second >= MARGIN:
        return best_act
    raise TaxonomyError(
        f"unknown activity {query!r}; closest: {_listing([a for _, a in scored][:3])}"
    )


def text(activity: Query, level: int) -> str:
    """The language text of ``activity`` at ``level`` (1 name, 2 description, 3 instructions)."""
    return get_activity(activity).text(level)


def standard_keys(activity: Query) -> Tuple[str, ...]:
    """The three standard keys of ``activity``, in key-score order."""
    return get_activity(activity).keys
