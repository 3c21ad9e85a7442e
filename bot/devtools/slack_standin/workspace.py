"""The stand-in's workspace: channels, users, messages, files and views, behind one lock.

Every Web API family module reads and changes this state through the helpers here, always with
``cond`` held (the HTTP layer takes it around each call), so a test's ``wait_for`` sees changes.
"""

from __future__ import annotations

import bisect
import copy
import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.devtools.slack_standin.common import ApiError, JSONDict, format_ts, ts_us

_EVENT_ONLY_KEYS = ("channel", "event_ts", "channel_type")


@dataclass
class Channel:
    id: str
    name: str
    members: list[str]
    bot_is_member: bool
    is_private: bool
    is_im: bool = False
    created: int = 0
    archived: bool = False


@dataclass
class StoredFile:
    obj: JSONDict
    content: bytes | None = None
    complete: bool = False


@dataclass
class ResponseTarget:
    channel: str | None
    message_ts: str | None


class Workspace:
    """One Slack workspace with one installed app (its bot token and app-level token)."""

    def __init__(
        self,
        *,
        bot_token: str,
        app_token: str,
        bot_user_id: str,
        bot_id: str,
        team_id: str,
        app_id: str,
        scopes: Sequence[str],
        app_scopes: Sequence[str],
        clock: Callable[[], float],
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.app_id = app_id
        self.scopes = tuple(scopes)
        self.app_scopes = tuple(app_scopes)
        self.clock = clock
        self.url = ""  # http://127.0.0.1:PORT once the server is bound
        self.token_refusal: str | None = None  # SlackStandIn.refuse_bot_token
        self.upload_refusal: str | None = None  # SlackStandIn.refuse_uploads
        self.deletes_refused = False  # SlackStandIn.refuse_deletes
        self.cond = threading.Condition(threading.RLock())
        self._ids = itertools.count(1)
        self._last_us = 0
        self.channels: dict[str, Channel] = {}
        self.messages: dict[str, list[JSONDict]] = {}
        self.users: dict[str, JSONDict] = {}
        self.files: dict[str, StoredFile] = {}
        self.uploads: dict[str, str] = {}  # upload URL token -> file id
        self.views: list[JSONDict] = []
        self.used_triggers: set[str] = set()
        self.ephemerals: list[JSONDict] = []
        self.responses: list[JSONDict] = []
        self.targets: dict[str, ResponseTarget] = {}

    # ------------------------------------------------------------------ ids and scopes

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):010d}"

    def next_ts(self) -> str:
        # Strictly increasing and a multiple of 100 µs, so it can never equal a driver-made ts.
        candidate = max(int(self.clock() * 1_000_000), self._last_us + 1)
        self._last_us = (candidate + 99) // 100 * 100
        return format_ts(self._last_us)

    def need_scope(self, *alternatives: str) -> None:
        if not any(scope in self.scopes for scope in alternatives):
            raise ApiError(
                "missing_scope", needed=",".join(alternatives), provided=",".join(self.scopes)
            )

    def need_read_scope(self, channel: Channel, kind: str) -> None:
        prefix = "im" if channel.is_im else "groups" if channel.is_private else "channels"
        self.need_scope(f"{prefix}:{kind}")

    # ------------------------------------------------------------------ channels and messages

    def channel(self, args: JSONDict, *, need_member: bool = True, key: str = "channel") -> Channel:
        channel = self.channels.get(str(args.get(key) or ""))
        # A private channel the bot is not in is invisible to it, as on Slack.
        if channel is None or (channel.is_private and not channel.bot_is_member):
            raise ApiError("channel_not_found")
        if need_member and channel.archived:
            raise ApiError("is_archived")
        if need_member and not channel.bot_is_member:
            raise ApiError("not_in_channel")
        return channel

    def dm_channel(self, user_id: str) -> Channel:
        dm_id = "D" + user_id[1:]
        if dm_id not in self.channels:
            self.channels[dm_id] = Channel(
                id=dm_id,
                name=user_id,
                members=[user_id],
                bot_is_member=True,
                is_private=True,
                is_im=True,
                created=int(self.clock()),
            )
            self.messages[dm_id] = []
        return self.channels[dm_id]

    def find(self, channel_id: str, ts: str) -> JSONDict | None:
        for message in self.messages.get(channel_id, []):
            if message["ts"] == ts:
                return message
        return None

    def message(self, channel: Channel, ts: Any) -> JSONDict:
        if not ts:
            raise ApiError("no_item_specified")
        message = self.find(channel.id, str(ts))
        if message is None:
            raise ApiError("message_not_found")
        return message

    def thread_parent(self, channel_id: str, thread_ts: str) -> JSONDict:
        parent = self.find(channel_id, thread_ts)
        if parent is None:
            raise ApiError("thread_not_found")
        if parent.get("thread_ts") not in (None, parent["ts"]):
            raise ApiError("cannot_reply_to_message")
        return parent

    def insert(self, channel_id: str, message: JSONDict, parent: JSONDict | None) -> None:
        messages = self.messages[channel_id]
        bisect.insort(messages, message, key=lambda m: ts_us(m["ts"]))
        if parent is not None:
            message.setdefault("parent_user_id", parent.get("user"))
            self._recount(channel_id, parent)

    def _recount(self, channel_id: str, parent: JSONDict) -> None:
        replies = [
            m
            for m in self.messages[channel_id]
            if m.get("thread_ts") == parent["ts"] and m["ts"] != parent["ts"]
        ]
        if not replies:
            for key in ("reply_count", "reply_users_count", "latest_reply", "reply_users"):
                parent.pop(key, None)
            return
        users: list[str] = []
        for reply in replies:
            user = reply.get("user") or reply.get("bot_id")
            if user and user not in users:
                users.append(user)
        parent.update(
            thread_ts=parent["ts"],
            reply_count=len(replies),
            reply_users_count=len(users),
            latest_reply=replies[-1]["ts"],
            reply_users=users[:5],
            is_locked=False,
            subscribed=False,
        )

    def remove(self, channel_id: str, message: JSONDict) -> None:
        messages = self.messages[channel_id]
        if message.get("reply_count"):
            # Slack keeps a deleted thread parent as a tombstone so the replies stay reachable.
            for key in ("text", "blocks", "attachments", "files", "metadata", "reactions"):
                message.pop(key, None)
            message.update(
                subtype="tombstone", text="This message was deleted.", user="USLACKBOT", hidden=True
            )
            return
        messages.remove(message)
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != message["ts"]:
            parent = self.find(channel_id, thread_ts)
            if parent is not None:
                self._recount(channel_id, parent)

    def add_message(self, event: JSONDict, channel_id: str) -> JSONDict:
        """Apply a person's message event (new, ``message_changed``, ``message_deleted``)."""
        if channel_id not in self.channels:
            raise ValueError(f"unknown channel {channel_id!r}: call add_channel() first")
        subtype = event.get("subtype")
        if subtype == "message_changed":
            new = event["message"]
            stored = self.find(channel_id, new["ts"])
            if stored is None:
                raise ValueError(f"no message {new['ts']} in {channel_id}")
            for key in ("text", "blocks", "attachments", "files", "edited"):
                if key in new:
                    stored[key] = new[key]
            return stored
        if subtype == "message_deleted":
            stored = self.find(channel_id, event["deleted_ts"])
            if stored is None:
                raise ValueError(f"no message {event['deleted_ts']} in {channel_id}")
            self.remove(channel_id, stored)
            return stored
        for key in (*_EVENT_ONLY_KEYS, "hidden"):
            event.pop(key, None)
        event.setdefault("type", "message")
        event.setdefault("ts", self.next_ts())
        if self.find(channel_id, event["ts"]) is not None:
            raise ValueError(f"a message with ts {event['ts']} already exists")
        self._last_us = max(self._last_us, ts_us(event["ts"]))
        parent = None
        if event.get("thread_ts") not in (None, event["ts"]):
            try:
                parent = self.thread_parent(channel_id, event["thread_ts"])
            except ApiError as exc:
                raise ValueError(f"{exc.error}: thread {event['thread_ts']}") from None
        self.insert(channel_id, event, parent)
        return event

    def history_view(self, message: JSONDict, include_metadata: bool) -> JSONDict:
        shown = copy.deepcopy(message)
        if not include_metadata:
            shown.pop("metadata", None)
        return shown

    # ------------------------------------------------------------------ users

    def add_user_record(
        self,
        user_id: str,
        *,
        name: str,
        real_name: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_bot: bool = False,
        display_name: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> JSONDict:
        real = real_name or name
        display = display_name if display_name is not None else name
        record: JSONDict = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": False,
            "color": "9f69e7",
            "real_name": real,
            "tz": "Europe/London",
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "profile": {
                "real_name": real,
                "real_name_normalized": real,
                "display_name": display,
                "display_name_normalized": display,
                "team": self.team_id,
                "image_48": "https://a.slack-edge.com/80588/img/avatars/ava_0001-48.png",
            },
            "is_admin": is_admin or is_owner,
            "is_owner": is_owner,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": int(self.clock()),
        }
        record.update(copy.deepcopy(dict(extra or {})))
        self.users[user_id] = record
        return record
