"""Saved replies: kept by admins, used by everyone, sent like a typed reply.

A saved reply's text is Slack mrkdwn with placeholders: `{name}` (the customer's name) and
the Wati contact's attributes (`{city}`, `{order_id}`…). Sending one from its modal posts it
in the thread, marked as sent by the teammate, and hands that post to the outbox exactly as
if the teammate had typed it (`Outbound.receive`): the same reactions, the same 24-hour rule,
at most once. The send is recorded per modal (its view id) before anything is posted, and the
post carries that id in its metadata, so a double click, a replay or a crash in between never
posts or sends it twice.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from bot.base.clock import Clock
from bot.chatops.conversations import Conversation
from bot.chatops.errors import ChatOpsError
from bot.chatops.owners import Owners
from bot.relay.outbound import IGNORED, Outbound
from bot.slack import team_views
from bot.slack.poster import SlackPoster, metadata_of
from bot.store import Store
from bot.store.db import iso, parse_iso
from bot.store.saved import SavedReply, SavedSend
from bot.text.formatting import escape
from bot.wati.types import Contact

logger = logging.getLogger(__name__)

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
MAX_TEXT = 2000
PLACEHOLDER = re.compile(r"\{\s*([A-Za-z_][A-Za-z0-9_ .-]{0,63}?)\s*\}")
RECOVER_AFTER = 60.0  # seconds before a send left half-way is finished by the job


@dataclass(frozen=True)
class Filled:
    """A saved reply's text for one customer, and the placeholders nothing filled."""

    text: str
    missing: tuple[str, ...]


def fill(text: str, *, name: str | None, attributes: Mapping[str, str]) -> Filled:
    """Put the customer's name and attributes in place of their placeholders (escaped: a
    contact's values can never ping anyone or break the message)."""
    values = {k.strip().lower(): v for k, v in attributes.items() if str(v).strip()}
    if name and name.strip():
        values["name"] = name.strip()
    missing: list[str] = []

    def put(found: re.Match[str]) -> str:
        key = found.group(1).strip()
        value = values.get(key.lower())
        if value is None:
            if key not in missing:
                missing.append(key)
            return found.group(0)
        return escape(str(value))

    return Filled(PLACEHOLDER.sub(put, text), tuple(missing))


class SavedReplies:
    """The saved replies, and sending one into a conversation."""

    def __init__(
        self,
        *,
        store: Store,
        outbound: Outbound,
        owners: Owners,
        poster: SlackPoster,
        clock: Clock,
        find_contact: Callable[[str], Contact | None],
    ) -> None:
        self.store = store
        self.outbound = outbound
        self.owners = owners
        self.poster = poster
        self.clock = clock
        self.find_contact = find_contact
        self._busy: set[str] = set()  # view ids being sent by this process right now
        self._lock = threading.Lock()

    # -- the list (`/wati replies`) ---------------------------------------------------------------

    def all(self) -> list[SavedReply]:
        """Every saved reply, by name."""
        return self.store.saved_replies()

    def chosen(self, value: object) -> SavedReply:
        """The saved reply a form's option names; ChatOpsError when it is gone."""
        text = str(value or "")
        found = None
        if text.isascii() and text.isdigit() and len(text) <= 18:
            found = self.store.saved_reply_by_id(int(text))
        if found is None:
            raise ChatOpsError("Choose one of the saved replies (that one may have been removed).")
        return found

    def add(self, name: str, text: str, user_id: str) -> str:
        """Save a reply (or replace the text of the one with that name)."""
        if not NAME.match(name):
            raise ChatOpsError(
                "A saved reply's name is one word of letters, digits, `_`, `-` or `.` (up to "
                "40), for example `/wati replies add shipping Your order ships today, {name}.`"
            )
        text = text.strip()
        if not text:
            raise ChatOpsError(f"What should `{name}` say? Write the text after the name.")
        if len(text) > MAX_TEXT:
            raise ChatOpsError(f"A saved reply holds up to {MAX_TEXT:,} characters.")
        new = self.store.save_reply(name, text, user_id)
        logger.info("saved reply %s by %s", "added" if new else "replaced", user_id)
        return f"Saved reply `{name}` {'added' if new else 'replaced'}."

    def remove(self, name: str) -> str:
        """Remove a saved reply by name."""
        if not self.store.remove_reply(name):
            raise ChatOpsError(f"There is no saved reply called `{escape(name)}`.")
        return f"Saved reply `{escape(name)}` removed."

    # -- one reply for one customer ------------------------------------------------------------

    def filled(self, conv: Conversation, reply: SavedReply) -> Filled:
        """The reply's text with this customer's name and Wati attributes."""
        attributes: Mapping[str, str] = {}
        name = conv.chat.customer_name
        try:
            contact = self.find_contact(conv.chat.customer_number)
        except ChatOpsError:
            contact = None  # Wati is busy: the name still fills in, the preview shows the rest
        if contact is not None:
            attributes = contact.custom_params
            name = contact.name or name
        return fill(reply.text, name=name, attributes=attributes)

    def send(
        self, conv: Conversation, view_id: str, user_id: str, reply_name: str, body: str
    ) -> str | None:
        """Post the reply in the thread as the teammate's and queue it, once per modal;
        return what to tell the teammate when it could not go, else None."""
        send, created = self.store.start_send(
            view_id=view_id,
            thread_id=conv.thread.id,
            user_id=user_id,
            reply_name=reply_name,
            body=body,
            created_at=iso(self.clock.now()),
        )
        if not created:
            logger.info("saved reply of view %s submitted again; sent once", view_id)
            return None
        return self._deliver(send)

    def recover(self) -> int:
        """Finish sends left between their post and the outbox (a crash); return how many."""
        done = 0
        cutoff = self.clock.now() - timedelta(seconds=RECOVER_AFTER)
        for send in self.store.sends_posting():
            started = parse_iso(send.created_at)
            if started is not None and started > cutoff:
                continue
            self._deliver(send)
            done += 1
        return done

    def _deliver(self, send: SavedSend) -> str | None:
        with self._lock:
            if send.view_id in self._busy:
                return None
            self._busy.add(send.view_id)
        try:
            return self._post_and_queue(send)
        finally:
            with self._lock:
                self._busy.discard(send.view_id)

    def _post_and_queue(self, send: SavedSend) -> str | None:
        thread = self.store.thread(send.thread_id)
        if thread is None or not thread.thread_ts:
            self.store.update_send(send.view_id, state="dropped")
            return "The bridge no longer knows that conversation, so nothing was sent."
        ts = send.slack_ts or self._posted(send, thread.slack_channel_id, thread.thread_ts)
        if ts is None:
            message = team_views.saved_post(send.body, send.reply_name, send.user_id, send.view_id)
            ts = self.poster.post(thread.slack_channel_id, thread_ts=thread.thread_ts, **message)
        self.store.update_send(send.view_id, slack_ts=ts)
        event = {
            "type": "message",
            "channel": thread.slack_channel_id,
            "user": send.user_id,
            "text": send.body,
            "ts": ts,
            "thread_ts": thread.thread_ts,
        }
        intake = self.outbound.receive(event, event_id=f"saved:{send.view_id}")
        self.store.update_send(send.view_id, state="queued")
        self.outbound.acknowledge(intake)
        self.outbound.kick()
        if intake.verdict == IGNORED:
            return intake.tell or "That conversation can no longer be answered from here."
        self.owners.claim_on_reply(thread.id, send.user_id)
        logger.info("saved reply of view %s queued as reply %s", send.view_id, intake.reply_id)
        return None

    def _posted(self, send: SavedSend, channel: str, thread_ts: str) -> str | None:
        """The ts of this send's post when a crash left it in the thread."""
        for message in self.poster.thread_messages(channel, thread_ts):
            payload = metadata_of(message, team_views.SAVED_EVENT)
            if payload and payload.get("view_id") == send.view_id:
                return str(message["ts"])
        return None
