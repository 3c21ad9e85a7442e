"""One bridge per database: an OS file lock beside BRIDGE_DB.

Two bridges polling one database each post every waiting message (both see it as not yet
posted), so `run` and `backfill` hold an exclusive `flock` on `<BRIDGE_DB>.lock` for as long
as the process lives. The kernel drops the lock when the process ends in any way, kill -9
included, so a restart is never delayed by a stale lock file; the file's content (pid, host,
since) only serves to name the holder to whoever is refused.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class DatabaseLocked(Exception):
    """Another process holds the database's lock; `holder` is what it wrote there (may be {})."""

    def __init__(self, path: str, holder: dict[str, Any]) -> None:
        self.path = path
        self.holder = holder
        pid = holder.get("pid", "?")
        host = holder.get("host", "?")
        since = holder.get("since", "?")
        super().__init__(
            f"another wati-bridge already runs on {path} (pid {pid} on {host}, since {since}); "
            "stop it first: two bridges on one database post every message twice"
        )


class DatabaseLock:
    """The held lock; `release()` (or process exit) frees it."""

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


def lock_path(db_path: str | Path) -> str:
    """The lock file that goes with a database file."""
    return f"{db_path}.lock"


def acquire(db_path: str | Path) -> DatabaseLock:
    """Take the database's lock without waiting; DatabaseLocked when another process has it."""
    path = lock_path(db_path)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read(fd)
        os.close(fd)
        raise DatabaseLocked(str(db_path), holder) from None
    except BaseException:
        os.close(fd)
        raise
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(record).encode(), 0)
    return DatabaseLock(path, fd)


def holder(db_path: str | Path) -> dict[str, Any] | None:
    """Who holds the lock right now (None when nobody does); never creates the lock file."""
    path = lock_path(db_path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read(fd)
    finally:
        os.close(fd)
    return None


def _read(fd: int) -> dict[str, Any]:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
