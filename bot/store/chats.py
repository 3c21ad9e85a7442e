"""Chats (one customer on one number: poll state, the 24-hour window) and their Slack threads."""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields, replace
from typing import Any

from bot.store.db import Db, iso


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
    hinted_at: float | None = None
    # What Wati said about the customer (`customer_number` is the key: phone, else BSUID).
    customer_phone: str | None = None
    customer_bsuid: str | None = None
    customer_username: str | None = None
    wati_contact_id: str | None = None


class Keep(enum.Enum):
    """A `ChatUpdate` field left out: the column keeps its value (None would clear it)."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True, kw_only=True)
class ChatUpdate:
    """The poll-state columns of a chat that one poll or webhook changes, written at once."""

    last_inbound_at: str | Keep = KEEP
    last_activity_at: str | Keep = KEEP
    next_poll_at: float | None | Keep = KEEP
    empty_polls: int | Keep = KEEP
    last_polled_at: str | Keep = KEEP
    failures: int | Keep = KEEP
    hinted_at: float | None | Keep = KEEP

    def columns(self) -> dict[str, Any]:
        """The columns this update sets, by name."""
        return {f.name: value for f in fields(self) if (value := getattr(self, f.name)) is not KEEP}

    def then(self, later: ChatUpdate) -> ChatUpdate:
        """This update followed by `later` (what `later` sets wins)."""
        return replace(self, **later.columns())

    def applied(self, chat: Chat) -> Chat:
        """The chat as this update leaves it."""
        return replace(chat, **self.columns())


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


# The polling order's first key: chats a contacts-page change woke (0-1) before routine polls
# (2-3); within each, chats known to be in conversation before those woken only because a
# contact changed (Wati does not say on which number, so every linked number is asked).
def _priority(t: str = "") -> str:
    return f"(2 * ({t}hinted_at is null) + ({t}origin = 'contacts' and {t}thread_id is null))"


class ChatTable(Db):
    """The `chats` and `threads` tables."""

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
                    "created_at": iso(self.clock.now()),
                },
                ignore=True,
            )
        chat = self.chat(channel_number, customer_number)
        assert chat is not None
        return chat

    def wake_chat(
        self,
        channel_number: str,
        customer_number: str,
        at: float,
        origin: str,
        *,
        hinted: bool = False,
    ) -> Chat:
        """Make the chat due at `at` with a fresh poll interval, creating it when missing;
        `hinted`: a contacts-page change woke it (it goes before routine polls) and keeps its
        pace: a contact changes for more than messages (an attribute, an opt-in), and a hint
        that finds nothing must not send a quiet chat back to polling at full speed."""
        values: dict[str, Any] = {"next_poll_at": at}
        if hinted:
            values["hinted_at"] = at
        else:
            values["empty_polls"] = 0
        with self.write() as db:
            self.ensure_chat(channel_number, customer_number, origin=origin, next_poll_at=at)
            db.table("chats").update((channel_number, customer_number), values)
        chat = self.chat(channel_number, customer_number)
        assert chat is not None
        return chat

    def move_hint(self, channel_number: str, customer_number: str, at: float, now: float) -> bool:
        """Give a hinted chat waiting for its poll the place `at` in the hinted order; a chat
        being polled (claimed: due after `now`) or no longer hinted is left alone."""
        with self.write() as db:
            cursor = db.execute(
                "update chats set next_poll_at = ?, hinted_at = ? where channel_number = ? and "
                "customer_number = ? and hinted_at is not null and next_poll_at <= ?",
                [at, at, channel_number, customer_number, now],
            )
            return bool(cursor.rowcount)

    def poll_by(self, channel_number: str, customer_number: str, at: float) -> None:
        """Make the chat due no later than `at` (a file to download again then)."""
        with self.write() as db:
            db.execute(
                "update chats set next_poll_at = ? where channel_number = ? and "
                "customer_number = ? and (next_poll_at is null or next_poll_at > ?)",
                [at, channel_number, customer_number, at],
            )

    def release_claims(self, now: float, lease: float) -> int:
        """Make every chat claimed until within `lease` s from `now` due now; return how many."""
        with self.write() as db:
            cursor = db.execute(
                "update chats set next_poll_at = ? where next_poll_at > ? and next_poll_at <= ?",
                [now, now, now + lease],
            )
            return int(cursor.rowcount)

    def update_chat(self, channel_number: str, customer_number: str, **values: Any) -> None:
        """Set some columns of a chat."""
        with self.write() as db:
            db.table("chats").update((channel_number, customer_number), values)

    def save_poll(self, chat: Chat, update: ChatUpdate) -> None:
        """Write what a poll (or a webhook) changed about a chat, in one statement."""
        if columns := update.columns():
            self.update_chat(chat.channel_number, chat.customer_number, **columns)

    def due_chats(self, channel_number: str, now: float, limit: int = 50) -> list[Chat]:
        """Chats of a number whose next poll time has come, most overdue first.

        Chats woken only because a contact changed (Wati does not say on which number, so
        every linked number is asked) wait behind chats known to be in conversation.
        """
        return self._all(
            Chat,
            "select * from chats where channel_number = ? and next_poll_at is not null "
            "and next_poll_at <= ? "
            f"order by {_priority()}, next_poll_at limit ?",
            [channel_number, now, limit],
        )

    def due_ahead_of(self, chat: Chat, now: float, exclude_numbers: set[str]) -> int:
        """How many due chats of linked numbers come before this one in the polling order."""
        rank = 2 * (chat.hinted_at is None) + (chat.origin == "contacts" and chat.thread_id is None)
        marks = ",".join("?" * len(exclude_numbers))
        skip = f"and c.channel_number not in ({marks}) " if exclude_numbers else ""
        rows = self.query(
            "select count(*) as n from chats c join links l on l.channel_number = c.channel_number "
            "where c.next_poll_at is not null and c.next_poll_at <= ? "
            f"{skip}"
            f"and ({_priority('c.')} < ? or ({_priority('c.')} = ? and c.next_poll_at < ?))",
            [now, *sorted(exclude_numbers), rank, rank, chat.next_poll_at or 0.0],
        )
        return int(rows[0]["n"])

    def chats_of_customer(self, customer_number: str) -> list[Chat]:
        """A customer's chats on every number."""
        return self._all(
            Chat,
            "select * from chats where customer_number = ? order by created_at",
            [customer_number],
        )

    def bring_forward(self, at: float, horizon: float) -> int:
        """Make every chat due after `at` but by `horizon` due at `at`; return how many."""
        with self.write() as db:
            cursor = db.execute(
                "update chats set next_poll_at = ? where next_poll_at > ? and next_poll_at <= ?",
                [at, at, horizon],
            )
            return int(cursor.rowcount)

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
                    "opened_at": iso(self.clock.now()),
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
