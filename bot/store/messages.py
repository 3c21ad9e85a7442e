"""The message log: every Wati message the bridge has seen, and whether it reached Slack."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.store.db import Db, iso
from bot.store.privacy import fingerprint


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
    next_try_at: float | None = None  # a file Wati could not hand over yet: when to try again
    media_tries: int = 0
    slack_file_id: str | None = None


class MessageTable(Db):
    """The `messages` table."""

    def has_messages(self, channel_number: str, customer_number: str) -> bool:
        """Whether any message of this chat was ever recorded."""
        return bool(
            self.query(
                "select 1 from messages where channel_number = ? and customer_number = ? limit 1",
                [channel_number, customer_number],
            )
        )

    def known_ids(self, wati_ids: Sequence[str]) -> set[str]:
        """Which of these Wati ids the bridge has already recorded (or recorded and erased:
        an erased conversation's history stays in Wati and must not come back)."""
        ids = list(dict.fromkeys(wati_ids))  # a page may repeat an id
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        rows = self.query(f"select wati_id from messages where wati_id in ({marks})", ids)
        prints = {fingerprint(i): i for i in ids}
        erased = self.query(
            f"select fingerprint from forgotten_messages where fingerprint in ({marks})",
            list(prints),
        )
        return {r["wati_id"] for r in rows} | {prints[r["fingerprint"]] for r in erased}

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
                    "recorded_at": iso(self.clock.now()),
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

    def pending_messages(
        self, channel_number: str, customer_number: str, now: float | None = None
    ) -> list[LoggedMessage]:
        """Messages recorded but not yet confirmed in Slack, oldest first; with `now`, also
        the files waiting for Wati (`media_wait`) whose next try is due."""
        return self._all(
            LoggedMessage,
            "select * from messages where channel_number = ? and customer_number = ? "
            "and (state = 'pending' or (state = 'media_wait' and next_try_at <= ?)) "
            "order by created, rowid",  # rowid: the order recorded
            [channel_number, customer_number, -1.0 if now is None else now],
        )

    def next_media_try(self, channel_number: str, customer_number: str) -> float | None:
        """When the chat's earliest file waiting for Wati should be tried again."""
        rows = self.query(
            "select min(next_try_at) as at from messages where channel_number = ? "
            "and customer_number = ? and state = 'media_wait'",
            [channel_number, customer_number],
        )
        at = rows[0]["at"] if rows else None
        return None if at is None else float(at)

    def passed_by(self, wati_id: str) -> bool:
        """Whether a later message of the same chat already reached Slack (a late file)."""
        rows = self.query(
            "select 1 from messages m join messages late on late.channel_number = "
            "m.channel_number and late.customer_number = m.customer_number "
            "and late.created > m.created and late.state = 'posted' "
            "and late.direction in ('in', 'mirror') where m.wati_id = ? limit 1",
            [wati_id],
        )
        return bool(rows)

    def backlog(self, channel_number: str | None = None) -> int:
        """How many recorded messages still wait to be posted."""
        sql = "select count(*) as n from messages where state in ('pending', 'media_wait')"
        params: list[Any] = []
        if channel_number is not None:
            sql += " and channel_number = ?"
            params.append(channel_number)
        return int(self.query(sql, params)[0]["n"])
