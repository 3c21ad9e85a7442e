"""``SlackStandIn``: the Slack stand-in's front door, its HTTP server and workspace set-up."""

from __future__ import annotations

import copy
import secrets
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from bot.devtools.loopback import Serving
from bot.devtools.slack_standin import files, responses
from bot.devtools.slack_standin.api import WebApi
from bot.devtools.slack_standin.common import DEFAULT_SCOPES, JSONDict, Reply, text_reply
from bot.devtools.slack_standin.faults import Failure, Hold
from bot.devtools.slack_standin.inspection import Inspection
from bot.devtools.slack_standin.socket_mode import SocketMode
from bot.devtools.slack_standin.workspace import Channel, ResponseTarget, StoredFile, Workspace


class SlackStandIn(Inspection):
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
        app_token: str = "xapp-1-standin",
        bot_user_id: str = "UBRIDGEBOT",
        bot_id: str = "BBRIDGEBOT",
        team_id: str = "T0STANDIN",
        app_id: str = "A0BRIDGE",
        scopes: Sequence[str] = DEFAULT_SCOPES,
        app_scopes: Sequence[str] = ("connections:write",),
        users: Mapping[str, dict[str, Any]] | None = None,
        clock: Callable[[], float] = time.time,
        ack_timeout: float = 3.0,
    ) -> None:
        self.host = host
        self.port = port
        # Read-only identity, copied from the workspace that owns it.
        self.clock = clock
        self.bot_token, self.app_token = bot_token, app_token
        self.bot_user_id, self.bot_id = bot_user_id, bot_id
        self.team_id, self.app_id = team_id, app_id
        self.scopes = tuple(scopes)
        self._ws = Workspace(
            bot_token=bot_token,
            app_token=app_token,
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            team_id=team_id,
            app_id=app_id,
            scopes=scopes,
            app_scopes=app_scopes,
            clock=clock,
        )
        self.socket = SocketMode(self._ws, host=host, ack_timeout=ack_timeout)
        """Socket Mode: envelopes to the app over a WebSocket (see ``socket_mode``)."""
        self._api = WebApi(self._ws, {"apps.connections.open": self.socket.open_connection})
        self._server: ThreadingHTTPServer | None = None
        self._serving: Serving | None = None
        bot = self._ws.add_user_record(
            bot_user_id, name="wati-bridge", real_name="WhatsApp Bridge", is_bot=True
        )
        bot["profile"].update({"bot_id": bot_id, "api_app_id": app_id, "always_active": True})
        for user_id, data in (users or {}).items():
            name = str(data.get("name", user_id.lower()))
            self._ws.add_user_record(user_id, name=name, extra=data)

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
        self._ws.url = self.url
        self.socket.start()
        self._serving = Serving(server, f"slack-standin-{self.port}", poll_interval=0.02)
        return self

    def stop(self) -> None:
        """Stop serving and release the port (and any held request)."""
        with self._ws.cond:
            self._api.faults.release_all()
        if self._server is None:
            return
        self.socket.stop()
        if self._serving is not None:
            self._serving.stop()
        self._server = None
        self._serving = None

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

    def set_scopes(self, scopes: Sequence[str]) -> None:
        """The bot token's scopes from now on (a workspace that granted fewer, a reinstall)."""
        self.scopes = tuple(scopes)
        self._ws.scopes = tuple(scopes)

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
        with self._ws.cond:
            self._ws.channels[channel_id] = Channel(
                id=channel_id,
                name=name,
                members=list(members),
                bot_is_member=bot_is_member,
                is_private=channel_id.startswith("G") if is_private is None else is_private,
                created=int(self.clock()),
            )
            self._ws.messages.setdefault(channel_id, [])
            self._ws.cond.notify_all()

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
        email: str | None = None,
    ) -> None:
        """Add (or replace) a user as ``users.info`` returns it (``profile.email`` only with
        the ``users:read.email`` scope, as on Slack)."""
        with self._ws.cond:
            record = self._ws.add_user_record(
                user_id,
                name=name,
                real_name=real_name,
                is_admin=is_admin,
                is_owner=is_owner,
                is_bot=is_bot,
                display_name=display_name,
            )
            if email is not None:
                record["profile"]["email"] = email

    def add_file(self, content: bytes, *, name: str, mimetype: str, user: str) -> JSONDict:
        """Store a file a user "uploaded" and return its Slack file object.

        ``url_private``/``url_private_download`` point at the stand-in and need
        ``Authorization: Bearer <bot_token>``; without it they serve an HTML login page with 200.
        """
        with self._ws.cond:
            file_id = self._ws.new_id("F")
            obj = files.file_object(self._ws, file_id, name=name, title=name, user=user)
            obj.update(mimetype=mimetype, size=len(content))
            self._ws.files[file_id] = StoredFile(obj=obj, content=bytes(content), complete=True)
            return copy.deepcopy(obj)

    def add_message(self, message: Mapping[str, Any], *, channel: str | None = None) -> JSONDict:
        """Put a message into the workspace as if a person had posted it, and return it.

        Takes a message event as ``bot.devtools.slack_driver.driver.SlackDriver.message`` builds it, so the
        stand-in and the bridge see the same conversation: a reply updates its parent's
        ``reply_count``; ``message_changed`` edits and ``message_deleted`` removes the message.
        """
        event = copy.deepcopy(dict(message))
        with self._ws.cond:
            stored = self._ws.add_message(event, str(channel or event.get("channel")))
            self._ws.cond.notify_all()
            return copy.deepcopy(stored)

    def response_url(self, *, channel: str | None = None, message_ts: str | None = None) -> str:
        """A fresh ``response_url`` on the stand-in.

        Posts to it are recorded in :attr:`responses`. Given the ``channel`` (and ``message_ts``
        of the message that held the button), ``in_channel`` responses are posted there,
        ``replace_original``/``delete_original`` edit that message, and ephemeral ones are
        listed by :meth:`ephemerals` for that channel.
        """
        token = secrets.token_urlsafe(12)
        with self._ws.cond:
            self._ws.targets[token] = ResponseTarget(channel=channel, message_ts=message_ts)
        return f"{self.url}/response/{token}"

    # ------------------------------------------------------------------ faults

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
        with self._ws.cond:
            self._api.faults.fail(method, Failure(status, retry_after, error or default), count)

    def refuse_bot_token(self, error: str | None = "token_revoked") -> None:
        """Answer every call with the bot token ``{"ok": false, "error": error}`` from now on,
        as Slack does once a token is revoked (``token_revoked``, ``invalid_auth``,
        ``account_inactive``); ``None`` accepts it again."""
        with self._ws.cond:
            self._ws.token_refusal = error

    def refuse_uploads(self, error: str | None = "file_uploads_except_images_disabled") -> None:
        """A workspace policy against uploads: ``files.completeUploadExternal`` answers
        ``{"ok": false, "error": error}`` every time (``file_uploads_except_images_disabled``
        lets images through; ``file_uploads_disabled`` refuses all); ``None`` allows them again."""
        with self._ws.cond:
            self._ws.upload_refusal = error

    def refuse_deletes(self, refused: bool = True) -> None:
        """Answer ``chat.delete`` (and ``files.delete``) with ``cant_delete_message`` (and
        ``cant_delete_file``) even for the bot's own, as a workspace that keeps every message
        does; ``False`` lets them through again."""
        with self._ws.cond:
            self._ws.deletes_refused = refused

    def remove_bot(self, channel_id: str, *, archived: bool = False) -> None:
        """The bot is removed from the channel (posts then get ``not_in_channel``), or, with
        ``archived``, the channel is archived (``is_archived``); ``add_bot`` undoes both."""
        with self._ws.cond:
            channel = self._ws.channels[channel_id]
            if archived:
                channel.archived = True
            else:
                channel.bot_is_member = False

    def add_bot(self, channel_id: str) -> None:
        """The bot is invited back (and the channel unarchived)."""
        with self._ws.cond:
            channel = self._ws.channels[channel_id]
            channel.bot_is_member = True
            channel.archived = False

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
        with self._ws.cond:
            self._api.faults.hold(hold)
        return hold

    # ------------------------------------------------------------------ HTTP routing

    def _handle_http(self, verb: str, raw_path: str, headers: dict[str, str], body: bytes) -> Reply:
        parts = urlsplit(raw_path)
        path = parts.path
        lower = {k.lower(): v for k, v in headers.items()}
        token = path.rsplit("/", 1)[-1]
        if path.startswith("/api/"):
            return self._api.handle(path[len("/api/") :], parts.query, headers, body)
        if path.startswith("/upload/v1/") and verb == "POST":
            return files.receive_upload(self._ws, token, lower, body)
        if path.startswith("/files-pri/") and verb == "GET":
            return files.download(self._ws, path, lower)
        if path.startswith("/response/") and verb == "POST":
            return responses.receive(self._ws, token, lower, body)
        return text_reply(404, b"not found")


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
