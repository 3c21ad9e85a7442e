"""Bolt listeners for the chat-op modals' Submit.

Each one reads the modal's private_metadata and checks it still names a linked channel and a
conversation of that channel (a refusal replaces the modal with plain words), validates the
fields (`response_action: errors`), records the view's id and hash once so a double submit or
a replay does nothing twice, acknowledges, and only then calls Wati.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.chatops.bulk import BulkReport
from bot.chatops.errors import ChatOpsError
from bot.chatops.operations import WINDOW_CLOSED, ChatOps, Conversation, Sent
from bot.chatops.recipients import ATTRIBUTE_NAME, attribute_rows, failure_lines, recipients
from bot.customers import identity
from bot.listeners.commands import WatiCommand
from bot.listeners.refusals import told
from bot.listeners.surface import Surface, is_member, read_csv_file, tell
from bot.slack import modals
from bot.store.links import Link
from bot.text import phone
from bot.wati.types import Template

logger = logging.getLogger(__name__)

TAMPERED = "This form's context is not one the bridge made, so nothing was done."
FILL_IN = "Fill this in: the template needs it."


def _refuse(ack: Ack, text: str, title: str = "Not done") -> None:
    ack(response_action="update", view=modals.notice(title, text))


def _template_and_params(
    ops: ChatOps, values: Mapping[str, Any], *, optional: bool
) -> tuple[Template | None, dict[str, str], dict[str, str]]:
    """The chosen approved template, its parameter values, and field errors."""
    try:
        template = ops.template(str(values.get(modals.TEMPLATE) or ""))
    except ChatOpsError as exc:
        return None, {}, {modals.TEMPLATE: exc.message}
    if template is None:
        return None, {}, {modals.TEMPLATE: "Choose one of the approved templates."}
    if any(modals.PARAM + p not in values for p in template.params):
        return None, {}, {modals.TEMPLATE: "Choose the template again to fill in its parameters."}
    params = modals.params_of(values, template)
    errors = (
        {} if optional else {modals.PARAM + p: FILL_IN for p, v in params.items() if not v.strip()}
    )
    return template, params, errors


def _forward_target(
    ops: ChatOps, client: WebClient, chosen: object, source: str, user: str
) -> Conversation:
    """The open conversation chosen in the forward modal; ChatOpsError says why it cannot be."""
    thread_id = str(chosen or "")
    thread = ops.store.thread(int(thread_id)) if thread_id.isdigit() else None
    if thread is None:
        raise ChatOpsError("Choose one of the open conversations.")
    conv = ops.conversation(thread.id, thread.slack_channel_id)
    if thread.state not in ("open", "opening"):
        raise ChatOpsError("That conversation is resolved; reopen it first.")
    if not ops.window_open(conv.chat):
        raise ChatOpsError(WINDOW_CLOSED.replace("*", ""))
    if thread.slack_channel_id != source and not is_member(client, thread.slack_channel_id, user):
        raise ChatOpsError("You are not in that conversation's channel. Join it first.")
    return conv


def _accepted(ack: Ack, ops: ChatOps, view: Mapping[str, Any], errors: Mapping[str, str]) -> bool:
    """Answer the submission: its field errors, or close the modal. True only when it is
    valid and seen for the first time (a double submit or a replay of the same view id and
    hash is acknowledged and does nothing)."""
    if errors:
        ack(response_action="errors", errors=dict(errors))
        return False
    first = ops.store.first_sighting(f"view:{view.get('id')}:{view.get('hash')}")
    ack()
    return first


def register(app: App, ops: ChatOps, surface: Surface, command: WatiCommand) -> None:
    """Bind the modals' submit handlers."""

    def report(client: WebClient, user: str, sent: Sent, *, always: bool) -> None:
        """Tell the sender how it went, with a link to the thread when it is elsewhere."""
        if sent.ok and not always:
            return
        text = sent.summary
        link = ops.permalink(sent.thread)
        if link:
            text += f" <{link}|Open the conversation>"
        tell(client, sent.thread.slack_channel_id, user, text)

    @app.view(modals.TEMPLATE_VIEW)
    def handle_template_submission(
        ack: Ack, body: dict[str, Any], client: WebClient, view: dict[str, Any]
    ) -> None:
        user = body["user"]["id"]
        try:
            meta = modals.load_meta(view.get("private_metadata"), "template")
            link = ops.linked(str(meta.get("channel")))
            if meta.get("thread") is not None:
                customer = ops.conversation(
                    meta["thread"], link.slack_channel_id
                ).chat.customer_number
            else:
                customer = identity.parse_key(str(meta.get("number")))
        except modals.BadMetadata:
            _refuse(ack, TAMPERED)
            return
        except phone.InvalidNumber as exc:
            _refuse(ack, str(exc))
            return
        except ChatOpsError as exc:
            _refuse(ack, exc.message)
            return
        template, params, errors = _template_and_params(
            ops, modals.form_values(view), optional=False
        )
        if not _accepted(ack, ops, view, errors) or template is None:
            return
        send(client, user, link, customer, template, params, shown_in=meta.get("thread"))

    def send(
        client: WebClient,
        user: str,
        link: Link,
        customer: str,
        template: Template,
        params: dict[str, str],
        *,
        shown_in: object = None,
    ) -> None:
        """Send; tell the sender unless it went well in the thread they sent it from."""
        with told(client, link.slack_channel_id, user):
            sent = ops.send_template(link, customer, template, params, user)
            report(client, user, sent, always=sent.thread.id != shown_in)

    @app.view(modals.NEW_CHAT_VIEW)
    def handle_new_chat_submission(
        ack: Ack, body: dict[str, Any], client: WebClient, view: dict[str, Any]
    ) -> None:
        user = body["user"]["id"]
        try:
            modals.load_meta(view.get("private_metadata"), "new_chat")
        except modals.BadMetadata:
            _refuse(ack, TAMPERED)
            return
        values = modals.form_values(view)
        errors: dict[str, str] = {}
        customer = ""
        try:
            customer = phone.normalise(str(values.get(modals.NUMBER) or ""))
        except phone.InvalidNumber as exc:
            errors[modals.NUMBER] = str(exc)
        link = ops.store.link_for_number(str(values.get(modals.LINKED) or ""))
        if link is None:
            errors[modals.LINKED] = "Choose one of the linked WhatsApp numbers."
        elif customer == link.channel_number:
            errors[modals.NUMBER] = "That is the business's own number: enter the customer's."
        template, params, more = _template_and_params(ops, values, optional=False)
        errors.update(more)
        if link is not None and not errors and not is_member(client, link.slack_channel_id, user):
            name = surface.names.channel(link.slack_channel_id) or link.slack_channel_id
            errors[modals.LINKED] = (
                f"You are not in #{name}, where this conversation opens. Join it first."
            )
        if not _accepted(ack, ops, view, errors) or link is None or template is None:
            return
        send(client, user, link, customer, template, params)

    @app.view(modals.FORWARD_VIEW)
    def handle_forward_submission(
        ack: Ack, body: dict[str, Any], client: WebClient, view: dict[str, Any]
    ) -> None:
        user = body["user"]["id"]
        try:
            meta = modals.load_meta(view.get("private_metadata"), "forward")
        except modals.BadMetadata:
            _refuse(ack, TAMPERED)
            return
        source = str(meta.get("channel") or "")
        values = modals.form_values(view)
        text = str(values.get(modals.TEXT) or "")
        errors: dict[str, str] = {}
        conv = None
        try:
            conv = _forward_target(ops, client, values.get(modals.CONVERSATION), source, user)
        except ChatOpsError as exc:
            errors[modals.CONVERSATION] = exc.message
        if not text.strip():
            errors[modals.TEXT] = "Write the message to send."
        if not _accepted(ack, ops, view, errors) or conv is None:
            return
        with told(client, conv.thread.slack_channel_id, user):
            sent = ops.forward(conv, text, user, f"<#{source}>" if source else None)
            report(client, user, sent, always=True)

    @app.view(modals.CONTACT_VIEW)
    def handle_contact_submission(
        ack: Ack, body: dict[str, Any], client: WebClient, view: dict[str, Any]
    ) -> None:
        user = body["user"]["id"]
        try:
            meta = modals.load_meta(view.get("private_metadata"), "contact")
            link = ops.linked(str(meta.get("channel")))
            number = identity.parse_key(str(meta.get("number")))
            thread_ts = None
            if meta.get("thread") is not None:
                conv = ops.conversation(meta["thread"], link.slack_channel_id)
                if conv.chat.customer_number != number:
                    raise modals.BadMetadata("number and thread disagree")
                thread_ts = conv.thread.thread_ts
        except (modals.BadMetadata, phone.InvalidNumber):
            _refuse(ack, TAMPERED)
            return
        except ChatOpsError as exc:
            _refuse(ack, exc.message)
            return
        values = modals.form_values(view)
        attributes = modals.attributes_of(values)
        errors: dict[str, str] = {}
        new_name, new_value = values.get(modals.NEW_ATTR_NAME), values.get(modals.NEW_ATTR_VALUE)
        if new_name and not ATTRIBUTE_NAME.match(str(new_name)):
            errors[modals.NEW_ATTR_NAME] = "Use letters, digits and _ (up to 64)."
        elif new_name and not new_value:
            errors[modals.NEW_ATTR_VALUE] = "Give the new attribute a value."
        elif new_value and not new_name:
            errors[modals.NEW_ATTR_NAME] = "Name the new attribute."
        elif new_name and new_value:
            attributes[str(new_name)] = str(new_value)
        adding = meta.get("mode") == "add"
        name = str(values.get(modals.NAME) or "")
        if adding and not name:
            errors[modals.NAME] = "Give the contact a name."
        if not _accepted(ack, ops, view, errors):
            return
        try:
            said = ops.contacts.save(number, name=name, attributes=attributes, exists=not adding)
        except ChatOpsError as exc:
            said = exc.message
        tell(client, link.slack_channel_id, user, said, thread_ts=thread_ts)

    def admin_link(
        ack: Ack, client: WebClient, user: str, view: dict[str, Any], kind: str, what: str
    ) -> Link | None:
        """The linked channel a bulk form belongs to, when its submitter is an admin."""
        try:
            meta = modals.load_meta(view.get("private_metadata"), kind)
            link = ops.linked(str(meta.get("channel")))
        except modals.BadMetadata:
            _refuse(ack, TAMPERED)
            return None
        except ChatOpsError as exc:
            _refuse(ack, exc.message)
            return None
        if not command.is_admin(client, user):
            _refuse(ack, f"Only the bridge's admins can {what}.")
            return None
        return link

    @app.view(modals.BROADCAST_VIEW)
    def handle_broadcast_submission(
        ack: Ack, body: dict[str, Any], client: WebClient, view: dict[str, Any]
    ) -> None:
        user = body["user"]["id"]
        link = admin_link(ack, client, user, view, "broadcast", "broadcast")
        if link is None:
            return
        values = modals.form_values(view)
        template, defaults, errors = _template_and_params(ops, values, optional=True)
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
        if not _accepted(ack, ops, view, errors) or template is None:
            return
        with told(client, link.slack_channel_id, user):
            try:
                csv_text = read_csv_file(client, files[0]) if files else None
                found = recipients(pasted, csv_text, template.params, defaults)
            except ValueError as exc:
                raise ChatOpsError(f"Nothing was sent: {exc}.") from exc
            name = values.get(modals.BROADCAST_NAME)
            ops.bulk.broadcast(
                link, template, found.receivers, found.failures, user, str(name) if name else None
            )
            if found.duplicates:
                said = f"{found.duplicates} repeated number(s) got the template once."
                tell(client, link.slack_channel_id, user, said)

    @app.view(modals.ATTRIBUTES_VIEW)
    def handle_attributes_submission(
        ack: Ack, body: dict[str, Any], client: WebClient, view: dict[str, Any]
    ) -> None:
        user = body["user"]["id"]
        link = admin_link(ack, client, user, view, "attributes", "change contacts in bulk")
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
        if not _accepted(ack, ops, view, errors):
            return
        with told(client, link.slack_channel_id, user):
            try:
                rows = attribute_rows(read_csv_file(client, files[0]) if files else pasted)
            except ValueError as exc:
                raise ChatOpsError(f"Nothing was changed: {exc}.") from exc
            done = ops.bulk.update_attributes(rows.rows, rows.failures)
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
        tell(client, link.slack_channel_id, user, text)
        logger.info(
            "bulk attributes by %s: %d set, %d failed", user, done.accepted, len(done.failed)
        )
