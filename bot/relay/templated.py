"""A template sent from Slack to one customer, through the outbox like a reply.

The outbox row is keyed by the thread note that shows the send, holds the rendered text as its
body and the template to send in its `template` column (JSON: name, parameter values,
broadcast name). `Sender` sends it with sendTemplateMessage, without the 24-hour window check
or a reopen (a template is what goes outside the window); `Feedback` edits the note to say how
it went. A lost answer is settled like a reply's: Wati's history shows a template send as a
broadcastMessage (no localMessageId of the bridge's, no `owner`), found here by its template
name and text, close to the attempt.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.store.outbox import Delivery, Job, ReplyState
from bot.text import phone
from bot.text.formatting import escape, quote
from bot.wati.client import WatiClient
from bot.wati.types import SendResult, WatiMessage


@dataclass(frozen=True)
class TemplateSend:
    """What the outbox keeps of a template to send (the `template` column)."""

    name: str
    params: Mapping[str, str] = field(hash=False)
    broadcast: str

    def dump(self) -> str:
        return json.dumps(
            {"name": self.name, "params": dict(self.params), "broadcast": self.broadcast}
        )

    @classmethod
    def load(cls, raw: str) -> TemplateSend:
        data = json.loads(raw)
        params = {str(k): str(v) for k, v in dict(data.get("params") or {}).items()}
        return cls(str(data["name"]), params, str(data.get("broadcast") or data["name"]))


def sending_text(user_id: str, name: str, text: str) -> str:
    """The note while the template is on its way."""
    return f":hourglass_flowing_sand: <@{user_id}> is sending template *{name}*…\n{quote(text)}"


def sent_text(job: Job) -> str:
    """The note once Wati took the template."""
    name = template_name(job)
    via = phone.display(job.channel_number)
    return f":incoming_envelope: <@{job.user_id}> sent template *{name}* from {via}:\n{quote(job.body)}"


def failed_text(job: Job, reason: str) -> str:
    """The note when the template did not go, or WhatsApp could not deliver it (`reason`:
    plain words without a full stop)."""
    late = job.state == ReplyState.SENT or job.delivery == Delivery.FAILED
    what = "was not delivered" if late else "was not sent"
    return f":x: Template *{template_name(job)}* {what}: {escape(reason)}."


def template_name(job: Job) -> str:
    return TemplateSend.load(job.template).name if job.template else "?"


def send(wati: WatiClient, job: Job) -> SendResult:
    """The row's template, from the row's number."""
    assert job.template is not None
    return send_template(wati, job, TemplateSend.load(job.template))


def send_template(wati: WatiClient, job: Job, spec: TemplateSend) -> SendResult:
    """sendTemplateMessage from the row's number (its answer carries no message id)."""
    result = wati.send_template_message(
        job.customer_number,
        spec.name,
        spec.params,
        channel_number=job.channel_number,
        broadcast_name=spec.broadcast,
    )
    return SendResult(
        message_id=None,
        whatsapp_message_id=None,
        local_message_id=result.local_message_id,
        status=None,
    )


def find(
    job: Job, items: list[WatiMessage], since: float, claimed: Callable[[str], bool]
) -> WatiMessage | None:
    """The history item that is this template send: a template (by name when Wati names it)
    with the row's text, no older than `since`, not already some row's part."""
    name = template_name(job)
    for item in items:
        if not item.template or item.created.timestamp() < since or claimed(item.id):
            continue
        if item.template_name not in (None, name):
            continue
        if item.status == Delivery.FAILED and item.created.timestamp() < (job.attempted_at or 0):
            continue  # an earlier try WhatsApp could not deliver (Retry sends again)
        if (item.text or "").strip() == job.body.strip():
            return item
    return None
