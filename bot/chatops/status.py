"""Resolve and reopen: a conversation's status in Wati and on its thread parent."""

from __future__ import annotations

import logging
import threading

from bot.base.clock import Clock
from bot.chatops.conversations import Conversation, label
from bot.chatops.errors import ChatOpsError, explain
from bot.chatops.notes import ThreadNotes
from bot.relay.threads import Threads
from bot.store import Store
from bot.store.db import iso
from bot.wati.client import WatiClient
from bot.wati.errors import WatiError

logger = logging.getLogger(__name__)


class ChatStatus:
    """Marks a chat SOLVED or OPEN in Wati, and its thread resolved or open in Slack."""

    def __init__(
        self, *, store: Store, wati: WatiClient, threads: Threads, notes: ThreadNotes, clock: Clock
    ) -> None:
        self.store = store
        self.wati = wati
        self.threads = threads
        self.notes = notes
        self.clock = clock
        self._guard = threading.Lock()
        self._thread_locks: dict[int, threading.Lock] = {}

    def resolve(self, conv: Conversation, user_id: str) -> tuple[bool, str]:
        """Mark the chat SOLVED in Wati and the thread resolved; a repeat is a no-op.

        Returns whether anything changed, and what to tell the user.
        """
        return self._set(conv, user_id, resolved=True)

    def reopen(self, conv: Conversation, user_id: str) -> tuple[bool, str]:
        """Mark the chat OPEN in Wati and the thread open again; a repeat is a no-op."""
        return self._set(conv, user_id, resolved=False)

    def _lock_for(self, thread_id: int) -> threading.Lock:
        with self._guard:
            return self._thread_locks.setdefault(thread_id, threading.Lock())

    def _set(self, conv: Conversation, user_id: str, *, resolved: bool) -> tuple[bool, str]:
        # One change per thread at a time: a double click waits, then finds the work done.
        with self._lock_for(conv.thread.id):
            thread = self.store.thread(conv.thread.id) or conv.thread
            by = f" by <@{thread.status_by}>" if thread.status_by else ""
            if resolved and thread.state == "resolved":
                return False, f"This conversation was already resolved{by}; nothing changed."
            if not resolved and thread.state != "resolved":
                return False, "This conversation is already open; nothing changed."
            if not resolved:
                current = self.store.current_thread(thread.channel_number, thread.customer_number)
                if current is not None and current.id != thread.id:
                    raise ChatOpsError(
                        "The customer wrote again since, so the conversation continues in a "
                        "newer thread; this one stays resolved."
                    )
            status = "SOLVED" if resolved else "OPEN"
            try:
                self.wati.update_chat_status(
                    thread.customer_number, status, channel_number=conv.link.channel_number
                )
            except WatiError as exc:
                raise ChatOpsError(f"The status did not change here: {explain(exc)}.") from exc
            self.store.update_thread(
                thread.id,
                state="resolved" if resolved else "open",
                status_by=user_id,
                status_at=iso(self.clock.now()),
            )
        fresh = self.store.thread(thread.id) or thread
        self.threads.redraw(fresh)
        verb = "resolved" if resolved else "reopened"
        self.notes.post(fresh, f":white_check_mark: <@{user_id}> {verb} this conversation.")
        logger.info("thread %d %s by %s", thread.id, verb, user_id)
        return True, f"Conversation with {label(conv.chat)} {verb}."
