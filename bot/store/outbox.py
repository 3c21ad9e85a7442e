"""The outbox: Slack replies on their way to WhatsApp, one row per reply, and the parts of each
that Wati accepted.

A reply goes out as one or more parts (4,096-character text chunks, files). Each part Wati
accepted is a row of `outbox_parts`, so a reply interrupted half-way resumes at the first part
that did not go, and delivery statuses are tracked per part.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from bot.store.chats import Thread
from bot.store.db import Db, iso


class ReplyState(StrEnum):
    """Where a reply is: queued → sending → sent | failed | blocked | unknown.

    `unknown`: the send's answer was lost (a crash, a timeout); Wati's history settles it before
    any resend. `blocked`: the 24-hour window is closed, or Wati said the chat's ticket expired
    (`reopen` then sends it after updateChatStatus OPEN). Also `note` (an internal note, kept in
    Slack) and `cancelled` (deleted in Slack before it went).
    """

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    BLOCKED = "blocked"
    UNKNOWN = "unknown"
    NOTE = "note"
    CANCELLED = "cancelled"


class Delivery(StrEnum):
    """WhatsApp's delivery statuses of a sent part, in the order they may follow each other."""

    SENT = "SENT"
    DELIVERED = "DELIVERED"
    READ = "READ"
    FAILED = "FAILED"


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


@dataclass(frozen=True)
class Job(Reply):
    """An outbox row with its progress columns."""

    next_try_at: float | None = None
    attempted_at: float | None = None
    resends: int = 0
    prepared: int = 0
    reaction: str | None = None
    notice_ts: str | None = None
    # m008: reopen the chat in Wati before the next send ("Reopen and send" on a reply Wati
    # refused with "Ticket has been expired."); cleared once the reopen is done.
    reopen: int = 0
    # m019: the template to send, as JSON (name, parameter values, broadcast name; see
    # `bot.relay.templated`); None for ordinary replies.
    template: str | None = None
    # m020: the rating question, as JSON (what may be sent; see `bot.relay.questions`); None
    # for other rows.
    question: str | None = None


@dataclass(frozen=True)
class Part:
    """One part of a reply that Wati accepted."""

    reply_id: int
    part: int
    kind: str
    wati_id: str | None
    local_message_id: str | None
    delivery: str | None
    sent_at: str


_JOB_FIELDS = frozenset(f.name for f in fields(Job))
_PART_FIELDS = frozenset(f.name for f in fields(Part))


def _job(row: dict[str, Any]) -> Job:
    return Job(**{k: v for k, v in row.items() if k in _JOB_FIELDS})


def _part(row: dict[str, Any]) -> Part:
    return Part(**{k: v for k, v in row.items() if k in _PART_FIELDS})


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


class OutboxTable(Db):
    """The `outbox` table (its parts and progress: `bot.relay.outbox`)."""

    def enqueue_reply(self, **row: Any) -> tuple[Reply, bool]:
        """Record a reply once per (channel, ts); return it and whether it is new."""
        now = iso(self.clock.now())
        row = {"state": "queued", "attempts": 0, "created_at": now, "updated_at": now, **row}
        with self.write() as db:
            before = db.conn.total_changes
            db.table("outbox").insert(row, ignore=True)
            created = db.conn.total_changes > before
        reply = self.reply_by_ts(row["slack_channel_id"], row["slack_ts"])
        assert reply is not None
        return reply, created

    def queue_question(
        self, thread: Thread, note_ts: str, user_id: str, body: str, question: str
    ) -> Reply:
        """The rating question, queued for the outbox's sender like a reply and keyed by the
        thread note that shows it; `body` is its text until the sender picks the way it goes.
        The thread's survey row learns it in the same transaction (a crash cannot leave a queued
        question that its survey does not know)."""
        with self.write() as db:
            reply = self._queue_on_note(thread, note_ts, user_id, body, question=question)
            db.execute("update surveys set reply_id = ? where thread_id = ?", [reply.id, thread.id])
        return reply

    def queue_template(
        self, thread: Thread, note_ts: str, user_id: str, body: str, template: str
    ) -> Reply:
        """A template to send from Slack, queued for the outbox's sender like a reply and keyed
        by the thread note that shows it; `body` is the rendered text (WhatsApp's already)."""
        return self._queue_on_note(thread, note_ts, user_id, body, template=template)

    def _queue_on_note(
        self, thread: Thread, note_ts: str, user_id: str, body: str, **what: str
    ) -> Reply:
        """A row the bridge queues itself, keyed by the thread note that shows it; `what`: the
        column saying what to send (`template` or `question`)."""
        reply, _ = self.enqueue_reply(
            slack_channel_id=thread.slack_channel_id,
            slack_ts=note_ts,
            event_id=None,
            thread_id=thread.id,
            channel_number=thread.channel_number,
            customer_number=thread.customer_number,
            user_id=user_id,
            body=body,
            files=None,
            state=ReplyState.QUEUED,
            local_message_id=uuid.uuid4().hex,
            prepared=1,
            reaction="",  # the outbound shows its marks (see `Outbound.receive`)
            **what,
        )
        return reply

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
            db.table("outbox").update(reply_id, {**values, "updated_at": iso(self.clock.now())})

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

    # -- jobs --------------------------------------------------------------------------------

    def reply_job(self, reply_id: int) -> Job | None:
        """One reply with its progress."""
        rows = self.query("select * from outbox where id = ?", [reply_id])
        return _job(rows[0]) if rows else None

    def reply_jobs(self, *states: str) -> list[Job]:
        """Replies in any of these states, oldest first."""
        rows = self.query(
            f"select * from outbox where state in ({_marks(states)}) order by id", states
        )
        return [_job(row) for row in rows]

    def marked_since(self, since: str, *states: str) -> list[Job]:
        """Replies in these states, changed since `since` (ISO), whose mark the outbound keeps."""
        rows = self.query(
            f"select * from outbox where state in ({_marks(states)}) "
            "and reaction is not null and updated_at >= ? order by id",
            [*states, since],
        )
        return [_job(row) for row in rows]

    def move_reply(self, reply_id: int, from_states: Sequence[str], **values: Any) -> bool:
        """Set columns only while the reply is in one of `from_states`; True when it was.

        One statement, so two clicks on Retry (or a delete racing a send) cannot both win.
        """
        values["updated_at"] = iso(self.clock.now())
        assignments = ", ".join(f"{name} = ?" for name in values)
        params = [*values.values(), reply_id, *from_states]
        with self.write() as db:
            cursor = db.execute(
                f"update outbox set {assignments} where id = ? "
                f"and state in ({_marks(from_states)})",
                params,
            )
            return cursor.rowcount > 0

    # -- parts -------------------------------------------------------------------------------

    def reply_parts(self, reply_id: int) -> list[Part]:
        """The parts of a reply Wati accepted, in order."""
        rows = self.query("select * from outbox_parts where reply_id = ? order by part", [reply_id])
        return [_part(row) for row in rows]

    def add_part(
        self,
        reply_id: int,
        part: int,
        *,
        kind: str,
        wati_id: str | None,
        local_message_id: str | None,
        delivery: str | None = Delivery.SENT,
    ) -> None:
        """Record that Wati accepted a part."""
        with self.write() as db:
            db.table("outbox_parts").insert(
                {
                    "reply_id": reply_id,
                    "part": part,
                    "kind": kind,
                    "wati_id": wati_id,
                    "local_message_id": local_message_id,
                    "delivery": delivery,
                    "sent_at": iso(self.clock.now()),
                },
                replace=True,
            )

    def set_part_delivery(self, part: Part, delivery: str | None, wati_id: str | None) -> None:
        """Record a part's new delivery status (and its Wati id when it was not known)."""
        with self.write() as db:
            db.table("outbox_parts").update(
                (part.reply_id, part.part),
                {"delivery": delivery, "wati_id": part.wati_id or wati_id},
            )

    def drop_failed_parts(self, reply_id: int) -> None:
        """Forget parts WhatsApp could not deliver, so a retry sends them again."""
        with self.write() as db:
            db.execute(
                "delete from outbox_parts where reply_id = ? and delivery = ?",
                [reply_id, Delivery.FAILED],
            )

    def parts_matching(self, wati_ids: Sequence[str], local_ids: Sequence[str]) -> list[Part]:
        """Parts whose Wati id or localMessageId is among these."""
        if not wati_ids and not local_ids:
            return []
        clauses: list[str] = []
        params: list[str] = []
        if wati_ids:
            clauses.append(f"wati_id in ({_marks(wati_ids)})")
            params.extend(wati_ids)
        if local_ids:
            clauses.append(f"local_message_id in ({_marks(local_ids)})")
            params.extend(local_ids)
        rows = self.query(f"select * from outbox_parts where {' or '.join(clauses)}", params)
        return [_part(row) for row in rows]

    def sends_awaiting_ids(self, since: str) -> bool:
        """Whether a status event could still be for one of the bridge's own sends: a reply
        whose answer is pending or lost, or a part sent since `since` without a Wati id."""
        rows = self.query(
            "select 1 from outbox where state in (?, ?) union all "
            "select 1 from outbox_parts where wati_id is null and sent_at >= ? limit 1",
            [ReplyState.SENDING, ReplyState.UNKNOWN, since],
        )
        return bool(rows)

    def unnamed_part(self, wati_id: str) -> Part | None:
        """The one part, still without a Wati id, of the row whose echo was this message (a
        send answered without an id: a template)."""
        rows = self.query(
            "select p.* from outbox_parts p join outbox o on o.id = p.reply_id "
            "where o.wati_id = ? and (select count(*) from outbox_parts q "
            "where q.reply_id = o.id) = 1 and p.wati_id is null",
            [wati_id],
        )
        return _part(rows[0]) if len(rows) == 1 else None

    def part_claimed(self, wati_id: str) -> bool:
        """Whether some reply's part already is this Wati message."""
        rows = self.query("select 1 from outbox_parts where wati_id = ? limit 1", [wati_id])
        return bool(rows)
