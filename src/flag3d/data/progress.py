"""An optional progress bar for long imports into a dataset store.

:class:`ImportProgress` is a context manager that gives a ``tick()`` function to call once per
sequence; when enabled it shows a rich progress bar on stderr (count, rate, elapsed time),
redrawn every 64 ticks.  Disabled, ``tick()`` does nothing and rich is never imported.

Example:
    >>> from flag3d.data.progress import ImportProgress
    >>> with ImportProgress(enabled=False, total=3) as tick:
    ...     for _ in range(3):
    ...         tick()
"""

from __future__ import annotations

import time
from typing import Any, Callable, List, Optional


class ImportProgress:
    """A context manager that yields a ``tick()`` updating an optional rich progress bar."""

    def __init__(self, enabled: bool, total: Optional[int], label: str = "importing") -> None:
        self.enabled, self.total, self.label = enabled, total, label
        self.bar: Any = None

    def __enter__(self) -> Callable[[], None]:
        if not self.enabled:
            return lambda: None
        from rich.console import Console
        from rich.progress import (
            BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
        )

        cols: List[Any] = [TextColumn(self.label)]
        if self.total:
            cols += [BarColumn(), MofNCompleteColumn()]
        else:
            cols += [TextColumn("{task.completed} sequences")]
        cols += [TextColumn("{task.fields[rate]}"), TimeElapsedColumn()]
        self.bar = Progress(*cols, console=Console(stderr=True), transient=True)
        self.bar.__enter__()
        self.task = self.bar.add_task("import", total=self.total, rate="")
        self.t0 = time.perf_counter()
        self.n = 0
        return self.tick

    def tick(self) -> None:
        self.n += 1
        if self.n % 64 == 0:
            self._show()

    def _show(self) -> None:
        rate = self.n / max(time.perf_counter() - self.t0, 1e-9)
        self.bar.update(self.task, completed=self.n, rate=f"{rate:,.0f}/s")

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self._show()
            self.bar.__exit__(*exc)
