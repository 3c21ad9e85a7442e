"""Chat-ops: what Slack's buttons, modals and `/wati` subcommands do in Wati and in the threads.

Every operation on a conversation first checks that the Slack channel is linked and that the
conversation belongs to that channel's number (`conversation`); failures come back as
`ChatOpsError` with plain words. A template send or a forward is recorded in the outbox (state
`sent`, keyed by the thread note that shows it) *before* Wati is called, so the inbound relay
recognises the echo in Wati's history whenever its next poll runs.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from bot.base.clock import Clock
from bot.chatops.bulk import Bulk, broadcast_name
from bot.chatops.directory import Directory
from bot.chatops.errors import ChatOpsError, explain
from bot.chatops.recipients import render
from bot.relay import window
from bot.relay.threads import Threads
from bot.slack import blocks
from bot.slack.poster import SlackPoster
from bot.store import Store
from bot.store.chats import Chat, Thread
from bot.store.db import iso, parse_iso
from bot.store.links import Link
from bot.store.outbox import Reply, ReplyState
from bot.text import phone
from bot.text.formatting import whatsapp_to_slack
from bot.wati.client import MAX_TEXT_LENGTH, WatiClient
from bot.wati.errors import WatiBadResponse, WatiError, WatiUnavailable
from bot.wati.limits import Windows
from bot.wati.types import Template

__all__ = ["ChatOps", "ChatOpsError", "Conversation", "Sent", "explain"]

logger = logging.getLogger(__name__)

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
TEMPLATE_TTL = 300.0
TEMPLATE_PAGES = 5
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


def quote(text: str) -> str:
    """WhatsApp text as a Slack block quote (escaped, so it can ping no one)."""
    return "\n".join(f"> {line}" for line in whatsapp_to_slack(text).splitlines() or [""])


class ChatOps:
    """Chat status, templates, forwards, contacts and bulk operations for the Slack surfaces."""

    def __init__(
        self,
        store: Store,
        wati: WatiClient,
        poster: SlackPoster,
        threads: Threads,
        wake: Callable[..., Chat],
        windows: Windows,
        clock: Clock,
        *,
        template_ttl: float = TEMPLATE_TTL,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.wati = wati
        self.poster = poster
        self.threads = threads
        self.wake = wake
        self.clock = clock
        self.template_ttl = template_ttl
        self._monotonic = monotonic
        self.bulk = Bulk(wati, poster, now=clock.now, sleep=sleep)
        self.contacts = Directory(store, wati, windows.contacts)
        self._templates: tuple[float, list[Template]] | None = None
        self._guard = threading.Lock()
        self._thread_locks: dict[int, threading.Lock] = {}

    # -- who may act where -----------------------------------------------------------------

    def linked(self, channel_id: str) -> Link:
        """The channel's link, or ChatOpsError when the channel is not linked."""
        link = self.store.link_for_channel(channel_id)
        if link is None:
            raise ChatOpsError(NOT_LINKED)
        return link

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

    def window_open(self, chat: Chat) -> bool:
        """Whether a free-text message may reach the customer now (24-hour window)."""
        return window.is_open(parse_iso(chat.last_inbound_at), self.clock.now())

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

    # -- resolve and reopen ----------------------------------------------------------------

    def resolve(self, conv: Conversation, user_id: str) -> tuple[bool, str]:
        """Mark the chat SOLVED in Wati and the thread resolved; a repeat is a no-op.

        Returns whether anything changed, and what to tell the user.
        """
        return self._set_status(conv, user_id, resolved=True)

    def reopen(self, conv: Conversation, user_id: str) -> tuple[bool, str]:
        """Mark the chat OPEN in Wati and the thread open again; a repeat is a no-op."""
        return self._set_status(conv, user_id, resolved=False)

    def _lock_for(self, thread_id: int) -> threading.Lock:
        with self._guard:
            return self._thread_locks.setdefault(thread_id, threading.Lock())

    def _set_status(self, conv: Conversation, user_id: str, *, resolved: bool) -> tuple[bool, str]:
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
        self.refresh_parent(fresh)
        verb = "resolved" if resolved else "reopened"
        self._note(fresh, f":white_check_mark: <@{user_id}> {verb} this conversation.")
        logger.info("thread %d %s by %s", thread.id, verb, user_id)
        return True, f"Conversation with {label(conv.chat)} {verb}."

    def refresh_parent(self, thread: Thread) -> None:
        """Redraw the thread's parent (status, who changed it, the reply window)."""
        self.threads.redraw(thread)

    def templates(self, *, stale_ok: bool = False) -> list[Template]:
        """The APPROVED templates, by name; listed from Wati at most every `template_ttl` s.

        `stale_ok` takes the last list whatever its age (a submission must answer within 3 s;
        a template changed since is refused by Wati, in plain words).
        """
        with self._guard:
            cached = self._templates
        if cached and (stale_ok or self._monotonic() - cached[0] < self.template_ttl):
            return cached[1]
        found: dict[str, Template] = {}
        try:
            for page in range(1, TEMPLATE_PAGES + 1):
                batch = self.wati.get_message_templates(page_size=100, page_number=page)
                for template in batch:
                    if template.status.upper() == "APPROVED":
                        found.setdefault(template.name, template)
                if len(batch) < 100:
                    break
        except WatiError as exc:
            raise ChatOpsError(f"The templates could not be listed: {explain(exc)}.") from exc
        approved = sorted(found.values(), key=lambda t: t.name)
        with self._guard:
            self._templates = (self._monotonic(), approved)
        return approved

    def template(self, name: str) -> Template | None:
        """An approved template by name (from the cached list, however old)."""
        return next((t for t in self.templates(stale_ok=True) if t.name == name), None)

    def send_template(
        self,
        link: Link,
        customer: str,
        template: Template,
        values: Mapping[str, str],
        user_id: str,
    ) -> Sent:
        """Send a template from the link's number; the customer's thread shows the result.

        Opens the chat (and its thread, via the relay) when the customer has none yet.
        """
        params = {p: (values.get(p) or "").strip() for p in template.params}
        missing = [p for p, v in params.items() if not v]
        if missing:
            raise ChatOpsError(
                f"Template *{template.name}* needs a value for {{{{{missing[0]}}}}}."
            )
        text = render(template.body, params)
        chat = self.wake(link.channel_number, customer, origin="template")
        thread = self._thread_for(link, chat)
        name = f"*{template.name}*"
        note_ts = self._note(
            thread,
            f":hourglass_flowing_sand: <@{user_id}> is sending template {name}…\n{quote(text)}",
        )
        reply = self._record(thread, note_ts, user_id, text)
        try:
            self.wati.send_template_message(
                customer,
                template.name,
                params,
                channel_number=link.channel_number,
                broadcast_name=broadcast_name(template.name, self.clock.now()),
            )
        except (WatiError, ValueError) as exc:
            return self._failed(thread, reply, note_ts, f"Template {name} was not sent", exc)
        via = phone.display(link.channel_number)
        self._edit_note(
            thread,
            note_ts,
            f":incoming_envelope: <@{user_id}> sent template {name} from {via}:\n{quote(text)}",
        )
        logger.info("template sent into thread %d by %s", thread.id, user_id)
        who = label(self.store.chat(link.channel_number, customer) or chat)
        return Sent(True, thread, note_ts, f"Template {name} sent to {who}.")

    def _thread_for(self, link: Link, chat: Chat) -> Thread:
        try:
            return self.threads.ensure(link, chat)
        except SlackApiError as exc:
            error = exc.response.get("error")
            raise ChatOpsError(
                f"The conversation's thread could not be opened in Slack (`{error}`); nothing was sent."
            ) from exc

    # -- forwarding a Slack message ------------------------------------------------------------

    def forward(self, conv: Conversation, text: str, user_id: str, source: str | None) -> Sent:
        """Send `text` (already WhatsApp-formatted) to the customer inside the 24-hour window."""
        thread = self.store.thread(conv.thread.id) or conv.thread
        if thread.state not in OPEN_STATES or not thread.thread_ts:
            raise ChatOpsError(
                "That conversation is resolved; reopen it before writing to the customer."
            )
        if not self.window_open(conv.chat):
            raise ChatOpsError(WINDOW_CLOSED)
        text = text.strip()
        if not text:
            raise ChatOpsError("There is no text to forward.")
        if len(text) > MAX_TEXT_LENGTH:
            raise ChatOpsError(
                f"The message is over {MAX_TEXT_LENGTH:,} characters, more than WhatsApp takes."
            )
        local_id = uuid.uuid4().hex
        note_ts = self._note(
            thread, f":hourglass_flowing_sand: <@{user_id}> is forwarding a message…"
        )
        reply = self._record(thread, note_ts, user_id, text, local_id=local_id)
        try:
            result = self.wati.send_session_message(
                conv.chat.customer_number,
                text,
                channel_number=conv.link.channel_number,
                local_message_id=local_id,
            )
        except (WatiError, ValueError) as exc:
            return self._failed(thread, reply, note_ts, "The message was not forwarded", exc)
        if result.message_id:
            self.store.update_reply(reply.id, wati_id=result.message_id)
        origin = f" from {source}" if source else ""
        self._edit_note(
            thread,
            note_ts,
            f":arrow_right_hook: <@{user_id}> forwarded a message{origin}:\n{quote(text)}",
        )
        return Sent(True, thread, note_ts, f"Forwarded to {label(conv.chat)}.")

    def permalink(self, thread: Thread) -> str | None:
        """A link to the thread's parent message."""
        if not thread.thread_ts:
            return None
        try:
            response = self.poster.client.chat_getPermalink(
                channel=thread.slack_channel_id, message_ts=thread.thread_ts
            )
        except SlackApiError:
            return None
        link = response.get("permalink")
        return str(link) if link else None

    # -- the thread notes behind sends ---------------------------------------------------------

    def _note(self, thread: Thread, text: str) -> str:
        assert thread.thread_ts is not None
        return self.poster.post(
            thread.slack_channel_id, thread_ts=thread.thread_ts, **blocks.notice(text)
        )

    def _edit_note(self, thread: Thread, ts: str, text: str) -> None:
        try:
            self.poster.update(thread.slack_channel_id, ts, **blocks.notice(text))
        except SlackApiError as exc:
            logger.warning(
                "note in thread %d not updated: %s", thread.id, exc.response.get("error")
            )

    def _record(
        self, thread: Thread, note_ts: str, user_id: str, body: str, *, local_id: str | None = None
    ) -> Reply:
        reply, _ = self.store.enqueue_reply(
            slack_channel_id=thread.slack_channel_id,
            slack_ts=note_ts,
            event_id=None,
            thread_id=thread.id,
            channel_number=thread.channel_number,
            customer_number=thread.customer_number,
            user_id=user_id,
            body=body,
            files=None,
            state=ReplyState.SENT,
            local_message_id=local_id or uuid.uuid4().hex,
        )
        return reply

    def _failed(
        self, thread: Thread, reply: Reply, note_ts: str, what: str, exc: Exception
    ) -> Sent:
        reason = explain(exc)
        maybe_sent = isinstance(exc, WatiUnavailable | WatiBadResponse) and exc.maybe_sent
        if not maybe_sent:
            # Nothing went out, so there is no echo to recognise.
            self.store.update_reply(reply.id, state=ReplyState.FAILED, error=reason)
        logger.info("send into thread %d failed: %s", thread.id, type(exc).__name__)
        self._edit_note(thread, note_ts, f":x: {what}: {reason}.")
        return Sent(False, thread, note_ts, f"{what}: {reason}.")
