"""Saved replies, and the sends of one from its modal (once per modal, whatever Slack repeats)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.store.db import Db, iso


@dataclass(frozen=True)
class SavedReply:
    """A saved reply: its name (unique, whatever the case) and its text, in Slack mrkdwn."""

    id: int
    name: str
    text: str
    created_by: str | None
    created_at: str | None


@dataclass(frozen=True)
class SavedSend:
    """A saved reply on its way: `posting` until its Slack message is in the outbox (`queued`)."""

    view_id: str
    thread_id: int
    user_id: str
    reply_name: str
    body: str
    state: str
    slack_ts: str | None
    created_at: str


class SavedTable(Db):
    """The `saved_replies` and `saved_sends` tables."""

    def saved_replies(self) -> list[SavedReply]:
        """Every saved reply, by name."""
        return self._all(SavedReply, "select * from saved_replies order by name collate nocase")

    def saved_reply(self, name: str) -> SavedReply | None:
        """A saved reply by name (any case)."""
        return self._one(SavedReply, "select * from saved_replies where name = ?", [name])

    def saved_reply_by_id(self, reply_id: int) -> SavedReply | None:
        """A saved reply by id."""
        return self._one(SavedReply, "select * from saved_replies where id = ?", [reply_id])

    def save_reply(self, name: str, text: str, user_id: str) -> bool:
        """Add a saved reply, or replace the text of the one with that name; True when new."""
        with self.write() as db:
            existed = self.saved_reply(name) is not None
            db.execute(
                "insert into saved_replies (name, text, created_by, created_at) "
                "values (?, ?, ?, ?) on conflict(name) do update set text = excluded.text, "
                "created_by = excluded.created_by, created_at = excluded.created_at",
                [name, text, user_id, iso(self.clock.now())],
            )
            return not existed

    def remove_reply(self, name: str) -> bool:
        """Remove a saved reply; False when there was none by that name."""
        with self.write() as db:
            return db.execute("delete from saved_replies where name = ?", [name]).rowcount > 0

    # -- sends ---------------------------------------------------------------------------------

    def start_send(self, **row: Any) -> tuple[SavedSend, bool]:
        """Record a send for a modal (its view id) once; return it and whether it is new."""
        row = {"state": "posting", "created_at": iso(self.clock.now()), **row}
        with self.write() as db:
            before = db.conn.total_changes
            db.table("saved_sends").insert(row, ignore=True)
            created = db.conn.total_changes > before
        found = self.saved_send(str(row["view_id"]))
        assert found is not None
        return found, created

    def saved_send(self, view_id: str) -> SavedSend | None:
        """One send by its modal's view id."""
        return self._one(SavedSend, "select * from saved_sends where view_id = ?", [view_id])

    def sends_posting(self) -> list[SavedSend]:
        """Sends not yet in the outbox (a crash between the post and the outbox), oldest first."""
        return self._all(
            SavedSend, "select * from saved_sends where state = 'posting' order by created_at"
        )

    def update_send(self, view_id: str, **values: Any) -> None:
        """Set some columns of a send."""
        with self.write() as db:
            db.table("saved_sends").update(view_id, values)
