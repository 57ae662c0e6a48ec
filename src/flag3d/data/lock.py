"""The writer lock of a dataset store: one writing process at a time.

An exclusive ``flock`` on ``<store>/.lock``, taken without waiting.  The kernel releases it
when the holder exits, even when it is killed, so a crash never leaves a stale lock.  The
file holds the holder's pid and host for the error message of the refused writer.  Readers
never lock.  (On systems without ``fcntl`` writers are not guarded.)

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from flag3d.data.lock import WriteLock
    >>> tmp = tempfile.TemporaryDirectory()
    >>> root = Path(tmp.name)
    >>> with WriteLock(root):  # doctest: +ELLIPSIS
    ...     with WriteLock(root):
    ...         pass
    Traceback (most recent call last):
    ...
    flag3d.errors.StoreError: ...: another writer holds the store lock (pid ...); wait for it to finish
    >>> tmp.cleanup()
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Optional

from flag3d.errors import StoreError

try:  # POSIX advisory locks
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".lock"


class WriteLock:
    """Exclusive writer lock on ``<store>/.lock`` (released when the process dies)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fd: Optional[int] = None

    def __enter__(self) -> "WriteLock":
        if fcntl is None:  # pragma: no cover
            return self
        fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
            os.close(fd)
            raise StoreError(
                f"another writer holds the store lock ({holder}); wait for it to finish",
                path=self.root,
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.fd is not None:
            try:
                os.ftruncate(self.fd, 0)
            except OSError:  # pragma: no cover - the folder was removed (overwrite)
                pass
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
