"""``chat.*``: posting, editing and deleting the bot's messages, ephemerals and permalinks."""

from __future__ import annotations

import copy

from bot.devtools.slack_standin.common import (
    ApiError,
    JSONDict,
    check_blocks,
    check_text,
    flag,
    json_arg,
)
from bot.devtools.slack_standin.common import required as require
from bot.devtools.slack_standin.workspace import Channel, Workspace


def post_bot_message(ws: Workspace, channel: Channel, args: JSONDict) -> JSONDict:
    """Insert a message from the bot (``chat.postMessage`` and ``in_channel`` responses)."""
    text = args.get("text")
    blocks = json_arg(args, "blocks", "invalid_blocks")
    attachments = json_arg(args, "attachments", "invalid_attachments")
    metadata = json_arg(args, "metadata", "invalid_metadata_format")
    if not text and not blocks and not attachments:
        raise ApiError("no_text")
    check_text(text)
    message: JSONDict = {
        "user": ws.bot_user_id,
        "type": "message",
        "ts": "",
        "bot_id": ws.bot_id,
        "app_id": ws.app_id,
        "text": str(text or ""),
        "team": ws.team_id,
        "bot_profile": {
            "id": ws.bot_id,
            "app_id": ws.app_id,
            "name": "WhatsApp Bridge",
            "deleted": False,
            "team_id": ws.team_id,
        },
    }
    if blocks is not None:
        message["blocks"] = check_blocks(blocks)
    if attachments:
        message["attachments"] = attachments
    if metadata is not None:
        if not (
            isinstance(metadata, dict)
            and isinstance(metadata.get("event_type"), str)
            and isinstance(metadata.get("event_payload"), dict)
        ):
            raise ApiError("invalid_metadata_format")
        message["metadata"] = {
            "event_type": metadata["event_type"],
            "event_payload": metadata["event_payload"],
        }
    if "chat:write.customize" in ws.scopes:
        # Without the scope Slack silently ignores the overrides; so does the stand-in.
        if args.get("username"):
            message["username"] = str(args["username"])
        if args.get("icon_emoji"):
            message["icons"] = {"emoji": str(args["icon_emoji"])}
        elif args.get("icon_url"):
            message["icons"] = {"image_48": str(args["icon_url"])}
    parent = None
    thread_ts = args.get("thread_ts")
    if thread_ts:
        parent = ws.thread_parent(channel.id, str(thread_ts))
        message["thread_ts"] = str(thread_ts)
        if flag(args.get("reply_broadcast")):
            message["subtype"] = "thread_broadcast"
            message["root"] = {k: v for k, v in parent.items() if k != "reactions"}
    message["ts"] = ws.next_ts()
    ws.insert(channel.id, message, parent)
    return message


def post_message(ws: Workspace, args: JSONDict) -> JSONDict:
    ws.need_scope("chat:write")
    target = str(args.get("channel") or "")
    if target[:1] in ("U", "W") and target in ws.users:
        channel = ws.dm_channel(target)
    else:
        # chat:write.public lets a bot post in public channels it has not joined.
        public_ok = "chat:write.public" in ws.scopes
        channel = ws.channel(args, need_member=not public_ok)
    message = post_bot_message(ws, channel, args)
    return {"channel": channel.id, "ts": message["ts"], "message": copy.deepcopy(message)}


def update(ws: Workspace, args: JSONDict) -> JSONDict:
    ws.need_scope("chat:write")
    channel = ws.channel(args, need_member=False)
    message = ws.message(channel, args.get("ts"))
    if message.get("bot_id") != ws.bot_id:
        raise ApiError("cant_update_message")
    if "text" in args:
        check_text(args["text"])
        message["text"] = str(args["text"] or "")
    blocks = json_arg(args, "blocks", "invalid_blocks")
    if blocks is not None:  # absent blocks are kept, as Slack does; [] removes them
        message["blocks"] = check_blocks(blocks)
    attachments = json_arg(args, "attachments", "invalid_attachments")
    if attachments is not None:
        message["attachments"] = attachments
    metadata = json_arg(args, "metadata", "invalid_metadata_format")
    if isinstance(metadata, dict):
        message["metadata"] = metadata
    if not message.get("text") and not message.get("blocks") and not message.get("attachments"):
        raise ApiError("no_text")
    message["edited"] = {"user": ws.bot_user_id, "ts": ws.next_ts()}
    return {
        "channel": channel.id,
        "ts": message["ts"],
        "text": message["text"],
        "message": copy.deepcopy(message),
    }


def delete(ws: Workspace, args: JSONDict) -> JSONDict:
    ws.need_scope("chat:write")
    channel = ws.channel(args, need_member=False)
    message = ws.message(channel, args.get("ts"))
    # A bot token deletes only the bot's own messages; a workspace that keeps messages
    # (retention, legal hold) refuses even those: `refuse_deletes` plays that.
    if message.get("bot_id") != ws.bot_id or ws.deletes_refused:
        raise ApiError("cant_delete_message")
    ws.remove(channel.id, message)
    return {"channel": channel.id, "ts": message["ts"]}


def post_ephemeral(ws: Workspace, args: JSONDict) -> JSONDict:
    ws.need_scope("chat:write")
    require(args, "user")
    channel = ws.channel(args)
    user = str(args["user"])
    if channel.members and user not in channel.members:
        raise ApiError("user_not_in_channel")
    blocks = json_arg(args, "blocks", "invalid_blocks")
    if not args.get("text") and not blocks and not args.get("attachments"):
        raise ApiError("no_text")
    ts = ws.next_ts()
    ws.ephemerals.append(
        {
            "source": "chat.postEphemeral",
            "channel": channel.id,
            "user": user,
            "text": str(args.get("text") or ""),
            "blocks": check_blocks(blocks) if blocks is not None else [],
            "thread_ts": args.get("thread_ts"),
            "ts": ts,
        }
    )
    return {"message_ts": ts}


def get_permalink(ws: Workspace, args: JSONDict) -> JSONDict:
    channel = ws.channel(args, need_member=False)
    message = ws.message(channel, args.get("message_ts"))
    link = f"{ws.url}/archives/{channel.id}/p{message['ts'].replace('.', '')}"
    thread_ts = message.get("thread_ts")
    if thread_ts and thread_ts != message["ts"]:
        link += f"?thread_ts={thread_ts}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}


METHODS = {
    "chat.postMessage": post_message,
    "chat.update": update,
    "chat.delete": delete,
    "chat.postEphemeral": post_ephemeral,
    "chat.getPermalink": get_permalink,
}
