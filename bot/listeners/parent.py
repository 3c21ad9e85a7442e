"""The buttons on a conversation's thread parent, in one place: Resolve, Reopen, Resolve and
ask for a rating, Send template, Contact, Assign to me, Saved reply.

Each acknowledges first (Slack wants an answer within 3 s), checks that the channel is linked
and the conversation is that channel's (the button's value is the thread id), then does the
work through a chat-op service. Refusals reach the clicker as ephemeral words.

A new parent button is a row of `slack.blocks.PARENT_BUTTONS` (and what the parent shows of
its state, from the desk row it is handed), a handler here with its row of `BUTTONS`, and,
when it keeps state, a column of `store.desk_chats.DeskChat` that the handler sets through
`services.desk.marks` (plus its migration).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.chatops.conversations import Conversation
from bot.chatops.services import Services
from bot.listeners import saved_replies, surface
from bot.listeners.refusals import answers_refusals, where
from bot.slack import blocks, modals


def clicked(body: dict[str, Any], services: Services) -> tuple[Conversation, str]:
    """The conversation a parent button names, checked against where it was clicked; the user."""
    channel, user = where(body)
    value = str(((body.get("actions") or [{}])[0]).get("value") or "")
    return services.conversations.conversation(value, channel), user


def change_status(
    body: dict[str, Any], client: WebClient, services: Services, *, resolve: bool
) -> None:
    """Resolve or Reopen; a click that changes nothing (done already) is told why."""
    conv, user = clicked(body, services)
    change = services.status.resolve if resolve else services.status.reopen
    changed, said = change(conv, user)
    if not changed:
        surface.tell(client, conv.link.slack_channel_id, user, said)


@answers_refusals
def handle_resolve(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
    ack()
    change_status(body, client, services, resolve=True)


@answers_refusals
def handle_reopen(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
    ack()
    change_status(body, client, services, resolve=False)


@answers_refusals
def handle_resolve_and_rate(
    ack: Ack, body: dict[str, Any], client: WebClient, services: Services
) -> None:
    """Ask the customer for a rating, then resolve (bot.survey); what happened, to the clicker."""
    ack()
    conv, user = clicked(body, services)
    said = services.surveys.ask_and_resolve(conv, user)
    surface.tell(client, conv.link.slack_channel_id, user, said)


@answers_refusals
def handle_send_template(
    ack: Ack, body: dict[str, Any], client: WebClient, services: Services
) -> None:
    ack()
    conv, _ = clicked(body, services)
    meta = {"kind": "template", "channel": conv.link.slack_channel_id, "thread": conv.thread.id}
    surface.open_template(services, client, body["trigger_id"], modals.TEMPLATE_VIEW, meta)


@answers_refusals
def handle_contact(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
    ack()
    conv, _ = clicked(body, services)
    surface.open_contact(
        services,
        client,
        body["trigger_id"],
        channel=conv.link.slack_channel_id,
        number=conv.chat.customer_number,
        thread=conv.thread.id,
        name=conv.chat.customer_name,
    )


@answers_refusals
def handle_assign_me(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
    ack()
    conv, user = clicked(body, services)
    said = services.desk.owners.assign(conv, user, by=user)
    surface.tell(client, conv.link.slack_channel_id, user, said)


@answers_refusals
def handle_saved_reply(
    ack: Ack, body: dict[str, Any], client: WebClient, services: Services
) -> None:
    ack()
    conv, _ = clicked(body, services)
    replies = services.desk.saved.all()
    if not replies:
        view = modals.notice(
            "Saved reply",
            "There are no saved replies yet. An admin adds one with "
            "`/wati replies add <name> <text>`, e.g. `/wati replies add thanks Thank you, {name}!`",
        )
    else:
        view = saved_replies.saved_view(services, conv, replies, None)
    client.views_open(trigger_id=body["trigger_id"], view=view)


BUTTONS: dict[str, Callable[..., None]] = {
    blocks.RESOLVE: handle_resolve,
    blocks.REOPEN: handle_reopen,
    blocks.RESOLVE_RATE: handle_resolve_and_rate,
    blocks.SEND_TEMPLATE: handle_send_template,
    blocks.CONTACT: handle_contact,
    blocks.ASSIGN_ME: handle_assign_me,
    blocks.SAVED_REPLY: handle_saved_reply,
}


def register(app: App, services: Services) -> None:
    """Bind every button of the thread parent."""
    for action_id, handler in BUTTONS.items():
        app.action(action_id)(functools.partial(handler, services=services))
