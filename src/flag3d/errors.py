"""Errors that flag3d raises on bad input.

Every problem a user can cause (a wrong file, a wrong layout, NaN joints, an unknown
activity) is raised as a :class:`Flag3dError` whose message is one line that names the
file (when there is one) and the problem.  The command line prints that line and exits
with status 2; library users can catch the class.

Example:
    >>> from flag3d.errors import FormatError
    >>> str(FormatError("truncated .npy (expected 288 bytes of data, found 12)", path="a.npy"))
    'a.npy: truncated .npy (expected 288 bytes of data, found 12)'
"""

from __future__ import annotations

import os
from typing import Optional, Union

PathLike = Union[str, "os.PathLike[str]"]


class Flag3dError(ValueError):
    """A problem with the user's input, reported in one line.

    Args:
        problem: what is wrong, in plain words.
        path: the file or folder the problem was found in, if any.
    """

    def __init__(self, problem: str, path: Optional[PathLike] = None) -> None:
        self.problem = " ".join(str(problem).split())  # one line, always
        self.path = os.fspath(path) if path is not None else None
        super().__init__(self.problem if self.path is None else f"{self.path}: {self.problem}")

    def with_path(self, path: PathLike) -> "Flag3dError":
        """Return the same error attributed to ``path`` (keeps an existing path)."""
        if self.path is not None:
            return self
        return type(self)(self.problem, path=path)


class FormatError(Flag3dError):
    """A file is empty, truncated, unreadable or not in the format it claims to be."""


class LayoutError(Flag3dError):
    """A joint layout is unknown, or an array does not match the declared layout."""


class SequenceError(Flag3dError):
    """A skeleton sequence is invalid (empty, NaN/inf, wrong shape, bad time stamps)."""


class UnsafePickleError(FormatError):
    """A pickle asked for something other than numpy arrays and plain containers."""


class TaxonomyError(Flag3dError):
    """An activity or movement name/id that the taxonomy does not know."""


class StoreError(Flag3dError):
    """A dataset store is missing, incomplete or inconsistent."""
