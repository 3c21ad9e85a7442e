"""`/wati assign @someone <number>` and `/wati unassign <number>`: who owns a conversation.
(The parent's **Assign to me** is in `parent`; the work is in `bot.chatops.owners`.)"""

from __future__ import annotations

import re

from bot.chatops.conversations import Conversation
from bot.chatops.errors import ChatOpsError
from bot.chatops.services import Services
from bot.customers import identity
from bot.listeners.invocation import Invocation
from bot.text import phone
from bot.text.formatting import escape

MENTION = re.compile(r"^<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>$")


def conversation_of(call: Invocation, services: Services, words: list[str]) -> Conversation:
    """The open conversation with the customer whose number the caller typed."""
    link = services.conversations.linked(call.channel_id)
    if not words:
        raise ChatOpsError(
            "Which customer? Give their number, e.g. `/wati assign @sam +44 7700 900123`."
        )
    try:
        number = identity.parse_key(" ".join(words))
    except phone.InvalidNumber as exc:
        raise ChatOpsError(str(exc)) from None
    return services.conversations.open_with(link, number)


def assign(call: Invocation, services: Services) -> None:
    """`/wati assign @someone <number>`."""
    words = call.args[1:]
    who = next((MENTION.match(w) for w in words if MENTION.match(w)), None)
    if who is None:
        plain = next((w for w in words if w.startswith("@")), None)
        hint = (
            f"I could not tell who {escape(plain)} is: pick the person from Slack's suggestions "
            "as you type, so the mention is a real one."
            if plain
            else "Whom? For example `/wati assign @sam +44 7700 900123`."
        )
        raise ChatOpsError(hint)
    rest = [w for w in words if not MENTION.match(w)]
    conv = conversation_of(call, services, rest)
    call.tell(services.desk.owners.assign(conv, who.group(1), by=call.user_id))


def unassign(call: Invocation, services: Services) -> None:
    """`/wati unassign <number>`."""
    conv = conversation_of(call, services, call.args[1:])
    call.tell(services.desk.owners.unassign(conv, by=call.user_id))
