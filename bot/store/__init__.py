"""The bridge's SQLite store, one class per table group; `Store` is all of them on one connection.

One connection shared by Bolt's listener threads and the scheduler's threads, guarded by a
lock; every multi-statement write runs in `Store.write()`. The schema comes only from
`migrations/migrations.py`. Only this package writes SQL.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from bot.store.chats import ChatTable
from bot.store.desk import DeskTable
from bot.store.ledger import LedgerTable
from bot.store.links import LinkTable
from bot.store.messages import MessageTable
from bot.store.outbox import OutboxTable
from bot.store.saved import SavedTable
from bot.store.webhooks import WebhookTable


class Store(
    LinkTable,
    ChatTable,
    MessageTable,
    OutboxTable,
    LedgerTable,
    DeskTable,
    SavedTable,
    WebhookTable,
):
    """All reads and writes of the bridge's state."""


def open_store(path: str | Path, *, migrate: bool = True) -> Store:
    """Open (creating with owner-only permissions) and migrate the database at `path`."""
    text = str(path)
    if text != ":memory:" and not os.path.exists(text):
        Path(text).parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(text, os.O_CREAT | os.O_WRONLY, 0o600))
    # check_same_thread=False: Bolt's listener threads and the scheduler share it under a lock.
    conn = sqlite3.connect(text, check_same_thread=False, timeout=30)
    store = Store(Database(conn))
    store.db.execute("PRAGMA busy_timeout = 30000")
    if migrate:
        store.migrate()
    if text != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(text + suffix):
                os.chmod(text + suffix, 0o600)
    return store
