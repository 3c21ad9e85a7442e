"""Saved replies: the modal a parent's **Saved reply** opens (pick, preview, send) and
`/wati replies` (list; admins add and remove). The work is in `bot.chatops.saved`."""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.chatops.conversations import Conversation, label
from bot.chatops.errors import ChatOpsError
from bot.chatops.services import Services
from bot.listeners.forms import TAMPERED, accepted, refuse
from bot.listeners.invocation import Invocation, admins_are, is_admin
from bot.listeners.refusals import told
from bot.listeners.surface import tell
from bot.slack import modals, team_views
from bot.store.saved import SavedReply
from bot.text import phone
from bot.text.formatting import escape

logger = logging.getLogger(__name__)

REPLIES_ADD = re.compile(r"^\s*\S+\s+add\s+(\S+)\s*(.*)$", re.DOTALL | re.IGNORECASE)


def saved_view(
    services: Services, conv: Conversation, replies: list[SavedReply], reply: SavedReply | None
) -> dict[str, Any]:
    """The saved-reply modal for a conversation, with `reply`'s preview when one is chosen."""
    intro = f"To *{escape(label(conv.chat))}* from {phone.display(conv.link.channel_number)}."
    if not services.conversations.window_open(conv.chat):
        intro += (
            "\n:lock: The customer's 24-hour window is closed: like a typed reply, this one "
            "will not reach them. Use *Send template* instead."
        )
    listed = [(r.id, r.name, r.text) for r in replies]
    fields: dict[str, Any] = {"channel": conv.link.slack_channel_id, "thread": conv.thread.id}
    if reply is None:
        return team_views.saved_modal(
            meta=modals.dump_meta("saved", **fields), intro=intro, replies=listed
        )
    filled = services.desk.saved.filled(conv, reply)
    fields.update(reply=reply.id, missing=list(filled.missing))
    try:
        meta = modals.dump_meta("saved", **fields, text=filled.text)
    except ValueError:  # too long to carry: filled again when it is sent
        meta = modals.dump_meta("saved", **fields)
    return team_views.saved_modal(
        meta=meta,
        intro=intro,
        replies=listed,
        selected=reply.id,
        preview=filled.text,
        missing=filled.missing,
    )


def handle_saved_pick(
    ack: Ack, body: dict[str, Any], client: WebClient, services: Services
) -> None:
    """A saved reply was chosen: redraw the modal with its preview for this customer."""
    ack()
    view = body.get("view") or {}
    chosen = ((body.get("actions") or [{}])[0].get("selected_option") or {}).get("value")
    try:
        meta = modals.load_meta(view.get("private_metadata"), "saved")
        conv = services.conversations.conversation(meta.get("thread"), str(meta.get("channel")))
        reply = services.desk.saved.chosen(chosen)
        content = saved_view(services, conv, services.desk.saved.all(), reply)
    except modals.BadMetadata:
        logger.warning("saved reply picked in a modal the bridge did not make")
        return
    except ChatOpsError as exc:
        content = modals.notice("Saved reply", exc.message)
    try:
        client.views_update(view_id=view["id"], hash=view.get("hash"), view=content)
    except SlackApiError as exc:
        logger.warning("saved reply modal not updated: %s", exc.response.get("error"))


def handle_saved_submission(
    ack: Ack, body: dict[str, Any], client: WebClient, view: dict[str, Any], services: Services
) -> None:
    user = body["user"]["id"]
    try:
        meta = modals.load_meta(view.get("private_metadata"), "saved")
        conv = services.conversations.conversation(meta.get("thread"), str(meta.get("channel")))
    except modals.BadMetadata:
        refuse(ack, TAMPERED)
        return
    except ChatOpsError as exc:
        refuse(ack, exc.message)
        return
    chosen = modals.form_values(view).get(team_views.SAVED_BLOCK)
    reply = None
    errors: dict[str, str] = {}
    try:
        reply = services.desk.saved.chosen(chosen)
    except ChatOpsError as exc:
        errors[team_views.SAVED_BLOCK] = exc.message
    if reply is not None and str(meta.get("reply")) != str(reply.id):
        errors[team_views.SAVED_BLOCK] = "Choose the reply again to see its preview."
    elif reply is not None and meta.get("missing"):
        names = ", ".join(f"{{{m}}}" for m in meta["missing"])
        errors[team_views.SAVED_BLOCK] = f"Nothing fills {names} for this customer."
    if not accepted(ack, services, view, errors) or reply is None:
        return
    channel, thread_ts = conv.link.slack_channel_id, conv.thread.thread_ts
    with told(client, channel, user, thread_ts=thread_ts):
        text = meta.get("text")
        if not isinstance(text, str):
            filled = services.desk.saved.filled(conv, reply)
            if filled.missing:
                raise ChatOpsError("Not sent: the contact lacks some of the reply's attributes.")
            text = filled.text
        said = services.desk.saved.send(conv, str(view.get("id")), user, reply.name, text)
        if said:
            tell(client, channel, user, said, thread_ts=thread_ts)


def replies(call: Invocation, services: Services) -> None:
    """`/wati replies`, `/wati replies add <name> <text>`, `/wati replies remove <name>`."""
    saved = services.desk.saved
    action = call.args[1].lower() if len(call.args) > 1 else "list"
    if action in ("add", "remove", "delete"):
        if not is_admin(services, call.client, call.user_id):
            raise ChatOpsError(
                f"Only {admins_are(services)} can add or remove saved replies; "
                "everyone can use them."
            )
        if action == "add":
            found = REPLIES_ADD.match(str(call.payload.get("text") or ""))
            if found is None:
                raise ChatOpsError("Name it and write it: `/wati replies add <name> <text>`.")
            call.tell(saved.add(found.group(1), found.group(2), call.user_id))
        else:
            if len(call.args) < 3:
                raise ChatOpsError("Which one? `/wati replies remove <name>`.")
            call.tell(saved.remove(call.args[2]))
        return
    listed = saved.all()
    if not listed:
        call.tell(
            "There are no saved replies yet. Admins add them with "
            "`/wati replies add <name> <text>`; `{name}` and contact attributes such as "
            "`{city}` are filled in for each customer."
        )
        return
    lines = [f"*Saved replies* ({len(listed)}) — send one with *Saved reply* on a conversation:"]
    for reply in listed[:50]:
        first = " ".join(reply.text.split())
        lines.append(f"• `{reply.name}` — {first[:90]}{'…' if len(first) > 90 else ''}")
    call.tell("\n".join(lines))


def register(app: App, services: Services) -> None:
    """Bind the saved-reply modal's picker and its Submit."""
    app.action(team_views.SAVED_PICK)(functools.partial(handle_saved_pick, services=services))
    app.view(team_views.SAVED_VIEW)(functools.partial(handle_saved_submission, services=services))
