"""The sandbox's Wati state in one SQLite file, and the rules that act on it.

Contacts are shared by all channel numbers; conversations are per (channel number, customer).
Every timestamp comes from the injected clock, so tests can move time without sleeping.
Delivery status is not stored: it is computed from the clock whenever a message is read
(``SENT`` until ``status_delays[0]`` seconds after the send, then ``DELIVERED``, then ``READ``
from ``status_delays[1]`` seconds after the send).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from . import customers, render, shapes

SCHEMA = """
CREATE TABLE IF NOT EXISTS contacts (
    wa_id TEXT PRIMARY KEY, id TEXT NOT NULL, name TEXT NOT NULL, created REAL NOT NULL,
    last_updated REAL NOT NULL, params TEXT NOT NULL DEFAULT '[]',
    opted_in INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS conversations (
    channel TEXT NOT NULL, customer TEXT NOT NULL, id TEXT NOT NULL, ticket_id TEXT NOT NULL,
    status TEXT NOT NULL, last_inbound REAL, PRIMARY KEY (channel, customer)
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL, customer TEXT NOT NULL, conversation_id TEXT NOT NULL,
    ticket_id TEXT NOT NULL, event_type TEXT NOT NULL, type TEXT, text TEXT, data TEXT,
    owner INTEGER NOT NULL, source TEXT NOT NULL, created REAL NOT NULL, clock REAL NOT NULL,
    local_message_id TEXT, whatsapp_message_id TEXT, reply_context_id TEXT,
    template_id TEXT, template_name TEXT, broadcast_name TEXT, extra TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_chat ON messages (channel, customer, seq);
CREATE TABLE IF NOT EXISTS templates (
    name TEXT PRIMARY KEY, id TEXT NOT NULL, body TEXT NOT NULL, status TEXT NOT NULL,
    category TEXT NOT NULL, params TEXT NOT NULL, created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS media (
    path TEXT PRIMARY KEY, content_type TEXT NOT NULL, content BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS expired_media (path TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS calls (
    month TEXT NOT NULL, endpoint TEXT NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (month, endpoint)
);
"""

SEED_TEMPLATES: tuple[tuple[str, str, str], ...] = (
    (
        "hello_again",
        "Hi {{name}}, thanks for getting in touch with us again. "
        "Reply to this message and we will pick up where we left off.",
        "APPROVED",
    ),
    ("order_update", "Hello {{name}}, your order {{order_number}} has shipped.", "APPROVED"),
    ("spring_sale", "Hi {{name}}, our spring sale starts today!", "PENDING"),
)
TICKET_STATUSES = ("OPEN", "SOLVED", "PENDING", "BLOCK")

Row = sqlite3.Row


class State:
    """Thread-safe: one connection, one re-entrant lock around every use of it."""

    def __init__(
        self,
        path: str | Path,
        *,
        now: Callable[[], float],
        tenant_id: str,
        status_delays: tuple[float, float],
    ) -> None:
        self.now = now
        self.status_delays = status_delays
        self.on_insert: Callable[[dict[str, Any]], None] | None = None
        self.team_id = hashlib.sha1(tenant_id.encode()).hexdigest()[:24]
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        with self._tx() as db:
            db.executescript(SCHEMA)
            customers.upgrade(db)
            if db.execute("SELECT COUNT(*) FROM templates").fetchone()[0] == 0:
                for name, body, status in SEED_TEMPLATES:
                    self.put_template(name, body, status=status, category="UTILITY")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """The connection under the lock, committed on leaving (for the sandbox's other
        tables, e.g. `operators.Operators`)."""
        return self._tx()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._db:
            yield self._db

    # -- contacts -------------------------------------------------------------------------

    def contact_row(self, wa_id: str) -> Row | None:
        with self._tx() as db:
            row: Row | None = db.execute(
                "SELECT * FROM contacts WHERE wa_id = ?", (wa_id,)
            ).fetchone()
            return row

    def resolve(self, ref: str) -> str | None:
        """The customer key a phone number, BSUID or Wati contact id names (see customers)."""
        with self._tx() as db:
            return customers.resolve(db, ref)

    def ensure_contact(
        self, wa_id: str, name: str | None = None, *, username: str | None = None
    ) -> Row:
        """Create the contact if new; touch lastUpdated (and rename when a name is given).
        `wa_id` is the customer key: a phone number, or the BSUID of a phoneless customer."""
        now = self.now()
        with self._tx() as db:
            if self.contact_row(wa_id) is None:
                phone, bsuid = customers.new_identity(wa_id)
                db.execute(
                    "INSERT INTO contacts (wa_id, id, name, created, last_updated, phone, bsuid,"
                    " username) VALUES (?,?,?,?,?,?,?,?)",
                    (
                        wa_id,
                        shapes.new_id(now),
                        name or username or wa_id,
                        now,
                        now,
                        phone,
                        bsuid,
                        username,
                    ),
                )
            elif name:
                db.execute(
                    "UPDATE contacts SET name = ?, last_updated = ? WHERE wa_id = ?",
                    (name, now, wa_id),
                )
            else:
                db.execute("UPDATE contacts SET last_updated = ? WHERE wa_id = ?", (now, wa_id))
            row = self.contact_row(wa_id)
            assert row is not None
            return row

    def reveal_phone(self, key: str, phone: str) -> None:
        """A phoneless customer's number becomes visible (the key stays the BSUID)."""
        with self._tx() as db:
            db.execute(
                "UPDATE contacts SET phone = ?, last_updated = ? WHERE wa_id = ?",
                (phone, self.now(), key),
            )

    def add_contact(self, wa_id: str, name: str, params: list[dict[str, str]]) -> Row | None:
        """None when the contact already exists."""
        with self._tx():
            if self.contact_row(wa_id) is not None:
                return None
            self.ensure_contact(wa_id, name or wa_id)
            if params:
                self.update_params(wa_id, params)
            return self.contact_row(wa_id)

    def update_params(self, wa_id: str, params: list[dict[str, str]]) -> bool:
        """Merge attributes by name (case-insensitive); False for an unknown contact."""
        with self._tx() as db:
            row = self.contact_row(wa_id)
            if row is None:
                return False
            current: list[dict[str, str]] = json.loads(row["params"])
            for param in params:
                for existing in current:
                    if existing["name"].lower() == param["name"].lower():
                        existing["value"] = param["value"]
                        break
                else:
                    current.append({"name": param["name"], "value": param["value"]})
            db.execute(
                "UPDATE contacts SET params = ?, last_updated = ? WHERE wa_id = ?",
                (json.dumps(current), self.now(), wa_id),
            )
            return True

    def contact_rows(self) -> list[Row]:
        """Most recently updated first."""
        with self._tx() as db:
            return list(db.execute("SELECT * FROM contacts ORDER BY last_updated DESC, rowid DESC"))

    def contact_json(self, row: Row) -> dict[str, Any]:
        return render.contact_json(row, self.team_id)

    # -- conversations --------------------------------------------------------------------

    def conversation(self, channel: str, customer: str) -> Row | None:
        with self._tx() as db:
            row: Row | None = db.execute(
                "SELECT * FROM conversations WHERE channel = ? AND customer = ?",
                (channel, customer),
            ).fetchone()
            return row

    def conversations(self) -> list[Row]:
        with self._tx() as db:
            return list(db.execute("SELECT * FROM conversations"))

    def conversations_by_news(self) -> list[Row]:
        """Conversations with the time of their newest message (`newest`), newest first."""
        with self._tx() as db:
            return list(
                db.execute(
                    "SELECT c.*, MAX(m.created) AS newest FROM conversations c JOIN messages m"
                    " ON m.channel = c.channel AND m.customer = c.customer"
                    " GROUP BY c.channel, c.customer ORDER BY newest DESC"
                )
            )

    def ensure_conversation(self, channel: str, customer: str, by: str) -> Row:
        """Open a conversation (with a ticket row) if none exists yet."""
        with self._tx() as db:
            row = self.conversation(channel, customer)
            if row is not None:
                return row
            now = self.now()
            db.execute(
                "INSERT INTO conversations (channel, customer, id, ticket_id, status)"
                " VALUES (?,?,?,?,?)",
                (channel, customer, shapes.new_id(now), shapes.new_id(now), "OPEN"),
            )
            self.ticket(channel, customer, f"Conversation opened by {by}", actor=by)
            row = self.conversation(channel, customer)
            assert row is not None
            return row

    def set_status(self, channel: str, customer: str, status: str, by: str) -> bool:
        """False when there is no conversation. Reopening a solved chat starts a new ticket."""
        with self._tx() as db:
            row = self.conversation(channel, customer)
            if row is None:
                return False
            ticket = row["ticket_id"]
            if row["status"] == "SOLVED" and status != "SOLVED":
                ticket = shapes.new_id(self.now())
            db.execute(
                "UPDATE conversations SET status = ?, ticket_id = ?"
                " WHERE channel = ? AND customer = ?",
                (status, ticket, channel, customer),
            )
            if status == "SOLVED":
                self.ticket(channel, customer, "The chat has been solved", type=1, actor=by)
            else:
                self.ticket(channel, customer, f"Chat status changed to {status}", actor=by)
            return True

    def window_open(self, row: Row | None) -> bool:
        """The 24-hour customer service window, from the last inbound message."""
        if row is None or row["last_inbound"] is None:
            return False
        return bool(self.now() - row["last_inbound"] <= shapes.DAY)

    # -- messages -------------------------------------------------------------------------

    def insert(self, channel: str, customer: str, **fields: Any) -> str:
        """Add a history row to the (existing) conversation; returns the Wati message id."""
        with self._tx() as db:
            conv = self.conversation(channel, customer)
            assert conv is not None
            # A conversation's `created` values are distinct milliseconds, as in real traffic,
            # so sorting on them is unambiguous even when the clock stands still.
            (last,) = db.execute(
                "SELECT MAX(created) FROM messages WHERE channel = ? AND customer = ?",
                (channel, customer),
            ).fetchone()
            clock = now = self.now()
            if last is not None and round(now * 1000) <= round(last * 1000):
                now = (round(last * 1000) + 1) / 1000
            message_id = shapes.new_id(now)
            extra = fields.pop("extra", None)
            row = {
                "id": message_id,
                "channel": channel,
                "customer": customer,
                "conversation_id": conv["id"],
                "ticket_id": conv["ticket_id"],
                "created": now,
                "clock": clock,  # when it really happened: statuses count from here
                "owner": 0,
                "extra": json.dumps(extra) if extra else None,
                **fields,
            }
            names = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            db.execute(f"INSERT INTO messages ({names}) VALUES ({marks})", tuple(row.values()))
            if self.on_insert is not None:
                self.on_insert(row)  # webhooks.Webhooks: the events this row makes
            return message_id

    def ticket(
        self,
        channel: str,
        customer: str,
        description: str,
        *,
        type: int = 0,
        actor: str | None = None,
        assignee: str | None = None,
    ) -> str:
        """A ticket row: not chat content; its integer `type` and the actor go in `extra`."""
        extra = {"type": type, "actor": actor, "assignee": assignee}
        return self.insert(
            channel, customer, event_type="ticket", text=description, source="system", extra=extra
        )

    def customer_says(
        self,
        channel: str,
        customer: str,
        text: str | None,
        *,
        name: str | None,
        type: str,
        data: str | None,
        extra: dict[str, Any] | None,
    ) -> str:
        with self._tx() as db:
            contact = self.ensure_contact(customer, name)
            conv = self.ensure_conversation(channel, customer, by=f"contact {contact['name']}")
            if conv["status"] == "SOLVED":
                self.set_status(channel, customer, "OPEN", by=f"contact {contact['name']}")
            message_id = self.insert(
                channel,
                customer,
                event_type="message",
                type=type,
                text=text,
                data=data,
                source="customer",
                extra=extra,
            )
            db.execute(
                "UPDATE conversations SET last_inbound = ? WHERE channel = ? AND customer = ?",
                (self.now(), channel, customer),
            )
            return message_id

    def operator_says(self, channel: str, customer: str, text: str) -> str:
        with self._tx():
            self.ensure_contact(customer)
            self.ensure_conversation(channel, customer, by=render.OPERATOR_NAME)
            return self.insert(
                channel,
                customer,
                event_type="message",
                type="text",
                text=text,
                owner=1,
                source="operator",
            )

    def message(self, message_id: str) -> Row | None:
        with self._tx() as db:
            row: Row | None = db.execute(
                "SELECT * FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
            return row

    def message_by_wamid(self, wamid: str) -> Row | None:
        with self._tx() as db:
            row: Row | None = db.execute(
                "SELECT * FROM messages WHERE whatsapp_message_id = ?", (wamid,)
            ).fetchone()
            return row

    def history(
        self,
        channel: str,
        customer: str,
        *,
        newest_first: bool = False,
        limit: int = -1,
        offset: int = 0,
        since: float | None = None,
        until: float | None = None,
    ) -> tuple[list[Row], int]:
        """One page of a conversation and the total number of rows that match."""
        where = "channel = ? AND customer = ? AND created >= ? AND created <= ?"
        args: tuple[Any, ...] = (
            channel,
            customer,
            since if since is not None else float("-inf"),
            until if until is not None else float("inf"),
        )
        order = "DESC" if newest_first else "ASC"
        with self._tx() as db:
            total = db.execute(f"SELECT COUNT(*) FROM messages WHERE {where}", args).fetchone()[0]
            rows = list(
                db.execute(
                    f"SELECT * FROM messages WHERE {where} ORDER BY seq {order} LIMIT ? OFFSET ?",
                    (*args, limit, offset),
                )
            )
            return rows, int(total)

    def ticket_rows(
        self, channel: str, customer: str, *, since: float | None, until: float | None
    ) -> int:
        with self._tx() as db:
            (count,) = db.execute(
                "SELECT COUNT(*) FROM messages WHERE channel = ? AND customer = ?"
                " AND event_type = 'ticket' AND created >= ? AND created <= ?",
                (
                    channel,
                    customer,
                    since if since is not None else float("-inf"),
                    until if until is not None else float("inf"),
                ),
            ).fetchone()
            return int(count)

    def api_rows(self, channel: str | None) -> list[Row]:
        with self._tx() as db:
            query = "SELECT * FROM messages WHERE source = 'api'"
            if channel is None:
                return list(db.execute(query + " ORDER BY seq"))
            return list(db.execute(query + " AND channel = ? ORDER BY seq", (channel,)))

    def session_sends_since(self, channel: str, since: float) -> int:
        """Session messages and files the API sent from `channel` since `since`."""
        with self._tx() as db:
            (count,) = db.execute(
                "SELECT COUNT(*) FROM messages WHERE channel = ? AND source = 'api'"
                " AND event_type = 'message' AND clock >= ?",
                (channel, since),
            ).fetchone()
            return int(count)

    def status_of(self, row: Row) -> str:
        return render.status_of(row, self.now(), self.status_delays)

    def item_json(self, row: Row) -> dict[str, Any]:
        return render.item_json(row, self.status_of(row))

    # -- templates ------------------------------------------------------------------------

    def put_template(
        self,
        name: str,
        body: str,
        *,
        status: str,
        category: str,
        params: Sequence[str] | None = None,
    ) -> None:
        names = list(params) if params is not None else shapes.template_params(body)
        now = self.now()
        with self._tx() as db:
            db.execute(
                "INSERT INTO templates (name, id, body, status, category, params, created)"
                " VALUES (?,?,?,?,?,?,?) ON CONFLICT (name) DO UPDATE SET body = excluded.body,"
                " status = excluded.status, category = excluded.category, params = excluded.params",
                (name, shapes.new_id(now), body, status, category, json.dumps(names), now),
            )

    def template(self, name: str) -> Row | None:
        with self._tx() as db:
            row: Row | None = db.execute(
                "SELECT * FROM templates WHERE name = ?", (name,)
            ).fetchone()
            return row

    def templates(self) -> list[Row]:
        with self._tx() as db:
            return list(db.execute("SELECT * FROM templates ORDER BY created, name"))

    # -- media and call counters ----------------------------------------------------------

    def put_media(self, path: str, content: bytes, content_type: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO media (path, content_type, content) VALUES (?,?,?)",
                (path, content_type, content),
            )

    def media(self, path: str) -> tuple[str, bytes] | None:
        with self._tx() as db:
            row = db.execute(
                "SELECT content_type, content FROM media WHERE path = ?", (path,)
            ).fetchone()
            return None if row is None else (str(row[0]), bytes(row[1]))

    def expire_media(self, path: str) -> None:
        """Wati no longer holds this file (its downloads answer 400, code 5004)."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO expired_media (path) VALUES (?)", (path,))

    def media_expired(self, path: str) -> bool:
        with self._tx() as db:
            row = db.execute("SELECT 1 FROM expired_media WHERE path = ?", (path,)).fetchone()
            return row is not None

    def count_call(self, endpoint: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO calls (month, endpoint, count) VALUES (?, ?, 1)"
                " ON CONFLICT (month, endpoint) DO UPDATE SET count = count + 1",
                (shapes.month_key(self.now()), endpoint),
            )

    def calls(self, endpoint: str | None = None) -> int:
        month = shapes.month_key(self.now())
        with self._tx() as db:
            if endpoint is None:
                row = db.execute("SELECT SUM(count) FROM calls WHERE month = ?", (month,))
            else:
                row = db.execute(
                    "SELECT SUM(count) FROM calls WHERE month = ? AND endpoint = ?",
                    (month, endpoint),
                )
            return int(row.fetchone()[0] or 0)
