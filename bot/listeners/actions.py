"""Bolt listeners for chat-ops: the thread parent's buttons, the shortcuts, the template picker,
and (through `submissions` and `subcommands`) the modals and the `/wati` subcommands.

Every listener acknowledges first (Slack wants an answer within 3 s), then checks that the
channel is linked and the conversation is that channel's, then does the slow work. Refusals and
failures reach the user as plain ephemeral words. This module never talks to Wati itself.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.chatops.errors import ChatOpsError
from bot.chatops.operations import ChatOps
from bot.listeners import subcommands, submissions
from bot.listeners.commands import Invocation, WatiCommand
from bot.listeners.refusals import answers_refusals, where
from bot.listeners.surface import Surface, tell
from bot.slack import blocks, modals
from bot.slack.reader import SlackNames

logger = logging.getLogger(__name__)

NEW_CHAT_SHORTCUT = "new_whatsapp_chat"
FORWARD_SHORTCUT = "send_to_whatsapp"
# Shortcut callback ids and their kinds, as manifest.yml must declare them.
SHORTCUTS = {NEW_CHAT_SHORTCUT: "global", FORWARD_SHORTCUT: "message"}
CALLBACK_IDS = frozenset(SHORTCUTS)
# Buttons in messages: the thread parent's, and "View" in `/wati contacts` answers.
CONTACT_OPEN = subcommands.CONTACT_OPEN
BUTTONS = (blocks.RESOLVE, blocks.REOPEN, blocks.SEND_TEMPLATE, blocks.CONTACT, CONTACT_OPEN)
SUBCOMMANDS = subcommands.SUBCOMMANDS
TEMPLATE_KINDS = {
    modals.TEMPLATE_VIEW: "template",
    modals.NEW_CHAT_VIEW: "new_chat",
    modals.BROADCAST_VIEW: "broadcast",
}


def _value(body: dict[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value") or "")


def register(app: App, ops: ChatOps, command: WatiCommand, names: SlackNames) -> None:
    """Bind the chat-op buttons, shortcuts, modals and `/wati` subcommands."""
    surface = Surface(ops, names)

    def change_status(body: dict[str, Any], client: WebClient, *, resolve: bool) -> None:
        channel, user = where(body)
        conv = ops.conversation(_value(body), channel)
        changed, said = ops.resolve(conv, user) if resolve else ops.reopen(conv, user)
        if not changed:
            tell(client, channel, user, said)

    @app.action(blocks.RESOLVE)
    @answers_refusals
    def handle_resolve(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        change_status(body, client, resolve=True)

    @app.action(blocks.REOPEN)
    @answers_refusals
    def handle_reopen(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        change_status(body, client, resolve=False)

    @app.action(blocks.SEND_TEMPLATE)
    @answers_refusals
    def handle_send_template(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        channel, _ = where(body)
        conv = ops.conversation(_value(body), channel)
        meta = {"kind": "template", "channel": channel, "thread": conv.thread.id}
        surface.open_template(client, body["trigger_id"], modals.TEMPLATE_VIEW, meta)

    @app.action(blocks.CONTACT)
    @answers_refusals
    def handle_contact(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        channel, _ = where(body)
        conv = ops.conversation(_value(body), channel)
        surface.open_contact(
            client,
            body["trigger_id"],
            channel=channel,
            number=conv.chat.customer_number,
            thread=conv.thread.id,
            name=conv.chat.customer_name,
        )

    @app.action(CONTACT_OPEN)
    @answers_refusals
    def handle_contact_open(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        channel, user = where(body)
        number = _value(body)
        ops.linked(channel)
        if not (number.isascii() and number.isdigit()):
            tell(client, channel, user, "That button does not name a WhatsApp number.")
            return
        surface.open_contact(
            client, body["trigger_id"], channel=channel, number=number, thread=None, name=None
        )

    @app.action(modals.TEMPLATE_PICK)
    def handle_template_pick(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """A template was chosen in a modal: redraw it with that template's parameters."""
        ack()
        view = body.get("view") or {}
        callback_id = str(view.get("callback_id") or "")
        selected = ((body.get("actions") or [{}])[0].get("selected_option") or {}).get("value")
        try:
            meta = modals.load_meta(view.get("private_metadata"), TEMPLATE_KINDS[callback_id])
            content = surface.template_view(callback_id, meta, selected, modals.form_values(view))
        except (KeyError, modals.BadMetadata):
            logger.warning("template picked in an unknown modal %r", callback_id)
            return
        except ChatOpsError as exc:
            content = modals.notice("Send template", exc.message)
        surface.show(client, view, content)

    @app.shortcut(NEW_CHAT_SHORTCUT)
    def handle_new_chat(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        if not ops.store.links():
            text = "No channel is linked to a WhatsApp number yet. An admin can run `/wati link <number>` in a channel."
            client.views_open(
                trigger_id=body["trigger_id"], view=modals.notice("New WhatsApp chat", text)
            )
            return
        meta = {"kind": "new_chat"}
        surface.open_template(
            client, body["trigger_id"], modals.NEW_CHAT_VIEW, meta, title="New WhatsApp chat"
        )

    @app.shortcut(FORWARD_SHORTCUT)
    def handle_forward(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        channel, user = where(body)
        view = surface.open_loading(client, body["trigger_id"], "Send to WhatsApp")
        if view is None:
            return
        try:
            content = surface.forward_view(channel, body.get("message") or {})
        except ChatOpsError as exc:
            content = modals.notice("Send to WhatsApp", exc.message)
        surface.show(client, view, content)
        logger.info("forward modal opened by %s", user)

    submissions.register(app, ops, surface, command)
    subcommands.register(command, ops, surface)

    @app.action(subcommands.LINK_PICK)
    def handle_link_pick(
        ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient
    ) -> None:
        """A number chosen in `/wati link`'s picker: the same as typing it."""
        ack()
        channel, user = where(body)
        chosen = ((body.get("actions") or [{}])[0].get("selected_option") or {}).get("value")
        if not channel or not chosen:
            return
        call = Invocation(user, channel, ["link", str(chosen)], respond, client, payload=body)
        command.run(call)
