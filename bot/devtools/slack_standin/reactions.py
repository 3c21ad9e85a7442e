"""``reactions.*``: the bot's emoji reactions on messages."""

from __future__ import annotations

import re

from bot.devtools.slack_standin.common import ApiError, JSONDict, required
from bot.devtools.slack_standin.workspace import Channel, Workspace

_EMOJI_NAME = re.compile(r"^[a-z0-9_+'\-]+(::skin-tone-[2-6])?$")


def _target(ws: Workspace, args: JSONDict) -> tuple[Channel, JSONDict, str]:
    ws.need_scope("reactions:write")
    required(args, "name")
    channel = ws.channel(args, need_member=False)
    message = ws.message(channel, args.get("timestamp"))
    name = str(args["name"])
    if not _EMOJI_NAME.match(name):
        raise ApiError("invalid_name")
    return channel, message, name


def add(ws: Workspace, args: JSONDict) -> JSONDict:
    _, message, name = _target(ws, args)
    reactions: list[JSONDict] = message.setdefault("reactions", [])
    for reaction in reactions:
        if reaction["name"] == name:
            if ws.bot_user_id in reaction["users"]:
                raise ApiError("already_reacted")
            reaction["users"].append(ws.bot_user_id)
            reaction["count"] += 1
            return {}
    reactions.append({"name": name, "users": [ws.bot_user_id], "count": 1})
    return {}


def remove(ws: Workspace, args: JSONDict) -> JSONDict:
    _, message, name = _target(ws, args)
    reactions: list[JSONDict] = message.get("reactions", [])
    for reaction in reactions:
        if reaction["name"] == name and ws.bot_user_id in reaction["users"]:
            reaction["users"].remove(ws.bot_user_id)
            reaction["count"] -= 1
            if not reaction["users"]:
                reactions.remove(reaction)
            if not reactions:
                message.pop("reactions", None)
            return {}
    raise ApiError("no_reaction")


def get(ws: Workspace, args: JSONDict) -> JSONDict:
    ws.need_scope("reactions:read")
    channel = ws.channel(args, need_member=False)
    message = ws.message(channel, args.get("timestamp"))
    return {
        "type": "message",
        "channel": channel.id,
        "message": ws.history_view(message, include_metadata=False),
    }


METHODS = {"reactions.add": add, "reactions.remove": remove, "reactions.get": get}
