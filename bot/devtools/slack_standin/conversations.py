"""``users.info`` and ``conversations.*``: who is who, channel info, history and threads."""

from __future__ import annotations

import copy

from bot.devtools.slack_standin.common import (
    ApiError,
    JSONDict,
    flag,
    is_top_level,
    required,
    ts_us,
)
from bot.devtools.slack_standin.workspace import Channel, Workspace


def users_info(ws: Workspace, args: JSONDict) -> JSONDict:
    ws.need_scope("users:read")
    user = ws.users.get(str(args.get("user") or ""))
    if user is None:
        raise ApiError("user_not_found")
    shown = copy.deepcopy(user)
    if "users:read.email" not in ws.scopes:  # as on Slack: the e-mail needs its own scope
        shown["profile"].pop("email", None)
    return {"user": shown}


def _members(ws: Workspace, channel: Channel) -> list[str]:
    members = list(channel.members)
    if channel.bot_is_member and ws.bot_user_id not in members:
        members.append(ws.bot_user_id)
    return members


def _channel_info(ws: Workspace, channel: Channel, *, num_members: bool = False) -> JSONDict:
    legacy_group = channel.is_private and channel.id.startswith("G")
    info: JSONDict = {
        "id": channel.id,
        "name": channel.name,
        "is_channel": not channel.is_im and not legacy_group,
        "is_group": legacy_group,
        "is_im": channel.is_im,
        "is_mpim": False,
        "is_private": channel.is_private,
        "created": channel.created,
        "is_archived": False,
        "is_general": False,
        "unlinked": 0,
        "name_normalized": channel.name,
        "is_shared": False,
        "is_org_shared": False,
        "is_pending_ext_shared": False,
        "is_ext_shared": False,
        "is_member": channel.bot_is_member,
        "creator": channel.members[0] if channel.members else "",
        "topic": {"value": "", "creator": "", "last_set": 0},
        "purpose": {"value": "", "creator": "", "last_set": 0},
        "previous_names": [],
    }
    if channel.is_im:
        info["user"] = channel.name
    if num_members:
        info["num_members"] = len(_members(ws, channel))
    return info


def info(ws: Workspace, args: JSONDict) -> JSONDict:
    channel = ws.channel(args, need_member=False)
    ws.need_read_scope(channel, "read")
    wanted = flag(args.get("include_num_members"))
    return {"channel": _channel_info(ws, channel, num_members=wanted)}


def _page(items: list[JSONDict], args: JSONDict, default_limit: int) -> JSONDict:
    try:
        limit = int(args.get("limit") or default_limit)
        offset = int(str(args.get("cursor") or "0").removeprefix("off_"))
    except ValueError:
        raise ApiError("invalid_cursor") from None
    limit = max(1, min(limit, 999))
    page = items[offset : offset + limit]
    more = offset + limit < len(items)
    return {
        "messages": page,
        "has_more": more,
        "response_metadata": {"next_cursor": f"off_{offset + limit}" if more else ""},
    }


def _window(messages: list[JSONDict], args: JSONDict) -> list[JSONDict]:
    inclusive = flag(args.get("inclusive"))
    oldest = ts_us(str(args["oldest"])) if args.get("oldest") else None
    latest = ts_us(str(args["latest"])) if args.get("latest") else None

    def inside(message: JSONDict) -> bool:
        at = ts_us(message["ts"])
        if oldest is not None and (at < oldest or (at == oldest and not inclusive)):
            return False
        if latest is not None and (at > latest or (at == latest and not inclusive)):
            return False
        return True

    return [m for m in messages if inside(m)]


def history(ws: Workspace, args: JSONDict) -> JSONDict:
    channel = ws.channel(args)
    ws.need_read_scope(channel, "history")
    metadata = flag(args.get("include_all_metadata"))
    top = [m for m in ws.messages[channel.id] if is_top_level(m)]
    shown = [ws.history_view(m, metadata) for m in reversed(_window(top, args))]
    return {**_page(shown, args, 100), "pin_count": 0}


def replies(ws: Workspace, args: JSONDict) -> JSONDict:
    channel = ws.channel(args)
    ws.need_read_scope(channel, "history")
    required(args, "ts")
    message = ws.find(channel.id, str(args["ts"]))
    if message is None:
        raise ApiError("thread_not_found")
    thread_ts = message.get("thread_ts") or message["ts"]
    metadata = flag(args.get("include_all_metadata"))
    thread = [
        m
        for m in ws.messages[channel.id]
        if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts
    ]
    parent, rest = thread[0], thread[1:]
    # Slack always puts the parent first, whatever oldest/latest say.
    window = [parent, *_window(rest, args)]
    return _page([ws.history_view(m, metadata) for m in window], args, 1000)


def members(ws: Workspace, args: JSONDict) -> JSONDict:
    channel = ws.channel(args, need_member=False)
    ws.need_read_scope(channel, "read")
    return {"members": _members(ws, channel), "response_metadata": {"next_cursor": ""}}


def join(ws: Workspace, args: JSONDict) -> JSONDict:
    ws.need_scope("channels:join")
    channel = ws.channel(args, need_member=False)
    if channel.is_private or channel.is_im:
        raise ApiError("method_not_supported_for_channel_type")
    result: JSONDict = {}
    if channel.bot_is_member:
        result = {
            "warning": "already_in_channel",
            "response_metadata": {"warnings": ["already_in_channel"]},
        }
    channel.bot_is_member = True
    return {"channel": _channel_info(ws, channel), **result}


METHODS = {
    "users.info": users_info,
    "conversations.info": info,
    "conversations.history": history,
    "conversations.replies": replies,
    "conversations.members": members,
    "conversations.join": join,
}
