"""`/wati forget <customer>` (admins): a confirmation, then the erasure and its report.

The work is in `bot.privacy`: the rows go in one transaction when the admin presses Erase,
then the bridge's Slack posts of those conversations are cleaned and the report replaces the
question. The subcommand's row is in `commands.SUBCOMMANDS` (admins only, checked there).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.chatops.services import Services
from bot.listeners.invocation import Invocation, admins_are, is_admin
from bot.privacy.identify import UnknownCustomer, read_customer
from bot.slack.erasure_blocks import FORGET_CANCEL, FORGET_CONFIRM, forget_confirmation
from bot.text.formatting import escape

logger = logging.getLogger(__name__)

HELP = (
    "`/wati forget <number, BSUID or @username>` — erase a customer from the bridge and from "
    "its Slack posts (admins)"
)
DOING = "erase a customer"


def forget(call: Invocation, services: Services) -> None:
    """`/wati forget <customer>`: say what would go, and ask."""
    typed = call.rest()
    if not typed:
        call.tell("Forget whom? For example `/wati forget +44 7700 900123` or `/wati forget @bob`.")
        return
    try:
        customer = read_customer(typed)
    except UnknownCustomer as exc:
        call.tell(str(exc))
        return
    keys = services.eraser.chats(customer)
    if not keys:
        call.tell(f"The bridge holds nothing about {escape(customer.shown())}: nothing to erase.")
        return
    numbers = len({number for number, _ in keys})
    call.respond(
        response_type="ephemeral",
        **forget_confirmation(escape(customer.shown()), typed, len(keys), numbers),
    )


def handle_forget_confirm(
    ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient, services: Services
) -> None:
    """Erase: the rows at once, then Slack; the report replaces the question."""
    ack()
    user = str((body.get("user") or {}).get("id") or "")
    if not is_admin(services, client, user):
        respond(text=f"Only {admins_are(services)} can {DOING}.", replace_original=True)
        return
    typed = str(((body.get("actions") or [{}])[0]).get("value") or "")
    try:
        customer = read_customer(typed)
    except UnknownCustomer as exc:
        respond(text=str(exc), replace_original=True)
        return
    eraser = services.eraser
    erasure_id = eraser.forget(customer, by=user)
    if erasure_id is None:
        respond(text="Nothing left to erase (it was erased already).", replace_original=True)
        return
    respond(text=":hourglass: Erasing… the report follows here.", replace_original=True)
    try:
        eraser.finish()
    except Exception as exc:  # noqa: BLE001 - the bridge's erase job finishes it later
        logger.warning("erasure %d: Slack clean-up interrupted: %s", erasure_id, type(exc).__name__)
    respond(text=escape("\n".join(eraser.report(erasure_id).lines())), replace_original=True)


def handle_forget_cancel(ack: Ack, respond: Respond) -> None:
    """Cancel: nothing happens."""
    ack()
    respond(text="Nothing was erased.", replace_original=True)


def register(app: App, services: Services) -> None:
    """Bind the Erase and Cancel buttons of `/wati forget`'s question."""
    app.action(FORGET_CONFIRM)(functools.partial(handle_forget_confirm, services=services))
    app.action(FORGET_CANCEL)(handle_forget_cancel)
