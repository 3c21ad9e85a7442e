"""Block Kit for what the bridge posts: thread parents, relayed messages and notices.

Pure functions returning the keyword arguments of `chat.postMessage` / `chat.update`, so the
same shape is used when posting and when checking what a crash left behind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from bot.slack import limits
from bot.text import phone

# Slack message metadata event types; metadata is how the bridge recognises its own posts.
THREAD_EVENT = "wati_thread"
MESSAGE_EVENT = "wati_message"

# action_ids of the thread parent's buttons.
RESOLVE = "wati_resolve"
REOPEN = "wati_reopen"
SEND_TEMPLATE = "wati_send_template"
CONTACT = "wati_contact"
ASSIGN_ME = "wati_assign_me"
SAVED_REPLY = "wati_saved_reply"
# action_ids of the buttons on a failed or blocked reply's notice.
RETRY = "wati_retry"
REOPEN_SEND = "wati_reopen_send"

# The thread parent's buttons, in order: (caption, action_id, style, shown while the
# conversation is "open", "resolved" or "any"). Their handlers: `listeners/parent.py`.
RESOLVE_RATE = "wati_resolve_rate"  # bot.survey

PARENT_BUTTONS: tuple[tuple[str, str, str | None, str], ...] = (
    ("Reopen", REOPEN, None, "resolved"),
    ("Resolve", RESOLVE, "primary", "open"),
    ("Resolve and ask for a rating", RESOLVE_RATE, None, "open"),
    ("Send template", SEND_TEMPLATE, None, "any"),
    ("Contact", CONTACT, None, "any"),
    ("Assign to me", ASSIGN_ME, None, "open"),
    ("Saved reply", SAVED_REPLY, None, "open"),
)


class ParentDesk(Protocol):
    """What a parent shows of the conversation's desk row (`store.desk_chats.DeskChat`): the state
    the parent's buttons change lives there, and the whole row is handed to `thread_parent`."""

    @property
    def owner_id(self) -> str | None: ...
    @property
    def owner_in_wati(self) -> int | None: ...
    @property
    def waiting_since(self) -> str | None: ...


def _slack_date(moment: datetime) -> str:
    # Slack renders this in each reader's own time zone; the fallback is UTC.
    epoch = int(moment.timestamp())
    fallback = moment.strftime("%d %b %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{fallback}>"


slack_date = _slack_date  # for the other Block Kit builders


def window_line(closes: datetime | None, is_open: bool) -> str:
    """The reply-window state in plain words (`closes`: when it closes or closed)."""
    if closes is None:
        return ":lock: No reply window yet: only a template can reach this customer"
    if is_open:
        return f":hourglass_flowing_sand: Reply window open until {_slack_date(closes)}"
    return ":lock: Reply window closed: send a template to reach this customer"


def desk_lines(desk: ParentDesk) -> list[str]:
    """Who owns the conversation, and since when the customer has waited for an answer."""
    if desk.owner_id:
        owner = f":bust_in_silhouette: Owner: <@{desk.owner_id}>"
        if not desk.owner_in_wati:
            owner += " (in Slack only)"
    else:
        owner = ":bust_in_silhouette: No owner yet"
    lines = [owner]
    if desk.waiting_since:
        since = datetime.fromisoformat(desk.waiting_since)
        lines.append(f":alarm_clock: Waiting for an answer since {_slack_date(since)}")
    return lines


def customer_label(name: str | None, customer_number: str) -> str:
    """“Ana Lima (+55 11 91234-5678)”, or just the number; a customer who hides their number
    (keyed on a BSUID) by their name or `@username` alone when there is one."""
    shown = phone.display(customer_number)
    clean = limits.cut(" ".join((name or "").split()), limits.NAME)
    if clean and not customer_number.isdigit():
        return clean
    return f"{clean} ({shown})" if clean and clean != customer_number else shown


def thread_parent(
    *,
    thread_id: int,
    channel_number: str,
    customer_number: str,
    customer_name: str | None,
    state: str,
    status_by: str | None,
    window_closes: datetime | None,
    window_open: bool,
    previous_link: str | None = None,
    desk: ParentDesk | None = None,
    rating: int | None = None,
) -> dict[str, Any]:
    """The parent message of a conversation thread, with its buttons and metadata."""
    from bot.text.formatting import escape

    who = escape(customer_label(customer_name, customer_number))
    via = phone.display(channel_number)
    text = f"WhatsApp chat with {who} on {via}"
    status = ":white_check_mark: Resolved" if state == "resolved" else ":large_green_circle: Open"
    if status_by:
        status += f" · changed by <@{status_by}>"
    context = [status, window_line(window_closes, window_open)]
    if rating is not None:
        context.append(f":star: Rated {rating}/5 by the customer")
    if state != "resolved" and desk is not None:
        context.extend(desk_lines(desk))
    if previous_link:
        context.append(f"Continues <{previous_link}|an earlier conversation>")
    buttons = [
        {"text": text, "action_id": action_id, **({"style": style} if style else {})}
        for text, action_id, style, shown in PARENT_BUTTONS
        if shown in ("any", state)
    ]
    blocks: list[dict[str, Any]] = [
        limits.section(f":speech_balloon: *{who}*\nWhatsApp number {via}"),
        limits.context(*context),
        {
            "type": "actions",
            "block_id": f"thread:{thread_id}",
            "elements": [_button(b, str(thread_id)) for b in buttons],
        },
    ]
    return {
        "text": text,
        "blocks": blocks,
        "metadata": {
            "event_type": THREAD_EVENT,
            "event_payload": {
                "thread_id": thread_id,
                "channel_number": channel_number,
                "customer_number": customer_number,
            },
        },
        "unfurl_links": False,
        "unfurl_media": False,
    }


def relayed_message(
    wati_id: str,
    text: str,
    *,
    mirrored_by: str | None = None,
    part: int = 1,
    template: bool = False,
) -> dict[str, Any]:
    """A customer message (or a teammate's send or a template from Wati) posted into the
    thread.

    `part` numbers the posts of a text too long for one (see `relayed_parts`); the metadata
    carries it so that a recovery after a crash posts only the parts that are missing.
    """
    if template and part == 1:
        text = f":outbox_tray: _Template sent from Wati_\n{text}"
    elif mirrored_by is not None and part == 1:
        from bot.text.formatting import escape

        who = escape(limits.cut(mirrored_by, limits.NAME))
        text = f":outbox_tray: _Sent from Wati by {who}_\n{text}"
    payload: dict[str, Any] = {"wati_id": wati_id}
    if part > 1:
        payload["part"] = part
    return {
        "text": limits.cut(text, limits.MESSAGE_TEXT) or " ",
        "metadata": {"event_type": MESSAGE_EVENT, "event_payload": payload},
        "unfurl_links": False,
        "unfurl_media": False,
    }


def relayed_parts(
    wati_id: str, text: str, *, mirrored_by: str | None = None, template: bool = False
) -> list[dict[str, Any]]:
    """A relayed message as one post, or several in order when its text is too long for one."""
    return [
        relayed_message(wati_id, chunk, mirrored_by=mirrored_by, part=k, template=template)
        for k, chunk in enumerate(limits.split(text), start=1)
    ]


def part_of(payload: dict[str, Any]) -> int:
    """Which post of a relayed message a metadata payload belongs to (1 for the first)."""
    part = payload.get("part", 1)
    return part if isinstance(part, int) and part > 0 else 1


def unshown_notice(
    wati_id: str, part: int, *, what: str, error: str, where: str, why: str | None = None
) -> dict[str, Any]:
    """Posted in place of a message Slack refused for good (or a file Wati could not hand
    over, `why` saying so), so the thread moves on."""
    because = why or f"Slack refused it (`{error}`)"
    text = f":warning: {what} could not be shown here: {because}. "
    text += f"Read it in Wati's Team Inbox, {where}." if where else ""
    payload: dict[str, Any] = {"wati_id": wati_id, "unshown": error}
    if part > 1:
        payload["part"] = part
    return {
        "text": limits.cut(text, limits.SECTION_TEXT),
        "metadata": {"event_type": MESSAGE_EVENT, "event_payload": payload},
    }


def notice(
    text: str,
    *,
    retry_reply_id: int | None = None,
    offer_template: int | None = None,
    reopen_reply_id: int | None = None,
) -> dict[str, Any]:
    """A bridge notice in a thread, optionally with Retry, Reopen and send, Send template."""
    # A long notice (a broadcast report listing failures) takes several sections.
    blocks: list[dict[str, Any]] = [
        limits.section(part) for part in limits.split(text, limits.SECTION_TEXT)
    ][: limits.MESSAGE_BLOCKS - 1]
    buttons = []
    if retry_reply_id is not None:
        buttons.append(_button({"text": "Retry", "action_id": RETRY}, str(retry_reply_id)))
    if reopen_reply_id is not None:
        spec = {"text": "Reopen and send", "action_id": REOPEN_SEND, "style": "primary"}
        buttons.append(_button(spec, str(reopen_reply_id)))
    if offer_template is not None:
        buttons.append(
            _button({"text": "Send template", "action_id": SEND_TEMPLATE}, str(offer_template))
        )
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return {"text": limits.cut(text, limits.MESSAGE_TEXT), "blocks": blocks}


def _button(spec: dict[str, str], value: str) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": limits.plain(spec["text"], limits.BUTTON_TEXT),
        "action_id": spec["action_id"],
        "value": value,
    }
    if "style" in spec:
        button["style"] = spec["style"]
    return button
