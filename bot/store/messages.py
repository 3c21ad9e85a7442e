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
        if not wati_ids:
            return set()
        marks = ",".join("?" * len(wati_ids))
        rows = self.query(f"select wati_id from messages where wati_id in ({marks})", wati_ids)
        prints = {fingerprint(i): i for i in wati_ids}
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

    def pending_messages(self, channel_number: str, customer_number: str) -> list[LoggedMessage]:
        """Messages recorded but not yet confirmed in Slack, oldest first."""
        return self._all(
            LoggedMessage,
            "select * from messages where channel_number = ? and customer_number = ? "
            "and state = 'pending' order by created, rowid",  # rowid: the order recorded
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
