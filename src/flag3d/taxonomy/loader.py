"""Reading and validating the taxonomy data files.

The packaged files ``taxonomy/data/activities.yaml`` (the 60 FLAG3D activities) and
``taxonomy/data/rehab_movements.yaml`` (the 10 UI-PRMD movements) are parsed once, validated and
cached.  Validation names the file and the entry in one line: every id present exactly
once, exactly three standards with unique snake_case keys, every joint name known in the
file's layout, all three language levels present and non-empty (level 1 equal to the name),
tips of at most 15 words, no name or alias shared by two activities.

Example:
    >>> from flag3d.taxonomy.loader import activities, body_parts
    >>> len(activities()), len(activities("flag3d")), len(activities("uiprmd"))
    (70, 60, 10)
    >>> body_parts()["neck"]
    ['A026', 'A027', 'A028', 'A029']
"""

from __future__ import annotations

import functools
import os
import re
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Dict, List, Mapping, NoReturn, Optional, Tuple, Union

import yaml

from flag3d.errors import LayoutError, TaxonomyError
from flag3d.skeleton.layouts import get_layout
from flag3d.taxonomy.model import SOURCE_LAYOUTS, Activity, Standard
from flag3d.taxonomy.names import name_key

PathLike = Union[str, "os.PathLike[str]"]

#: Packaged data file of each source.
DATA_FILES = {"flag3d": "activities.yaml", "uiprmd": "rehab_movements.yaml"}
#: The ids each source must define, exactly once.
EXPECTED_IDS = {
    "flag3d": tuple(f"A{i:03d}" for i in range(1, 61)),
    "uiprmd": tuple(f"m{i:02d}" for i in range(1, 11)),
}
#: Longest allowed tip, in words.
MAX_TIP_WORDS = 15

_TOP_KEYS = {"source", "layout", "body_parts", "activities"}
_ENTRY_KEYS = ("id", "name", "body_part", "aliases", "primary_joints", "levels", "standards")
_STANDARD_KEYS = ("key", "text", "body_part", "joints", "mistake", "tip")
_SNAKE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")


def _text(value: Any) -> Optional[str]:
    """``value`` as a stripped non-empty string, or ``None``."""
    if isinstance(value, str) and value.strip():
        return " ".join(value.split())
    return None


class _Checker:
    """Raises one-line :class:`TaxonomyError` s attributed to a file and an entry."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, where: str, problem: str) -> NoReturn:
        raise TaxonomyError(f"{where}: {problem}" if where else problem, path=self.path)

    def text(self, value: Any, where: str, field_name: str) -> str:
        out = _text(value)
        if out is None:
            self.fail(where, f"{field_name} must be a non-empty string, got {value!r}")
        return out

    def joints(self, value: Any, where: str, field_name: str, layout: Any) -> Tuple[str, ...]:
        if not isinstance(value, list) or not value:
            self.fail(where, f"{field_name} must be a non-empty list of joint names")
        for name in value:
            if not isinstance(name, str) or name not in layout.joints:
                self.fail(where, f"{field_name}: unknown joint {name!r} for layout {layout.name}")
        if len(set(value)) != len(value):
            self.fail(where, f"{field_name} lists a joint twice")
        return tuple(value)

    def keys(self, entry: Mapping[str, Any], allowed: Tuple[str, ...], where: str) -> None:
        missing = [k for k in allowed if k not in entry]
        extra = sorted(str(k) for k in entry if k not in allowed)
        if missing:
            self.fail(where, f"missing field(s) {', '.join(missing)}")
        if extra:
            self.fail(where, f"unknown field(s) {', '.join(extra)} (allowed: {', '.join(allowed)})")


def _parse_standard(chk: _Checker, raw: Any, index: int, where: str, layout: Any) -> Standard:
    where = f"{where}: standard {index}"
    if not isinstance(raw, dict):
        chk.fail(where, "must be a mapping with " + ", ".join(_STANDARD_KEYS))
    chk.keys(raw, _STANDARD_KEYS, where)
    key = chk.text(raw["key"], where, "key")
    if not _SNAKE.fullmatch(key):
        chk.fail(where, f"key {key!r} is not snake_case")
    where = f"{where} ({key})"
    tip = chk.text(raw["tip"], where, "tip")
    if len(tip.split()) > MAX_TIP_WORDS:
        chk.fail(where, f"tip has {len(tip.split())} words, at most {MAX_TIP_WORDS} allowed")
    return Standard(
        key=key,
        text=chk.text(raw["text"], where, "text"),
        body_part=chk.text(raw["body_part"], where, "body_part"),
        joints=chk.joints(raw["joints"], where, "joints", layout),
        mistake=chk.text(raw["mistake"], where, "mistake"),
        tip=tip,
        index=index,
    )


def _parse_entry(
    chk: _Checker, raw: Any, pos: int, source: str, layout: Any, parts: Optional[List[str]]
) -> Activity:
    where = f"activities[{pos}]"
    if not isinstance(raw, dict):
        chk.fail(where, "must be a mapping")
    if "id" in raw:
        where = f"activity {raw['id']}"
    chk.keys(raw, _ENTRY_KEYS, where)
    act_id = chk.text(raw["id"], where, "id")
    if act_id not in EXPECTED_IDS[source]:
        first, last = EXPECTED_IDS[source][0], EXPECTED_IDS[source][-1]
        chk.fail(where, f"id {act_id!r} is not a {source} id ({first}..{last})")
    name = chk.text(raw["name"], where, "name")
    body_part = chk.text(raw["body_part"], where, "body_part")
    if parts is not None and body_part not in parts:
        chk.fail(where, f"body_part {body_part!r} is not one of: {', '.join(parts)}")

    levels = raw["levels"]
    if not isinstance(levels, dict) or set(levels) != {1, 2, 3}:
        got = sorted(map(str, levels)) if isinstance(levels, dict) else type(levels).__name__
        chk.fail(where, f"levels must have exactly the keys 1, 2, 3 (got {got})")
    texts = {lvl: chk.text(levels[lvl], where, f"level {lvl}") for lvl in (1, 2, 3)}
    if texts[1] != name:
        chk.fail(where, f"level 1 must equal the name {name!r}, got {texts[1]!r}")

    stds = raw["standards"]
    if not isinstance(stds, list) or len(stds) != 3:
        n = len(stds) if isinstance(stds, list) else type(stds).__name__
        chk.fail(where, f"needs exactly 3 standards, found {n}")
    standards = tuple(_parse_standard(chk, s, i, where, layout) for i, s in enumerate(stds))
    keys = [s.key for s in standards]
    if len(set(keys)) != 3:
        chk.fail(where, f"standard keys must be unique, got {', '.join(keys)}")

    aliases = raw["aliases"]
    if not isinstance(aliases, list):
        chk.fail(where, "aliases must be a list (may be empty)")
    alias_texts = tuple(chk.text(a, where, "alias") for a in aliases)
    return Activity(
        id=act_id,
        name=name,
        body_part=body_part,
        levels=MappingProxyType(texts),
        standards=standards,
        aliases=alias_texts,
        primary_joints=chk.joints(raw["primary_joints"], where, "primary_joints", layout),
        source=source,
    )


def _check_names(chk: _Checker, acts: Tuple[Activity, ...]) -> None:
    """No normalised name or alias may belong to two activities."""
    owner: Dict[str, str] = {}
    for act in acts:
        for label in (act.name, *act.aliases):
            key = name_key(label)
            if not key:
                chk.fail(f"activity {act.id}", f"name or alias {label!r} has no letters or digits")
            if owner.setdefault(key, act.id) != act.id:
                chk.fail(
                    f"activity {act.id}",
                    f"name or alias {label!r} is also a name or alias of {owner[key]}",
                )


def parse_taxonomy(text: str, path: PathLike = "<taxonomy>") -> Tuple[Activity, ...]:
    """Parse and validate the YAML ``text`` of one taxonomy file (sorted by id).

    Args:
        text: the file content.
        path: the file name used in error messages.

    Raises:
        TaxonomyError: empty file, invalid YAML, or any failed check (one line).
    """
    chk = _Checker(os.fspath(path))
    if not text.strip():
        chk.fail("", "empty taxonomy file")
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}: " if mark is not None else ""
        chk.fail("", f"not valid YAML ({at}{getattr(exc, 'problem', None) or exc})")
    if not isinstance(data, dict):
        chk.fail("", "expected a mapping with source, layout and activities at the top")
    extra = sorted(str(k) for k in data if k not in _TOP_KEYS)
    if extra:
        chk.fail("", f"unknown top-level key(s) {', '.join(extra)}")
    source = data.get("source")
    if source not in EXPECTED_IDS:
        chk.fail("", f"source must be one of {', '.join(EXPECTED_IDS)}, got {source!r}")
    try:
        layout = get_layout(str(data.get("layout")))
    except LayoutError as exc:
        chk.fail("", exc.problem)
    if layout.name != SOURCE_LAYOUTS[source]:
        chk.fail("", f"layout of {source} must be {SOURCE_LAYOUTS[source]}, got {layout.name}")
    parts = data.get("body_parts")
    if parts is not None and (
        not isinstance(parts, list) or not parts or any(_text(p) is None for p in parts)
    ):
        chk.fail("", "body_parts must be a non-empty list of names")
    entries = data.get("activities")
    if not isinstance(entries, list) or not entries:
        chk.fail("", "activities must be a non-empty list")

    acts: Dict[str, Activity] = {}
    for pos, raw in enumerate(entries):
        act = _parse_entry(chk, raw, pos, source, layout, parts)
        if act.id in acts:
            chk.fail(f"activity {act.id}", "id appears more than once")
        acts[act.id] = act
    missing = [i for i in EXPECTED_IDS[source] if i not in acts]
    if missing:
        chk.fail("", f"missing {source} activities: {', '.join(missing)}")
    result = tuple(acts[i] for i in EXPECTED_IDS[source])
    _check_names(chk, result)
    return result


def load_taxonomy(path: PathLike) -> Tuple[Activity, ...]:
    """Read, parse and validate a taxonomy YAML file (not cached)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TaxonomyError("taxonomy file not found", path=p) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TaxonomyError(f"cannot read taxonomy file ({exc})", path=p) from None
    return parse_taxonomy(text, p)


def _check_source(source: Optional[str]) -> None:
    if source is not None and source not in DATA_FILES:
        raise TaxonomyError(
            f"unknown taxonomy source {source!r}; known: {', '.join(DATA_FILES)} (or None for all)"
        )


@functools.lru_cache(maxsize=None)
def _packaged(source: str) -> Tuple[Activity, ...]:
    """The packaged activities of one source, parsed once."""
    res = resources.files("flag3d.taxonomy").joinpath("data", DATA_FILES[source])
    try:
        text = res.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TaxonomyError(f"cannot read packaged taxonomy ({exc})", path=str(res)) from None
    return parse_taxonomy(text, str(res))


def activities(source: Optional[str] = None) -> List[Activity]:
    """All activities, FLAG3D (A001..A060) first, then UI-PRMD (m01..m10).

    Args:
        source: ``"flag3d"``, ``"uiprmd"`` or ``None`` for both.
    """
    _check_source(source)
    sources = DATA_FILES if source is None else (source,)
    return [act for s in sources for act in _packaged(s)]


def body_parts() -> Dict[str, List[str]]:
    """The ten FLAG3D body parts in lexicon order (chest ... whole body), each with its ids."""
    parts: Dict[str, List[str]] = {}
    for act in _packaged("flag3d"):  # ids are grouped by body part, so order is kept
        parts.setdefault(act.body_part, []).append(act.id)
    return parts
