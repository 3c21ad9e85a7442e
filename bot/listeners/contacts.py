"""Customers and Wati contacts: `/wati find`, `/wati contacts`, the "View" button of its
answers, and the contact card's Submit (the parent's **Contact** button is in `parent`)."""

from __future__ import annotations

import functools
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.chatops.conversations import label
from bot.chatops.errors import ChatOpsError
from bot.chatops.recipients import ATTRIBUTE_NAME
from bot.chatops.services import Services
from bot.customers import identity
from bot.listeners import surface
from bot.listeners.forms import TAMPERED, accepted, refuse
from bot.listeners.invocation import Invocation
from bot.listeners.refusals import answers_refusals, where
from bot.slack import modals
from bot.text import phone
from bot.text.formatting import escape

CONTACT_OPEN = "wati_contact_open"  # the "View" button in `/wati contacts` answers
MAX_CONTACTS = 10


def find(call: Invocation, services: Services) -> None:
    """`/wati find <number or name>`."""
    link = services.conversations.linked(call.channel_id)
    query = call.rest()
    if not query:
        call.tell("Find whom? For example `/wati find +44 7700 900123` or `/wati find Ana`.")
        return
    found = services.contacts.find(link, query)
    if not found:
        call.tell(
            f"No conversation found for “{escape(query)}” on {phone.display(link.channel_number)}. "
            "To write first, use `/wati template <number>`."
        )
        return
    lines = []
    for item in found:
        state = "resolved" if item.thread.state == "resolved" else "open"
        where_ = (
            ""
            if item.here
            else f" — on {phone.display(item.thread.channel_number)} in <#{item.thread.slack_channel_id}>"
        )
        url = services.conversations.permalink(item.thread)
        shown = f"<{url}|{escape(label(item.chat))}>" if url else escape(label(item.chat))
        lines.append(f"• {shown} ({state}){where_}")
    call.tell("\n".join(lines))


def contacts(call: Invocation, services: Services) -> None:
    """`/wati contacts <name or number>`."""
    services.conversations.linked(call.channel_id)  # only in a linked channel
    query = call.rest()
    if not query:
        call.tell(
            "Which contacts? For example `/wati contacts Ana` or `/wati contacts +44 7700 900123`."
        )
        return
    number = None
    if phone.looks_like_number(query):
        try:
            number = phone.normalise(query)
        except phone.InvalidNumber as exc:
            call.tell(str(exc))
            return
    found = services.contacts.search(number or query)
    blocks: list[dict[str, Any]] = []
    for contact in found[:MAX_CONTACTS]:
        wa = contact.wa_id or contact.phone
        attrs = ", ".join(f"{k}: {v}" for k, v in list(contact.custom_params.items())[:6])
        text = f"*{escape(contact.name or wa)}* · {phone.display(wa)}"
        if attrs:
            text += f"\n{escape(attrs)}"
        blocks.append(_with_button(text, "View", wa))
    if number and not any(number in (c.wa_id, c.phone) for c in found):
        blocks.append(
            _with_button(
                f"{phone.display(number)} is not a Wati contact yet.", "Add contact", number
            )
        )
    if not blocks:
        call.tell(f"No Wati contact matches “{escape(query)}”.")
        return
    more = f" (first {MAX_CONTACTS})" if len(found) > MAX_CONTACTS else ""
    call.respond(
        text=f"Wati contacts matching “{query}”{more}", blocks=blocks, response_type="ephemeral"
    )


@answers_refusals
def handle_contact_open(
    ack: Ack, body: dict[str, Any], client: WebClient, services: Services
) -> None:
    ack()
    channel, user = where(body)
    number = str(((body.get("actions") or [{}])[0]).get("value") or "")
    services.conversations.linked(channel)
    if not (number.isascii() and number.isdigit()):
        surface.tell(client, channel, user, "That button does not name a WhatsApp number.")
        return
    surface.open_contact(
        services, client, body["trigger_id"], channel=channel, number=number, thread=None, name=None
    )


def _card_errors(
    values: dict[str, Any], attributes: dict[str, str], adding: bool
) -> dict[str, str]:
    """The contact card's field errors; a new attribute typed in is added to `attributes`."""
    errors: dict[str, str] = {}
    new_name, new_value = values.get(modals.NEW_ATTR_NAME), values.get(modals.NEW_ATTR_VALUE)
    if new_name and not ATTRIBUTE_NAME.match(str(new_name)):
        errors[modals.NEW_ATTR_NAME] = "Use letters, digits and _ (up to 64)."
    elif new_name and not new_value:
        errors[modals.NEW_ATTR_VALUE] = "Give the new attribute a value."
    elif new_value and not new_name:
        errors[modals.NEW_ATTR_NAME] = "Name the new attribute."
    elif new_name and new_value:
        attributes[str(new_name)] = str(new_value)
    if adding and not values.get(modals.NAME):
        errors[modals.NAME] = "Give the contact a name."
    return errors


def handle_contact_submission(
    ack: Ack, body: dict[str, Any], client: WebClient, view: dict[str, Any], services: Services
) -> None:
    user = body["user"]["id"]
    try:
        meta = modals.load_meta(view.get("private_metadata"), "contact")
        link = services.conversations.linked(str(meta.get("channel")))
        number = identity.parse_key(str(meta.get("number")))
        thread_ts = None
        if meta.get("thread") is not None:
            conv = services.conversations.conversation(meta["thread"], link.slack_channel_id)
            if conv.chat.customer_number != number:
                raise modals.BadMetadata("number and thread disagree")
            thread_ts = conv.thread.thread_ts
    except (modals.BadMetadata, phone.InvalidNumber):
        refuse(ack, TAMPERED)
        return
    except ChatOpsError as exc:
        refuse(ack, exc.message)
        return
    values = modals.form_values(view)
    attributes = modals.attributes_of(values)
    adding = meta.get("mode") == "add"
    errors = _card_errors(values, attributes, adding)
    if not accepted(ack, services, view, errors):
        return
    name = str(values.get(modals.NAME) or "")
    try:
        said = services.contacts.save(number, name=name, attributes=attributes, exists=not adding)
    except ChatOpsError as exc:
        said = exc.message
    surface.tell(client, link.slack_channel_id, user, said, thread_ts=thread_ts)


def _with_button(text: str, caption: str, number: str) -> dict[str, Any]:
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": text},
        "accessory": {
            "type": "button",
            "text": {"type": "plain_text", "text": caption},
            "action_id": CONTACT_OPEN,
            "value": number,
        },
    }


def register(app: App, services: Services) -> None:
    """Bind the "View" button of `/wati contacts` and the contact card's Submit."""
    app.action(CONTACT_OPEN)(functools.partial(handle_contact_open, services=services))
    app.view(modals.CONTACT_VIEW)(functools.partial(handle_contact_submission, services=services))
