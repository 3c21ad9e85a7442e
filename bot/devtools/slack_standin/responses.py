"""``response_url``s: what a command or an interaction posts back, and where it lands."""

from __future__ import annotations

import copy
import json
from urllib.parse import parse_qsl

from bot.devtools.slack_standin.chat import post_bot_message
from bot.devtools.slack_standin.common import ApiError, JSONDict, Reply, flag, text_reply
from bot.devtools.slack_standin.workspace import ResponseTarget, Workspace


def receive(ws: Workspace, token: str, headers: dict[str, str], body: bytes) -> Reply:
    """POST to a response URL (JSON, or a form with a ``payload`` field)."""
    try:
        if headers.get("content-type", "").startswith("application/json"):
            posted = json.loads(body)
        else:
            posted = json.loads(dict(parse_qsl(body.decode())).get("payload", ""))
    except ValueError:
        return text_reply(400, b"invalid_payload")
    if not isinstance(posted, dict):
        return text_reply(400, b"invalid_payload")
    with ws.cond:
        target = ws.targets.get(token)
        if target is None:
            return text_reply(404, b"no_active_hooks")
        ws.responses.append(copy.deepcopy(posted))
        apply(ws, target, posted)
        ws.cond.notify_all()
    return text_reply(200, b"ok")


def apply(
    ws: Workspace, target: ResponseTarget, posted: JSONDict, *, source: str = "response_url"
) -> None:
    """Do what a response asks: edit or delete the original, post in channel, or show ephemerally.

    Also used for the ack payload of a Socket Mode slash command, which Slack treats as the
    command's immediate response.
    """
    channel = ws.channels.get(target.channel or "")
    original = ws.find(channel.id, target.message_ts) if channel and target.message_ts else None
    if channel and original is not None and flag(posted.get("delete_original")):
        ws.remove(channel.id, original)
    elif channel and original is not None and flag(posted.get("replace_original")):
        for key in ("text", "blocks", "attachments"):
            if key in posted:
                original[key] = posted[key]
    elif channel and posted.get("response_type") == "in_channel":
        try:
            post_bot_message(ws, channel, posted)
        except ApiError:
            pass  # a bad response body is recorded in `responses`; nothing is posted
    else:
        ws.ephemerals.append(
            {
                "source": source,
                "channel": target.channel,
                "user": None,
                "text": str(posted.get("text") or ""),
                "blocks": posted.get("blocks") or [],
                "thread_ts": posted.get("thread_ts"),
            }
        )
