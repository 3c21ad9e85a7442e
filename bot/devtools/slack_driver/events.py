"""Events API envelopes: messages, edits, deletes, url_verification."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Mapping
from typing import Any

from bot.devtools.slack_driver.base import DriverBase
from bot.devtools.slack_driver.prepared import JSON_TYPE, JSONDict, Prepared
from bot.devtools.slack_driver.shapes import (
    channel_type,
    rich_text,
)


class EventPayloads(DriverBase):
    """Builders of Events API requests (JSON bodies)."""

    def event(
        self,
        event: Mapping[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> Prepared:
        """An ``event_callback`` envelope around ``event``; reuse ``event_id`` for a retry."""
        inner = dict(event)
        envelope = {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": inner,
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(self.clock()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{inner.get('type', 'event')}-{self.team_id}-"
            f"{inner.get('channel', '')}",
        }
        extra: dict[str, str] = {}
        if retry_num is not None:
            extra["X-Slack-Retry-Num"] = str(retry_num)
            extra["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        return self.prepare(json.dumps(envelope), JSON_TYPE, **extra)

    def url_verification(self, challenge: str) -> Prepared:
        """The handshake Slack sends when the Request URL is saved."""
        body = {"token": "legacy-verification-token", "challenge": challenge}
        return self.prepare(json.dumps({**body, "type": "url_verification"}), JSON_TYPE)

    def message(
        self,
        *,
        channel: str,
        user: str,
        text: str,
        ts: str | None = None,
        thread_ts: str | None = None,
        subtype: str | None = None,
        files: list[JSONDict] | None = None,
        **extra: Any,
    ) -> JSONDict:
        """A ``message`` event as Slack delivers it (the ``event`` part of the envelope).

        - no subtype: a person's message, with ``client_msg_id`` and a ``rich_text`` block;
          with ``files`` it becomes ``file_share``; with ``bot_id=`` in ``extra`` it is a
          modern bot post (``bot_profile``, no subtype).
        - ``thread_ts``: a reply in that thread (pass ``parent_user_id=`` to set it).
        - ``"thread_broadcast"``: a reply also sent to the channel (``root=`` optional).
        - ``"bot_message"``: a classic post by another integration (``username``, ``bot_id``
          ``B0CLASSIC`` unless given, no ``user``).
        - ``"message_changed"``: ``ts`` is the edited message, ``text`` its new text,
          ``previous_text=`` the old one.
        - ``"message_deleted"``: ``ts`` is the deleted message, ``text`` its last text.
        - others (``"channel_join"``, ``"me_message"``…): the plain shape plus the subtype.

        Keys left in ``extra`` are added to (or override) the event.
        """
        if files and subtype is None:
            subtype = "file_share"
        extra = dict(extra)
        if subtype == "message_changed":
            return self._message_changed(channel, user, text, ts, thread_ts, extra)
        if subtype == "message_deleted":
            return self._message_deleted(channel, user, text, ts, thread_ts, extra)
        ts = ts or self.next_ts()
        event: JSONDict = {"type": "message"}
        if subtype is not None:
            event["subtype"] = subtype
        event["text"] = text
        is_bot = subtype == "bot_message" or "bot_id" in extra
        if subtype == "bot_message":
            event.update(username=extra.pop("username", "classic-bot"), bot_id="B0CLASSIC")
        else:
            event["user"] = user
        if is_bot and subtype != "bot_message":
            bot_id = extra.pop("bot_id")
            event["bot_id"] = bot_id
            event["app_id"] = extra.pop("app_id", self.api_app_id)
            event["bot_profile"] = {
                "id": bot_id,
                "deleted": False,
                "name": "bot",
                "updated": int(self.clock()),
                "app_id": event["app_id"],
                "team_id": self.team_id,
            }
        if not is_bot:
            event["client_msg_id"] = str(uuid.uuid4())
            event["blocks"] = [rich_text(text)]
        event["ts"] = ts
        event["team"] = self.team_id
        if files:
            event.update(files=copy.deepcopy(files), upload=False, display_as_bot=False)
        if thread_ts:
            event["thread_ts"] = thread_ts
            if subtype == "thread_broadcast":
                event["root"] = extra.pop(
                    "root", {"type": "message", "ts": thread_ts, "thread_ts": thread_ts}
                )
        event.update(channel=channel, event_ts=ts, channel_type=channel_type(channel))
        event.update(extra)
        return event

    def _message_changed(
        self,
        channel: str,
        user: str,
        text: str,
        ts: str | None,
        thread_ts: str | None,
        extra: JSONDict,
    ) -> JSONDict:
        if ts is None:
            raise ValueError("message_changed needs ts= (the edited message's ts)")
        now = self.next_ts()
        previous: JSONDict = {
            "type": "message",
            "text": extra.pop("previous_text", ""),
            "user": user,
            "team": self.team_id,
            "ts": ts,
        }
        previous["blocks"] = [rich_text(previous["text"])]
        current: JSONDict = {
            "type": "message",
            "text": text,
            "user": user,
            "team": self.team_id,
            "edited": {"user": user, "ts": now},
            "blocks": [rich_text(text)],
            "ts": ts,
        }
        if thread_ts:
            previous["thread_ts"] = current["thread_ts"] = thread_ts
        event: JSONDict = {
            "type": "message",
            "subtype": "message_changed",
            "message": current,
            "previous_message": previous,
            "channel": channel,
            "hidden": True,
            "ts": now,
            "event_ts": now,
            "channel_type": channel_type(channel),
        }
        event.update(extra)
        return event

    def _message_deleted(
        self,
        channel: str,
        user: str,
        text: str,
        ts: str | None,
        thread_ts: str | None,
        extra: JSONDict,
    ) -> JSONDict:
        if ts is None:
            raise ValueError("message_deleted needs ts= (the deleted message's ts)")
        now = self.next_ts()
        previous: JSONDict = {
            "type": "message",
            "text": text,
            "user": user,
            "team": self.team_id,
            "ts": ts,
        }
        if thread_ts:
            previous["thread_ts"] = thread_ts
        event: JSONDict = {
            "type": "message",
            "subtype": "message_deleted",
            "previous_message": previous,
            "channel": channel,
            "hidden": True,
            "deleted_ts": ts,
            "event_ts": now,
            "ts": now,
            "channel_type": channel_type(channel),
        }
        event.update(extra)
        return event
