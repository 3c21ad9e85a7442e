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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
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


class LinkConflict(Exception):
    """The number or the channel is already linked elsewhere."""

    def __init__(self, existing: Link) -> None:
        self.existing = existing
        super().__init__(f"{existing.channel_number} is linked to {existing.slack_channel_id}")


def _from_row(cls: type[T], row: dict[str, Any]) -> T:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in row.items() if k in names})


@dataclass(frozen=True)
class Link:
    """A WhatsApp number linked to a Slack channel."""

    channel_number: str
    slack_channel_id: str
    linked_by: str
    linked_at: str


@dataclass(frozen=True)
class Chat:
    """One customer on one channel number: poll state and the 24-hour window."""

    channel_number: str
    customer_number: str
    customer_name: str | None
    thread_id: int | None
    last_inbound_at: str | None
    last_activity_at: str | None
    next_poll_at: float | None
    empty_polls: int
    last_polled_at: str | None
    origin: str | None
    failures: int
    created_at: str


@dataclass(frozen=True)
class Thread:
    """One Slack thread of a chat. state: opening (parent not yet confirmed), open, resolved."""

    id: int
    channel_number: str
    customer_number: str
    slack_channel_id: str
    thread_ts: str | None
    state: str
    opened_at: str
    status_by: str | None
    status_at: str | None
    window_shown: str | None
    previous_thread_id: int | None


@dataclass(frozen=True)
class LoggedMessage:
    """A Wati message the bridge has seen. state: pending, posted, skipped, ours."""

    wati_id: str
    channel_number: str
    customer_number: str
    thread_id: int | None
    direction: str
    created: str
    state: str
    slack_ts: str | None
    attempts: int
    error: str | None
    recorded_at: str


@dataclass(frozen=True)
class Reply:
    """A Slack reply on its way to WhatsApp (a row of the outbox)."""

    id: int
    slack_channel_id: str
    slack_ts: str
    event_id: str | None
    thread_id: int
    channel_number: str
    customer_number: str
    user_id: str
    body: str
    files: str | None
    state: str
    local_message_id: str
    wati_id: str | None
    delivery: str | None
    error: str | None
    attempts: int
    created_at: str
    updated_at: str


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


class Store:
    """All reads and writes of the bridge's state."""

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

    # -- links -------------------------------------------------------------------------------

    def link(self, channel_number: str, slack_channel_id: str, user_id: str) -> Link:
        """Link a number to a channel; LinkConflict if either is linked elsewhere."""
        with self.write() as db:
            for existing in self._all(
                Link,
                "select * from links where channel_number = ? or slack_channel_id = ?",
                [channel_number, slack_channel_id],
            ):
                if (existing.channel_number, existing.slack_channel_id) != (
                    channel_number,
                    slack_channel_id,
                ):
                    raise LinkConflict(existing)
                return existing
            row = {
                "channel_number": channel_number,
                "slack_channel_id": slack_channel_id,
                "linked_by": user_id,
                "linked_at": iso(utcnow()),
            }
            db.table("links").insert(row)
        return Link(**row)

    def unlink(self, slack_channel_id: str) -> Link | None:
        """Remove the channel's link; return it, or None when there was none."""
        with self.write() as db:
            found = self.link_for_channel(slack_channel_id)
            if found:
                db.execute("delete from links where slack_channel_id = ?", [slack_channel_id])
        return found

    def link_for_channel(self, slack_channel_id: str) -> Link | None:
        """The link of a Slack channel."""
        return self._one(Link, "select * from links where slack_channel_id = ?", [slack_channel_id])

    def link_for_number(self, channel_number: str) -> Link | None:
        """The link of a WhatsApp number."""
        return self._one(Link, "select * from links where channel_number = ?", [channel_number])

    def links(self) -> list[Link]:
        """Every link, oldest first."""
        return self._all(Link, "select * from links order by linked_at")

    # -- chats -------------------------------------------------------------------------------

    def chat(self, channel_number: str, customer_number: str) -> Chat | None:
        """One customer's chat on one number."""
        return self._one(
            Chat,
            "select * from chats where channel_number = ? and customer_number = ?",
            [channel_number, customer_number],
        )

    def ensure_chat(
        self,
        channel_number: str,
        customer_number: str,
        *,
        origin: str,
        next_poll_at: float | None,
        name: str | None = None,
    ) -> Chat:
        """The chat, created when missing (an existing chat keeps its state)."""
        with self.write() as db:
            db.table("chats").insert(
                {
                    "channel_number": channel_number,
                    "customer_number": customer_number,
                    "customer_name": name,
                    "next_poll_at": next_poll_at,
                    "origin": origin,
                    "created_at": iso(utcnow()),
                },
                ignore=True,
            )
        chat = self.chat(channel_number, customer_number)
        assert chat is not None
        return chat

    def update_chat(self, channel_number: str, customer_number: str, **values: Any) -> None:
        """Set some columns of a chat."""
        with self.write() as db:
            db.table("chats").update((channel_number, customer_number), values)

    def due_chats(self, channel_number: str, now: float, limit: int = 50) -> list[Chat]:
        """Chats of a number whose next poll time has come, most overdue first.

        Chats woken only because a contact changed (Wati does not say on which number, so
        every linked number is asked) wait behind chats known to be in conversation.
        """
        return self._all(
            Chat,
            "select * from chats where channel_number = ? and next_poll_at is not null "
            "and next_poll_at <= ? "
            "order by (origin = 'contacts' and thread_id is null), next_poll_at limit ?",
            [channel_number, now, limit],
        )

    def due_ahead_of(self, chat: Chat, now: float, exclude_numbers: set[str]) -> int:
        """How many due chats of linked numbers come before this one in the polling order."""
        speculative = int(chat.origin == "contacts" and chat.thread_id is None)
        marks = ",".join("?" * len(exclude_numbers))
        skip = f"and c.channel_number not in ({marks}) " if exclude_numbers else ""
        rows = self.query(
            "select count(*) as n from chats c join links l on l.channel_number = c.channel_number "
            "where c.next_poll_at is not null and c.next_poll_at <= ? "
            f"{skip}"
            "and ((c.origin = 'contacts' and c.thread_id is null) < ? "
            "or ((c.origin = 'contacts' and c.thread_id is null) = ? and c.next_poll_at < ?))",
            [now, *sorted(exclude_numbers), speculative, speculative, chat.next_poll_at or 0.0],
        )
        return int(rows[0]["n"])

    def chats(self, channel_number: str) -> list[Chat]:
        """Every chat of a number."""
        return self._all(
            Chat,
            "select * from chats where channel_number = ? order by created_at",
            [channel_number],
        )

    # -- threads -----------------------------------------------------------------------------

    def thread(self, thread_id: int) -> Thread | None:
        """A thread by id."""
        return self._one(Thread, "select * from threads where id = ?", [thread_id])

    def thread_by_ts(self, slack_channel_id: str, thread_ts: str) -> Thread | None:
        """The bridge's thread whose parent is this Slack message, if any."""
        return self._one(
            Thread,
            "select * from threads where slack_channel_id = ? and thread_ts = ?",
            [slack_channel_id, thread_ts],
        )

    def current_thread(self, channel_number: str, customer_number: str) -> Thread | None:
        """The chat's newest thread, whatever its state."""
        return self._one(
            Thread,
            "select * from threads where channel_number = ? and customer_number = ? "
            "order by id desc limit 1",
            [channel_number, customer_number],
        )

    def create_thread(
        self,
        channel_number: str,
        customer_number: str,
        slack_channel_id: str,
        previous_thread_id: int | None,
    ) -> Thread:
        """Record a thread about to be opened (state `opening` until its parent is confirmed)."""
        with self.write() as db:
            table = db.table("threads")
            table.insert(
                {
                    "channel_number": channel_number,
                    "customer_number": customer_number,
                    "slack_channel_id": slack_channel_id,
                    "state": "opening",
                    "opened_at": iso(utcnow()),
                    "previous_thread_id": previous_thread_id,
                }
            )
            thread_id = table.last_pk
            db.table("chats").update((channel_number, customer_number), {"thread_id": thread_id})
        found = self.thread(int(thread_id))  # type: ignore[arg-type]
        assert found is not None
        return found

    def update_thread(self, thread_id: int, **values: Any) -> None:
        """Set some columns of a thread."""
        with self.write() as db:
            db.table("threads").update(thread_id, values)

    def open_threads(self, channel_number: str | None = None) -> list[Thread]:
        """Threads that are open (or opening), optionally of one number."""
        sql = "select * from threads where state in ('open', 'opening')"
        params: list[Any] = []
        if channel_number is not None:
            sql += " and channel_number = ?"
            params.append(channel_number)
        return self._all(Thread, sql + " order by id", params)

    # -- message log -------------------------------------------------------------------------

    def known_ids(self, wati_ids: Sequence[str]) -> set[str]:
        """Which of these Wati ids the bridge has already recorded."""
        if not wati_ids:
            return set()
        marks = ",".join("?" * len(wati_ids))
        rows = self.query(f"select wati_id from messages where wati_id in ({marks})", wati_ids)
        return {r["wati_id"] for r in rows}

    def record_message(
        self,
        wati_id: str,
        *,
        channel_number: str,
        customer_number: str,
        direction: str,
        created: str,
        state: str,
        thread_id: int | None = None,
        attempts: int = 0,
    ) -> bool:
        """Record a Wati message once; False when it was already recorded."""
        with self.write() as db:
            before = db.conn.total_changes
            db.table("messages").insert(
                {
                    "wati_id": wati_id,
                    "channel_number": channel_number,
                    "customer_number": customer_number,
                    "thread_id": thread_id,
                    "direction": direction,
                    "created": created,
                    "state": state,
                    "attempts": attempts,
                    "recorded_at": iso(utcnow()),
                },
                ignore=True,
            )
            return db.conn.total_changes > before

    def logged(self, wati_id: str) -> LoggedMessage | None:
        """One logged message."""
        return self._one(LoggedMessage, "select * from messages where wati_id = ?", [wati_id])

    def update_message(self, wati_id: str, **values: Any) -> None:
        """Set some columns of a logged message."""
        with self.write() as db:
            db.table("messages").update(wati_id, values)

    def pending_messages(self, channel_number: str, customer_number: str) -> list[LoggedMessage]:
        """Messages recorded but not yet confirmed in Slack, oldest first."""
        return self._all(
            LoggedMessage,
            "select * from messages where channel_number = ? and customer_number = ? "
            "and state = 'pending' order by created, recorded_at",
            [channel_number, customer_number],
        )

    def backlog(self, channel_number: str | None = None) -> int:
        """How many recorded messages still wait to be posted."""
        sql = "select count(*) as n from messages where state = 'pending'"
        params: list[Any] = []
        if channel_number is not None:
            sql += " and channel_number = ?"
            params.append(channel_number)
        return int(self.query(sql, params)[0]["n"])

    # -- outbox ------------------------------------------------------------------------------

    def enqueue_reply(self, **row: Any) -> tuple[Reply, bool]:
        """Record a reply once per (channel, ts); return it and whether it is new."""
        now = iso(utcnow())
        row = {"state": "queued", "attempts": 0, "created_at": now, "updated_at": now, **row}
        with self.write() as db:
            before = db.conn.total_changes
            db.table("outbox").insert(row, ignore=True)
            created = db.conn.total_changes > before
        reply = self.reply_by_ts(row["slack_channel_id"], row["slack_ts"])
        assert reply is not None
        return reply, created

    def reply(self, reply_id: int) -> Reply | None:
        """An outbox row by id."""
        return self._one(Reply, "select * from outbox where id = ?", [reply_id])

    def reply_by_ts(self, slack_channel_id: str, slack_ts: str) -> Reply | None:
        """The outbox row of a Slack message."""
        return self._one(
            Reply,
            "select * from outbox where slack_channel_id = ? and slack_ts = ?",
            [slack_channel_id, slack_ts],
        )

    def reply_by_local_id(self, local_message_id: str) -> Reply | None:
        """The outbox row that sent with this localMessageId."""
        return self._one(
            Reply, "select * from outbox where local_message_id = ?", [local_message_id]
        )

    def reply_by_wati_id(self, wati_id: str) -> Reply | None:
        """The outbox row whose send Wati answered with this id."""
        return self._one(Reply, "select * from outbox where wati_id = ?", [wati_id])

    def update_reply(self, reply_id: int, **values: Any) -> None:
        """Set some columns of an outbox row (and its updated_at)."""
        with self.write() as db:
            db.table("outbox").update(reply_id, {**values, "updated_at": iso(utcnow())})

    def replies_in_state(
        self, *states: str, customer: tuple[str, str] | None = None
    ) -> list[Reply]:
        """Outbox rows in any of these states, oldest first; optionally of one chat."""
        marks = ",".join("?" * len(states))
        sql = f"select * from outbox where state in ({marks})"
        params: list[Any] = list(states)
        if customer is not None:
            sql += " and channel_number = ? and customer_number = ?"
            params.extend(customer)
        return self._all(Reply, sql + " order by id", params)

    # -- bookkeeping -------------------------------------------------------------------------

    def first_sighting(self, event_id: str) -> bool:
        """Record a Slack event id; True the first time it is seen, False for a repeat."""
        with self.write() as db:
            before = db.conn.total_changes
            db.table("events_seen").insert(
                {"event_id": event_id, "seen_at": iso(utcnow())}, ignore=True
            )
            return db.conn.total_changes > before

    def count_call(self, endpoint: str, day: str) -> None:
        """Add one Wati API call to the day's count."""
        with self.write() as db:
            db.execute(
                "insert into api_calls (day, endpoint, count) values (?, ?, 1) "
                "on conflict(day, endpoint) do update set count = count + 1",
                [day, endpoint],
            )

    def calls_since(self, day: str) -> dict[str, int]:
        """Wati API calls per endpoint from this day (YYYY-MM-DD) on."""
        rows = self.query(
            "select endpoint, sum(count) as n from api_calls where day >= ? group by endpoint",
            [day],
        )
        return {r["endpoint"]: int(r["n"]) for r in rows}

    def contact_seen(self, wa_number: str) -> dict[str, Any] | None:
        """What the bridge last saw of a contact."""
        rows = self.query("select * from contacts where wa_number = ?", [wa_number])
        return rows[0] if rows else None

    def save_contact(self, wa_number: str, name: str | None, last_updated: str | None) -> None:
        """Remember a contact's name and lastUpdated."""
        with self.write() as db:
            db.table("contacts").upsert(
                {
                    "wa_number": wa_number,
                    "name": name,
                    "last_updated": last_updated,
                    "seen_at": iso(utcnow()),
                },
                pk="wa_number",
            )

    def add_error(self, scope: str, message: str, keep: int = 200) -> None:
        """Log an error for /wati status (no message bodies here), keeping the newest."""
        with self.write() as db:
            db.table("errors").insert({"at": iso(utcnow()), "scope": scope, "message": message})
            db.execute("delete from errors where id <= (select max(id) from errors) - ?", [keep])

    def recent_errors(self, scope: str | None = None, limit: int = 5) -> list[dict[str, Any]]:
        """Newest errors first."""
        if scope is None:
            return self.query("select * from errors order by id desc limit ?", [limit])
        return self.query(
            "select * from errors where scope = ? order by id desc limit ?", [scope, limit]
        )

    def get(self, key: str) -> str | None:
        """A small named value."""
        rows = self.query("select value from kv where key = ?", [key])
        return rows[0]["value"] if rows else None

    def put(self, key: str, value: str) -> None:
        """Set a small named value."""
        with self.write() as db:
            db.table("kv").upsert({"key": key, "value": value}, pk="key")

    def forget(self, key: str) -> None:
        """Remove a small named value."""
        with self.write() as db:
            db.execute("delete from kv where key = ?", [key])


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
