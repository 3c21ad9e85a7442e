"""The bridge's SQLite store, one class per table group; `Store` is all of them on one connection.

One connection shared by Bolt's listener threads and the scheduler's threads, guarded by a
lock; every multi-statement write runs in `Store.write()`. The schema comes only from
`migrations/migrations.py`. Only this package writes SQL.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlite_utils import Database

from bot.base.clock import Clock
from bot.store.broadcasts import BroadcastTable
from bot.store.chats import ChatTable
from bot.store.customers import CustomerTable
from bot.store.db import BUSY_TIMEOUT_MS, parse_iso
from bot.store.desk_chats import DeskTable
from bot.store.health import HealthTable
from bot.store.ledger import LedgerTable
from bot.store.links import Link, LinkTable
from bot.store.messages import MessageTable
from bot.store.outbox import OutboxTable
from bot.store.privacy import PrivacyTable
from bot.store.saved import SavedTable
from bot.store.surveys import SurveyTable
from bot.store.webhooks import WebhookTable
from bot.store.weekly import WeeklyTable


class Store(
    LinkTable,
    ChatTable,
    CustomerTable,
    MessageTable,
    OutboxTable,
    LedgerTable,
    DeskTable,
    SavedTable,
    WebhookTable,
    HealthTable,
    SurveyTable,
    WeeklyTable,
    PrivacyTable,
    BroadcastTable,
):
    """All reads and writes of the bridge's state."""

    def relay_since(self, link: Link) -> datetime | None:
        """A number's messages older than this are not relayed: its link time, or the
        backfill horizon while one is set."""
        return parse_iso(self.get(f"relay_since:{link.channel_number}") or link.linked_at)


# Tests only: names a file; while it exists, SQLite refuses the bridge's writes (Db._test_fault).
REFUSE_WRITES_ENV = "WATI_BRIDGE_TEST_REFUSE_WRITES_FLAG"


class StoreUnavailable(Exception):
    """The database cannot be opened, migrated or written; the message names the path and why."""

    def __init__(self, path: str, cause: str) -> None:
        super().__init__(f"cannot use the database {path}: {cause}")
        self.path = path
        self.cause = cause


def open_store(
    path: str | Path,
    *,
    migrate: bool = True,
    writable: bool = False,
    clock: Clock | None = None,
    on_write: Callable[[sqlite3.Error | None], None] | None = None,
) -> Store:
    """Open (creating with owner-only permissions) and migrate the database at `path`.

    `writable`: also check that SQLite would take writes (`run` does, so a read-only file
    stops it at once with a clear line instead of failing every write later). `clock` stamps
    what the store writes (the wall clock when not given); `on_write` hears how each write
    transaction ended. Raises
    StoreUnavailable for any SQLite or file-system error.
    """
    text = str(path)
    try:
        return _open(text, migrate=migrate, writable=writable, clock=clock, on_write=on_write)
    except (sqlite3.Error, OSError) as exc:
        raise StoreUnavailable(text, _cause(exc)) from exc


def _cause(exc: sqlite3.Error | OSError) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return str(exc) or type(exc).__name__


def _open(
    text: str,
    *,
    migrate: bool,
    writable: bool,
    clock: Clock | None,
    on_write: Callable[[sqlite3.Error | None], None] | None,
) -> Store:
    if text != ":memory:" and not os.path.exists(text):
        Path(text).parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(text, os.O_CREAT | os.O_WRONLY, 0o600))
    # check_same_thread=False: Bolt's listener threads and the scheduler share it under a lock.
    conn = sqlite3.connect(text, check_same_thread=False, timeout=30)
    store = Store(Database(conn), clock=clock, on_write=on_write)
    store.refuse_writes_flag = os.environ.get(REFUSE_WRITES_ENV) or None
    try:
        store.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if migrate:
            store.migrate()
        if writable:
            store.check_writable()
    except BaseException:
        store.close()
        raise
    if text != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(text + suffix):
                os.chmod(text + suffix, 0o600)
    return store
