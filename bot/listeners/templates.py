"""Templates: `/wati template`, the template picker inside the template modals, the "New
WhatsApp chat" shortcut, and the Submit of the template and new-chat modals. The parent's
**Send template** is in `parent`; broadcasts are in `bulk`."""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.chatops.conversations import Sent
from bot.chatops.errors import ChatOpsError
from bot.chatops.services import Services
from bot.customers import identity
from bot.listeners import surface
from bot.listeners.forms import TAMPERED, accepted, refuse, template_and_params
from bot.listeners.invocation import Invocation
from bot.listeners.refusals import told
from bot.slack import modals
from bot.store.links import Link
from bot.text import phone
from bot.text.formatting import escape

if TYPE_CHECKING:  # a name in annotations: listeners call nothing of Wati
    from bot.wati.types import Template

logger = logging.getLogger(__name__)

NEW_CHAT_SHORTCUT = "new_whatsapp_chat"
TEMPLATE_KINDS = {
    modals.TEMPLATE_VIEW: "template",
    modals.NEW_CHAT_VIEW: "new_chat",
    modals.BROADCAST_VIEW: "broadcast",
}


def template(call: Invocation, services: Services) -> None:
    """`/wati template <number> [template]`."""
    services.conversations.linked(call.channel_id)  # only in a linked channel
    args = call.args[1:]
    name = None
    if len(args) > 1 and not phone.looks_like_number(args[-1]):
        name = args[-1]
        args = args[:-1]
    if not args:
        call.tell("To which number? For example `/wati template +44 7700 900123 order_update`.")
        return
    try:
        number = phone.normalise(" ".join(args))
    except phone.InvalidNumber as exc:
        call.tell(str(exc))
        return
    if not call.trigger_id:
        call.tell("Slack sent no trigger for a form; please run the command again.")
        return
    # The form opens first: its trigger lasts 3 s, and listing templates may take a moment.
    meta = {"kind": "template", "channel": call.channel_id, "number": number}
    surface.open_template(
        services, call.client, call.trigger_id, modals.TEMPLATE_VIEW, meta, selected=name
    )
    try:
        unknown = name is not None and services.templates.named(name) is None
    except ChatOpsError:
        unknown = False  # the form already says the templates could not be listed
    if unknown:
        call.tell(f"No approved template is called `{escape(str(name))}`; choose one in the form.")


def handle_template_pick(
    ack: Ack, body: dict[str, Any], client: WebClient, services: Services
) -> None:
    """A template was chosen in a modal: redraw it with that template's parameters."""
    ack()
    view = body.get("view") or {}
    callback_id = str(view.get("callback_id") or "")
    selected = ((body.get("actions") or [{}])[0].get("selected_option") or {}).get("value")
    try:
        meta = modals.load_meta(view.get("private_metadata"), TEMPLATE_KINDS[callback_id])
        values = modals.form_values(view)
        content = surface.template_view(services, callback_id, meta, selected, values)
    except (KeyError, modals.BadMetadata):
        logger.warning("template picked in an unknown modal %r", callback_id)
        return
    except ChatOpsError as exc:
        content = modals.notice("Send template", exc.message)
    surface.show(client, view, content)


def handle_new_chat(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
    ack()
    if not services.conversations.links():
        text = "No channel is linked to a WhatsApp number yet. An admin can run `/wati link <number>` in a channel."
        client.views_open(
            trigger_id=body["trigger_id"], view=modals.notice("New WhatsApp chat", text)
        )
        return
    meta = {"kind": "new_chat"}
    surface.open_template(
        services, client, body["trigger_id"], modals.NEW_CHAT_VIEW, meta, title="New WhatsApp chat"
    )


def report(client: WebClient, services: Services, user: str, sent: Sent, *, always: bool) -> None:
    """Tell the sender how it went, with a link to the thread when it is elsewhere."""
    if sent.ok and not always:
        return
    text = sent.summary
    link = services.conversations.permalink(sent.thread)
    if link:
        text += f" <{link}|Open the conversation>"
    surface.tell(client, sent.thread.slack_channel_id, user, text)


def send(
    client: WebClient,
    services: Services,
    user: str,
    link: Link,
    customer: str,
    chosen: Template,
    params: dict[str, str],
    *,
    shown_in: object = None,
) -> None:
    """Send; tell the sender unless it went well in the thread they sent it from."""
    with told(client, link.slack_channel_id, user):
        sent = services.templates.send(link, customer, chosen, params, user)
        report(client, services, user, sent, always=sent.thread.id != shown_in)


def handle_template_submission(
    ack: Ack, body: dict[str, Any], client: WebClient, view: dict[str, Any], services: Services
) -> None:
    user = body["user"]["id"]
    try:
        meta = modals.load_meta(view.get("private_metadata"), "template")
        link = services.conversations.linked(str(meta.get("channel")))
        if meta.get("thread") is not None:
            conv = services.conversations.conversation(meta["thread"], link.slack_channel_id)
            customer = conv.chat.customer_number
        else:
            customer = identity.parse_key(str(meta.get("number")))
    except modals.BadMetadata:
        refuse(ack, TAMPERED)
        return
    except phone.InvalidNumber as exc:
        refuse(ack, str(exc))
        return
    except ChatOpsError as exc:
        refuse(ack, exc.message)
        return
    chosen, params, errors = template_and_params(services, modals.form_values(view), optional=False)
    if not accepted(ack, services, view, errors) or chosen is None:
        return
    send(client, services, user, link, customer, chosen, params, shown_in=meta.get("thread"))


def handle_new_chat_submission(
    ack: Ack, body: dict[str, Any], client: WebClient, view: dict[str, Any], services: Services
) -> None:
    user = body["user"]["id"]
    try:
        modals.load_meta(view.get("private_metadata"), "new_chat")
    except modals.BadMetadata:
        refuse(ack, TAMPERED)
        return
    values = modals.form_values(view)
    errors: dict[str, str] = {}
    customer = ""
    try:
        customer = phone.normalise(str(values.get(modals.NUMBER) or ""))
    except phone.InvalidNumber as exc:
        errors[modals.NUMBER] = str(exc)
    link = services.conversations.link_for_number(str(values.get(modals.LINKED) or ""))
    if link is None:
        errors[modals.LINKED] = "Choose one of the linked WhatsApp numbers."
    elif customer == link.channel_number:
        errors[modals.NUMBER] = "That is the business's own number: enter the customer's."
    chosen, params, more = template_and_params(services, values, optional=False)
    errors.update(more)
    if (
        link is not None
        and not errors
        and not surface.is_member(client, link.slack_channel_id, user)
    ):
        name = services.names.channel(link.slack_channel_id) or link.slack_channel_id
        errors[modals.LINKED] = (
            f"You are not in #{name}, where this conversation opens. Join it first."
        )
    if not accepted(ack, services, view, errors) or link is None or chosen is None:
        return
    send(client, services, user, link, customer, chosen, params)


def register(app: App, services: Services) -> None:
    """Bind the template picker, the new-chat shortcut and the template modals' Submit."""
    app.action(modals.TEMPLATE_PICK)(functools.partial(handle_template_pick, services=services))
    app.shortcut(NEW_CHAT_SHORTCUT)(functools.partial(handle_new_chat, services=services))
    app.view(modals.TEMPLATE_VIEW)(functools.partial(handle_template_submission, services=services))
    app.view(modals.NEW_CHAT_VIEW)(functools.partial(handle_new_chat_submission, services=services))
