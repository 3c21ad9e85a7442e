"""A notice in a customer's thread in place of a message that could not be shown there: Slack
refused it for good, or Wati could not hand over its file. One wording for texts, parts and
files (`Inbound` posts it), so the conversation moves on and the team knows where to look."""

from __future__ import annotations

import logging
from typing import Any

from bot.slack import blocks, limits
from bot.slack.poster import SlackPoster
from bot.store import Store
from bot.store.chats import Thread
from bot.store.db import parse_iso
from bot.store.links import Link
from bot.store.messages import LoggedMessage
from bot.text import phone

logger = logging.getLogger("bot.relay.inbound")  # the same logger as before the move


def post_unshown(
    poster: SlackPoster,
    store: Store,
    link: Link,
    thread: Thread,
    logged: LoggedMessage,
    part: int,
    error: str,
    *,
    why: str | None = None,
    file: tuple[str, dict[str, Any]] | None = None,
) -> str:
    """Post a notice in place of what could not be shown (Slack refused it for good, or
    `why`: Wati could not hand over its file) and where to find it; returns its ts.
    `file`: (what it was, the post its caption was in), so the caption is not lost."""
    assert thread.thread_ts is not None
    logger.warning("message %s not shown (%s): notice posted", logged.wati_id, error)
    store.add_error(link.channel_number, f"a message was not shown ({error}); notice posted")
    what = "A message sent from Wati" if logged.direction == "mirror" else "A customer message"
    if file is not None:
        what = (
            f"{file[0]} {'sent from Wati' if logged.direction == 'mirror' else 'from the customer'}"
        )
    created = parse_iso(logged.created)
    when = f" at {created:%d %b %H:%M:%S} UTC" if created else ""
    where = (
        f"conversation with {phone.display(logged.customer_number)} on "
        f"{phone.display(logged.channel_number)}{when}"
    )
    notice = blocks.unshown_notice(
        logged.wati_id,
        part,
        what=what if part == 1 else f"Part {part} of {what.lower()}",
        error=error,
        where="" if error == "media_expired" else where,
        why=why,
    )
    if file is not None:
        notice["text"] = limits.cut(f"{notice['text']}\n{file[1]['text']}", limits.SECTION_TEXT)
    return poster.post(link.slack_channel_id, thread_ts=thread.thread_ts, **notice)
