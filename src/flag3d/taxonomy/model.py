"""The taxonomy records: an :class:`Activity` and its three :class:`Standard` checks.

Both are frozen: the loader caches them and hands the same objects to every caller.

Example:
    >>> from flag3d.taxonomy import get_activity
    >>> act = get_activity("A006")
    >>> act
    Activity('A006', 'Push-ups', source='flag3d')
    >>> act.keys, act.layout
    (('body_line', 'depth', 'elbow_tuck'), 'flag3d24')
    >>> act.standard("depth").index
    1
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Tuple, Union

from flag3d.errors import TaxonomyError

#: The joint layout that the joint names of each source refer to.
SOURCE_LAYOUTS = {"flag3d": "flag3d24", "uiprmd": "uiprmd22"}


@dataclass(frozen=True)
class Standard:
    """One checkable standard of an activity.

    Attributes:
        key: snake_case name, stable across modules (e.g. ``"depth"``).
        text: one sentence a person can check.
        body_part: the body part it is about, a plain word (``"knees"``).
        joints: joint names (in the activity's layout) the standard is about.
        mistake: the common fault that violates it.
        tip: a short corrective tip, imperative.
        index: position 0, 1 or 2; the column of the key scores ``y[:, index]``.
    """

    key: str
    text: str
    body_part: str
    joints: Tuple[str, ...]
    mistake: str
    tip: str
    index: int


@dataclass(frozen=True)
class Activity:
    """A FLAG3D activity or a UI-PRMD movement.

    Attributes:
        id: ``"A001"``..``"A060"`` (FLAG3D) or ``"m01"``..``"m10"`` (UI-PRMD).
        name: the official name, e.g. ``"Squat With Alternate Knee Lift"``.
        body_part: one of the ten FLAG3D body parts (``"leg"``, ``"whole body"`` ...).
        levels: ``{1: name, 2: description, 3: coach's instructions}``.
        standards: exactly three :class:`Standard`, in key-score order.
        aliases: other names users type.
        primary_joints: joints whose motion best shows the repetitions.
        source: ``"flag3d"`` or ``"uiprmd"``.
    """

    id: str
    name: str
    body_part: str
    levels: Mapping[int, str] = field(repr=False, hash=False)
    standards: Tuple[Standard, ...] = field(repr=False)
    aliases: Tuple[str, ...] = field(repr=False)
    primary_joints: Tuple[str, ...] = field(repr=False)
    source: str = "flag3d"

    def __repr__(self) -> str:
        return f"Activity({self.id!r}, {self.name!r}, source={self.source!r})"

    @property
    def layout(self) -> str:
        """The joint layout of :attr:`primary_joints` and the standards' joints."""
        return SOURCE_LAYOUTS[self.source]

    @property
    def keys(self) -> Tuple[str, ...]:
        """The three standard keys, in order."""
        return tuple(s.key for s in self.standards)

    def text(self, level: int) -> str:
        """The text of language level 1, 2 or 3."""
        if isinstance(level, bool) or level not in self.levels:
            raise TaxonomyError(f"activity {self.id}: level must be 1, 2 or 3, got {level!r}")
        return self.levels[level]

    def standard(self, which: Union[str, int]) -> Standard:
        """A standard by key (``"depth"``) or by index (0, 1, 2)."""
        for s in self.standards:
            if (isinstance(which, str) and s.key == which) or (
                isinstance(which, int) and not isinstance(which, bool) and s.index == which
            ):
                return s
        raise TaxonomyError(
            f"activity {self.id} has no standard {which!r} (standards: {', '.join(self.keys)})"
        )
