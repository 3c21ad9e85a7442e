"""The bridge's SQLite store: links, chats, threads, the message log, the outbox and bookkeeping.

One connection shared by Bolt's listener threads and the scheduler's threads, guarded by a
lock; every multi-statement write runs in `db.atomic()`. The schema comes only from
`migrations/migrations.py`.
"""

from __future__ import annotations

import os
import runpy
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database, Migrations

from bot.base.clock import Clock

T = TypeVar("T")
BUSY_TIMEOUT_MS = 30_000  # how long a write waits for another connection's lock


def iso(moment: datetime) -> str:
    """The ISO-8601 UTC text form every `*_at` column uses."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_iso(text: str | None) -> datetime | None:
    """Inverse of `iso`; None stays None."""
    return datetime.fromisoformat(text) if text else None


def _from_row(cls: type[T], row: dict[str, Any]) -> T:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in row.items() if k in names})


def load_migrations() -> Migrations:
    """The project's migration set, from `migrations/migrations.py` (or its copy in a wheel)."""
    package = Path(__file__).resolve().parent.parent  # bot/
    for candidate in (
        package.parent / "migrations" / "migrations.py",
        package / "_migrations" / "migrations.py",
    ):
        if candidate.is_file():
            found = runpy.run_path(str(candidate))["migrations"]
            assert isinstance(found, Migrations)
            return found
    raise FileNotFoundError("migrations/migrations.py is missing from this installation")


class Db:
    """The shared connection, its lock and write transactions; the table classes build on it."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock | None = None,
        on_write: Callable[[sqlite3.Error | None], None] | None = None,
    ) -> None:
        self.db = db
        # The bridge's one clock: every `*_at` stamp the store writes itself comes from it.
        self.clock = clock or Clock()
        self._lock = threading.RLock()
        # Told how each outermost write transaction ended: None when it committed, else the
        # SQLite error (health watches for a database that takes no writes).
        self.on_write = on_write
        self.migrated: list[str] = []  # what the last `migrate()` applied
        self.refuse_writes_flag: str | None = None  # tests only: see `_test_fault`

    # -- lifecycle ---------------------------------------------------------------------------

    def migrate(self) -> list[str]:
        """Apply pending migrations; return the names applied (empty when up to date)."""
        migrations = load_migrations()
        with self._lock:
            pending = [m.name for m in migrations.pending(self.db)]
            migrations.apply(self.db)
        self.migrated = pending
        return pending

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self.db.close()

    @contextmanager
    def write(self) -> Iterator[Database]:
        """Hold the lock and a transaction for several statements.

        The transaction takes SQLite's write lock when it begins (BEGIN IMMEDIATE). sqlite-utils
        would begin a deferred one, and its updates read the row first: a transaction that has
        read gets "database is locked" at once when another connection (a backfill, a backup
        tool) holds the write lock, because SQLite waits out the busy timeout only for a
        transaction that holds no lock yet. Nested writes become savepoints.
        """
        with self._lock:
            if self.db.conn.in_transaction:
                with self.db.atomic():
                    yield self.db
                return
            if self.refuse_writes_flag is not None:
                self._test_fault(self.refuse_writes_flag)
            try:
                self.db.conn.execute("BEGIN IMMEDIATE")
                yield self.db
                self.db.conn.execute("COMMIT")
            except BaseException as exc:
                self.db.conn.rollback()
                if isinstance(exc, sqlite3.Error):
                    self._wrote(exc)
                raise
            self._wrote(None)

    def _test_fault(self, flag: str) -> None:
        """Tests only: while the file `flag` exists, SQLite refuses this connection's writes.

        A full disk cannot be had in CI (no root mounts; chmod stops nobody running as root).
        `query_only` makes SQLite itself fail every write of the running bridge with
        SQLITE_READONLY while reads go on, as on a full disk; removing the file lifts it.
        """
        refuse = os.path.exists(flag)
        self.db.conn.execute(f"PRAGMA query_only = {int(refuse)}")

    def _wrote(self, error: sqlite3.Error | None) -> None:
        if self.on_write is not None:
            self.on_write(error)

    def check_writable(self) -> None:
        """Raise sqlite3.Error unless SQLite would let this connection write.

        Asks for the write lock without waiting: another process holding it (a backfill)
        is not a fault, so "locked" passes; a read-only file or directory does not.
        """
        with self._lock:
            self.db.execute("PRAGMA busy_timeout = 0")
            try:
                self.db.conn.execute("BEGIN IMMEDIATE")
                # A statement that writes (the same value back, rolled back) meets a read-only
                # file or header, which BEGIN alone does not.
                version = self.db.conn.execute("PRAGMA user_version").fetchone()[0]
                self.db.conn.execute(f"PRAGMA user_version = {int(version)}")
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    raise
            finally:
                self.db.conn.rollback()
                self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    @contextmanager
    def available(self, timeout: float) -> Iterator[bool]:
        """Hold the lock for some reads if it comes within `timeout` s; yield whether it did.

        A write waiting for another connection's lock (up to the 30 s busy timeout) holds
        this one meanwhile; a caller that must answer quickly (/healthz) asks with this.
        """
        got = self._lock.acquire(timeout=timeout)
        try:
            yield got
        finally:
            if got:
                self._lock.release()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a read query, as dicts."""
        with self._lock:
            return list(self.db.query(sql, params))

    def _one(self, cls: type[T], sql: str, params: Sequence[Any] = ()) -> T | None:
        rows = self.query(sql, params)
        return _from_row(cls, rows[0]) if rows else None

    def _all(self, cls: type[T], sql: str, params: Sequence[Any] = ()) -> list[T]:
        return [_from_row(cls, row) for row in self.query(sql, params)]
