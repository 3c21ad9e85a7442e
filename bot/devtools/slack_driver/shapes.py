"""Small pieces of Slack's payload shapes shared by the event and interaction builders."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping
from typing import Any

from bot.devtools.slack_driver.prepared import JSONDict


def rich_text(text: str) -> JSONDict:
    return {
        "type": "rich_text",
        "block_id": secrets.token_urlsafe(3),
        "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
    }


def channel_type(channel_id: str) -> str:
    return {"D": "im", "G": "group"}.get(channel_id[:1], "channel")


def default_channel_name(channel_id: str) -> str:
    if channel_id.startswith("D"):
        return "directmessage"
    if channel_id.startswith("G"):
        return "privategroup"
    return channel_id.lower()


def as_history_message(message: Mapping[str, Any]) -> JSONDict:
    """A message as it appears inside interaction payloads: event-only keys dropped."""
    shown = copy.deepcopy(dict(message))
    for key in ("channel", "event_ts", "channel_type"):
        shown.pop(key, None)
    if "ts" not in shown:
        raise ValueError("the message needs a ts")
    return shown


def find_element(message: Mapping[str, Any], action_id: str) -> tuple[str | None, JSONDict]:
    """The block id and element holding ``action_id`` in a message's blocks, if it is there."""
    for block in message.get("blocks") or []:
        elements = list(block.get("elements") or [])
        if block.get("accessory"):
            elements.append(block["accessory"])
        for element in elements:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return block.get("block_id"), element
    return None, {}
