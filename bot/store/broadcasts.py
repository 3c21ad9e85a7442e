"""The broadcast journal: one row per template broadcast and one per chunk of receivers
(one Wati sendTemplateMessages call each), recorded whole before anything is sent.

The sending is `bot.chatops.broadcasts`; the schema and the states are in migration m021.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.store.db import Db, iso

Receiver = tuple[str, dict[str, str]]  # a number and its template parameter values
Failure = tuple[str, str]  # what was given (a number) and why it did not go


class ChunkState(StrEnum):
    """queued → sending → done | unknown. `unknown`: the call was cut (a crash, a lost answer);
    Wati's bulk send cannot be looked up, so the chunk is never sent again."""

    QUEUED = "queued"
    SENDING = "sending"
    DONE = "done"
    UNKNOWN = "unknown"


class BroadcastState(StrEnum):
    """sending (chunks to send, or the report to show) → done (the report is shown)."""

    SENDING = "sending"
    DONE = "done"


@dataclass(frozen=True)
class Broadcast:
    """A template broadcast recorded by `/wati broadcast`."""

    id: int
    slack_channel_id: str
    channel_number: str
    user_id: str
    template: str
    broadcast_name: str
    progress_ts: str | None
    total: int
    refused_numbers: str | None
    state: str
    next_try_at: float | None
    report_tries: int
    created_at: str

    @property
    def refused(self) -> list[Failure]:
        """Numbers refused before sending (a bad line of the list), with the reason."""
        return _failures(self.refused_numbers)


@dataclass(frozen=True)
class Chunk:
    """At most 100 receivers of a broadcast, sent in one call."""

    broadcast_id: int
    seq: int
    size: int
    receivers: str | None
    state: str
    attempts: int
    attempted_at: float | None
    accepted: int
    refused: int
    failures: str | None
    error: str | None

    def people(self) -> list[Receiver]:
        """The receivers with their values (empty once the broadcast is done)."""
        rows = json.loads(self.receivers) if self.receivers else []
        return [(str(n), {str(k): str(v) for k, v in dict(p).items()}) for n, p in rows]

    def failed(self) -> list[Failure]:
        """The numbers Wati refused (or that failed with the whole call), with the reason."""
        return _failures(self.failures)


def _failures(raw: str | None) -> list[Failure]:
    return [(str(n), str(r)) for n, r in json.loads(raw)] if raw else []


class BroadcastTable(Db):
    """The `broadcasts` and `broadcast_chunks` tables."""

    def record_broadcast(
        self,
        *,
        slack_channel_id: str,
        channel_number: str,
        user_id: str,
        template: str,
        broadcast_name: str,
        progress_ts: str,
        chunks: Sequence[Sequence[Receiver]],
        refused: Sequence[Failure],
    ) -> int:
        """Record a whole broadcast, its chunks in order, in one transaction; return its id."""
        now = iso(self.clock.now())
        total = sum(len(c) for c in chunks) + len(refused)
        with self.write() as db:
            cursor = db.execute(
                "insert into broadcasts (slack_channel_id, channel_number, user_id, template, "
                "broadcast_name, progress_ts, total, refused_numbers, state, report_tries, "
                "created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                [
                    slack_channel_id,
                    channel_number,
                    user_id,
                    template,
                    broadcast_name,
                    progress_ts,
                    total,
                    json.dumps([list(f) for f in refused]),
                    BroadcastState.SENDING,
                    now,
                    now,
                ],
            )
            broadcast_id = int(cursor.lastrowid or 0)
            db.table("broadcast_chunks").insert_all(
                {
                    "broadcast_id": broadcast_id,
                    "seq": seq,
                    "size": len(chunk),
                    "receivers": json.dumps([[n, dict(p)] for n, p in chunk]),
                    "state": ChunkState.QUEUED,
                    "attempts": 0,
                    "accepted": 0,
                    "refused": 0,
                    "updated_at": now,
                }
                for seq, chunk in enumerate(chunks, start=1)
            )
        return broadcast_id

    def broadcast(self, broadcast_id: int) -> Broadcast | None:
        """One broadcast by id."""
        return self._one(Broadcast, "select * from broadcasts where id = ?", [broadcast_id])

    def open_broadcasts(self) -> list[Broadcast]:
        """Broadcasts not done yet, oldest first."""
        return self._all(
            Broadcast,
            "select * from broadcasts where state = ? order by id",
            [BroadcastState.SENDING],
        )

    def broadcast_chunks(self, broadcast_id: int) -> list[Chunk]:
        """A broadcast's chunks, in order."""
        return self._all(
            Chunk,
            "select * from broadcast_chunks where broadcast_id = ? order by seq",
            [broadcast_id],
        )

    def chunks_in_state(self, state: str) -> list[Chunk]:
        """Every chunk in this state, of any broadcast."""
        return self._all(
            Chunk,
            "select * from broadcast_chunks where state = ? order by broadcast_id, seq",
            [state],
        )

    def update_chunk(self, chunk: Chunk, **values: Any) -> None:
        """Set some columns of a chunk (and its updated_at), committed at once."""
        values["updated_at"] = iso(self.clock.now())
        with self.write() as db:
            db.table("broadcast_chunks").update((chunk.broadcast_id, chunk.seq), values)

    def update_broadcast(self, broadcast_id: int, **values: Any) -> None:
        """Set some columns of a broadcast (and its updated_at)."""
        values["updated_at"] = iso(self.clock.now())
        with self.write() as db:
            db.table("broadcasts").update(broadcast_id, values)

    def finish_broadcast(self, broadcast_id: int) -> None:
        """Mark a broadcast done and forget its numbers (the counts stay)."""
        now = iso(self.clock.now())
        with self.write() as db:
            db.execute(
                "update broadcasts set state = ?, refused_numbers = null, next_try_at = null, "
                "updated_at = ? where id = ?",
                [BroadcastState.DONE, now, broadcast_id],
            )
            db.execute(
                "update broadcast_chunks set receivers = null, failures = null, updated_at = ? "
                "where broadcast_id = ?",
                [now, broadcast_id],
            )


def withdraw(db: Any, customers: Sequence[str]) -> int:
    """Take forgotten customers out of the broadcasts still going (inside the erasure's
    transaction): not sent to in a queued chunk, and their number gone from the lists of
    failures; the counts stay. Returns how many receivers were taken out of queued chunks."""
    gone = set(customers)

    def kept(raw: str | None) -> tuple[list[Any], int]:
        rows = json.loads(raw) if raw else []
        left = [r for r in rows if "".join(c for c in str(r[0]) if c.isdigit()) not in gone]
        return left, len(rows) - len(left)

    taken = 0
    for broadcast_id, refused in list(
        db.execute(
            "select id, refused_numbers from broadcasts where state = ?", [BroadcastState.SENDING]
        )
    ):
        left, _ = kept(refused)
        db.execute(
            "update broadcasts set refused_numbers = ? where id = ?",
            [json.dumps(left), broadcast_id],
        )
        for seq, state, receivers, failures in list(
            db.execute(
                "select seq, state, receivers, failures from broadcast_chunks where broadcast_id = ?",
                [broadcast_id],
            )
        ):
            still, out = kept(receivers) if state == ChunkState.QUEUED else (None, 0)
            listed, _ = kept(failures)
            db.execute(
                "update broadcast_chunks set receivers = coalesce(?, receivers), size = size - ?, "
                "failures = ? where broadcast_id = ? and seq = ?",
                [
                    None if still is None else json.dumps(still),
                    out,
                    json.dumps(listed),
                    broadcast_id,
                    seq,
                ],
            )
            db.execute("update broadcasts set total = total - ? where id = ?", [out, broadcast_id])
            taken += out
    return taken
