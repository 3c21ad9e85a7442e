"""The bridge's SQLite store: links, chats, threads, the message log, the outbox and bookkeeping.

One connection shared by Bolt's listener threads and the scheduler's threads, guarded by a
lock; every multi-statement write runs in `db.atomic()`. The schema comes only from
`migrations/migrations.py`.
"""

from __future__ import annotations

import runpy
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database, Migrations

T = TypeVar("T")


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


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

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.RLock()

    # -- lifecycle ---------------------------------------------------------------------------

    def migrate(self) -> list[str]:
        """Apply pending migrations; return the names applied (empty when up to date)."""
        migrations = load_migrations()
        with self._lock:
            pending = [m.name for m in migrations.pending(self.db)]
            migrations.apply(self.db)
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
            self.db.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
                self.db.conn.execute("COMMIT")
            except BaseException:
                self.db.conn.rollback()
                raise

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
