"""Bulk operations for admins: `/wati broadcast` and `/wati attributes`, and their forms'
Submit. The work is in `bot.chatops.broadcasts` and `bot.chatops.bulk`; the lists are read by `bot.chatops.recipients`."""

from __future__ import annotations

import functools
import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.chatops.bulk import BulkReport
from bot.chatops.errors import ChatOpsError
from bot.chatops.recipients import attribute_rows, failure_lines, recipients
from bot.chatops.services import Services
from bot.listeners import surface
from bot.listeners.forms import TAMPERED, accepted, refuse, template_and_params
from bot.listeners.invocation import Invocation, is_admin
from bot.listeners.refusals import told
from bot.slack import modals
from bot.store.links import Link

logger = logging.getLogger(__name__)


def _form_trigger(call: Invocation, services: Services) -> str | None:
    """The trigger to open a bulk form with (only in a linked channel)."""
    services.conversations.linked(call.channel_id)
    if not call.trigger_id:
        call.tell("Slack sent no trigger for a form; please run the command again.")
    return call.trigger_id


def broadcast(call: Invocation, services: Services) -> None:
    """`/wati broadcast` (admins)."""
    trigger_id = _form_trigger(call, services)
    if trigger_id is None:
        return
    meta = {"kind": "broadcast", "channel": call.channel_id}
    surface.open_template(
        services, call.client, trigger_id, modals.BROADCAST_VIEW, meta, title="Broadcast"
    )


def attributes(call: Invocation, services: Services) -> None:
    """`/wati attributes` (admins)."""
    trigger_id = _form_trigger(call, services)
    if trigger_id is None:
        return
    view = modals.attributes_modal(modals.dump_meta("attributes", channel=call.channel_id))
    try:
        call.client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as exc:
        call.tell(f"Slack did not open the form (`{exc.response.get('error')}`); please try again.")


def admin_link(
    ack: Ack,
    client: WebClient,
    services: Services,
    user: str,
    view: dict[str, Any],
    kind: str,
    what: str,
) -> Link | None:
    """The linked channel a bulk form belongs to, when its submitter is an admin."""
    try:
        meta = modals.load_meta(view.get("private_metadata"), kind)
        link = services.conversations.linked(str(meta.get("channel")))
    except modals.BadMetadata:
        refuse(ack, TAMPERED)
        return None
    except ChatOpsError as exc:
        refuse(ack, exc.message)
        return None
    if not is_admin(services, client, user):
        refuse(ack, f"Only the bridge's admins can {what}.")
        return None
    return link


def handle_broadcast_submission(
    ack: Ack, body: dict[str, Any], client: WebClient, view: dict[str, Any], services: Services
) -> None:
    user = body["user"]["id"]
    link = admin_link(ack, client, services, user, view, "broadcast", "broadcast")
    if link is None:
        return
    values = modals.form_values(view)
    template, defaults, errors = template_and_params(services, values, optional=True)
    pasted = str(values.get(modals.RECIPIENTS) or "")
    files = values.get(modals.CSV) or []
    if not pasted and not files:
        errors[modals.RECIPIENTS] = "Paste numbers (one per line) or attach a CSV file."
    elif template is not None and not files:
        try:
            found = recipients(pasted, None, template.params, defaults)
            if not found.receivers:
                given, why = found.failures[0] if found.failures else ("", "no number")
                errors[modals.RECIPIENTS] = f"No usable recipient: {given[:40]}: {why}."
        except ValueError as exc:
            errors[modals.RECIPIENTS] = str(exc)
    if not accepted(ack, services, view, errors) or template is None:
        return
    with told(client, link.slack_channel_id, user):
        try:
            csv_text = surface.read_csv_file(client, files[0]) if files else None
            found = recipients(pasted, csv_text, template.params, defaults)
        except ValueError as exc:
            raise ChatOpsError(f"Nothing was sent: {exc}.") from exc
        name = values.get(modals.BROADCAST_NAME)
        services.broadcasts.start(
            link, template, found.receivers, found.failures, user, str(name) if name else None
        )
        if found.duplicates:
            said = f"{found.duplicates} repeated number(s) got the template once."
            surface.tell(client, link.slack_channel_id, user, said)


def handle_attributes_submission(
    ack: Ack, body: dict[str, Any], client: WebClient, view: dict[str, Any], services: Services
) -> None:
    user = body["user"]["id"]
    link = admin_link(ack, client, services, user, view, "attributes", "change contacts in bulk")
    if link is None:
        return
    values = modals.form_values(view)
    pasted = str(values.get(modals.TEXT) or "")
    files = values.get(modals.CSV) or []
    errors: dict[str, str] = {}
    if not files and not pasted:
        errors[modals.CSV] = "Attach a CSV file or paste the CSV text."
    elif not files:
        try:
            attribute_rows(pasted)
        except ValueError as exc:
            errors[modals.TEXT] = f"{str(exc)[:1].upper()}{str(exc)[1:]}."
    if not accepted(ack, services, view, errors):
        return
    with told(client, link.slack_channel_id, user):
        try:
            rows = attribute_rows(surface.read_csv_file(client, files[0]) if files else pasted)
        except ValueError as exc:
            raise ChatOpsError(f"Nothing was changed: {exc}.") from exc
        done = services.bulk.update_attributes(rows.rows, rows.failures)
        report_attributes(client, link, user, rows.columns, done)


def report_attributes(
    client: WebClient, link: Link, user: str, columns: list[str], done: BulkReport
) -> None:
    text = (
        f"Contact attributes ({', '.join(columns)}) set on {done.accepted:,} contact(s) "
        f"of {done.total:,} row(s)."
    )
    if done.failed:
        text += "\n*Not changed:*\n" + failure_lines(done.failed)
    surface.tell(client, link.slack_channel_id, user, text)
    logger.info("bulk attributes by %s: %d set, %d failed", user, done.accepted, len(done.failed))


def register(app: App, services: Services) -> None:
    """Bind the broadcast and bulk-attributes forms' Submit."""
    app.view(modals.BROADCAST_VIEW)(
        functools.partial(handle_broadcast_submission, services=services)
    )
    app.view(modals.ATTRIBUTES_VIEW)(
        functools.partial(handle_attributes_submission, services=services)
    )
