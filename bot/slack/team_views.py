"""Block Kit for working as a team (pure): the saved-reply modal and post, and the Home tab.

The Home tab must fit one `views.publish` whatever the number of conversations: each section
lists its first rows and says how many more there are, every text stays under Slack's 3,000
characters, and the whole view under its 100 blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.slack.blocks import customer_label, slack_date
from bot.text.formatting import escape

SAVED_VIEW = "wati_saved_reply_send"  # the modal's callback id
SAVED_PICK = "wati_saved_pick"  # the select; choosing dispatches a block action (preview)
SAVED_BLOCK = "saved_reply"
SAVED_EVENT = "wati_saved_reply"  # metadata of a saved reply's post in its thread

HOME_ROWS = 10  # rows shown per section and number
MAX_NUMBERS = 15  # numbers shown on the Home tab (6 blocks each, under Slack's 100)
MAX_NAME = 60


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return {"type": "plain_text", "text": text or " ", "emoji": True}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": t[:3000]} for t in texts]}


def quoted(text: str) -> str:
    """Slack mrkdwn as a block quote."""
    return "\n".join(f"> {line}" for line in text.splitlines() or [""])


# -- saved replies ----------------------------------------------------------------------------


def saved_modal(
    *,
    meta: str,
    intro: str,
    replies: Sequence[tuple[int, str, str]],
    selected: int | None = None,
    preview: str | None = None,
    missing: Sequence[str] = (),
) -> dict[str, Any]:
    """Pick a saved reply (id, name, text) for a conversation; a chosen one shows its preview."""
    options = [
        {
            "text": _plain(name),
            "value": str(reply_id),
            "description": _plain(" ".join(text.split()) or " "),
        }
        for reply_id, name, text in replies[:100]
    ]
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": SAVED_PICK,
        "placeholder": _plain("Choose a saved reply"),
        "options": options,
    }
    chosen = next((o for o in options if o["value"] == str(selected)), None)
    if chosen is not None:
        element["initial_option"] = chosen
    blocks: list[dict[str, Any]] = [
        _section(intro),
        {
            "type": "input",
            "block_id": SAVED_BLOCK,
            "dispatch_action": True,
            "label": _plain("Saved reply", 2000),
            "element": element,
        },
    ]
    if preview is not None:
        blocks.append(_section("*Preview*\n" + quoted(preview)))
        if missing:
            names = ", ".join(f"`{{{m}}}`" for m in missing)
            blocks.append(
                _context(
                    f":warning: Nothing to fill {names} with for this customer: choose another "
                    "reply, or add the attribute to the contact first."
                )
            )
    return {
        "type": "modal",
        "callback_id": SAVED_VIEW,
        "title": _plain("Saved reply", 24),
        "submit": _plain("Send", 24),
        "close": _plain("Cancel", 24),
        "blocks": blocks,
        "private_metadata": meta,
    }


def saved_post(body: str, reply_name: str, user_id: str, view_id: str) -> dict[str, Any]:
    """A saved reply as posted in its thread: the text, and who sent it."""
    return {
        "text": body,
        "blocks": [
            _section(body),
            _context(f":speech_balloon: Sent by <@{user_id}> · saved reply `{escape(reply_name)}`"),
        ],
        "metadata": {"event_type": SAVED_EVENT, "event_payload": {"view_id": view_id}},
        "unfurl_links": False,
        "unfurl_media": False,
    }


# -- the Home tab -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A conversation line: who, where to open it, and what to say after the name."""

    name: str | None
    customer_number: str
    link: str
    detail: str


@dataclass(frozen=True)
class Section:
    """The first rows of a section and how many it holds in all."""

    rows: Sequence[Row]
    total: int


@dataclass(frozen=True)
class NumberQueue:
    """What the Home tab shows of one linked number."""

    title: str
    waiting: Section
    mine: Section
    open: Section
    health: str


def _lines(heading: str, section: Section, empty: str) -> str:
    head = f"*{heading}* ({section.total:,})"
    if not section.rows:
        return f"{head}\n_{empty}_"
    lines = []
    for row in section.rows:
        who = customer_label(row.name, row.customer_number)
        who = who if len(who) <= MAX_NAME else who[: MAX_NAME - 1] + "…"
        lines.append(f"• <{row.link}|{escape(who)}>{row.detail}")
    more = section.total - len(section.rows)
    if more > 0:
        lines.append(f"_…and {more:,} more_")
    return head + "\n" + "\n".join(lines)


def home_view(
    queues: Sequence[NumberQueue], built: datetime, note: str | None = None
) -> dict[str, Any]:
    """The app's Home tab: per linked number, its waiting customers, the viewer's
    conversations, the open ones, and the bridge's health."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain("WhatsApp queue", 150)},
        _context(f"Updated {slack_date(built)}. Open this tab again to refresh it."),
    ]
    if note:
        blocks.append(_section(note))
    for queue in queues[:MAX_NUMBERS]:
        blocks.extend(
            [
                {"type": "divider"},
                {"type": "header", "text": _plain(queue.title, 150)},
                _section(
                    _lines(
                        ":alarm_clock: Waiting for an answer", queue.waiting, "Nobody is waiting."
                    )
                ),
                _section(
                    _lines(
                        ":bust_in_silhouette: Yours",
                        queue.mine,
                        "You own no open conversation here.",
                    )
                ),
                _section(
                    _lines(
                        ":speech_balloon: Open conversations", queue.open, "No open conversation."
                    )
                ),
                _context(queue.health),
            ]
        )
    if len(queues) > MAX_NUMBERS:
        blocks.append(_context(f"…and {len(queues) - MAX_NUMBERS} more linked numbers."))
    return {"type": "home", "blocks": blocks}
