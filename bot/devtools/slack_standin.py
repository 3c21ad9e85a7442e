"""A local Slack Web API stand-in on loopback, for tests and ``wati-bridge demo``.

Point a real ``slack_sdk.WebClient(base_url=standin.api_url)`` at it. It keeps a small workspace
(channels, users, messages, threads, reactions, files, views), answers with Slack's response shapes
and error codes, records every call, and can be told to fail the next calls (429 with
``Retry-After``, ``ok: false`` or 500) or to hold the next one, applied or not, until released
(``hold_next``, for crash tests). Only the bot token it was given is accepted, and scopes are
enforced the way Slack does (``missing_scope``), so a manifest that lacks a scope shows up here.

Deliberate simplifications: one workspace, one bot token, no event delivery (drive events with
``bot.slack_driver``), file shares complete synchronously, pagination cursors are offsets.
Stdlib only.
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import email.parser
import email.policy
import itertools
import json
import mimetypes
import re
import secrets
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot.devtools import block_checks

JSONDict = dict[str, Any]

DEFAULT_SCOPES: tuple[str, ...] = (
    "channels:history",
    "groups:history",
    "channels:read",
    "groups:read",
    "chat:write",
    "chat:write.customize",
    "commands",
    "files:read",
    "files:write",
    "users:read",
    "reactions:write",
)
"""The bridge manifest's bot scopes. ``conversations.join`` needs ``channels:join`` and
``reactions.get`` needs ``reactions:read`` on top of these, as on Slack."""

_LOGIN_PAGE = (
    b"<!DOCTYPE html><html><head><title>Slack</title></head>"
    b"<body><h1>Sign in to your workspace</h1></body></html>"
)
_EMOJI_NAME = re.compile(r"^[a-z0-9_+'\-]+(::skin-tone-[2-6])?$")
_EVENT_ONLY_KEYS = ("channel", "event_ts", "channel_type")


@dataclass(frozen=True)
class Call:
    """One Web API request the stand-in received (failed ones included)."""

    method: str
    args: dict[str, Any]
    headers: dict[str, str]
    at: float
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when Slack would have answered ``ok: true``."""
        return self.status == 200 and bool(self.response.get("ok"))


class _ApiError(Exception):
    """Ends a Web API method with ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class _Channel:
    id: str
    name: str
    members: list[str]
    bot_is_member: bool
    is_private: bool
    is_im: bool = False
    created: int = 0


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    error: str


@dataclass
class _File:
    obj: JSONDict
    content: bytes | None = None
    complete: bool = False


@dataclass
class _ResponseTarget:
    channel: str | None
    message_ts: str | None


@dataclass
class _Reply:
    status: int
    headers: dict[str, str]
    body: bytes


class Hold:
    """A Web API request held on its way, to test what a client does when it dies waiting.

    Made by :meth:`SlackStandIn.hold_next`. ``applied=True``: the call takes effect, then its
    answer waits until :meth:`release`. ``applied=False``: the call waits without taking
    effect; on release it is answered HTTP 500 ``internal_error`` and never applied.
    """

    def __init__(self, method: str, applied: bool, when: Callable[[JSONDict], bool] | None) -> None:
        self.method = method
        self.applied = applied
        self.when = when
        self.args: JSONDict | None = None
        self._arrived = threading.Event()
        self._released = threading.Event()

    def wait(self, timeout: float = 5.0) -> JSONDict:
        """Block until a request is being held; return its arguments."""
        if not self._arrived.wait(timeout):
            raise TimeoutError(f"no {self.method} call was held within {timeout}s")
        return dict(self.args or {})

    @property
    def holding(self) -> bool:
        """True while a request is held."""
        return self._arrived.is_set() and not self._released.is_set()

    def release(self) -> None:
        """Let the held request go on (or let the next matching one through unheld)."""
        self._released.set()

    def _block(self, args: JSONDict) -> None:
        self.args = args
        self._arrived.set()
        self._released.wait()


def _ts_us(ts: str) -> int:
    seconds, _, fraction = str(ts).partition(".")
    if not seconds.isdigit() or (fraction and not fraction.isdigit()):
        raise _ApiError("bad_timestamp")
    return int(seconds) * 1_000_000 + int(fraction.ljust(6, "0")[:6])


def _format_ts(us: int) -> str:
    return f"{us // 1_000_000}.{us % 1_000_000:06d}"


def _flag(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def _is_top_level(message: JSONDict) -> bool:
    thread_ts = message.get("thread_ts")
    return (
        thread_ts is None
        or thread_ts == message["ts"]
        or message.get("subtype") == "thread_broadcast"
    )


def _json_arg(args: JSONDict, key: str, error: str) -> Any:
    """Read an argument slack_sdk sends as JSON text in form bodies and as JSON in JSON bodies."""
    value = args.get(key)
    if isinstance(value, str):
        if not value:
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise _ApiError(error) from None
    return value


def _required(args: JSONDict, *keys: str) -> None:
    missing = [key for key in keys if args.get(key) in (None, "")]
    if missing:
        raise _ApiError(
            "invalid_arguments",
            response_metadata={
                "messages": [f"[ERROR] missing required field: {k}" for k in missing]
            },
        )


class SlackStandIn:
    """A stateful Slack Web API on 127.0.0.1; use as a context manager or ``start()``/``stop()``.

    ``clock`` dates messages (their ``ts``), calls and files; pass a test's clock to keep Slack
    and the bridge on one timeline. ``users`` maps user ids to ``users.info`` fields.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_token: str = "xoxb-standin",
        bot_user_id: str = "UBRIDGEBOT",
        bot_id: str = "BBRIDGEBOT",
        team_id: str = "T0STANDIN",
        app_id: str = "A0BRIDGE",
        scopes: Sequence[str] = DEFAULT_SCOPES,
        users: Mapping[str, dict[str, Any]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.host = host
        self.clock = clock
        self.port = port
        self.bot_token = bot_token
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.app_id = app_id
        self.scopes = tuple(scopes)
        self._cond = threading.Condition(threading.RLock())
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)
        self._last_us = 0
        self._calls: list[Call] = []
        self._responses: list[JSONDict] = []
        self._ephemerals: list[JSONDict] = []
        self._views: list[JSONDict] = []
        self._used_triggers: set[str] = set()
        self._channels: dict[str, _Channel] = {}
        self._messages: dict[str, list[JSONDict]] = {}
        self._files: dict[str, _File] = {}
        self._uploads: dict[str, str] = {}  # upload URL token -> file id
        self._targets: dict[str, _ResponseTarget] = {}
        self._failures: dict[str, deque[_Failure]] = {}
        self._holds: list[Hold] = []
        self._held: list[Hold] = []
        self._users: dict[str, JSONDict] = {}
        self._add_user_record(
            bot_user_id, name="wati-bridge", real_name="WhatsApp Bridge", is_bot=True
        )
        self._users[bot_user_id]["profile"].update(
            {"bot_id": bot_id, "api_app_id": app_id, "always_active": True}
        )
        for user_id, data in (users or {}).items():
            record = self._add_user_record(user_id, name=str(data.get("name", user_id.lower())))
            record.update(copy.deepcopy(dict(data)))
        self._methods: dict[str, Callable[[JSONDict], JSONDict]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "reactions.get": self._reactions_get,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.members": self._conversations_members,
            "conversations.join": self._conversations_join,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "files.info": self._files_info,
        }

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SlackStandIn:
        """Bind the port and serve in a daemon thread."""
        if self._server is not None:
            return self
        server = _Server((self.host, self.port), _Handler)
        server.daemon_threads = True
        server.standin = self  # type: ignore[attr-defined]
        self._server = server
        self.port = server.server_address[1]
        # A short poll interval keeps stop() quick (shutdown waits for the next poll).
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"slack-standin-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (and any held request)."""
        with self._cond:
            for hold in (*self._holds, *self._held):
                hold.release()
            self._holds.clear()
            self._held.clear()
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> SlackStandIn:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (only once started)."""
        if self._server is None:
            raise RuntimeError("SlackStandIn is not started; call start() or use `with`")
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """The Web API base URL: pass it as ``WebClient(base_url=...)`` and ``SLACK_API_URL``."""
        return f"{self.url}/api/"

    # ------------------------------------------------------------------ workspace set-up

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        members: Sequence[str] = (),
        bot_is_member: bool = True,
        is_private: bool | None = None,
    ) -> None:
        """Create a channel; ``is_private`` defaults to True for ``G…`` ids.

        When ``members`` is given, ``chat.postEphemeral`` to anyone else fails with
        ``user_not_in_channel``; an empty list accepts every user.
        """
        with self._cond:
            self._channels[channel_id] = _Channel(
                id=channel_id,
                name=name,
                members=list(members),
                bot_is_member=bot_is_member,
                is_private=channel_id.startswith("G") if is_private is None else is_private,
                created=int(self.clock()),
            )
            self._messages.setdefault(channel_id, [])
            self._cond.notify_all()

    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        real_name: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_bot: bool = False,
        display_name: str | None = None,
    ) -> None:
        """Add (or replace) a user as ``users.info`` returns it."""
        with self._cond:
            self._add_user_record(
                user_id,
                name=name,
                real_name=real_name,
                is_admin=is_admin,
                is_owner=is_owner,
                is_bot=is_bot,
                display_name=display_name,
            )

    def add_file(self, content: bytes, *, name: str, mimetype: str, user: str) -> JSONDict:
        """Store a file a user "uploaded" and return its Slack file object.

        ``url_private``/``url_private_download`` point at the stand-in and need
        ``Authorization: Bearer <bot_token>``; without it they serve an HTML login page with 200.
        """
        with self._cond:
            file_id = self._new_id("F")
            obj = self._file_object(file_id, name=name, title=name, user=user)
            obj.update(mimetype=mimetype, size=len(content))
            self._files[file_id] = _File(obj=obj, content=bytes(content), complete=True)
            return copy.deepcopy(obj)

    def add_message(self, message: Mapping[str, Any], *, channel: str | None = None) -> JSONDict:
        """Put a message into the workspace as if a person had posted it, and return it.

        Takes a message event as ``bot.slack_driver.SlackDriver.message`` builds it, so the
        stand-in and the bridge see the same conversation: a reply updates its parent's
        ``reply_count``; ``message_changed`` edits and ``message_deleted`` removes the message.
        """
        event = copy.deepcopy(dict(message))
        channel_id = channel or event.get("channel")
        with self._cond:
            if channel_id not in self._channels:
                raise ValueError(f"unknown channel {channel_id!r}: call add_channel() first")
            subtype = event.get("subtype")
            if subtype == "message_changed":
                new = event["message"]
                stored = self._find(channel_id, new["ts"])
                if stored is None:
                    raise ValueError(f"no message {new['ts']} in {channel_id}")
                for key in ("text", "blocks", "attachments", "files", "edited"):
                    if key in new:
                        stored[key] = new[key]
                self._cond.notify_all()
                return copy.deepcopy(stored)
            if subtype == "message_deleted":
                stored = self._find(channel_id, event["deleted_ts"])
                if stored is None:
                    raise ValueError(f"no message {event['deleted_ts']} in {channel_id}")
                self._remove(channel_id, stored)
                self._cond.notify_all()
                return copy.deepcopy(stored)
            for key in (*_EVENT_ONLY_KEYS, "hidden"):
                event.pop(key, None)
            event.setdefault("type", "message")
            event.setdefault("ts", self._next_ts())
            if self._find(channel_id, event["ts"]) is not None:
                raise ValueError(f"a message with ts {event['ts']} already exists")
            self._last_us = max(self._last_us, _ts_us(event["ts"]))
            parent = None
            if event.get("thread_ts") not in (None, event["ts"]):
                try:
                    parent = self._thread_parent(channel_id, event["thread_ts"])
                except _ApiError as exc:
                    raise ValueError(f"{exc.error}: thread {event['thread_ts']}") from None
            self._insert(channel_id, event, parent)
            self._cond.notify_all()
            return copy.deepcopy(event)

    def response_url(self, *, channel: str | None = None, message_ts: str | None = None) -> str:
        """A fresh ``response_url`` on the stand-in.

        Posts to it are recorded in :attr:`responses`. Given the ``channel`` (and ``message_ts``
        of the message that held the button), ``in_channel`` responses are posted there,
        ``replace_original``/``delete_original`` edit that message, and ephemeral ones are
        listed by :meth:`ephemerals` for that channel.
        """
        token = secrets.token_urlsafe(12)
        with self._cond:
            self._targets[token] = _ResponseTarget(channel=channel, message_ts=message_ts)
        return f"{self.url}/response/{token}"

    def fail_next(
        self,
        method: str,
        *,
        count: int = 1,
        status: int = 429,
        retry_after: int | None = 1,
        error: str | None = None,
    ) -> None:
        """Make the next ``count`` calls to ``method`` fail.

        ``status=429``: HTTP 429, ``Retry-After`` (unless None), ``{"ok": false, "error":
        "ratelimited"}`` as Slack sends it. ``status=200``: ``{"ok": false, "error": error}``.
        5xx: that status with ``error`` (default ``internal_error``).
        """
        default = "internal_error" if status >= 500 else "ratelimited"
        with self._cond:
            queue = self._failures.setdefault(method, deque())
            for _ in range(count):
                queue.append(_Failure(status, retry_after, error or default))

    def hold_next(
        self,
        method: str,
        *,
        applied: bool = True,
        when: Callable[[JSONDict], bool] | None = None,
    ) -> Hold:
        """Hold the next call to ``method`` (whose arguments satisfy ``when``) until released.

        For crash tests: kill the client while ``hold.holding``, with the call applied (the
        post exists, its answer never arrives) or not applied (nothing happened).
        """
        hold = Hold(method, applied, when)
        with self._cond:
            self._holds.append(hold)
        return hold

    def _take_hold(self, method: str, args: JSONDict) -> Hold | None:
        with self._cond:
            for hold in self._holds:
                if hold.method == method and (hold.when is None or hold.when(args)):
                    self._holds.remove(hold)
                    self._held.append(hold)
                    return hold
        return None

    # ------------------------------------------------------------------ inspection

    @property
    def calls(self) -> list[Call]:
        """Every Web API call so far, oldest first (a snapshot)."""
        with self._cond:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        """The calls to one Web API method, e.g. ``"chat.postMessage"``."""
        with self._cond:
            return [call for call in self._calls if call.method == method]

    def clear_calls(self) -> None:
        """Forget the recorded calls (state is kept)."""
        with self._cond:
            self._calls.clear()

    @property
    def responses(self) -> list[JSONDict]:
        """Every JSON body posted to a ``response_url``, oldest first."""
        with self._cond:
            return copy.deepcopy(self._responses)

    @property
    def views(self) -> list[JSONDict]:
        """Every view opened, pushed or published, in its current state (ids ``V…``)."""
        with self._cond:
            return copy.deepcopy(self._views)

    def messages(self, channel: str) -> list[JSONDict]:
        """Top-level messages of a channel (thread parents, broadcasts included), oldest first."""
        with self._cond:
            found = self._messages.get(channel, [])
            return [copy.deepcopy(m) for m in found if _is_top_level(m)]

    def replies(self, channel: str, thread_ts: str) -> list[JSONDict]:
        """A thread: the parent then its replies, oldest first."""
        with self._cond:
            found = self._messages.get(channel, [])
            return [
                copy.deepcopy(m)
                for m in found
                if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts
            ]

    def reactions(self, channel: str, ts: str) -> list[str]:
        """Names of the reactions currently on a message."""
        with self._cond:
            message = self._find(channel, ts)
            return [r["name"] for r in (message or {}).get("reactions", [])]

    def ephemerals(self, channel: str | None = None) -> list[JSONDict]:
        """Ephemeral messages (``chat.postEphemeral`` and ephemeral ``response_url`` posts).

        Each is ``{"source", "channel", "user", "text", "blocks", "thread_ts", ...}``;
        ``channel`` is None for response URLs created without one.
        """
        with self._cond:
            return [
                copy.deepcopy(e)
                for e in self._ephemerals
                if channel is None or e.get("channel") == channel
            ]

    def file_content(self, file_id: str) -> bytes | None:
        """The bytes stored for a file, uploaded or added."""
        with self._cond:
            stored = self._files.get(file_id)
            return None if stored is None else stored.content

    def wait_for(
        self,
        predicate: Callable[[SlackStandIn], bool],
        timeout: float = 5.0,
        *,
        message: str | None = None,
    ) -> None:
        """Block until ``predicate(self)`` is true; re-checked whenever the stand-in changes.

        Raises ``TimeoutError`` naming the condition and the calls seen so far.
        """
        with self._cond:
            if self._cond.wait_for(lambda: predicate(self), timeout):
                return
            seen = ", ".join(
                f"{c.method}{'' if c.ok else ' (' + str(c.response.get('error')) + ')'}"
                for c in self._calls[-20:]
            )
            what = message or getattr(predicate, "__name__", "condition")
            raise TimeoutError(
                f"{what} not met within {timeout}s; {len(self._calls)} Web API calls so far"
                + (f", last: {seen}" if seen else "")
            )

    def wait_for_call(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Wait until ``method`` has had ``count`` calls (failed ones count); return them all."""
        self.wait_for(
            lambda s: len(s.calls_to(method)) >= count,
            timeout,
            message=f"{count} call(s) to {method}",
        )
        return self.calls_to(method)

    # ------------------------------------------------------------------ HTTP routing

    def _handle_http(
        self, verb: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> _Reply:
        path = urlsplit(raw_path).path
        lower = {k.lower(): v for k, v in headers.items()}
        if path.startswith("/api/"):
            return self._web_api(path[len("/api/") :], urlsplit(raw_path).query, headers, body)
        if path.startswith("/upload/v1/") and verb == "POST":
            return self._receive_upload(path.rsplit("/", 1)[-1], lower, body)
        if path.startswith("/files-pri/") and verb == "GET":
            return self._download(path, lower)
        if path.startswith("/response/") and verb == "POST":
            return self._receive_response(path.rsplit("/", 1)[-1], lower, body)
        return _Reply(404, {"Content-Type": "text/plain"}, b"not found")

    def _web_api(self, method: str, query: str, headers: dict[str, str], body: bytes) -> _Reply:
        lower = {k.lower(): v for k, v in headers.items()}
        args: JSONDict = dict(parse_qsl(query, keep_blank_values=True))
        content_type = lower.get("content-type", "")
        parse_error: str | None = None
        if body:
            if content_type.startswith("application/json"):
                try:
                    parsed = json.loads(body)
                    if isinstance(parsed, dict):
                        args.update(parsed)
                    else:
                        parse_error = "json_not_object"
                except ValueError:
                    parse_error = "invalid_json"
            elif content_type.startswith("multipart/form-data"):
                args.update(_multipart(content_type, body))
            else:
                args.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        status = 200
        reply_headers = {"Content-Type": "application/json; charset=utf-8"}
        hold = self._take_hold(method, args)
        if hold is not None and not hold.applied:
            hold._block(args)
            dropped = {"ok": False, "error": "internal_error"}
            with self._cond:
                self._calls.append(Call(method, args, dict(headers), self.clock(), 500, dropped))
                self._cond.notify_all()
            return _Reply(500, reply_headers, json.dumps(dropped).encode())
        with self._cond:
            queue = self._failures.get(method)
            failure = queue.popleft() if queue else None
            payload: JSONDict
            if failure is not None:
                status = failure.status
                error = "ratelimited" if status == 429 else failure.error
                payload = {"ok": False, "error": error}
                if status == 429 and failure.retry_after is not None:
                    reply_headers["Retry-After"] = str(failure.retry_after)
            else:
                try:
                    if parse_error:
                        raise _ApiError(parse_error)
                    handler = self._methods.get(method)
                    if handler is None:
                        # files.upload was switched off for everyone on 12 Nov 2025.
                        retired = method == "files.upload"
                        raise _ApiError("method_deprecated" if retired else "unknown_method")
                    self._authenticate(lower, args)
                    reply_headers["x-oauth-scopes"] = ",".join(self.scopes)
                    payload = {"ok": True, **handler(args)}
                except _ApiError as exc:
                    payload = {"ok": False, "error": exc.error, **exc.extra}
                except Exception as exc:  # a stand-in bug or an argument shape it cannot read
                    status = 500
                    payload = {"ok": False, "error": "fatal_error", "detail": repr(exc)}
            self._calls.append(
                Call(method, args, dict(headers), self.clock(), status, copy.deepcopy(payload))
            )
            self._cond.notify_all()
        if hold is not None:
            hold._block(args)  # applied: the answer waits
        return _Reply(status, reply_headers, json.dumps(payload).encode())

    def _authenticate(self, headers: dict[str, str], args: JSONDict) -> None:
        auth = headers.get("authorization", "")
        token = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else args.get("token")
        if not token:
            raise _ApiError("not_authed")
        if token != self.bot_token:
            raise _ApiError("invalid_auth")

    def _need_scope(self, *alternatives: str) -> None:
        if not any(scope in self.scopes for scope in alternatives):
            raise _ApiError(
                "missing_scope", needed=",".join(alternatives), provided=",".join(self.scopes)
            )

    def _need_read_scope(self, channel: _Channel, kind: str) -> None:
        prefix = "im" if channel.is_im else "groups" if channel.is_private else "channels"
        self._need_scope(f"{prefix}:{kind}")

    # ------------------------------------------------------------------ internals

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):010d}"

    def _next_ts(self) -> str:
        # Strictly increasing and a multiple of 100 µs, so it can never equal a driver-made ts.
        candidate = max(int(self.clock() * 1_000_000), self._last_us + 1)
        self._last_us = (candidate + 99) // 100 * 100
        return _format_ts(self._last_us)

    def _add_user_record(
        self,
        user_id: str,
        *,
        name: str,
        real_name: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_bot: bool = False,
        display_name: str | None = None,
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
        self._users[user_id] = record
        return record

    def _channel(
        self, args: JSONDict, *, need_member: bool = True, key: str = "channel"
    ) -> _Channel:
        channel = self._channels.get(str(args.get(key) or ""))
        # A private channel the bot is not in is invisible to it, as on Slack.
        if channel is None or (channel.is_private and not channel.bot_is_member):
            raise _ApiError("channel_not_found")
        if need_member and not channel.bot_is_member:
            raise _ApiError("not_in_channel")
        return channel

    def _dm_channel(self, user_id: str) -> _Channel:
        dm_id = "D" + user_id[1:]
        if dm_id not in self._channels:
            self._channels[dm_id] = _Channel(
                id=dm_id,
                name=user_id,
                members=[user_id],
                bot_is_member=True,
                is_private=True,
                is_im=True,
                created=int(self.clock()),
            )
            self._messages[dm_id] = []
        return self._channels[dm_id]

    def _find(self, channel_id: str, ts: str) -> JSONDict | None:
        for message in self._messages.get(channel_id, []):
            if message["ts"] == ts:
                return message
        return None

    def _message(self, channel: _Channel, ts: Any) -> JSONDict:
        if not ts:
            raise _ApiError("no_item_specified")
        message = self._find(channel.id, str(ts))
        if message is None:
            raise _ApiError("message_not_found")
        return message

    def _thread_parent(self, channel_id: str, thread_ts: str) -> JSONDict:
        parent = self._find(channel_id, thread_ts)
        if parent is None:
            raise _ApiError("thread_not_found")
        if parent.get("thread_ts") not in (None, parent["ts"]):
            raise _ApiError("cannot_reply_to_message")
        return parent

    def _insert(self, channel_id: str, message: JSONDict, parent: JSONDict | None) -> None:
        messages = self._messages[channel_id]
        bisect.insort(messages, message, key=lambda m: _ts_us(m["ts"]))
        if parent is not None:
            message.setdefault("parent_user_id", parent.get("user"))
            self._recount(channel_id, parent)

    def _recount(self, channel_id: str, parent: JSONDict) -> None:
        replies = [
            m
            for m in self._messages[channel_id]
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

    def _remove(self, channel_id: str, message: JSONDict) -> None:
        messages = self._messages[channel_id]
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
            parent = self._find(channel_id, thread_ts)
            if parent is not None:
                self._recount(channel_id, parent)

    def _post_bot_message(self, channel: _Channel, args: JSONDict) -> JSONDict:
        text = args.get("text")
        blocks = _json_arg(args, "blocks", "invalid_blocks")
        attachments = _json_arg(args, "attachments", "invalid_attachments")
        metadata = _json_arg(args, "metadata", "invalid_metadata_format")
        if not text and not blocks and not attachments:
            raise _ApiError("no_text")
        with _refusals():
            block_checks.check_text(text)
        message: JSONDict = {
            "user": self.bot_user_id,
            "type": "message",
            "ts": "",
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "text": str(text or ""),
            "team": self.team_id,
            "bot_profile": {
                "id": self.bot_id,
                "app_id": self.app_id,
                "name": "WhatsApp Bridge",
                "deleted": False,
                "team_id": self.team_id,
            },
        }
        if blocks is not None:
            message["blocks"] = _check_blocks(blocks)
        if attachments:
            message["attachments"] = attachments
        if metadata is not None:
            if not (
                isinstance(metadata, dict)
                and isinstance(metadata.get("event_type"), str)
                and isinstance(metadata.get("event_payload"), dict)
            ):
                raise _ApiError("invalid_metadata_format")
            message["metadata"] = {
                "event_type": metadata["event_type"],
                "event_payload": metadata["event_payload"],
            }
        if "chat:write.customize" in self.scopes:
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
            parent = self._thread_parent(channel.id, str(thread_ts))
            message["thread_ts"] = str(thread_ts)
            if _flag(args.get("reply_broadcast")):
                message["subtype"] = "thread_broadcast"
                message["root"] = {k: v for k, v in parent.items() if k != "reactions"}
        message["ts"] = self._next_ts()
        self._insert(channel.id, message, parent)
        return message

    def _file_object(self, file_id: str, *, name: str, title: str, user: str) -> JSONDict:
        now = int(self.clock())
        filetype = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        base = f"{self.url}/files-pri/{self.team_id}-{file_id}"
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
            "user_team": self.team_id,
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
            "permalink": f"{self.url}/files/{user}/{file_id}/{name}",
            "permalink_public": f"{self.url}/{self.team_id}-{file_id}-public",
            "has_rich_preview": False,
            "channels": [],
            "groups": [],
            "ims": [],
            "shares": {},
            "comments_count": 0,
        }

    def _history_view(self, message: JSONDict, include_metadata: bool) -> JSONDict:
        shown = copy.deepcopy(message)
        if not include_metadata:
            shown.pop("metadata", None)
        return shown

    # ------------------------------------------------------------------ Web API methods

    def _auth_test(self, args: JSONDict) -> JSONDict:
        return {
            "url": f"{self.url}/",
            "team": "Stand-in Workspace",
            "user": self._users[self.bot_user_id]["name"],
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: JSONDict) -> JSONDict:
        self._need_scope("chat:write")
        target = str(args.get("channel") or "")
        if target[:1] in ("U", "W") and target in self._users:
            channel = self._dm_channel(target)
        else:
            # chat:write.public lets a bot post in public channels it has not joined.
            public_ok = "chat:write.public" in self.scopes
            channel = self._channel(args, need_member=not public_ok)
        message = self._post_bot_message(channel, args)
        return {"channel": channel.id, "ts": message["ts"], "message": copy.deepcopy(message)}

    def _chat_update(self, args: JSONDict) -> JSONDict:
        self._need_scope("chat:write")
        channel = self._channel(args, need_member=False)
        message = self._message(channel, args.get("ts"))
        if message.get("bot_id") != self.bot_id:
            raise _ApiError("cant_update_message")
        if "text" in args:
            with _refusals():
                block_checks.check_text(args["text"])
            message["text"] = str(args["text"] or "")
        blocks = _json_arg(args, "blocks", "invalid_blocks")
        if blocks is not None:  # absent blocks are kept, as Slack does; [] removes them
            message["blocks"] = _check_blocks(blocks)
        attachments = _json_arg(args, "attachments", "invalid_attachments")
        if attachments is not None:
            message["attachments"] = attachments
        metadata = _json_arg(args, "metadata", "invalid_metadata_format")
        if isinstance(metadata, dict):
            message["metadata"] = metadata
        if not message.get("text") and not message.get("blocks") and not message.get("attachments"):
            raise _ApiError("no_text")
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "channel": channel.id,
            "ts": message["ts"],
            "text": message["text"],
            "message": copy.deepcopy(message),
        }

    def _chat_delete(self, args: JSONDict) -> JSONDict:
        self._need_scope("chat:write")
        channel = self._channel(args, need_member=False)
        message = self._message(channel, args.get("ts"))
        if message.get("bot_id") != self.bot_id:
            raise _ApiError("cant_delete_message")
        self._remove(channel.id, message)
        return {"channel": channel.id, "ts": message["ts"]}

    def _chat_post_ephemeral(self, args: JSONDict) -> JSONDict:
        self._need_scope("chat:write")
        _required(args, "user")
        channel = self._channel(args)
        user = str(args["user"])
        if channel.members and user not in channel.members:
            raise _ApiError("user_not_in_channel")
        blocks = _json_arg(args, "blocks", "invalid_blocks")
        if not args.get("text") and not blocks and not args.get("attachments"):
            raise _ApiError("no_text")
        ts = self._next_ts()
        self._ephemerals.append(
            {
                "source": "chat.postEphemeral",
                "channel": channel.id,
                "user": user,
                "text": str(args.get("text") or ""),
                "blocks": _check_blocks(blocks) if blocks is not None else [],
                "thread_ts": args.get("thread_ts"),
                "ts": ts,
            }
        )
        return {"message_ts": ts}

    def _chat_get_permalink(self, args: JSONDict) -> JSONDict:
        channel = self._channel(args, need_member=False)
        message = self._message(channel, args.get("message_ts"))
        link = f"{self.url}/archives/{channel.id}/p{message['ts'].replace('.', '')}"
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != message["ts"]:
            link += f"?thread_ts={thread_ts}&cid={channel.id}"
        return {"channel": channel.id, "permalink": link}

    def _reaction_target(self, args: JSONDict) -> tuple[_Channel, JSONDict, str]:
        self._need_scope("reactions:write")
        _required(args, "name")
        channel = self._channel(args, need_member=False)
        message = self._message(channel, args.get("timestamp"))
        name = str(args["name"])
        if not _EMOJI_NAME.match(name):
            raise _ApiError("invalid_name")
        return channel, message, name

    def _reactions_add(self, args: JSONDict) -> JSONDict:
        _, message, name = self._reaction_target(args)
        reactions: list[JSONDict] = message.setdefault("reactions", [])
        for reaction in reactions:
            if reaction["name"] == name:
                if self.bot_user_id in reaction["users"]:
                    raise _ApiError("already_reacted")
                reaction["users"].append(self.bot_user_id)
                reaction["count"] += 1
                return {}
        reactions.append({"name": name, "users": [self.bot_user_id], "count": 1})
        return {}

    def _reactions_remove(self, args: JSONDict) -> JSONDict:
        _, message, name = self._reaction_target(args)
        reactions: list[JSONDict] = message.get("reactions", [])
        for reaction in reactions:
            if reaction["name"] == name and self.bot_user_id in reaction["users"]:
                reaction["users"].remove(self.bot_user_id)
                reaction["count"] -= 1
                if not reaction["users"]:
                    reactions.remove(reaction)
                if not reactions:
                    message.pop("reactions", None)
                return {}
        raise _ApiError("no_reaction")

    def _reactions_get(self, args: JSONDict) -> JSONDict:
        self._need_scope("reactions:read")
        channel = self._channel(args, need_member=False)
        message = self._message(channel, args.get("timestamp"))
        return {
            "type": "message",
            "channel": channel.id,
            "message": self._history_view(message, include_metadata=False),
        }

    def _users_info(self, args: JSONDict) -> JSONDict:
        self._need_scope("users:read")
        user = self._users.get(str(args.get("user") or ""))
        if user is None:
            raise _ApiError("user_not_found")
        return {"user": copy.deepcopy(user)}

    def _channel_info(self, channel: _Channel, *, num_members: bool = False) -> JSONDict:
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
            info["num_members"] = len(self._members(channel))
        return info

    def _members(self, channel: _Channel) -> list[str]:
        members = list(channel.members)
        if channel.bot_is_member and self.bot_user_id not in members:
            members.append(self.bot_user_id)
        return members

    def _conversations_info(self, args: JSONDict) -> JSONDict:
        channel = self._channel(args, need_member=False)
        self._need_read_scope(channel, "read")
        return {
            "channel": self._channel_info(
                channel, num_members=_flag(args.get("include_num_members"))
            )
        }

    def _page(self, items: list[JSONDict], args: JSONDict, default_limit: int) -> JSONDict:
        try:
            limit = int(args.get("limit") or default_limit)
            offset = int(str(args.get("cursor") or "0").removeprefix("off_"))
        except ValueError:
            raise _ApiError("invalid_cursor") from None
        limit = max(1, min(limit, 999))
        page = items[offset : offset + limit]
        more = offset + limit < len(items)
        return {
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": f"off_{offset + limit}" if more else ""},
        }

    def _window(self, messages: list[JSONDict], args: JSONDict) -> list[JSONDict]:
        inclusive = _flag(args.get("inclusive"))
        oldest = _ts_us(str(args["oldest"])) if args.get("oldest") else None
        latest = _ts_us(str(args["latest"])) if args.get("latest") else None

        def inside(message: JSONDict) -> bool:
            at = _ts_us(message["ts"])
            if oldest is not None and (at < oldest or (at == oldest and not inclusive)):
                return False
            if latest is not None and (at > latest or (at == latest and not inclusive)):
                return False
            return True

        return [m for m in messages if inside(m)]

    def _conversations_history(self, args: JSONDict) -> JSONDict:
        channel = self._channel(args)
        self._need_read_scope(channel, "history")
        metadata = _flag(args.get("include_all_metadata"))
        top = [m for m in self._messages[channel.id] if _is_top_level(m)]
        shown = [self._history_view(m, metadata) for m in reversed(self._window(top, args))]
        return {**self._page(shown, args, 100), "pin_count": 0}

    def _conversations_replies(self, args: JSONDict) -> JSONDict:
        channel = self._channel(args)
        self._need_read_scope(channel, "history")
        _required(args, "ts")
        message = self._find(channel.id, str(args["ts"]))
        if message is None:
            raise _ApiError("thread_not_found")
        thread_ts = message.get("thread_ts") or message["ts"]
        metadata = _flag(args.get("include_all_metadata"))
        thread = [
            m
            for m in self._messages[channel.id]
            if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts
        ]
        parent, replies = thread[0], thread[1:]
        # Slack always puts the parent first, whatever oldest/latest say.
        window = [parent, *self._window(replies, args)]
        return self._page([self._history_view(m, metadata) for m in window], args, 1000)

    def _conversations_members(self, args: JSONDict) -> JSONDict:
        channel = self._channel(args, need_member=False)
        self._need_read_scope(channel, "read")
        return {"members": self._members(channel), "response_metadata": {"next_cursor": ""}}

    def _conversations_join(self, args: JSONDict) -> JSONDict:
        self._need_scope("channels:join")
        channel = self._channel(args, need_member=False)
        if channel.is_private or channel.is_im:
            raise _ApiError("method_not_supported_for_channel_type")
        result: JSONDict = {}
        if channel.bot_is_member:
            result = {
                "warning": "already_in_channel",
                "response_metadata": {"warnings": ["already_in_channel"]},
            }
        channel.bot_is_member = True
        return {"channel": self._channel_info(channel), **result}

    def _view_arg(self, args: JSONDict) -> JSONDict:
        _required(args, "view")
        view = _json_arg(args, "view", "invalid_arguments")
        if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
            raise _ApiError("invalid_arguments")
        if view["type"] == "modal" and not view.get("title"):
            raise _ApiError("invalid_arguments")
        with _refusals():
            block_checks.check_view(view)
        return view

    def _use_trigger(self, args: JSONDict) -> None:
        _required(args, "trigger_id")
        trigger = str(args["trigger_id"])
        if trigger in self._used_triggers:
            raise _ApiError("exchanged_trigger_id")
        self._used_triggers.add(trigger)

    def _new_view(self, spec: JSONDict, **extra: Any) -> JSONDict:
        view_id = self._new_id("V")
        view: JSONDict = {
            "id": view_id,
            "team_id": self.team_id,
            "type": spec["type"],
            "blocks": _check_blocks(spec.get("blocks", []), limit=100),
            "private_metadata": spec.get("private_metadata", ""),
            "callback_id": spec.get("callback_id", ""),
            "state": {"values": {}},
            "hash": _view_hash(self.clock()),
            "title": spec.get("title"),
            "clear_on_close": bool(spec.get("clear_on_close", False)),
            "notify_on_close": bool(spec.get("notify_on_close", False)),
            "close": spec.get("close"),
            "submit": spec.get("submit"),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "external_id": spec.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
            **extra,
        }
        self._views.append(view)
        return view

    def _views_open(self, args: JSONDict) -> JSONDict:
        view = self._view_arg(args)
        self._use_trigger(args)
        return {"view": copy.deepcopy(self._new_view(view))}

    def _views_push(self, args: JSONDict) -> JSONDict:
        view = self._view_arg(args)
        self._use_trigger(args)
        previous = next((v for v in reversed(self._views) if v["type"] == "modal"), None)
        extra: JSONDict = {}
        if previous is not None:
            extra = {"previous_view_id": previous["id"], "root_view_id": previous["root_view_id"]}
        return {"view": copy.deepcopy(self._new_view(view, **extra))}

    def _views_update(self, args: JSONDict) -> JSONDict:
        spec = self._view_arg(args)
        view_id, external_id = args.get("view_id"), args.get("external_id")
        if not view_id and not external_id:
            raise _ApiError("invalid_arguments")
        current = next(
            (
                v
                for v in self._views
                if (view_id and v["id"] == view_id)
                or (external_id and v["external_id"] == external_id)
            ),
            None,
        )
        if current is None:
            raise _ApiError("not_found")
        if args.get("hash") and args["hash"] != current["hash"]:
            raise _ApiError("hash_conflict")
        self._replace_view(current, spec)
        return {"view": copy.deepcopy(current)}

    def _views_publish(self, args: JSONDict) -> JSONDict:
        _required(args, "user_id")
        spec = self._view_arg(args)
        user_id = str(args["user_id"])
        current = next(
            (v for v in self._views if v["type"] == "home" and v.get("user_id") == user_id), None
        )
        if current is None:
            return {"view": copy.deepcopy(self._new_view(spec, user_id=user_id))}
        if args.get("hash") and args["hash"] != current["hash"]:
            raise _ApiError("hash_conflict")
        self._replace_view(current, spec)
        return {"view": copy.deepcopy(current)}

    def _replace_view(self, current: JSONDict, spec: JSONDict) -> None:
        for key in ("type", "title", "close", "submit", "callback_id", "private_metadata"):
            if key in spec:
                current[key] = spec[key]
        for key in ("clear_on_close", "notify_on_close"):
            current[key] = bool(spec.get(key, False))
        current["external_id"] = spec.get("external_id", current["external_id"])
        current["blocks"] = _check_blocks(spec.get("blocks", []), limit=100)
        current["hash"] = _view_hash(self.clock())

    def _files_get_upload_url_external(self, args: JSONDict) -> JSONDict:
        self._need_scope("files:write")
        _required(args, "filename", "length")
        file_id = self._new_id("F")
        name = str(args["filename"])
        self._files[file_id] = _File(
            obj=self._file_object(file_id, name=name, title=name, user=self.bot_user_id)
        )
        token = secrets.token_urlsafe(12)
        self._uploads[token] = file_id
        return {"upload_url": f"{self.url}/upload/v1/{token}", "file_id": file_id}

    def _files_complete_upload_external(self, args: JSONDict) -> JSONDict:
        self._need_scope("files:write")
        _required(args, "files")
        entries = _json_arg(args, "files", "invalid_arguments")
        if not isinstance(entries, list) or not entries:
            raise _ApiError("invalid_arguments")
        stored: list[_File] = []
        for entry in entries:
            upload = (
                self._files.get(str(entry.get("id") or "")) if isinstance(entry, dict) else None
            )
            if upload is None or upload.content is None or upload.complete:
                raise _ApiError("file_not_found")
            stored.append(upload)
        targets = [str(args["channel_id"])] if args.get("channel_id") else []
        targets += [c for c in str(args.get("channels") or "").split(",") if c]
        channels = [self._channel({"channel": c}) for c in targets]
        thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
        parent = None
        if thread_ts and channels:
            parent = self._thread_parent(channels[0].id, thread_ts)
        for upload, entry in zip(stored, entries, strict=True):
            upload.complete = True
            if entry.get("title"):
                upload.obj["title"] = entry["title"]
        for channel in channels:
            self._share_files(channel, stored, args, thread_ts, parent)
        return {"files": [{"id": f.obj["id"], "title": f.obj["title"]} for f in stored]}

    def _share_files(
        self,
        channel: _Channel,
        uploads: list[_File],
        args: JSONDict,
        thread_ts: str | None,
        parent: JSONDict | None,
    ) -> None:
        message: JSONDict = {
            "user": self.bot_user_id,
            "type": "message",
            "ts": self._next_ts(),
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "text": str(args.get("initial_comment") or ""),
            "team": self.team_id,
            "upload": True,
            "display_as_bot": False,
            "files": [],
        }
        blocks = _json_arg(args, "blocks", "invalid_blocks")
        if blocks:
            message["blocks"] = _check_blocks(blocks)
        if thread_ts:
            message["thread_ts"] = thread_ts
        share: JSONDict = {
            "ts": message["ts"],
            "channel_name": channel.name,
            "team_id": self.team_id,
            "share_user_id": self.bot_user_id,
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
        self._insert(channel.id, message, parent)

    def _files_info(self, args: JSONDict) -> JSONDict:
        self._need_scope("files:read")
        stored = self._files.get(str(args.get("file") or ""))
        if stored is None or not stored.complete:
            raise _ApiError("file_not_found")
        return {
            "file": copy.deepcopy(stored.obj),
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        }

    # ------------------------------------------------------------------ non-API endpoints

    def _receive_upload(self, token: str, headers: dict[str, str], body: bytes) -> _Reply:
        content_type = headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            parts = _multipart(content_type, body, want_bytes=True)
            content = next(iter(parts.values()), b"")
            body = content if isinstance(content, bytes) else str(content).encode()
        with self._cond:
            file_id = self._uploads.pop(token, None)
            if file_id is None:
                return _Reply(404, {"Content-Type": "text/plain"}, b"upload URL not found")
            stored = self._files[file_id]
            stored.content = body
            stored.obj["size"] = len(body)
            stored.obj["mimetype"] = _guess_mimetype(stored.obj["name"])
            self._cond.notify_all()
        return _Reply(200, {"Content-Type": "text/plain"}, f"OK - {len(body)}".encode())

    def _download(self, path: str, headers: dict[str, str]) -> _Reply:
        # /files-pri/<team>-<file id>/[download/]<name>
        key = path.split("/")[2] if path.count("/") >= 3 else ""
        file_id = key.split("-", 1)[-1]
        with self._cond:
            stored = self._files.get(file_id)
        authorised = headers.get("authorization", "") == f"Bearer {self.bot_token}"
        if stored is None or stored.content is None or not authorised:
            # Real Slack answers a missing or wrong token with its login page and a 200.
            return _Reply(200, {"Content-Type": "text/html; charset=utf-8"}, _LOGIN_PAGE)
        return _Reply(200, {"Content-Type": str(stored.obj["mimetype"])}, stored.content)

    def _receive_response(self, token: str, headers: dict[str, str], body: bytes) -> _Reply:
        try:
            if headers.get("content-type", "").startswith("application/json"):
                posted = json.loads(body)
            else:
                posted = json.loads(dict(parse_qsl(body.decode())).get("payload", ""))
        except ValueError:
            return _Reply(400, {"Content-Type": "text/plain"}, b"invalid_payload")
        if not isinstance(posted, dict):
            return _Reply(400, {"Content-Type": "text/plain"}, b"invalid_payload")
        with self._cond:
            target = self._targets.get(token)
            if target is None:
                return _Reply(404, {"Content-Type": "text/plain"}, b"no_active_hooks")
            self._responses.append(copy.deepcopy(posted))
            self._apply_response(target, posted)
            self._cond.notify_all()
        return _Reply(200, {"Content-Type": "text/plain"}, b"ok")

    def _apply_response(self, target: _ResponseTarget, posted: JSONDict) -> None:
        channel = self._channels.get(target.channel or "")
        original = (
            self._find(channel.id, target.message_ts) if channel and target.message_ts else None
        )
        if channel and original is not None and _flag(posted.get("delete_original")):
            self._remove(channel.id, original)
        elif channel and original is not None and _flag(posted.get("replace_original")):
            for key in ("text", "blocks", "attachments"):
                if key in posted:
                    original[key] = posted[key]
        elif channel and posted.get("response_type") == "in_channel":
            try:
                self._post_bot_message(channel, posted)
            except _ApiError:
                pass  # a bad response body is recorded in `responses`; nothing is posted
        else:
            self._ephemerals.append(
                {
                    "source": "response_url",
                    "channel": target.channel,
                    "user": None,
                    "text": str(posted.get("text") or ""),
                    "blocks": posted.get("blocks") or [],
                    "thread_ts": posted.get("thread_ts"),
                }
            )


def _check_blocks(blocks: Any, *, limit: int = 50) -> list[JSONDict]:
    if not isinstance(blocks, list) or not all(
        isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks
    ):
        raise _ApiError("invalid_blocks")
    with _refusals():
        block_checks.check_blocks(blocks, limit=limit)
    return blocks


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """Slack's answer to a broken limit (see bot.devtools.block_checks)."""
    try:
        yield
    except block_checks.Refusal as refusal:
        raise _ApiError(
            refusal.error, response_metadata={"messages": [f"[ERROR] {refusal.message}"]}
        ) from None


def _view_hash(now: float) -> str:
    return f"{int(now)}.{secrets.token_urlsafe(6)}"


def _guess_mimetype(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _multipart(content_type: str, body: bytes, *, want_bytes: bool = False) -> dict[str, Any]:
    """Fields of a multipart/form-data body (file parts as bytes when ``want_bytes``)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            payload = b""
        if part.get_filename() or want_bytes:
            fields[str(name)] = payload
        else:
            fields[str(name)] = payload.decode("utf-8", "replace")
    return fields


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client hung up mid-answer (a crash test killed it): not an error here
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server_version = "SlackStandIn/1.0"

    def _serve(self, verb: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        standin: SlackStandIn = self.server.standin  # type: ignore[attr-defined]
        reply = standin._handle_http(verb, self.path, dict(self.headers.items()), body)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's naming
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's naming
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests and the demo print what matters themselves
