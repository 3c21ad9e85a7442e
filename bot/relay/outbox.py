"""The outbox's progress: replies as jobs (state, timing, reaction shown) and the parts sent.

A reply goes out as one or more parts (4,096-character text chunks, files). Each part Wati
accepted is a row of `outbox_parts`, so a reply interrupted half-way resumes at the first part
that did not go, and delivery statuses are tracked per part. Columns and table come from
migration m007; `Store` keeps the rest of the outbox (`enqueue_reply`, `reply_by_*`).

Reply states: queued → sending → sent | failed | blocked | unknown; also note (kept in Slack)
and cancelled (deleted in Slack before it went). `reopen` (m008) asks the sender to reopen the
chat in Wati before the next send ("Reopen and send" on a reply Wati refused as expired).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from bot.store.db import Reply, Store, iso, utcnow

# Delivery statuses, in the order they may follow each other; FAILED ends the line.
SENT, DELIVERED, READ, FAILED = "SENT", "DELIVERED", "READ", "FAILED"
RANK = {SENT: 1, DELIVERED: 2, READ: 3}


def forward(current: str | None, seen: str | None) -> str | None:
    """The delivery status after seeing `seen`: it only moves forward, FAILED is final.

    A failure only counts before delivery (a read message cannot fail any more).
    """
    if seen is None or current == FAILED:
        return current
    if seen == FAILED:
        return FAILED if current in (None, SENT) else current
    if seen not in RANK:
        return current  # PENDING, SENDING and other in-between words
    if current is None or RANK[seen] > RANK[current]:
        return seen
    return current


@dataclass(frozen=True)
class Job(Reply):
    """An outbox row with its progress columns."""

    next_try_at: float | None = None
    attempted_at: float | None = None
    resends: int = 0
    prepared: int = 0
    reaction: str | None = None
    notice_ts: str | None = None
    reopen: int = 0


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


class Outbox:
    """Reads and writes of reply progress, over the bridge's `Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- jobs --------------------------------------------------------------------------------

    def job(self, reply_id: int) -> Job | None:
        """One reply with its progress."""
        rows = self.store.query("select * from outbox where id = ?", [reply_id])
        return _job(rows[0]) if rows else None

    def jobs(self, *states: str) -> list[Job]:
        """Replies in any of these states, oldest first."""
        rows = self.store.query(
            f"select * from outbox where state in ({_marks(states)}) order by id", states
        )
        return [_job(row) for row in rows]

    def marked_since(self, since: str, *states: str) -> list[Job]:
        """Replies in these states, changed since `since` (ISO), whose mark the outbound keeps."""
        rows = self.store.query(
            f"select * from outbox where state in ({_marks(states)}) "
            "and reaction is not null and updated_at >= ? order by id",
            [*states, since],
        )
        return [_job(row) for row in rows]

    def update(self, reply_id: int, **values: Any) -> None:
        """Set some columns of a reply."""
        self.store.update_reply(reply_id, **values)

    def move(self, reply_id: int, from_states: Sequence[str], **values: Any) -> bool:
        """Set columns only while the reply is in one of `from_states`; True when it was.

        One statement, so two clicks on Retry (or a delete racing a send) cannot both win.
        """
        values["updated_at"] = iso(utcnow())
        assignments = ", ".join(f"{name} = ?" for name in values)
        params = [*values.values(), reply_id, *from_states]
        with self.store.write() as db:
            cursor = db.execute(
                f"update outbox set {assignments} where id = ? "
                f"and state in ({_marks(from_states)})",
                params,
            )
            return cursor.rowcount > 0

    # -- parts -------------------------------------------------------------------------------

    def parts(self, reply_id: int) -> list[Part]:
        """The parts of a reply Wati accepted, in order."""
        rows = self.store.query(
            "select * from outbox_parts where reply_id = ? order by part", [reply_id]
        )
        return [_part(row) for row in rows]

    def add_part(
        self,
        reply_id: int,
        part: int,
        *,
        kind: str,
        wati_id: str | None,
        local_message_id: str | None,
        delivery: str | None = SENT,
    ) -> None:
        """Record that Wati accepted a part."""
        with self.store.write() as db:
            db.table("outbox_parts").insert(
                {
                    "reply_id": reply_id,
                    "part": part,
                    "kind": kind,
                    "wati_id": wati_id,
                    "local_message_id": local_message_id,
                    "delivery": delivery,
                    "sent_at": iso(utcnow()),
                },
                replace=True,
            )

    def set_delivery(self, part: Part, delivery: str | None, wati_id: str | None) -> None:
        """Record a part's new delivery status (and its Wati id when it was not known)."""
        with self.store.write() as db:
            db.table("outbox_parts").update(
                (part.reply_id, part.part),
                {"delivery": delivery, "wati_id": part.wati_id or wati_id},
            )

    def drop_failed_parts(self, reply_id: int) -> None:
        """Forget parts WhatsApp could not deliver, so a retry sends them again."""
        with self.store.write() as db:
            db.execute(
                "delete from outbox_parts where reply_id = ? and delivery = ?", [reply_id, FAILED]
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
        rows = self.store.query(f"select * from outbox_parts where {' or '.join(clauses)}", params)
        return [_part(row) for row in rows]

    def claimed(self, wati_id: str) -> bool:
        """Whether some reply's part already is this Wati message."""
        rows = self.store.query("select 1 from outbox_parts where wati_id = ? limit 1", [wati_id])
        return bool(rows)
