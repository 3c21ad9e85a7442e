"""Resolve and ask for a rating: one question to the customer, then the chat resolved.

Ask first, then resolve: Wati refuses session messages to a solved chat. The question goes from
the channel's number as WhatsApp reply buttons (v3 interactive) inside the 24-hour window, as a
numbered text where the tenant has no v3 interactive messages, and as the approved template
named by `BRIDGE_RATING_TEMPLATE` outside the window (without one, the user is told why nothing
can be asked). Once per thread: the `surveys` row is claimed before anything is sent, so a
double click or Slack's retry finds it and sends nothing again. Like every send from Slack, the
question is recorded in the outbox (keyed by the thread note that shows it) before Wati is
called, so the relay recognises its echo in Wati's history and does not mirror it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from slack_sdk.errors import SlackApiError

from bot.base.clock import Clock
from bot.chatops.conversations import Conversation
from bot.chatops.errors import ChatOpsError, explain
from bot.chatops.notes import ThreadNotes
from bot.relay import window
from bot.relay.threads import Threads
from bot.store import Store
from bot.store.chats import Chat, Thread
from bot.store.db import iso, parse_iso
from bot.store.outbox import Reply, ReplyState
from bot.survey import wording
from bot.text.templates import render
from bot.wati.client import WatiClient
from bot.wati.errors import (
    WatiBadResponse,
    WatiError,
    WatiRejected,
    WatiUnavailable,
    WatiWindowClosed,
)
from bot.wati.types import Template

logger = logging.getLogger(__name__)

NO_TEMPLATE = (
    "The customer's 24-hour reply window is closed, so WhatsApp only takes an approved template, "
    "and no rating template is set: an admin can name one in `BRIDGE_RATING_TEMPLATE`. Nothing "
    "was asked and the conversation is still open; use *Resolve* to resolve it without a rating."
)
# A tenant without v3 interactive messages is asked again for buttons after this long.
INTERACTIVE_RETRY_SECONDS = 3600.0
NAME_PARAMS = ("name", "1")  # template parameters the bridge fills with the customer's name
WAYS = {"buttons": "WhatsApp buttons", "text": "a numbered message", "template": "template"}


class Surveys:
    """Asks for ratings and shows the answers (`settle`, a scheduler job)."""

    def __init__(
        self,
        *,
        store: Store,
        wati: WatiClient,
        notes: ThreadNotes,
        threads: Threads,
        clock: Clock,
        resolve: Callable[[Conversation, str], tuple[bool, str]],
        find_template: Callable[[str], Template | None],
        template_name: str | None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.wati = wati
        self.notes = notes
        self.threads = threads
        self.clock = clock
        self.resolve = resolve
        self.find_template = find_template
        self.template_name = template_name
        self._monotonic = monotonic
        self._no_buttons_until = 0.0

    # -- asking ------------------------------------------------------------------------------

    def ask_and_resolve(self, conv: Conversation, user_id: str) -> str:
        """Ask the customer once, then resolve; returns what to tell the user."""
        thread = self.store.thread(conv.thread.id) or conv.thread
        if thread.state == "resolved" or not thread.thread_ts:
            raise ChatOpsError("This conversation is resolved already; no rating was asked.")
        recorded = self.store.last_inbound(thread.channel_number, thread.customer_number)
        last = max(
            (t for t in (parse_iso(conv.chat.last_inbound_at), parse_iso(recorded)) if t),
            default=None,
        )
        in_window = window.is_open(last, self.clock.now())
        if not in_window and not self.template_name:
            raise ChatOpsError(NO_TEMPLATE)
        claimed = self.store.claim_survey(
            thread.id,
            channel_number=thread.channel_number,
            customer_number=thread.customer_number,
            by=user_id,
            at=iso(self.clock.now()),
        )
        if not claimed:
            found = self.store.survey(thread.id)
            by = f" by <@{found.asked_by}>" if found and found.asked_by else ""
            said = f"A rating was already asked in this conversation{by}; nothing was sent again."
            if found is not None and found.state == "asked":
                # Asked, but the resolve after it failed (Wati was away): resolve now. While the
                # first click is still asking ('sending'), resolving would go before the question.
                changed, resolved = self.resolve(conv, user_id)
                said += f" {resolved}" if changed else ""
            return said
        via = self._ask(conv, thread, user_id, in_window)
        changed, said = self.resolve(conv, user_id)
        logger.info("rating asked in thread %d via %s", thread.id, via)
        return f"Rating asked with {WAYS[via]}. {said}" if changed else said

    def _ask(self, conv: Conversation, thread: Thread, user_id: str, in_window: bool) -> str:
        """Send the question; returns how it went. ChatOpsError when nothing went out."""
        assert thread.thread_ts is not None
        try:
            note_ts = self.notes.post(
                thread, f":star: <@{user_id}> is asking the customer for a rating…"
            )
        except SlackApiError as exc:
            # Nothing went out: the question may be asked again.
            error = exc.response.get("error")
            self.store.update_survey(thread.id, state="failed", error=f"Slack: {error}")
            raise ChatOpsError(
                f"Slack refused the thread note (`{error}`), so no rating was asked."
            ) from exc
        reply = self.store.record_note_send(thread, note_ts, user_id, wording.QUESTION)
        self.store.update_survey(thread.id, reply_id=reply.id)
        try:
            via = self._send(conv, reply, in_window)
        except (WatiError, ChatOpsError) as exc:
            return self._failed(thread, reply, note_ts, exc)
        self.store.update_survey(thread.id, state="asked", via=via)
        self.notes.edit(
            thread, note_ts, f":star: <@{user_id}> asked the customer for a rating ({WAYS[via]})."
        )
        return via

    def _send(self, conv: Conversation, reply: Reply, in_window: bool) -> str:
        customer, channel = conv.chat.customer_number, conv.link.channel_number
        if in_window:
            try:
                return self._session(customer, channel, reply)
            except WatiWindowClosed:
                # Wati knows better (a chatbot closed the chat): the template path, if any.
                if not self.template_name:
                    raise ChatOpsError(NO_TEMPLATE) from None
        template = self._template()
        text = render(template.body, self._params(template, conv.chat))
        self.store.update_reply(reply.id, body=text)
        self.wati.send_template_message(
            customer,
            template.name,
            self._params(template, conv.chat),
            channel_number=channel,
            broadcast_name=f"rating_{uuid.uuid4().hex[:8]}",
        )
        return "template"

    def _session(self, customer: str, channel: str, reply: Reply) -> str:
        if self._monotonic() >= self._no_buttons_until:
            try:
                sent = self.wati.send_interactive_buttons(
                    customer, wording.QUESTION, wording.BUTTONS, channel_number=channel
                )
            except WatiRejected as exc:
                if exc.status_code not in (403, 404):
                    raise
                logger.info("no v3 interactive messages on this tenant: numbered text instead")
                self._no_buttons_until = self._monotonic() + INTERACTIVE_RETRY_SECONDS
            else:
                if sent.message_id:
                    self.store.update_reply(reply.id, wati_id=sent.message_id)
                return "buttons"
        self.store.update_reply(reply.id, body=wording.NUMBERED)
        result = self.wati.send_session_message(
            customer,
            wording.NUMBERED,
            channel_number=channel,
            local_message_id=reply.local_message_id,
        )
        if result.message_id:
            self.store.update_reply(reply.id, wati_id=result.message_id)
        return "text"

    def _template(self) -> Template:
        assert self.template_name is not None
        try:
            template = self.find_template(self.template_name)
        except ChatOpsError:
            template = None
        if template is None:
            raise ChatOpsError(
                f"The rating template *{self.template_name}* (BRIDGE_RATING_TEMPLATE) is not an "
                "approved template in Wati"
            )
        unknown = [p for p in template.params if p not in NAME_PARAMS]
        if unknown:
            raise ChatOpsError(
                f"The rating template *{template.name}* needs {{{{{unknown[0]}}}}}, which the "
                "bridge cannot fill; choose a template with no parameters but the name"
            )
        return template

    @staticmethod
    def _params(template: Template, chat: Chat) -> dict[str, str]:
        name = (chat.customer_name or "").strip() or "there"
        return {p: name for p in template.params}

    def _failed(self, thread: Thread, reply: Reply, note_ts: str, exc: Exception) -> str:
        reason = exc.message if isinstance(exc, ChatOpsError) else explain(exc)
        maybe_sent = isinstance(exc, WatiUnavailable | WatiBadResponse) and exc.maybe_sent
        if maybe_sent:
            # It may have reached the customer: the answer is still looked for, never re-asked.
            self.store.update_survey(thread.id, state="asked", via="unknown", error=reason)
            self.notes.edit(
                thread,
                note_ts,
                f":grey_question: The rating question may not have gone out: {reason}.",
            )
            return "unknown"
        self.store.update_reply(reply.id, state=ReplyState.FAILED, error=reason)
        self.store.update_survey(thread.id, state="failed", error=reason)
        self.notes.edit(thread, note_ts, f":x: No rating was asked: {reason.rstrip('.')}.")
        raise ChatOpsError(
            f"No rating was asked and the conversation is still open: {reason.rstrip('.')}."
        )

    # -- answers -----------------------------------------------------------------------------

    def settle(self) -> None:
        """Show each new rating on its parent and solve the chat again in Wati (the answer
        reopened it there), unless a teammate reopened the conversation meanwhile."""
        for survey in self.store.unsettled_surveys():
            thread = self.store.thread(survey.thread_id)
            if thread is None:
                self.store.update_survey(survey.thread_id, settled=1)
                continue
            if thread.state == "resolved":
                try:
                    self.wati.update_chat_status(
                        thread.customer_number, "SOLVED", channel_number=thread.channel_number
                    )
                except WatiRejected as exc:
                    logger.warning("thread %d not solved again: %s", thread.id, exc.reason)
                except WatiError:
                    continue  # Wati is away: the next run tries again
            if self.threads.redraw(thread):
                self.store.update_survey(survey.thread_id, settled=1)
