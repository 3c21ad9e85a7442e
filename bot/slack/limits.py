"""Slack's size limits on messages, Block Kit and modals, in one place.

Slack refuses a post or a view that breaks a Block Kit limit (`invalid_blocks`,
`invalid_arguments`), refuses message text it cannot take (`msg_too_long`) and silently cuts
text beyond 40,000 characters. Everything the bridge builds goes through these helpers: short
fields are cut with an ellipsis, long texts are split into several posts.
Sources: /work/shared/slack-platform.md §4.1 and Slack's Block Kit reference.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# Message text: Slack cuts beyond 40,000 characters and renders best under about 4,000.
MESSAGE_TEXT = 40_000
POST_TEXT = 3_900  # one relayed post: a WhatsApp text (4,096) after escaping takes two at most
MESSAGE_BLOCKS = 50
MODAL_BLOCKS = 100
SECTION_TEXT = 3_000
SECTION_FIELD = 2_000
CONTEXT_TEXT = 3_000  # per context element (Slack documents no lower limit; kept like a section)
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTON_VALUE = 2_000
OPTION_TEXT = 75
OPTION_VALUE = 150
OPTIONS = 100  # options in one select menu
MODAL_TITLE = 24  # also the submit and close buttons
INPUT_LABEL = 2_000
INPUT_HINT = 2_000
PLACEHOLDER = 150
PRIVATE_METADATA = 3_000
NAME = 100  # a customer's or teammate's name inside a line of text: long names are cut
ELLIPSIS = "…"
# Slack's largest file (its help centre: 1 GB); a bigger one is shown as a notice instead.
FILE_BYTES = 1024**3

# Where a split may not fall: inside an escape (&amp;) or a Slack control sequence (<url|label>).
_ATOMS = re.compile(r"&[a-z]+;|<[^<>\n]{1,500}>")


def cut(text: str, limit: int) -> str:
    """`text` within `limit` characters, ending with an ellipsis when it was cut."""
    if len(text) <= limit:
        return text
    end = _safe_end(text, limit - len(ELLIPSIS))
    return text[:end].rstrip() + ELLIPSIS


def plain(text: str, limit: int = BUTTON_TEXT) -> dict[str, Any]:
    """A plain_text object within `limit` (Slack refuses an empty one)."""
    return {"type": "plain_text", "text": cut(text, limit) or " ", "emoji": True}


def section(text: str) -> dict[str, Any]:
    """A mrkdwn section block; text beyond 3,000 characters is cut with an ellipsis."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, SECTION_TEXT) or " "}}


def context(*texts: str) -> dict[str, Any]:
    """A context block of mrkdwn elements (at most 10)."""
    elements = [{"type": "mrkdwn", "text": cut(t, CONTEXT_TEXT) or " "} for t in texts[:10]]
    return {"type": "context", "elements": elements}


def split(text: str, limit: int = POST_TEXT) -> list[str]:
    """`text` as consecutive parts of at most `limit` characters, in order.

    A part ends at a line break or a space where one is near, never inside an escape or a
    Slack link, so each part renders on its own; joined, the parts give the text back
    (whitespace at the cuts aside).
    """
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        end = _safe_end(rest, limit)
        window = rest[:end]
        for mark in ("\n\n", "\n", " "):
            at = window.rfind(mark)
            if at >= limit // 2:
                end = at + len(mark)
                break
        parts.append(rest[:end].rstrip())
        rest = rest[end:].lstrip("\n ")
    if rest or not parts:
        parts.append(rest)
    return parts


def sections(lines: Iterable[str], limit: int = SECTION_TEXT) -> list[str]:
    """Lines joined into texts of at most `limit` characters each (a line too long is cut)."""
    texts: list[str] = []
    current = ""
    for line in lines:
        line = cut(line, limit)
        if current and len(current) + 1 + len(line) > limit:
            texts.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        texts.append(current)
    return texts


def fit_blocks(blocks: list[dict[str, Any]], limit: int = MESSAGE_BLOCKS) -> list[dict[str, Any]]:
    """At most `limit` blocks; when there are more, the last one says how many were left out."""
    if len(blocks) <= limit:
        return blocks
    left = len(blocks) - (limit - 1)
    return [*blocks[: limit - 1], context(f"…and {left} more block(s) not shown")]


def _safe_end(text: str, end: int) -> int:
    """`end`, moved back so that text[:end] does not cut an escape or a <...> sequence."""
    end = max(0, end)
    for match in _ATOMS.finditer(text, max(0, end - 510), min(len(text), end + 510)):
        if match.start() < end < match.end():
            return match.start() if match.start() > 0 else end
    return end
