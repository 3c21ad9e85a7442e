"""Approved templates: listed from Wati (cached), and sent to one customer from a thread.

A template send goes through the outbox like a reply (`bot.relay.templated`): queued, keyed by
the thread note that shows it, before anything is sent, then sent by the outbox's sender at
once, so the person who pressed Submit learns how it went in the same request. A send cut by a
crash goes in the outbox's round after the restart; a lost answer is settled from Wati's
history before any resend.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from slack_sdk.errors import SlackApiError

from bot.base.clock import Clock
from bot.chatops.broadcasts import broadcast_name
from bot.chatops.conversations import Sent, label
from bot.chatops.errors import ChatOpsError, explain
from bot.chatops.notes import ThreadNotes
from bot.relay import templated
from bot.relay.outbound import QUEUED, Intake, Outbound
from bot.relay.templated import TemplateSend
from bot.relay.threads import Threads
from bot.store import Store
from bot.store.chats import Chat, Thread
from bot.store.links import Link
from bot.store.outbox import ReplyState
from bot.text.templates import render
from bot.wati.client import WatiClient
from bot.wati.errors import WatiError
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
        outbound: Outbound,
        wake: Callable[..., Chat],
        clock: Clock,
        ttl: float = TEMPLATE_TTL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.wati = wati
        self.threads = threads
        self.notes = notes
        self.outbound = outbound
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
        note_ts = self.notes.post(thread, templated.sending_text(user_id, template.name, text))
        spec = TemplateSend(template.name, params, broadcast_name(template.name, self.clock.now()))
        reply = self.store.queue_template(thread, note_ts, user_id, text, spec.dump())
        self.outbound.acknowledge(Intake(QUEUED, reply.id))
        job = self.outbound.send_now(reply.id)
        name = f"*{template.name}*"
        state = job.state if job is not None else None
        logger.info("template into thread %d by %s: %s", thread.id, user_id, state)
        if state == ReplyState.SENT:
            who = label(self.store.chat(link.channel_number, customer) or chat)
            return Sent(True, thread, note_ts, f"Template {name} sent to {who}.")
        if state == ReplyState.FAILED:
            reason = job.error if job is not None and job.error else "no reason was given"
            return Sent(False, thread, note_ts, f"Template {name} was not sent: {reason}.")
        if state == ReplyState.UNKNOWN:
            told = (
                f"Wati did not confirm template {name}; the bridge checks the chat's history in "
                "Wati and sends it again only if it did not go. The thread shows how it went."
            )
        else:
            told = (
                f"Template {name} is queued: it goes as soon as Wati takes it; the thread "
                "shows how it went."
            )
        return Sent(False, thread, note_ts, told)

    def _thread_for(self, link: Link, chat: Chat) -> Thread:
        try:
            return self.threads.ensure(link, chat)
        except SlackApiError as exc:
            error = exc.response.get("error")
            raise ChatOpsError(
                f"The conversation's thread could not be opened in Slack (`{error}`); nothing was sent."
            ) from exc
