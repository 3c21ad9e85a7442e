"""Bolt listeners for working as a team: **Assign to me** and **Saved reply** on the thread
parent, the saved-reply modal, the app's Home tab, and `/wati assign`, `/wati unassign`,
`/wati replies`. The work is in `bot.chatops` (owners, saved, home)."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.chatops.desk import Desk
from bot.chatops.errors import ChatOpsError
from bot.chatops.operations import ChatOps, Conversation, label
from bot.customers import identity
from bot.listeners.commands import Invocation, WatiCommand
from bot.listeners.refusals import answers_refusals, told, where
from bot.listeners.submissions import TAMPERED, _accepted, _refuse
from bot.listeners.surface import tell
from bot.slack import blocks, desk_views, modals
from bot.store.saved import SavedReply
from bot.text import phone
from bot.text.formatting import escape

logger = logging.getLogger(__name__)

BUTTONS = (blocks.ASSIGN_ME, blocks.SAVED_REPLY)
HELP_LINES = {
    "assign": "• `/wati assign @someone <number>` — make a teammate the owner of that customer's conversation",
    "unassign": "• `/wati unassign <number>` — leave that customer's conversation without an owner",
    "replies": "• `/wati replies [add <name> <text> | remove <name>]` — the saved replies (admins add and remove)",
}
MENTION = re.compile(r"^<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>$")
REPLIES_ADD = re.compile(r"^\s*\S+\s+add\s+(\S+)\s*(.*)$", re.DOTALL | re.IGNORECASE)


def register(app: App, command: WatiCommand, ops: ChatOps, desk: Desk) -> None:
    """Bind the desk's buttons, modal, Home tab and subcommands."""

    def _reply(chosen: object) -> SavedReply:
        text = str(chosen or "")
        found = None
        if text.isascii() and text.isdigit() and len(text) <= 18:
            found = ops.store.saved_reply_by_id(int(text))
        if found is None:
            raise ChatOpsError("Choose one of the saved replies (that one may have been removed).")
        return found

    @app.action(blocks.ASSIGN_ME)
    @answers_refusals
    def handle_assign_me(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        channel, user = where(body)
        conv = ops.conversation(_value(body), channel)
        tell(client, channel, user, desk.owners.assign(conv, user, by=user))

    @app.action(blocks.SAVED_REPLY)
    @answers_refusals
    def handle_saved_reply(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        channel, _ = where(body)
        conv = ops.conversation(_value(body), channel)
        replies = desk.saved.all()
        if not replies:
            view = modals.notice(
                "Saved reply",
                "There are no saved replies yet. An admin adds one with "
                "`/wati replies add <name> <text>`, e.g. `/wati replies add thanks Thank you, {name}!`",
            )
        else:
            view = saved_view(conv, replies, None)
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action(desk_views.SAVED_PICK)
    def handle_saved_pick(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """A saved reply was chosen: redraw the modal with its preview for this customer."""
        ack()
        view = body.get("view") or {}
        chosen = ((body.get("actions") or [{}])[0].get("selected_option") or {}).get("value")
        try:
            meta = modals.load_meta(view.get("private_metadata"), "saved")
            conv = ops.conversation(meta.get("thread"), str(meta.get("channel")))
            reply = _reply(chosen)
            content = saved_view(conv, desk.saved.all(), reply)
        except modals.BadMetadata:
            logger.warning("saved reply picked in a modal the bridge did not make")
            return
        except ChatOpsError as exc:
            content = modals.notice("Saved reply", exc.message)
        try:
            client.views_update(view_id=view["id"], hash=view.get("hash"), view=content)
        except SlackApiError as exc:
            logger.warning("saved reply modal not updated: %s", exc.response.get("error"))

    def saved_view(
        conv: Conversation, replies: list[SavedReply], reply: SavedReply | None
    ) -> dict[str, Any]:
        intro = f"To *{escape(label(conv.chat))}* from {phone.display(conv.link.channel_number)}."
        if not ops.window_open(conv.chat):
            intro += (
                "\n:lock: The customer's 24-hour window is closed: like a typed reply, this one "
                "will not reach them. Use *Send template* instead."
            )
        listed = [(r.id, r.name, r.text) for r in replies]
        fields: dict[str, Any] = {"channel": conv.link.slack_channel_id, "thread": conv.thread.id}
        if reply is None:
            return desk_views.saved_modal(
                meta=modals.dump_meta("saved", **fields), intro=intro, replies=listed
            )
        filled = desk.saved.filled(conv, reply)
        fields.update(reply=reply.id, missing=list(filled.missing))
        try:
            meta = modals.dump_meta("saved", **fields, text=filled.text)
        except ValueError:  # too long to carry: filled again when it is sent
            meta = modals.dump_meta("saved", **fields)
        return desk_views.saved_modal(
            meta=meta,
            intro=intro,
            replies=listed,
            selected=reply.id,
            preview=filled.text,
            missing=filled.missing,
        )

    @app.view(desk_views.SAVED_VIEW)
    def handle_saved_submission(
        ack: Ack, body: dict[str, Any], client: WebClient, view: dict[str, Any]
    ) -> None:
        user = body["user"]["id"]
        try:
            meta = modals.load_meta(view.get("private_metadata"), "saved")
            conv = ops.conversation(meta.get("thread"), str(meta.get("channel")))
        except modals.BadMetadata:
            _refuse(ack, TAMPERED)
            return
        except ChatOpsError as exc:
            _refuse(ack, exc.message)
            return
        chosen = modals.form_values(view).get(desk_views.SAVED_BLOCK)
        reply = None
        errors: dict[str, str] = {}
        try:
            reply = _reply(chosen)
        except ChatOpsError as exc:
            errors[desk_views.SAVED_BLOCK] = exc.message
        if reply is not None and str(meta.get("reply")) != str(reply.id):
            errors[desk_views.SAVED_BLOCK] = "Choose the reply again to see its preview."
        elif reply is not None and meta.get("missing"):
            names = ", ".join(f"{{{m}}}" for m in meta["missing"])
            errors[desk_views.SAVED_BLOCK] = f"Nothing fills {names} for this customer."
        if not _accepted(ack, ops, view, errors) or reply is None:
            return
        channel, thread_ts = conv.link.slack_channel_id, conv.thread.thread_ts
        with told(client, channel, user, thread_ts=thread_ts):
            text = meta.get("text")
            if not isinstance(text, str):
                filled = desk.saved.filled(conv, reply)
                if filled.missing:
                    raise ChatOpsError(
                        "Not sent: the contact lacks some of the reply's attributes."
                    )
                text = filled.text
            said = desk.saved.send(conv, str(view.get("id")), user, reply.name, text)
            if said:
                tell(client, channel, user, said, thread_ts=thread_ts)

    @app.event("app_home_opened")
    def handle_home_opened(event: dict[str, Any], client: WebClient) -> None:
        user = str(event.get("user") or "")
        if event.get("tab", "home") != "home" or not user:
            return
        try:
            client.views_publish(user_id=user, view=desk.home.view(user))
        except SlackApiError as exc:
            logger.warning("home tab not published: %s", exc.response.get("error"))

    _register_subcommands(command, ops, desk)


def _register_subcommands(command: WatiCommand, ops: ChatOps, desk: Desk) -> None:
    def conversation_of(call: Invocation, words: list[str]) -> Conversation:
        link = ops.linked(call.channel_id)
        if not words:
            raise ChatOpsError(
                "Which customer? Give their number, e.g. `/wati assign @sam +44 7700 900123`."
            )
        try:
            number = identity.parse_key(" ".join(words))
        except phone.InvalidNumber as exc:
            raise ChatOpsError(str(exc)) from None
        thread = ops.store.current_thread(link.channel_number, number)
        if thread is None or thread.state != "open":
            raise ChatOpsError(
                f"There is no open conversation with {phone.display(number)} on "
                f"{phone.display(link.channel_number)}."
            )
        return ops.conversation(thread.id, call.channel_id)

    def assign(call: Invocation) -> None:
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
        conv = conversation_of(call, rest)
        call.tell(desk.owners.assign(conv, who.group(1), by=call.user_id))

    def unassign(call: Invocation) -> None:
        """`/wati unassign <number>`."""
        conv = conversation_of(call, call.args[1:])
        call.tell(desk.owners.unassign(conv, by=call.user_id))

    def replies(call: Invocation) -> None:
        """`/wati replies`, `/wati replies add <name> <text>`, `/wati replies remove <name>`."""
        action = call.args[1].lower() if len(call.args) > 1 else "list"
        if action in ("add", "remove", "delete"):
            if not command.is_admin(call.client, call.user_id):
                who = (
                    "the people in BRIDGE_ADMINS"
                    if command.admins
                    else "workspace admins and owners"
                )
                raise ChatOpsError(
                    f"Only {who} can add or remove saved replies; everyone can use them."
                )
            if action == "add":
                found = REPLIES_ADD.match(str(call.payload.get("text") or ""))
                if found is None:
                    raise ChatOpsError("Name it and write it: `/wati replies add <name> <text>`.")
                call.tell(desk.saved.add(found.group(1), found.group(2), call.user_id))
            else:
                if len(call.args) < 3:
                    raise ChatOpsError("Which one? `/wati replies remove <name>`.")
                call.tell(desk.saved.remove(call.args[2]))
            return
        listed = desk.saved.all()
        if not listed:
            call.tell(
                "There are no saved replies yet. Admins add them with "
                "`/wati replies add <name> <text>`; `{name}` and contact attributes such as "
                "`{city}` are filled in for each customer."
            )
            return
        lines = [
            f"*Saved replies* ({len(listed)}) — send one with *Saved reply* on a conversation:"
        ]
        for reply in listed[:50]:
            first = " ".join(reply.text.split())
            lines.append(f"• `{reply.name}` — {first[:90]}{'…' if len(first) > 90 else ''}")
        call.tell("\n".join(lines))

    for name, handler in (("assign", assign), ("unassign", unassign), ("replies", replies)):
        command.add(name, handler, HELP_LINES[name])


def _value(body: dict[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value") or "")
