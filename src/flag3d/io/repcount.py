"""RepCount-A repetition annotations (``new_train.csv``, ``new_valid.csv``, ``new_test.csv``).

Not a skeleton format (the videos are not part of it), so nothing is registered: use
:func:`read_repcount_csv`.  Columns: ``,Unnamed: 0,type,name,count,L1..L302``; ``L1, L2`` are the
start and end frame of repetition 1, ``L3, L4`` of repetition 2 and so on, empty cells after
the last one.  Frames are kept as annotated (consecutive repetitions usually share the boundary
frame: ``L2 == L3``).

Class names are spelled several ways (``squant``, ``jumpjacks``/``jump_jack``,
``pullups``/``pull_up``, ``benchpressing``/``bench_pressing`` ...); :func:`normalize_class`
maps each to one snake_case name.  ``count`` is kept as annotated; ``consistent`` tells whether
it equals the number of boundary pairs (in the released files one row differs:
``new_test.csv`` ``test118.mp4`` has count 6 but 5 pairs).

Example:
    >>> normalize_class("squant"), normalize_class("jumpjacks"), normalize_class("Bench Pressing")
    ('squat', 'jump_jack', 'bench_pressing')
    >>> from flag3d.paths import shared_data_dir
    >>> items = read_repcount_csv(shared_data_dir() / "repcount-a/new_test.csv")  # doctest: +SKIP
    >>> len(items), sum(not it.consistent for it in items)  # doctest: +SKIP
    (250, 1)
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from flag3d.errors import FormatError, PathLike

#: Canonical class -> the spellings found in RepCount-A (compared without ``_``/spaces/case).
CLASS_ALIASES: Dict[str, Tuple[str, ...]] = {
    "squat": ("squat", "squant", "squats"),
    "jump_jack": ("jump_jack", "jumpjacks", "jumping_jack", "jumping_jacks"),
    "pull_up": ("pull_up", "pullups"),
    "push_up": ("push_up", "pushups"),
    "front_raise": ("front_raise", "frontraise", "front_raises"),
    "bench_pressing": ("bench_pressing", "benchpressing", "bench_press"),
    "battle_rope": ("battle_rope", "battle_ropes"),
    "pommel_horse": ("pommel_horse", "pommelhorse"),
    "sit_up": ("sit_up", "situp", "situps"),
    "others": ("others", "other"),
}
_KEY = re.compile(r"[^a-z0-9]")
_LOOKUP = {_KEY.sub("", alias): name for name, aliases in CLASS_ALIASES.items()
           for alias in aliases}
_SPLITS = {"train": "train", "valid": "val", "val": "val", "test": "test"}


def normalize_class(name: str) -> str:
    """One snake_case name per RepCount-A class; unknown names are just lower-cased snake_case."""
    key = _KEY.sub("", str(name).lower())
    if key in _LOOKUP:
        return _LOOKUP[key]
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")


@dataclass
class RepCountItem:
    """One annotated video of RepCount-A.

    Attributes:
        file: the CSV file name (``new_test.csv``).
        split: ``"train"``, ``"val"`` or ``"test"`` from the file name, else ``None``.
        index: the value of the first (unnamed) column.
        video: the video file name (``test1463.mp4``).
        raw_type: the class as spelled in the file.
        action: the normalised class (:func:`normalize_class`).
        count: the annotated count.
        boundaries: ``(start, end)`` frames of each repetition, as annotated.
    """

    file: str
    split: Optional[str]
    index: int
    video: str
    raw_type: str
    action: str
    count: int
    boundaries: List[Tuple[int, int]] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        """True when ``count`` equals the number of annotated repetitions."""
        return self.count == len(self.boundaries)


def _frame(cell: str, p: Path, row: int, col: str) -> int:
    try:
        x = float(cell)
    except ValueError:
        raise FormatError(f"row {row}: {col} = {cell!r} is not a number", path=p) from None
    if not math.isfinite(x) or x != int(x) or x < 0:
        raise FormatError(f"row {row}: {col} = {cell!r} is not a frame index", path=p)
    return int(x)


def _split_of(p: Path) -> Optional[str]:
    stem = p.stem.lower()
    for word, split in _SPLITS.items():
        if stem.endswith(word):
            return split
    return None


def read_repcount_csv(path: PathLike) -> List[RepCountItem]:
    """Read one RepCount-A annotation CSV (see the module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise FormatError("no such file", path=p)
    raw = p.read_bytes()
    if not raw.strip():
        raise FormatError("empty file", path=p)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FormatError("not a text CSV file (cannot decode as UTF-8)", path=p) from None
    if "\x00" in text:
        raise FormatError("not a text CSV file (holds NUL bytes)", path=p)
    try:
        rows = list(csv.reader(text.splitlines()))
    except csv.Error as err:
        raise FormatError(f"unreadable CSV ({err})", path=p) from None
    header = [h.strip() for h in rows[0]]
    missing = [c for c in ("type", "name", "count") if c not in header]
    if missing:
        raise FormatError(f"not a RepCount-A CSV: no column {', '.join(missing)} "
                          f"(header starts {', '.join(header[:5])})", path=p)
    col = {name: header.index(name) for name in ("type", "name", "count")}
    l_cols = [i for i, h in enumerate(header) if re.fullmatch(r"L\d+", h)]
    split = _split_of(p)
    items: List[RepCountItem] = []
    for r, row in enumerate(rows[1:], start=1):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            row = row + [""] * (len(header) - len(row))
        cells = [row[i].strip() for i in l_cols]
        while cells and not cells[-1]:
            cells.pop()
        if "" in cells:
            raise FormatError(f"row {r} ({row[col['name']]}): a gap among the L columns", path=p)
        if len(cells) % 2:
            raise FormatError(f"row {r} ({row[col['name']]}): {len(cells)} boundary frames, "
                              "expected start/end pairs", path=p)
        frames = [_frame(c, p, r, f"L{k + 1}") for k, c in enumerate(cells)]
        pairs = list(zip(frames[0::2], frames[1::2]))
        bad = [k for k, (s, e) in enumerate(pairs) if s > e]
        if bad:
            raise FormatError(f"row {r} ({row[col['name']]}): repetition {bad[0] + 1} ends "
                              f"before it starts {pairs[bad[0]]}", path=p)
        first = row[0].strip()
        items.append(RepCountItem(
            file=p.name, split=split, index=int(first) if first.isdigit() else r - 1,
            video=row[col["name"]].strip(), raw_type=row[col["type"]].strip(),
            action=normalize_class(row[col["type"]]),
            count=_frame(row[col["count"]].strip(), p, r, "count"), boundaries=pairs,
        ))
    return items
