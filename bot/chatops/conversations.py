"""Which conversation a click, a form or a command acts on, checked against where it came from.

Every operation on a conversation first checks that the Slack channel is linked and that the
conversation belongs to that channel's number (`conversation`); refusals come back as
`ChatOpsError` with plain words. The listeners look conversations up only through here, never
in the store themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.base.clock import Clock
from bot.chatops.errors import ChatOpsError
from bot.relay import window
from bot.relay.threads import Threads
from bot.slack import blocks
from bot.store import Store
from bot.store.chats import Chat, Thread
from bot.store.db import parse_iso
from bot.store.links import Link
from bot.text import phone

NOT_LINKED = (
    "This channel is not linked to a WhatsApp number, so there is no conversation to act on "
    "here. An admin can link it with `/wati link <number>`."
)
OTHER_CHANNEL = (
    "That belongs to a conversation of another channel, so nothing was done here. "
    "Use the buttons in the conversation's own thread."
)
GONE = "The bridge no longer knows that conversation."
WINDOW_CLOSED = (
    "The customer's 24-hour reply window is closed, so WhatsApp only accepts an approved "
    "template now: use *Send template* in their thread."
)
OPEN_STATES = ("open", "opening")


@dataclass(frozen=True)
class Conversation:
    """A checked conversation: its link, thread and chat belong together."""

    link: Link
    thread: Thread
    chat: Chat


@dataclass(frozen=True)
class Sent:
    """The outcome of a send shown in a thread: `ok`, where, and one line for the sender."""

    ok: bool
    thread: Thread
    note_ts: str
    summary: str


def label(chat: Chat) -> str:
    """“Ana Lima (+44 7700 900123)”."""
    return blocks.customer_label(chat.customer_name, chat.customer_number)


class Conversations:
    """Links, threads and chats as the Slack surfaces may see them: checked, read-only."""

    def __init__(self, *, store: Store, threads: Threads, clock: Clock) -> None:
        self.store = store
        self.threads = threads
        self.clock = clock

    # -- who may act where -----------------------------------------------------------------

    def linked(self, channel_id: str) -> Link:
        """The channel's link, or ChatOpsError when the channel is not linked."""
        link = self.store.link_for_channel(channel_id)
        if link is None:
            raise ChatOpsError(NOT_LINKED)
        return link

    def links(self) -> list[Link]:
        """Every linked number."""
        return self.store.links()

    def link_for_number(self, number: str) -> Link | None:
        """The link of one of the account's numbers, if it is linked."""
        return self.store.link_for_number(number)

    def conversation(self, thread_id: object, channel_id: str) -> Conversation:
        """The thread `thread_id` as seen from `channel_id`: refused unless it belongs there."""
        link = self.linked(channel_id)
        try:
            wanted = int(str(thread_id))
        except ValueError:
            raise ChatOpsError(GONE) from None
        thread = self.store.thread(wanted)
        if thread is None:
            raise ChatOpsError(GONE)
        if thread.slack_channel_id != channel_id or thread.channel_number != link.channel_number:
            raise ChatOpsError(OTHER_CHANNEL)
        chat = self.store.chat(thread.channel_number, thread.customer_number)
        if chat is None:
            raise ChatOpsError(GONE)
        return Conversation(link, thread, chat)

    def chosen(self, thread_id: object) -> Conversation:
        """An open conversation picked from a list of every linked number's (the forward form)."""
        text = str(thread_id or "")
        thread = self.store.thread(int(text)) if text.isascii() and text.isdigit() else None
        if thread is None:
            raise ChatOpsError("Choose one of the open conversations.")
        conv = self.conversation(thread.id, thread.slack_channel_id)
        if thread.state not in OPEN_STATES:
            raise ChatOpsError("That conversation is resolved; reopen it first.")
        return conv

    def open_with(self, link: Link, number: str) -> Conversation:
        """The open conversation with a customer on the link's number (typed in a command)."""
        thread = self.store.current_thread(link.channel_number, number)
        if thread is None or thread.state != "open":
            raise ChatOpsError(
                f"There is no open conversation with {phone.display(number)} on "
                f"{phone.display(link.channel_number)}."
            )
        return self.conversation(thread.id, link.slack_channel_id)

    def chat(self, link: Link, customer: str) -> Chat | None:
        """The link's chat with a customer, when the bridge knows one."""
        return self.store.chat(link.channel_number, customer)

    def thread_at(self, channel_id: str, thread_ts: str) -> Thread | None:
        """The conversation whose thread in `channel_id` starts at `thread_ts`."""
        return self.store.thread_by_ts(channel_id, thread_ts)

    def window_open(self, chat: Chat) -> bool:
        """Whether a free-text message may reach the customer now (24-hour window)."""
        return window.is_open(parse_iso(chat.last_inbound_at), self.clock.now())

    def permalink(self, thread: Thread) -> str | None:
        """A link to the thread's parent (`Threads` owns permalinks; this only asks it)."""
        return self.threads.permalink(thread)

    def open_conversations(
        self, first_channel: str | None = None, limit: int = 100
    ) -> list[Conversation]:
        """Open conversations of every linked number: `first_channel`'s first, then most active."""
        found = []
        for thread in self.store.open_threads():
            link = self.store.link_for_number(thread.channel_number)
            chat = self.store.chat(thread.channel_number, thread.customer_number)
            if link is None or chat is None or not thread.thread_ts:
                continue
            if link.slack_channel_id == thread.slack_channel_id:
                found.append(Conversation(link, thread, chat))
        found.sort(key=lambda c: c.chat.last_activity_at or c.thread.opened_at, reverse=True)
        found.sort(key=lambda c: c.link.slack_channel_id != first_channel)
        return found[:limit]
