"""``files.*`` and the file URLs: external uploads, shares into channels, authorised downloads."""

from __future__ import annotations

import copy
import secrets

from bot.devtools.slack_standin.common import (
    ApiError,
    JSONDict,
    Reply,
    check_blocks,
    guess_mimetype,
    json_arg,
    multipart,
    required,
    text_reply,
)
from bot.devtools.slack_standin.workspace import Channel, StoredFile, Workspace

_LOGIN_PAGE = (
    b"<!DOCTYPE html><html><head><title>Slack</title></head>"
    b"<body><h1>Sign in to your workspace</h1></body></html>"
)


def file_object(ws: Workspace, file_id: str, *, name: str, title: str, user: str) -> JSONDict:
    """A Slack file object whose URLs point at the stand-in."""
    now = int(ws.clock())
    filetype = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
    base = f"{ws.url}/files-pri/{ws.team_id}-{file_id}"
    return {
        "id": file_id,
        "created": now,
        "timestamp": now,
        "name": name,
        "title": title,
        "mimetype": "application/octet-stream",
        "filetype": filetype,
        "pretty_type": filetype.upper(),
        "user": user,
        "user_team": ws.team_id,
        "editable": False,
        "size": 0,
        "mode": "hosted",
        "is_external": False,
        "external_type": "",
        "is_public": False,
        "public_url_shared": False,
        "display_as_bot": False,
        "username": "",
        "url_private": f"{base}/{name}",
        "url_private_download": f"{base}/download/{name}",
        "permalink": f"{ws.url}/files/{user}/{file_id}/{name}",
        "permalink_public": f"{ws.url}/{ws.team_id}-{file_id}-public",
        "has_rich_preview": False,
        "channels": [],
        "groups": [],
        "ims": [],
        "shares": {},
        "comments_count": 0,
    }


def get_upload_url_external(ws: Workspace, args: JSONDict) -> JSONDict:
    ws.need_scope("files:write")
    required(args, "filename", "length")
    file_id = ws.new_id("F")
    name = str(args["filename"])
    ws.files[file_id] = StoredFile(
        obj=file_object(ws, file_id, name=name, title=name, user=ws.bot_user_id)
    )
    token = secrets.token_urlsafe(12)
    ws.uploads[token] = file_id
    return {"upload_url": f"{ws.url}/upload/v1/{token}", "file_id": file_id}


def complete_upload_external(ws: Workspace, args: JSONDict) -> JSONDict:
    ws.need_scope("files:write")
    required(args, "files")
    entries = json_arg(args, "files", "invalid_arguments")
    if not isinstance(entries, list) or not entries:
        raise ApiError("invalid_arguments")
    stored: list[StoredFile] = []
    for entry in entries:
        upload = ws.files.get(str(entry.get("id") or "")) if isinstance(entry, dict) else None
        if upload is None or upload.content is None or upload.complete:
            raise ApiError("file_not_found")
        stored.append(upload)
    _check_allowed(ws, stored)
    targets = [str(args["channel_id"])] if args.get("channel_id") else []
    targets += [c for c in str(args.get("channels") or "").split(",") if c]
    channels = [ws.channel({"channel": c}) for c in targets]
    thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
    parent = None
    if thread_ts and channels:
        parent = ws.thread_parent(channels[0].id, thread_ts)
    for upload, entry in zip(stored, entries, strict=True):
        upload.complete = True
        if entry.get("title"):
            upload.obj["title"] = entry["title"]
    for channel in channels:
        _share(ws, channel, stored, args, thread_ts, parent)
    return {"files": [{"id": f.obj["id"], "title": f.obj["title"]} for f in stored]}


def _check_allowed(ws: Workspace, stored: list[StoredFile]) -> None:
    """A workspace's file policy (`SlackStandIn.refuse_uploads`): refused for good, each time."""
    refusal = ws.upload_refusal
    if refusal is None:
        return
    images = all(str(f.obj["mimetype"]).startswith("image/") for f in stored)
    if refusal == "file_uploads_except_images_disabled" and images:
        return
    raise ApiError(refusal)


def _share(
    ws: Workspace,
    channel: Channel,
    uploads: list[StoredFile],
    args: JSONDict,
    thread_ts: str | None,
    parent: JSONDict | None,
) -> None:
    message: JSONDict = {
        "user": ws.bot_user_id,
        "type": "message",
        "ts": ws.next_ts(),
        "bot_id": ws.bot_id,
        "app_id": ws.app_id,
        "text": str(args.get("initial_comment") or ""),
        "team": ws.team_id,
        "upload": True,
        "display_as_bot": False,
        "files": [],
    }
    blocks = json_arg(args, "blocks", "invalid_blocks")
    if blocks:
        message["blocks"] = check_blocks(blocks)
    if thread_ts:
        message["thread_ts"] = thread_ts
    share: JSONDict = {
        "ts": message["ts"],
        "channel_name": channel.name,
        "team_id": ws.team_id,
        "share_user_id": ws.bot_user_id,
        "source": "UNKNOWN",
        "reply_users": [],
        "reply_users_count": 0,
        "reply_count": 0,
    }
    if thread_ts:
        share["thread_ts"] = thread_ts
    kind = "private" if channel.is_private else "public"
    for upload in uploads:
        upload.obj["shares"].setdefault(kind, {}).setdefault(channel.id, []).append(share)
        listing = "ims" if channel.is_im else "groups" if channel.is_private else "channels"
        if channel.id not in upload.obj[listing]:
            upload.obj[listing].append(channel.id)
        shown = copy.deepcopy(upload.obj)
        shown.pop("shares", None)
        message["files"].append(shown)
    ws.insert(channel.id, message, parent)


def info(ws: Workspace, args: JSONDict) -> JSONDict:
    ws.need_scope("files:read")
    stored = ws.files.get(str(args.get("file") or ""))
    if stored is None or not stored.complete:
        raise ApiError("file_not_found")
    return {
        "file": copy.deepcopy(stored.obj),
        "comments": [],
        "response_metadata": {"next_cursor": ""},
    }


def receive_upload(ws: Workspace, token: str, headers: dict[str, str], body: bytes) -> Reply:
    """POST to an upload URL: the file's bytes, raw or as the first multipart field."""
    content_type = headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        parts = multipart(content_type, body, want_bytes=True)
        content = next(iter(parts.values()), b"")
        body = content if isinstance(content, bytes) else str(content).encode()
    with ws.cond:
        file_id = ws.uploads.pop(token, None)
        if file_id is None:
            return text_reply(404, b"upload URL not found")
        stored = ws.files[file_id]
        stored.content = body
        stored.obj["size"] = len(body)
        stored.obj["mimetype"] = guess_mimetype(stored.obj["name"])
        ws.cond.notify_all()
    return text_reply(200, f"OK - {len(body)}".encode())


def download(ws: Workspace, path: str, headers: dict[str, str]) -> Reply:
    """GET /files-pri/<team>-<file id>/[download/]<name> with the bot token."""
    key = path.split("/")[2] if path.count("/") >= 3 else ""
    file_id = key.split("-", 1)[-1]
    with ws.cond:
        stored = ws.files.get(file_id)
    authorised = headers.get("authorization", "") == f"Bearer {ws.bot_token}"
    if stored is None or stored.content is None or not authorised:
        # Real Slack answers a missing or wrong token with its login page and a 200.
        return Reply(200, {"Content-Type": "text/html; charset=utf-8"}, _LOGIN_PAGE)
    return Reply(200, {"Content-Type": str(stored.obj["mimetype"])}, stored.content)


def delete(ws: Workspace, args: JSONDict) -> JSONDict:
    """``files.delete``: the bot deletes files it uploaded; the file leaves every message."""
    ws.need_scope("files:write")
    file_id = str(args.get("file") or "")
    stored = ws.files.get(file_id)
    if stored is None or not stored.complete:
        raise ApiError("file_not_found")
    if stored.obj.get("user") != ws.bot_user_id or ws.deletes_refused:
        raise ApiError("cant_delete_file")
    del ws.files[file_id]
    for messages in ws.messages.values():
        for message in list(messages):
            kept = [f for f in message.get("files") or [] if f.get("id") != file_id]
            if len(kept) == len(message.get("files") or []):
                continue
            message["files"] = kept
    return {}


METHODS = {
    "files.delete": delete,
    "files.getUploadURLExternal": get_upload_url_external,
    "files.completeUploadExternal": complete_upload_external,
    "files.info": info,
}
