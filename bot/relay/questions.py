"""The rating question ("Resolve and ask for a rating"), sent through the outbox like a reply.

The outbox row is keyed by the thread note that shows the question and holds in its `question`
column (JSON) everything that may be sent: the reply buttons' body and titles, the numbered
text for tenants without v3 interactive messages, and the rating template (name, parameter
values, broadcast name, rendered text), or why there is none. Which of them goes is decided when
the sender sends, by the 24-hour window then: a row queued before a restart goes the right way
after it. Inside the window: reply buttons, else the numbered text where the tenant answered
403/404 (remembered for a while), and the template when Wati says the window is closed;
outside it: the template. The row's body is set to the text about to go before each call, so
the relay knows the echo by text when the answer is lost; the part's `kind` records which way
it went ("buttons", "text", "template"). A lost answer is settled from Wati's history.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.base.clock import Clock
from bot.relay import templated, window
from bot.relay.templated import TemplateSend
from bot.store import Store
from bot.store.db import parse_iso
from bot.store.outbox import Job, ReplyState
from bot.text.formatting import escape
from bot.wati.client import WatiClient
from bot.wati.errors import WatiRejected, WatiWindowClosed
from bot.wati.types import SendResult, WatiMessage

logger = logging.getLogger(__name__)

# A tenant without v3 interactive messages is asked again for buttons after this long.
INTERACTIVE_RETRY_SECONDS = 3600.0
WAYS = {"buttons": "WhatsApp buttons", "text": "a numbered message", "template": "template"}


@dataclass(frozen=True)
class Question:
    """What the outbox keeps of a rating question (the `question` column)."""

    text: str
    buttons: tuple[str, ...]
    numbered: str
    template: TemplateSend | None = None
    template_text: str | None = None
    no_template: str = "no rating template is set"

    def dump(self) -> str:
        spec = json.loads(self.template.dump()) if self.template else None
        return json.dumps(
            {
                "text": self.text,
                "buttons": list(self.buttons),
                "numbered": self.numbered,
                "template": spec,
                "template_text": self.template_text,
                "no_template": self.no_template,
            }
        )

    @classmethod
    def load(cls, raw: str) -> Question:
        data = json.loads(raw)
        spec = data.get("template")
        return cls(
            str(data["text"]),
            tuple(str(b) for b in data.get("buttons") or ()),
            str(data["numbered"]),
            TemplateSend.load(json.dumps(spec)) if spec else None,
            data.get("template_text"),
            str(data.get("no_template") or "no rating template is set"),
        )

    def texts(self) -> tuple[str, ...]:
        """Every text the customer may have been sent."""
        return tuple(t for t in (self.text, self.numbered, self.template_text) if t)


class NotAsked(Exception):
    """Nothing can be sent (outside the window without a usable template); `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def sent_text(job: Job, via: str) -> str:
    """The question's note once Wati took it."""
    return f":star: <@{job.user_id}> asked the customer for a rating ({WAYS.get(via, via)})."


def failed_text(job: Job, reason: str) -> str:
    """The question's note when it did not go, or WhatsApp could not deliver it."""
    reason = escape(reason).rstrip(".")
    if job.state == ReplyState.SENT:
        return f":x: The rating question was not delivered: {reason}."
    return f":x: No rating was asked: {reason}."


class Asker:
    """Sends a question row's one part the way the window allows now (`Sender` calls it)."""

    def __init__(
        self,
        *,
        store: Store,
        wati: WatiClient,
        clock: Clock,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.wati = wati
        self.clock = clock
        self._monotonic = monotonic
        self._no_buttons_until = 0.0

    def send(self, job: Job, local_id: str) -> tuple[SendResult, str]:
        """Send the question; returns Wati's answer and the way it went. WatiError as any send;
        NotAsked when nothing can go."""
        assert job.question is not None
        question = Question.load(job.question)
        if self._window_open(job):
            try:
                return self._session(job, question, local_id)
            except WatiWindowClosed:
                pass  # Wati knows better (a chatbot closed the chat): the template, if any
        return self._template(job, question), "template"

    def _window_open(self, job: Job) -> bool:
        chat = self.store.chat(job.channel_number, job.customer_number)
        last = parse_iso(chat.last_inbound_at) if chat else None
        return window.is_open(last, self.clock.now())

    def _session(self, job: Job, question: Question, local_id: str) -> tuple[SendResult, str]:
        customer, channel = job.customer_number, job.channel_number
        if self._monotonic() >= self._no_buttons_until:
            self.store.update_reply(job.id, body=question.text)
            try:
                sent = self.wati.send_interactive_buttons(
                    customer, question.text, question.buttons, channel_number=channel
                )
            except WatiRejected as exc:
                if isinstance(exc, WatiWindowClosed) or exc.status_code not in (403, 404):
                    raise
                logger.info("no v3 interactive messages on this tenant: numbered text instead")
                self._no_buttons_until = self._monotonic() + INTERACTIVE_RETRY_SECONDS
            else:
                return sent, "buttons"
        self.store.update_reply(job.id, body=question.numbered)
        result = self.wati.send_session_message(
            customer, question.numbered, channel_number=channel, local_message_id=local_id
        )
        return result, "text"

    def _template(self, job: Job, question: Question) -> SendResult:
        if question.template is None or question.template_text is None:
            raise NotAsked(question.no_template)
        self.store.update_reply(job.id, body=question.template_text)
        return templated.send_template(self.wati, job, question.template)


def find(
    job: Job, items: list[WatiMessage], since: float, claimed: Callable[[str], bool]
) -> WatiMessage | None:
    """The history item that is this question (buttons, numbered text or template, by the
    row's localMessageId or by one of its texts, no older than `since`, not already some row's
    part); `way_of` tells how it went."""
    assert job.question is not None
    texts = Question.load(job.question).texts()
    for item in items:
        if not (item.owner or item.template) or claimed(item.id):
            continue
        if item.created.timestamp() < since:
            continue
        ours = (item.local_message_id or "").split(".")[0] == job.local_message_id
        if ours or (item.text or "").strip() in texts:
            return item
    return None


def way_of(item: WatiMessage) -> str:
    """How a question found in the history went."""
    if item.template:
        return "template"
    return "buttons" if item.type == "interactive" else "text"
