"""What health asks the database: the oldest message the bridge still owes somebody."""

from __future__ import annotations

from bot.store.db import Db
from bot.store.outbox import ReplyState

# Replies the bridge still has to get to WhatsApp (blocked ones wait for a person, not for it).
_OWED_REPLIES = (ReplyState.QUEUED, ReplyState.SENDING, ReplyState.UNKNOWN)


class HealthTable(Db):
    """Reads over `messages` and `outbox` for /healthz."""

    def oldest_waiting(self) -> str | None:
        """When the oldest message still waiting was recorded (ISO text), or None.

        Waiting: a customer message not yet posted in Slack, or a reply not yet settled.
        """
        marks = ",".join("?" * len(_OWED_REPLIES))
        rows = self.query(
            "select min(at) as at from ("
            " select min(recorded_at) as at from messages where state = 'pending'"
            f" union all select min(created_at) from outbox where state in ({marks}))",
            _OWED_REPLIES,
        )
        return rows[0]["at"] if rows and rows[0]["at"] else None
