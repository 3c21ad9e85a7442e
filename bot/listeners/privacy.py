"""`/wati forget <customer>` (admins): a confirmation, then the erasure and its report.

The work is in `bot.privacy`: the rows go in one transaction when the admin confirms, then the
bridge's Slack posts of those conversations are cleaned and the report replaces the question.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.listeners.commands import Invocation, WatiCommand
from bot.privacy.erasure import Eraser
from bot.privacy.identify import UnknownCustomer, find_chats, read_customer
from bot.slack.erasure_blocks import FORGET_CANCEL, FORGET_CONFIRM, forget_confirmation
from bot.text.formatting import escape

logger = logging.getLogger(__name__)

HELP_LINE = (
    "• `/wati forget <number, BSUID or @username>` — erase a customer from the bridge and "
    "from its Slack posts (admins)"
)
WHAT = "erase a customer"


def register(app: App, command: WatiCommand, eraser: Eraser) -> None:
    """Add `/wati forget` and bind its Erase and Cancel buttons."""
    command.add("forget", lambda call: ask(call, command, eraser), HELP_LINE)

    @app.action(FORGET_CONFIRM)
    def handle_forget_confirm(
        ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient
    ) -> None:
        ack()
        confirm(body, respond, client, command, eraser)

    @app.action(FORGET_CANCEL)
    def handle_forget_cancel(ack: Ack, respond: Respond) -> None:
        ack()
        respond(text="Nothing was erased.", replace_original=True)


def ask(call: Invocation, command: WatiCommand, eraser: Eraser) -> None:
    """`/wati forget <customer>`: say what would go, and ask."""
    if not command.require_admin(call, WHAT):
        return
    typed = " ".join(call.args[1:]).strip()
    if not typed:
        call.tell("Forget whom? For example `/wati forget +44 7700 900123` or `/wati forget @bob`.")
        return
    try:
        customer = read_customer(typed)
    except UnknownCustomer as exc:
        call.tell(str(exc))
        return
    keys = find_chats(eraser.store, customer)
    if not keys:
        call.tell(f"The bridge holds nothing about {escape(customer.shown())}: nothing to erase.")
        return
    numbers = len({number for number, _ in keys})
    call.respond(
        response_type="ephemeral",
        **forget_confirmation(escape(customer.shown()), typed, len(keys), numbers),
    )


def confirm(
    body: dict[str, Any], respond: Respond, client: WebClient, command: WatiCommand, eraser: Eraser
) -> None:
    """Erase: the rows at once, then Slack; the report replaces the question."""
    user = str((body.get("user") or {}).get("id") or "")
    if not command.is_admin(client, user):
        respond(text="Only admins can erase a customer.", replace_original=True)
        return
    typed = str(((body.get("actions") or [{}])[0]).get("value") or "")
    try:
        customer = read_customer(typed)
    except UnknownCustomer as exc:
        respond(text=str(exc), replace_original=True)
        return
    erasure_id = eraser.forget(customer, by=user)
    if erasure_id is None:
        respond(text="Nothing left to erase (it was erased already).", replace_original=True)
        return
    respond(text=":hourglass: Erasing… the report follows here.", replace_original=True)
    try:
        eraser.finish()
    except Exception as exc:  # noqa: BLE001 - the bridge's privacy job finishes it later
        logger.warning("erasure %d: Slack clean-up interrupted: %s", erasure_id, type(exc).__name__)
    lines = eraser.report(erasure_id).lines()
    respond(text=escape("\n".join(lines)), replace_original=True)
