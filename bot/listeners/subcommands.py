"""The chat-op `/wati` subcommands: find, contacts, template, broadcast, attributes.

They run after `/wati` was acknowledged; each answers only the caller (ephemeral) and works
only in a linked channel.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError

from bot.chatops import numbers
from bot.chatops.errors import ChatOpsError
from bot.chatops.operations import ChatOps, label
from bot.listeners.commands import Invocation, WatiCommand
from bot.listeners.surface import Surface
from bot.slack import modals
from bot.store.links import Link
from bot.text import phone
from bot.text.formatting import escape
from bot.wati.types import AccountNumber

CONTACT_OPEN = "wati_contact_open"  # the "View" button; actions.py binds it
LINK_PICK = "wati_link_pick"  # the number picker of `/wati link`; actions.py binds it
MAX_OPTIONS = 100  # Slack's limit for a static_select
MAX_CONTACTS = 10
HELP_LINES = {
    "find": "• `/wati find <number or name>` — a link to the customer's conversation thread",
    "contacts": "• `/wati contacts <name or number>` — look up Wati contacts, see and edit their attributes",
    "template": "• `/wati template <number> [template]` — send an approved template (starts a conversation)",
    "broadcast": "• `/wati broadcast` — one template to many numbers, pasted or from a CSV file (admins)",
    "attributes": "• `/wati attributes` — set contact attributes in bulk from a CSV file (admins)",
}
SUBCOMMANDS = tuple(HELP_LINES)


def register(command: WatiCommand, ops: ChatOps, surface: Surface) -> None:
    """Add the chat-op subcommands to `/wati`, and the account check to its `link`."""

    def linked(call: Invocation) -> Link:
        return ops.linked(call.channel_id)  # a ChatOpsError is told to the caller by `run`

    def rest(call: Invocation) -> str:
        return " ".join(call.args[1:]).strip()

    def find(call: Invocation) -> None:
        """`/wati find <number or name>`."""
        link = linked(call)
        query = rest(call)
        if not query:
            call.tell("Find whom? For example `/wati find +44 7700 900123` or `/wati find Ana`.")
            return
        found = ops.contacts.find(link, query)
        if not found:
            call.tell(
                f"No conversation found for “{escape(query)}” on {phone.display(link.channel_number)}. "
                "To write first, use `/wati template <number>`."
            )
            return
        lines = []
        for item in found:
            state = "resolved" if item.thread.state == "resolved" else "open"
            where = (
                ""
                if item.here
                else f" — on {phone.display(item.thread.channel_number)} in <#{item.thread.slack_channel_id}>"
            )
            url = ops.permalink(item.thread)
            shown = f"<{url}|{escape(label(item.chat))}>" if url else escape(label(item.chat))
            lines.append(f"• {shown} ({state}){where}")
        call.tell("\n".join(lines))

    def contacts(call: Invocation) -> None:
        """`/wati contacts <name or number>`."""
        linked(call)  # only in a linked channel
        query = rest(call)
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
        found = ops.contacts.search(number or query)
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

    def template(call: Invocation) -> None:
        """`/wati template <number> [template]`."""
        linked(call)  # only in a linked channel
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
            call.client, call.trigger_id, modals.TEMPLATE_VIEW, meta, selected=name
        )
        try:
            unknown = name is not None and ops.template(name) is None
        except ChatOpsError:
            unknown = False  # the form already says the templates could not be listed
        if unknown:
            call.tell(
                f"No approved template is called `{escape(str(name))}`; choose one in the form."
            )

    def admin_form(call: Invocation, what: str) -> Link | None:
        link = linked(call)
        if not command.is_admin(call.client, call.user_id):
            who = "the people in BRIDGE_ADMINS" if command.admins else "workspace admins and owners"
            call.tell(f"Only {who} can {what}.")
            return None
        if not call.trigger_id:
            call.tell("Slack sent no trigger for a form; please run the command again.")
            return None
        return link

    def broadcast(call: Invocation) -> None:
        """`/wati broadcast`."""
        if admin_form(call, "broadcast") is None or call.trigger_id is None:
            return
        meta = {"kind": "broadcast", "channel": call.channel_id}
        surface.open_template(
            call.client, call.trigger_id, modals.BROADCAST_VIEW, meta, title="Broadcast"
        )

    def attributes(call: Invocation) -> None:
        """`/wati attributes`."""
        if admin_form(call, "change contacts in bulk") is None or call.trigger_id is None:
            return
        view = modals.attributes_modal(modals.dump_meta("attributes", channel=call.channel_id))
        try:
            call.client.views_open(trigger_id=call.trigger_id, view=view)
        except SlackApiError as exc:
            call.tell(
                f"Slack did not open the form (`{exc.response.get('error')}`); please try again."
            )

    def link(call: Invocation) -> None:
        """`/wati link [number]`: checked against the account's numbers when Wati lists them."""
        if not command.require_admin(call, "link a channel"):
            return
        raw = rest(call)
        found = numbers.listing(ops.wati)
        if not raw:
            offer_numbers(call, found)
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
        command.link_number(call, number, note)

    def offer_numbers(call: Invocation, found: numbers.Listing) -> None:
        if found.numbers is None:
            call.tell(
                f"Which number? Wati did not list the account's numbers ({found.problem}), so "
                "type it: `/wati link +1 415 555 0100`"
            )
            return
        free = [n for n in found.numbers if command.store.link_for_number(n.number) is None]
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

    handlers = {
        "find": find,
        "contacts": contacts,
        "template": template,
        "broadcast": broadcast,
        "attributes": attributes,
    }
    for name, handler in handlers.items():
        command.add(name, handler, HELP_LINES[name])
    command.handlers["link"] = link  # listed in HELP already


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
