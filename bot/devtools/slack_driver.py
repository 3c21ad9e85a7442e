"""Build signed Slack requests the way Slack sends them, and deliver them over HTTP.

``SlackDriver`` makes Events API envelopes (JSON), slash commands (form bodies) and interactivity
payloads (``payload=<json>`` form bodies), each signed with the app's signing secret
(``v0`` HMAC-SHA256 over ``v0:<timestamp>:<body>``). A request comes back as a
:class:`Prepared` (``body, headers = prepared``) to feed ``slack_bolt.App.dispatch`` in-process,
or is POSTed to the bridge's ``/slack/events`` URL with :meth:`SlackDriver.post` /
:meth:`Prepared.post`. Payload shapes follow the captures in ``slack-fixtures/``.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

JSONDict = dict[str, Any]

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


@dataclass(frozen=True)
class Prepared:
    """A signed request: the exact body text and its headers. Unpacks as ``(body, headers)``."""

    body: str
    headers: dict[str, str]
    driver: SlackDriver | None = field(default=None, repr=False, compare=False)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.body, self.headers))

    @property
    def payload(self) -> JSONDict:
        """The body parsed back: the event envelope, the interaction payload or the form fields."""
        if self.headers.get("Content-Type") == JSON_TYPE:
            parsed: JSONDict = json.loads(self.body)
            return parsed
        fields = dict(parse_qsl(self.body, keep_blank_values=True))
        if "payload" in fields:
            interaction: JSONDict = json.loads(fields["payload"])
            return interaction
        return dict(fields)

    def socket_envelope(self) -> tuple[str, JSONDict]:
        """The Socket Mode envelope type and payload that carry this request instead."""
        payload = self.payload
        if self.headers.get("Content-Type") == JSON_TYPE:
            return "events_api", payload
        return ("slash_commands" if "command" in payload else "interactive"), payload

    def dispatch(self, app: App) -> BoltResponse:
        """Hand this request to a Bolt app in-process, as Slack's HTTP delivery would."""
        return app.dispatch(BoltRequest(body=self.body, headers=dict(self.headers)))

    def post(self, *, timeout: float = 5.0) -> httpx.Response:
        """Send this request to the driver's URL."""
        if self.driver is None:
            raise RuntimeError("this request was not made by a SlackDriver")
        return self.driver.post(self, timeout=timeout)


class SlackDriver:
    """Plays Slack's side of HTTP mode for one app in one workspace.

    ``clock`` gives the request timestamps (and event times); pass one that lags by more than
    five minutes to produce requests a verifier must reject as stale.
    ``response_url_factory`` makes the default ``response_url`` of commands, actions and message
    shortcuts; it is called with ``channel=`` (and ``message_ts=`` for block actions), which
    ``SlackStandIn.response_url`` accepts. Without it they point at hooks.slack.com.
    """

    def __init__(
        self,
        signing_secret: str,
        *,
        url: str | None = None,
        team_id: str = "T0STANDIN",
        api_app_id: str = "A0BRIDGE",
        bot_user_id: str = "UBRIDGEBOT",
        bot_id: str = "BBRIDGEBOT",
        team_domain: str = "standin",
        clock: Callable[[], float] = time.time,
        response_url_factory: Callable[..., str] | None = None,
    ) -> None:
        self.signing_secret = signing_secret
        self.url = url
        self.team_id = team_id
        self.api_app_id = api_app_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_domain = team_domain
        self.clock = clock
        self.response_url_factory = response_url_factory
        self._seq = itertools.count(1)
        self._last_us = 0

    # ------------------------------------------------------------------ signing and delivery

    def sign(self, body: str, timestamp: int | None = None) -> dict[str, str]:
        """``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` for ``body``."""
        ts = int(self.clock()) if timestamp is None else int(timestamp)
        base = f"v0:{ts}:{body}".encode()
        digest = hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}

    def prepare(self, body: str, content_type: str, **extra_headers: str) -> Prepared:
        """Sign any body; the builders below all end here."""
        headers = {"Content-Type": content_type, "User-Agent": _USER_AGENT, **self.sign(body)}
        headers.update(extra_headers)
        return Prepared(body=body, headers=headers, driver=self)

    def post(self, prepared: Prepared, *, timeout: float = 5.0) -> httpx.Response:
        """POST a prepared request to ``self.url`` and return the response."""
        if not self.url:
            raise RuntimeError("SlackDriver has no url; pass url= to post requests")
        return httpx.post(
            self.url, content=prepared.body.encode(), headers=prepared.headers, timeout=timeout
        )

    def redeliver(
        self, prepared: Prepared, *, retry_num: int = 1, retry_reason: str = "http_timeout"
    ) -> Prepared:
        """The same body again, freshly signed, with Slack's retry headers (as on a retry)."""
        content_type = prepared.headers.get("Content-Type", JSON_TYPE)
        return self.prepare(
            prepared.body,
            content_type,
            **{"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason},
        )

    # ------------------------------------------------------------------ Events API

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
            event["blocks"] = [_rich_text(text)]
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
        event.update(channel=channel, event_ts=ts, channel_type=_channel_type(channel))
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
        previous["blocks"] = [_rich_text(previous["text"])]
        current: JSONDict = {
            "type": "message",
            "text": text,
            "user": user,
            "team": self.team_id,
            "edited": {"user": user, "ts": now},
            "blocks": [_rich_text(text)],
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
            "channel_type": _channel_type(channel),
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
            "channel_type": _channel_type(channel),
        }
        event.update(extra)
        return event

    def next_ts(self) -> str:
        """A fresh message ts from the clock, strictly increasing for this driver.

        It always ends in ``59`` (the stand-in's end in ``00``), so the two never collide.
        """
        now_us = int(self.clock() * 1_000_000) // 100 * 100
        self._last_us = max(now_us, self._last_us + 100)
        us = self._last_us + 59
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    # ------------------------------------------------------------------ commands

    def slash_command(
        self,
        text: str,
        *,
        user_id: str,
        channel_id: str,
        command: str = "/wati",
        response_url: str | None = None,
        trigger_id: str | None = None,
        channel_name: str | None = None,
        user_name: str | None = None,
    ) -> Prepared:
        """A slash command as the form body Slack posts."""
        fields = {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name or _default_channel_name(channel_id),
            "user_id": user_id,
            "user_name": user_name or user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url or self._hook_url("commands", channel=channel_id),
            "trigger_id": trigger_id or self.trigger_id(),
        }
        return self.prepare(urlencode(fields), FORM_TYPE)

    # ------------------------------------------------------------------ interactivity

    def interaction(self, payload: Mapping[str, Any]) -> Prepared:
        """Any interactivity payload as the ``payload=`` form body Slack posts."""
        return self.prepare(urlencode({"payload": json.dumps(payload)}), FORM_TYPE)

    def block_action(
        self,
        action_id: str,
        *,
        user_id: str,
        channel_id: str,
        message_ts: str | None = None,
        value: str | None = None,
        thread_ts: str | None = None,
        block_id: str | None = None,
        response_url: str | None = None,
        message: Mapping[str, Any] | None = None,
    ) -> Prepared:
        """A button click in a message (``block_actions``).

        Pass ``message`` (e.g. from ``SlackStandIn.messages``) to carry the real message: its
        ``ts`` and ``thread_ts`` are used when not given, and the clicked element's block id,
        type, text and value are taken from its blocks.
        """
        shown = _as_history_message(message) if message is not None else None
        message_ts = message_ts or (shown or {}).get("ts") or self.next_ts()
        thread_ts = thread_ts or (shown or {}).get("thread_ts")
        if shown is None:
            shown = {
                "type": "message",
                "user": self.bot_user_id,
                "bot_id": self.bot_id,
                "ts": message_ts,
                "text": "",
                "blocks": [],
                "team": self.team_id,
            }
            if thread_ts:
                shown["thread_ts"] = thread_ts
        container: JSONDict = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
        if thread_ts:
            container["thread_ts"] = thread_ts
        found_block, element = _find_element(shown, action_id)
        action: JSONDict = {
            "action_id": action_id,
            "block_id": block_id or found_block or "actions",
            "text": element.get("text") or {"type": "plain_text", "text": action_id, "emoji": True},
            "type": element.get("type", "button"),
            "action_ts": self._action_ts(),
        }
        if value is None:
            value = element.get("value")
        if value is not None:
            action["value"] = value
        payload: JSONDict = {
            "type": "block_actions",
            "user": self._user(user_id, with_name=True),
            "api_app_id": self.api_app_id,
            "token": "legacy-verification-token",
            "container": container,
            "trigger_id": self.trigger_id(),
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": _default_channel_name(channel_id)},
            "message": shown,
            "state": {"values": {}},
            "response_url": response_url
            or self._hook_url("actions", channel=channel_id, message_ts=message_ts),
            "actions": [action],
        }
        return self.interaction(payload)

    def view_submission(
        self,
        callback_id: str,
        *,
        user_id: str,
        values: Mapping[str, Mapping[str, Any]],
        private_metadata: str = "",
        view_id: str | None = None,
    ) -> Prepared:
        """A modal's Submit (``view_submission``).

        ``values`` is ``state.values``: ``{block_id: {action_id: element_state}}``; a plain
        string as ``element_state`` stands for a ``plain_text_input`` with that value.
        """
        state: JSONDict = {}
        blocks: list[JSONDict] = []
        for block_id, actions in values.items():
            state[block_id] = {}
            for action_id, element in actions.items():
                if isinstance(element, str) or element is None:
                    element = {"type": "plain_text_input", "value": element}
                state[block_id][action_id] = dict(element)
                blocks.append(
                    {
                        "type": "input",
                        "block_id": block_id,
                        "label": {"type": "plain_text", "text": block_id},
                        "optional": False,
                        "element": {"type": element["type"], "action_id": action_id},
                    }
                )
        view_id = view_id or f"V{next(self._seq):010d}"
        view: JSONDict = {
            "id": view_id,
            "team_id": self.team_id,
            "type": "modal",
            "blocks": blocks,
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": state},
            "hash": f"{int(self.clock())}.{secrets.token_urlsafe(6)}",
            "title": {"type": "plain_text", "text": "WhatsApp"},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": {"type": "plain_text", "text": "Cancel"},
            "submit": {"type": "plain_text", "text": "Submit"},
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.api_app_id,
            "external_id": "",
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        payload: JSONDict = {
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user_id, with_name=True),
            "api_app_id": self.api_app_id,
            "token": "legacy-verification-token",
            "trigger_id": self.trigger_id(),
            "view": view,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self.interaction(payload)

    def shortcut(self, callback_id: str, *, user_id: str) -> Prepared:
        """A global shortcut (``shortcut``): no channel, no message, no response_url."""
        payload: JSONDict = {
            "type": "shortcut",
            "token": "legacy-verification-token",
            "action_ts": self._action_ts(),
            "team": self._team(),
            "user": self._user(user_id),
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self.trigger_id(),
        }
        return self.interaction(payload)

    def message_action(
        self,
        callback_id: str,
        *,
        user_id: str,
        channel_id: str,
        message: Mapping[str, Any],
        response_url: str | None = None,
    ) -> Prepared:
        """A message shortcut (``message_action``) on ``message`` (an event or a stored message)."""
        shown = _as_history_message(message)
        payload: JSONDict = {
            "type": "message_action",
            "token": "legacy-verification-token",
            "action_ts": self._action_ts(),
            "team": self._team(),
            "user": {"id": user_id, "name": user_id.lower()},
            "channel": {"id": channel_id, "name": _default_channel_name(channel_id)},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self.trigger_id(),
            "message_ts": shown["ts"],
            "message": shown,
            "response_url": response_url or self._hook_url("app", channel=channel_id),
        }
        return self.interaction(payload)

    # ------------------------------------------------------------------ small parts

    def trigger_id(self) -> str:
        """A fresh, unique ``trigger_id``."""
        return f"{next(self._seq)}{int(self.clock())}.{self.team_id}.{secrets.token_hex(16)}"

    def _action_ts(self) -> str:
        return f"{self.clock():.6f}"

    def _hook_url(self, kind: str, **target: str) -> str:
        if self.response_url_factory is not None:
            return self.response_url_factory(**target)
        return (
            f"https://hooks.slack.com/{kind}/{self.team_id}/{next(self._seq)}/"
            f"{secrets.token_urlsafe(18)}"
        )

    def _team(self) -> JSONDict:
        return {"id": self.team_id, "domain": self.team_domain}

    def _user(self, user_id: str, *, with_name: bool = False) -> JSONDict:
        user: JSONDict = {"id": user_id, "username": user_id.lower(), "team_id": self.team_id}
        if with_name:
            user["name"] = user_id.lower()
        return user


def _rich_text(text: str) -> JSONDict:
    return {
        "type": "rich_text",
        "block_id": secrets.token_urlsafe(3),
        "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
    }


def _channel_type(channel_id: str) -> str:
    return {"D": "im", "G": "group"}.get(channel_id[:1], "channel")


def _default_channel_name(channel_id: str) -> str:
    if channel_id.startswith("D"):
        return "directmessage"
    if channel_id.startswith("G"):
        return "privategroup"
    return channel_id.lower()


def _as_history_message(message: Mapping[str, Any]) -> JSONDict:
    """A message as it appears inside interaction payloads: event-only keys dropped."""
    shown = copy.deepcopy(dict(message))
    for key in ("channel", "event_ts", "channel_type"):
        shown.pop(key, None)
    if "ts" not in shown:
        raise ValueError("the message needs a ts")
    return shown


def _find_element(message: Mapping[str, Any], action_id: str) -> tuple[str | None, JSONDict]:
    """The block id and element holding ``action_id`` in a message's blocks, if it is there."""
    for block in message.get("blocks") or []:
        elements = list(block.get("elements") or [])
        if block.get("accessory"):
            elements.append(block["accessory"])
        for element in elements:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return block.get("block_id"), element
    return None, {}
