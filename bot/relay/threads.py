"""Conversation threads in Slack: the one owner of thread parents and their permalinks.

A chat's thread is opened by posting its parent; the parent carries the thread id in Slack
message metadata, so after a crash between the post and the store write the parent is found
again instead of posted twice. Every redraw of a parent (status, owner, reply window) goes
through `redraw`, so the parent looks the same whoever changed it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.base.clock import Clock
from bot.relay import window
from bot.relay.budget import Budget
from bot.slack import blocks
from bot.slack.poster import SlackPoster, metadata_of, refusal_of
from bot.store import Store
from bot.store.chats import Chat, Thread
from bot.store.db import parse_iso
from bot.store.links import Link
from bot.wati.client import WatiClient
from bot.wati.errors import WatiError
from bot.wati.limits import Windows

logger = logging.getLogger(__name__)


class Threads:
    """Opens threads, draws and redraws their parents, links to earlier ones."""

    def __init__(
        self,
        *,
        store: Store,
        poster: SlackPoster,
        wati: WatiClient,
        budget: Budget,
        windows: Windows,
        clock: Clock,
    ) -> None:
        self.store = store
        self.poster = poster
        self.wati = wati
        self.budget = budget
        self.windows = windows
        self.clock = clock

    def ensure(self, link: Link, chat: Chat) -> Thread:
        """The chat's open thread in the link's channel, opened (parent posted) when it has none."""
        thread = self.store.current_thread(chat.channel_number, chat.customer_number)
        if thread and thread.slack_channel_id == link.slack_channel_id:
            if thread.state == "open" and thread.thread_ts:
                return thread
            if thread.state == "opening":
                return self._open(link, chat, thread)
        previous = thread.id if thread and thread.thread_ts else None
        fresh = self.store.create_thread(
            chat.channel_number, chat.customer_number, link.slack_channel_id, previous
        )
        return self._open(link, chat, fresh)

    def _open(self, link: Link, chat: Chat, thread: Thread) -> Thread:
        """Post (or find, after a crash) the thread's parent message."""
        opened = parse_iso(thread.opened_at)
        assert opened is not None
        for message in self.poster.channel_messages(link.slack_channel_id, opened.timestamp() - 60):
            payload = metadata_of(message, blocks.THREAD_EVENT)
            if payload and payload.get("thread_id") == thread.id:
                self.store.update_thread(thread.id, thread_ts=message["ts"], state="open")
                return self.store.thread(thread.id) or thread
        if not chat.customer_name and (name := self._look_up_name(chat.customer_number)):
            self.store.update_chat(chat.channel_number, chat.customer_number, customer_name=name)
            chat = replace(chat, customer_name=name)
        try:
            ts = self.poster.post(link.slack_channel_id, **self.parent_message(thread, chat))
        except SlackApiError as exc:
            if (error := refusal_of(exc)) is None:
                raise
            # The thread must open, or every message of this customer waits behind it: the
            # plainest parent (no name, no link to an earlier thread) is posted instead.
            logger.warning(
                "parent of thread %d refused (%s); posted without details", thread.id, error
            )
            self.store.add_error(link.channel_number, f"Slack refused a thread parent ({error})")
            plain = replace(thread, previous_thread_id=None)
            ts = self.poster.post(
                link.slack_channel_id,
                **self.parent_message(plain, replace(chat, customer_name=None)),
            )
        self.store.update_thread(thread.id, thread_ts=ts, state="open")
        return self.store.thread(thread.id) or thread

    def _look_up_name(self, number: str) -> str | None:
        """The customer's name in Wati's contacts (known already, or one getContacts call;
        a BSUID customer's contact came from the contacts list, never a search by number)."""
        seen = self.store.contact_seen(number)
        if seen and seen.get("name"):
            return str(seen["name"])
        if not number.isdigit():
            return None
        if not self.budget.may_poll() or not self.windows.contacts.try_acquire():
            return None
        try:
            page = self.wati.get_contacts(name=number, page_size=5)
        except WatiError:
            return None
        for contact in page.items:
            if number in (contact.wa_id, contact.phone) and contact.name:
                self.store.remember_name(number, contact.name)
                return contact.name
        return None

    def opened(self, link: Link, chat: Chat) -> bool:
        """Whether the chat already has its thread in the link's channel."""
        thread = self.store.current_thread(chat.channel_number, chat.customer_number)
        return bool(
            thread and thread.slack_channel_id == link.slack_channel_id and thread.thread_ts
        )

    def permalink(self, thread: Thread) -> str | None:
        """A link to the thread's parent, or None when Slack gives none."""
        if not thread.thread_ts:
            return None
        try:
            link = self.poster.client.chat_getPermalink(
                channel=thread.slack_channel_id, message_ts=thread.thread_ts
            ).get("permalink")
        except SlackApiError:
            return None
        return str(link) if link else None

    def window_state(self, chat: Chat) -> str:
        """ "open" or "closed": the reply window as a parent shows it now."""
        last = parse_iso(chat.last_inbound_at)
        return "open" if window.is_open(last, self.clock.now()) else "closed"

    def parent_message(self, thread: Thread, chat: Chat) -> dict[str, Any]:
        """The thread parent's current content."""
        previous_link = None
        if thread.previous_thread_id:
            previous = self.store.thread(thread.previous_thread_id)
            previous_link = self.permalink(previous) if previous else None
        last = parse_iso(chat.last_inbound_at)
        return blocks.thread_parent(
            thread_id=thread.id,
            channel_number=thread.channel_number,
            customer_number=thread.customer_number,
            customer_name=_shown_name(chat),
            state="resolved" if thread.state == "resolved" else "open",
            status_by=thread.status_by,
            window_closes=window.closes_at(last),
            window_open=window.is_open(last, self.clock.now()),
            previous_link=previous_link,
            desk=self.store.desk_chat(thread.channel_number, thread.customer_number),
            rating=self.store.rating_of(thread.id),
        )

    def redraw(self, thread: Thread, chat: Chat | None = None) -> bool:
        """chat.update the parent with its current content; True when Slack took it.

        Remembers which reply-window state and which wait the parent now shows, so the
        periodic jobs only redraw parents whose window or wait changed since.
        """
        chat = chat or self.store.chat(thread.channel_number, thread.customer_number)
        if chat is None or not thread.thread_ts:
            return False
        waiting = self.store.desk_chat(thread.channel_number, thread.customer_number).waiting_since
        try:
            self.poster.update(
                thread.slack_channel_id, thread.thread_ts, **self.parent_message(thread, chat)
            )
        except SlackApiError as exc:
            logger.warning(
                "parent of thread %d not updated: %s", thread.id, exc.response.get("error")
            )
            return False
        self.store.update_thread(thread.id, window_shown=self.window_state(chat))
        self.store.set_waiting_shown(thread.channel_number, thread.customer_number, waiting or "")
        return True


def _shown_name(chat: Chat) -> str | None:
    """The name a parent shows: Wati's name for the customer, else their `@username`."""
    if chat.customer_name and chat.customer_name != chat.customer_number:
        return chat.customer_name
    return f"@{chat.customer_username}" if chat.customer_username else chat.customer_name
