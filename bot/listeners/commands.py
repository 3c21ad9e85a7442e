"""The `/wati` slash command: the one table of its subcommands, help drawn from that table,
and the dispatch (who may run what; refusals told to the caller, never a crash).

A new subcommand is a handler (in the module of its concept) and a row here.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.chatops.errors import ChatOpsError
from bot.chatops.services import Services
from bot.listeners import bulk, contacts, linking, owners, privacy, saved_replies, templates
from bot.listeners.invocation import (
    ADMINS,
    ADMINS_HINT,
    Invocation,
    Subcommand,
    admins_are,
    is_admin,
)
from bot.listeners.refusals import where

logger = logging.getLogger(__name__)

HEAD = "*wati-bridge* — WhatsApp conversations in Slack threads."
FOOT = (
    "Reply in a conversation's thread to answer the customer; start a reply with `note:` to "
    "keep it internal."
)


def show_help(call: Invocation, services: Services) -> None:
    """`/wati help`."""
    call.tell(help_text())


SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand(
        "link",
        linking.link,
        "`/wati link <number>` — link this channel to a WhatsApp number of the Wati account (admins)",
        ADMINS,
        "link a channel",
    ),
    Subcommand(
        "unlink",
        linking.unlink,
        "`/wati unlink` — stop relaying this channel's number (admins)",
        ADMINS,
        "unlink a channel",
    ),
    Subcommand(
        "status",
        linking.status,
        "`/wati status` — the linked number, open conversations, polling and Wati quota",
    ),
    Subcommand(
        "find",
        contacts.find,
        "`/wati find <number or name>` — a link to the customer's conversation thread",
    ),
    Subcommand(
        "contacts",
        contacts.contacts,
        "`/wati contacts <name or number>` — look up Wati contacts, see and edit their attributes",
    ),
    Subcommand(
        "template",
        templates.template,
        "`/wati template <number> [template]` — send an approved template (starts a conversation)",
    ),
    Subcommand(
        "broadcast",
        bulk.broadcast,
        "`/wati broadcast` — one template to many numbers, pasted or from a CSV file (admins)",
        ADMINS,
        "broadcast",
    ),
    Subcommand(
        "attributes",
        bulk.attributes,
        "`/wati attributes` — set contact attributes in bulk from a CSV file (admins)",
        ADMINS,
        "change contacts in bulk",
    ),
    Subcommand(
        "assign",
        owners.assign,
        "`/wati assign @someone <number>` — make a teammate the owner of that customer's conversation",
    ),
    Subcommand(
        "unassign",
        owners.unassign,
        "`/wati unassign <number>` — leave that customer's conversation without an owner",
    ),
    Subcommand(
        "replies",
        saved_replies.replies,
        "`/wati replies [add <name> <text> | remove <name>]` — the saved replies (admins add and remove)",
    ),
    Subcommand("forget", privacy.forget, privacy.HELP, ADMINS, privacy.DOING),
    Subcommand("help", show_help, "`/wati help` — this list"),
)
BY_NAME = {sub.name: sub for sub in SUBCOMMANDS}


def help_text() -> str:
    """`/wati help`, one line per row of the table."""
    lines = [HEAD, *(f"• {sub.help}" for sub in SUBCOMMANDS), FOOT]
    return "\n".join(lines)


def run(call: Invocation, services: Services) -> None:
    """Run one invocation; refusals and Slack errors become a plain message, never a crash."""
    name = call.args[0].lower() if call.args else "help"
    sub = BY_NAME.get(name)
    if sub is None:
        call.tell(f"I don't know `/wati {name}`.\n\n{help_text()}")
        return
    try:
        if sub.who == ADMINS and not is_admin(services, call.client, call.user_id):
            call.tell(f"Only {admins_are(services)} can {sub.doing}. {ADMINS_HINT}")
            return
        sub.handler(call, services)
    except ChatOpsError as exc:
        call.tell(exc.message)  # a refusal, in plain words
    except SlackApiError as exc:
        logger.warning("/wati %s: Slack error %s", name, exc.response.get("error"))
        call.tell(f"Slack refused that: `{exc.response.get('error')}`. Please try again.")


def handle_wati_command(
    ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, services: Services
) -> None:
    """`/wati …`."""
    ack()
    call = Invocation(
        user_id=body["user_id"],
        channel_id=body["channel_id"],
        args=(body.get("text") or "").split(),
        respond=respond,
        client=client,
        trigger_id=body.get("trigger_id"),
        payload=body,
    )
    run(call, services)


def handle_link_pick(
    ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, services: Services
) -> None:
    """A number chosen in `/wati link`'s picker: the same as typing it."""
    ack()
    channel, user = where(body)
    chosen = ((body.get("actions") or [{}])[0].get("selected_option") or {}).get("value")
    if not channel or not chosen:
        return
    run(Invocation(user, channel, ["link", str(chosen)], respond, client, payload=body), services)


def register(app: App, services: Services) -> None:
    """Bind `/wati` and the number picker of `/wati link`."""
    app.command("/wati")(functools.partial(handle_wati_command, services=services))
    app.action(linking.LINK_PICK)(functools.partial(handle_link_pick, services=services))
