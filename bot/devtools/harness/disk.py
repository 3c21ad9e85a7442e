"""Databases that take no writes, for the health and reply tests of the real process.

A full disk cannot be had in CI without root mounts, and chmod stops nobody running as root
(CI containers often do), so:

- `refuse_writes(world)` / `allow_writes(world)`: for a running bridge started with
  `REFUSE_WRITES_ENV` pointing at the world's flag file (`World` does when asked), SQLite
  itself refuses every write of the bridge's own connection while the flag exists
  (`PRAGMA query_only`, SQLITE_READONLY), reads going on, as on a full disk.
- `mark_read_only(path)`: for a database no process has open, SQLite's own "file format write
  version" byte (header offset 18) above 2, which makes every connection treat the file as
  read-only: what a read-only file is to `run` at start.
"""

from __future__ import annotations

import os
from pathlib import Path

WRITE_VERSION_AT = 18  # 1 = rollback journal, 2 = WAL; higher = read-only for this SQLite


def refuse_writes(flag: Path) -> None:
    """The bridge's writes fail from its next write transaction on."""
    flag.write_text("writes refused\n")


def allow_writes(flag: Path) -> None:
    """The bridge's writes work again."""
    flag.unlink(missing_ok=True)


def mark_read_only(path: Path) -> None:
    """Make a closed database read-only for SQLite (its WAL checkpointed: the bridge closed it)."""
    with open(path, "r+b") as file:
        file.seek(WRITE_VERSION_AT)
        file.write(bytes([3]))
        file.flush()
        os.fsync(file.fileno())
