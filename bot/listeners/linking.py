"""`/wati link`, `/wati unlink` and `/wati status`: which channel serves which number."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.chatops import numbers
from bot.chatops.services import Services
from bot.listeners.invocation import Invocation
from bot.store.links import LinkConflict
from bot.text import phone

if TYPE_CHECKING:  # a name in annotations: listeners call nothing of Wati
    from bot.wati.types import AccountNumber

LINK_PICK = "wati_link_pick"  # the number picker of `/wati link`; commands.py binds it
MAX_OPTIONS = 100  # Slack's limit for a static_select


def link(call: Invocation, services: Services) -> None:
    """`/wati link [number]`: checked against the account's numbers when Wati lists them."""
    raw = call.rest()
    found = services.channels.listing()
    if not raw:
        offer_numbers(call, services, found)
        return
    try:
        number = phone.normalise(raw)
    except phone.InvalidNumber as exc:
        call.tell(str(exc))
        return
    note = ""
    if found.numbers is None:
        note = (
            f"Wati did not list the account's numbers ({found.problem}), so I could not "
            f"check that {phone.display(number)} is one of them; linking it as typed."
        )
    elif not found.has(number) and found.complete:
        call.tell(
            f"{phone.display(number)} is not a WhatsApp number of this Wati account. "
            f"Its numbers: {_listed(found)}. Run `/wati link` alone to pick one."
        )
        return
    elif not found.has(number):
        note = (
            f"{phone.display(number)} is not in Wati's channel list, which leaves out the "
            "account's default number; linking it as typed."
        )
    link_number(call, services, number, note)


def link_number(call: Invocation, services: Services, number: str, note: str = "") -> None:
    """Link the call's channel to a checked, normalised number (the caller is an admin).

    `note` (a caveat about the number) is told to the caller just before the announcement.
    """
    if not _bot_is_member(call):
        call.tell(
            "I'm not in this channel yet. Invite me first (`/invite @wati-bridge`), "
            f"then run `/wati link {phone.display(number)}` again."
        )
        return
    try:
        linked = services.channels.link(number, call.channel_id, call.user_id)
    except LinkConflict as exc:
        other = exc.existing
        if other.channel_number == number:
            call.tell(
                f"{phone.display(number)} is already linked to <#{other.slack_channel_id}>. "
                "Unlink it there first with `/wati unlink`."
            )
        else:
            call.tell(
                f"This channel is already linked to {phone.display(other.channel_number)}. "
                "A channel serves one number: `/wati unlink` first, or use another channel."
            )
        return
    if note:
        call.tell(note)
    call.announce(
        f"<@{call.user_id}> linked this channel to WhatsApp number "
        f"{phone.display(linked.channel_number)}. "
        "Each customer conversation will appear here as a thread; reply in the thread to answer."
    )


def _bot_is_member(call: Invocation) -> bool:
    try:
        info = call.client.conversations_info(channel=call.channel_id)
    except SlackApiError as exc:
        if exc.response.get("error") in ("channel_not_found", "not_in_channel"):
            return False
        raise
    channel = info.get("channel") or {}
    # Direct messages and group DMs have no membership flag; they cannot be linked anyway.
    return bool(channel.get("is_member"))


def offer_numbers(call: Invocation, services: Services, found: numbers.Listing) -> None:
    """`/wati link` alone: a picker of the account's unlinked numbers."""
    if found.numbers is None:
        call.tell(
            f"Which number? Wati did not list the account's numbers ({found.problem}), so "
            "type it: `/wati link +1 415 555 0100`"
        )
        return
    free = services.channels.unlinked(found)
    if not free:
        taken = f" ({_listed(found)})" if found.numbers else ""
        call.tell(
            f"Every number Wati lists for this account is linked already{taken}. "
            "`/wati unlink` one in its channel first, or type another: `/wati link <number>`."
        )
        return
    call.respond(
        text="Link this channel to which WhatsApp number?",
        blocks=_picker(free[:MAX_OPTIONS], found.complete),
        response_type="ephemeral",
    )


def unlink(call: Invocation, services: Services) -> None:
    """`/wati unlink`."""
    gone = services.channels.unlink(call.channel_id, call.user_id)
    if gone is None:
        call.tell("This channel is not linked to a WhatsApp number.")
        return
    call.announce(
        f"<@{call.user_id}> unlinked WhatsApp number {phone.display(gone.channel_number)} "
        "from this channel. Its messages are no longer relayed here."
    )


def status(call: Invocation, services: Services) -> None:
    """`/wati status`."""
    call.tell(services.channels.status(call.channel_id))


def _listed(found: numbers.Listing) -> str:
    return ", ".join(_option_text(n) for n in found.numbers or ()) or "none"


def _option_text(number: AccountNumber) -> str:
    shown = phone.display(number.number)
    return f"{shown} ({number.name})" if number.name else shown


def _picker(free: list[AccountNumber], complete: bool) -> list[dict[str, Any]]:
    text = "*Link this channel to which WhatsApp number?* These are the account's unlinked numbers."
    if not complete:
        text += " (Wati leaves the default number out of this list: type it with `/wati link <number>`.)"
    return [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": text},
            "accessory": {
                "type": "static_select",
                "action_id": LINK_PICK,
                "placeholder": {"type": "plain_text", "text": "Choose a number"},
                "options": [
                    {
                        "text": {"type": "plain_text", "text": _option_text(n)[:75]},
                        "value": n.number,
                    }
                    for n in free
                ],
            },
        }
    ]
