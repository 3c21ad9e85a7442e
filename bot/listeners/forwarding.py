"""The "Send to WhatsApp" message shortcut: a Slack message forwarded to a customer's open
conversation. The forward goes out through the outbox (`bot.chatops.forwarding`)."""

from __future__ import annotations

import functools
import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.chatops.conversations import WINDOW_CLOSED, Conversation
from bot.chatops.errors import ChatOpsError
from bot.chatops.services import Services
from bot.listeners import surface
from bot.listeners.forms import TAMPERED, accepted, refuse
from bot.listeners.refusals import told, where
from bot.listeners.templates import report
from bot.slack import modals

logger = logging.getLogger(__name__)

FORWARD_SHORTCUT = "send_to_whatsapp"


def handle_forward(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
    ack()
    channel, user = where(body)
    view = surface.open_loading(client, body["trigger_id"], "Send to WhatsApp")
    if view is None:
        return
    try:
        content = surface.forward_view(services, channel, body.get("message") or {})
    except ChatOpsError as exc:
        content = modals.notice("Send to WhatsApp", exc.message)
    surface.show(client, view, content)
    logger.info("forward modal opened by %s", user)


def target(
    services: Services, client: WebClient, chosen: object, source: str, user: str
) -> Conversation:
    """The open conversation chosen in the forward modal; ChatOpsError says why it cannot be."""
    conv = services.conversations.chosen(chosen)
    if not services.conversations.window_open(conv.chat):
        raise ChatOpsError(WINDOW_CLOSED.replace("*", ""))
    channel = conv.thread.slack_channel_id
    if channel != source and not surface.is_member(client, channel, user):
        raise ChatOpsError("You are not in that conversation's channel. Join it first.")
    return conv


def handle_forward_submission(
    ack: Ack, body: dict[str, Any], client: WebClient, view: dict[str, Any], services: Services
) -> None:
    user = body["user"]["id"]
    try:
        meta = modals.load_meta(view.get("private_metadata"), "forward")
    except modals.BadMetadata:
        refuse(ack, TAMPERED)
        return
    source = str(meta.get("channel") or "")
    values = modals.form_values(view)
    text = str(values.get(modals.TEXT) or "")
    errors: dict[str, str] = {}
    conv = None
    try:
        conv = target(services, client, values.get(modals.CONVERSATION), source, user)
    except ChatOpsError as exc:
        errors[modals.CONVERSATION] = exc.message
    if not text.strip():
        errors[modals.TEXT] = "Write the message to send."
    if not accepted(ack, services, view, errors) or conv is None:
        return
    with told(client, conv.thread.slack_channel_id, user):
        sent = services.forwarding.forward(conv, text, user, f"<#{source}>" if source else None)
        report(client, services, user, sent, always=True)


def register(app: App, services: Services) -> None:
    """Bind the shortcut and its modal's Submit."""
    app.shortcut(FORWARD_SHORTCUT)(functools.partial(handle_forward, services=services))
    app.view(modals.FORWARD_VIEW)(functools.partial(handle_forward_submission, services=services))
