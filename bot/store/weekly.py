"""What the week's picture is drawn from (bot.insights.week): conversations opened and resolved,
each conversation's first customer message and first reply, and the ratings given. A few
grouped queries, whatever the number of conversations."""

from __future__ import annotations

from dataclasses import dataclass

from bot.store.db import Db


@dataclass(frozen=True)
class ThreadTimes:
    """One conversation thread's moments (ISO strings; None when it has not happened)."""

    channel_number: str
    opened_at: str
    resolved_at: str | None
    first_in: str | None  # the customer's first message in it
    first_reply: str | None  # the first reply sent from Slack after that


class WeeklyTable(Db):
    """Reads over `threads`, `messages`, `outbox` and `surveys`."""

    def thread_times(self, since: str) -> list[ThreadTimes]:
        """Threads opened, resolved or first written to since `since`."""
        firsts = {
            int(row["thread_id"]): (str(row["first_in"]), row["first_reply"])
            for row in self.query(
                "select m.thread_id, m.first_in, min(o.created_at) as first_reply from "
                "(select thread_id, min(created) as first_in from messages "
                " where direction = 'in' and thread_id is not null and created >= ? "
                " group by thread_id) m "
                "left join outbox o on o.thread_id = m.thread_id "
                "and o.created_at >= m.first_in and o.state = 'sent' "
                "and o.id not in (select reply_id from surveys where reply_id is not null) "
                "group by m.thread_id",
                [since],
            )
        }
        found = []
        for row in self.query(
            "select id, channel_number, opened_at, state, status_at from threads "
            "where opened_at >= ? or status_at >= ?",
            [since, since],
        ):
            first_in, reply = firsts.get(int(row["id"]), (None, None))
            resolved = row["status_at"] if row["state"] == "resolved" else None
            found.append(
                ThreadTimes(row["channel_number"], row["opened_at"], resolved, first_in, reply)
            )
        return found

    def ratings_since(self, since: str) -> list[tuple[str, str, int]]:
        """(number, answered at, rating) of every answer since `since`."""
        return [
            (str(row["channel_number"]), str(row["answered_at"]), int(row["rating"]))
            for row in self.query(
                "select channel_number, answered_at, rating from surveys "
                "where rating is not null and answered_at >= ?",
                [since],
            )
        ]
