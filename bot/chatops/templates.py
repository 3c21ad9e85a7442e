"""Approved templates: listed from Wati (cached), and sent to one customer from a thread.

A template send is recorded in the outbox (state `sent`, keyed by the thread note that shows
it) *before* Wati is called, so the inbound relay recognises the echo in Wati's history
whenever its next poll runs. (The outbox's sender sends session messages only; a template is
one Wati call made here, recorded in the same table.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from slack_sdk.errors import SlackApiError

from bot.base.clock import Clock
from bot.chatops.bulk import broadcast_name
from bot.chatops.conversations import Sent, label, quote
from bot.chatops.errors import ChatOpsError, explain
from bot.chatops.notes import ThreadNotes
from bot.relay.threads import Threads
from bot.store import Store
from bot.store.chats import Chat, Thread
from bot.store.links import Link
from bot.store.outbox import Reply, ReplyState
from bot.text import phone
from bot.text.templates import render
from bot.wati.client import WatiClient
from bot.wati.errors import WatiBadResponse, WatiError, WatiUnavailable
from bot.wati.types import Template

logger = logging.getLogger(__name__)

TEMPLATE_TTL = 300.0
TEMPLATE_PAGES = 5


class Templates:
    """The account's approved templates, and sending one into a conversation."""

    def __init__(
        self,
        *,
        store: Store,
        wati: WatiClient,
        threads: Threads,
        notes: ThreadNotes,
        wake: Callable[..., Chat],
        clock: Clock,
        ttl: float = TEMPLATE_TTL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.wati = wati
        self.threads = threads
        self.notes = notes
        self.wake = wake
        self.clock = clock
        self.ttl = ttl
        self._monotonic = monotonic
        self._cached: tuple[float, list[Template]] | None = None
        self._guard = threading.Lock()

    def approved(self, *, stale_ok: bool = False) -> list[Template]:
        """The APPROVED templates, by name; listed from Wati at most every `ttl` s.

        `stale_ok` takes the last list whatever its age (a submission must answer within 3 s;
        a template changed since is refused by Wati, in plain words).
        """
        with self._guard:
            cached = self._cached
        if cached and (stale_ok or self._monotonic() - cached[0] < self.ttl):
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
            self._cached = (self._monotonic(), approved)
        return approved

    def named(self, name: str) -> Template | None:
        """An approved template by name (from the cached list, however old)."""
        return next((t for t in self.approved(stale_ok=True) if t.name == name), None)

    def send(
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
        note_ts = self.notes.post(
            thread,
            f":hourglass_flowing_sand: <@{user_id}> is sending template {name}…\n{quote(text)}",
        )
        reply = self.store.record_note_send(thread, note_ts, user_id, text)
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
        self.notes.edit(
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

    def _failed(
        self, thread: Thread, reply: Reply, note_ts: str, what: str, exc: Exception
    ) -> Sent:
        reason = explain(exc)
        maybe_sent = isinstance(exc, WatiUnavailable | WatiBadResponse) and exc.maybe_sent
        if not maybe_sent:
            # Nothing went out, so there is no echo to recognise.
            self.store.update_reply(reply.id, state=ReplyState.FAILED, error=reason)
        logger.info("send into thread %d failed: %s", thread.id, type(exc).__name__)
        self.notes.edit(thread, note_ts, f":x: {what}: {reason}.")
        return Sent(False, thread, note_ts, f"{what}: {reason}.")
