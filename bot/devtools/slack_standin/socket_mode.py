"""Socket Mode: ``apps.connections.open`` and the WebSocket Slack pushes envelopes over.

The app asks ``apps.connections.open`` (with its app-level token) for a one-use ``ws://`` URL,
connects, and gets ``{"type": "hello", ...}``. Each event, slash command and interaction then
comes as an envelope ``{"envelope_id", "type", "payload", "accepts_response_payload"}``, which
the app acks with ``{"envelope_id", "payload"?}``; a slash command's ack payload is its
immediate response. An ``events_api`` envelope not acked within ``ack_timeout`` is delivered
again (to whichever connection is open by then) with ``retry_attempt``/``retry_reason``, up to
``max_retries`` times, as Slack does; commands and interactions are not (the user sees a
timeout instead). Envelopes sent while no connection is open wait for the next one.

Tests steer it: :meth:`SocketMode.disconnect` sends Slack's ``disconnect`` message
(``refresh_requested`` also closes the connection after ``grace`` seconds), :meth:`drop` cuts
every connection without a close frame, and ``SlackStandIn.fail_next("apps.connections.open",
status=200, error=...)`` refuses opens.

Simplification: a bad or used ticket is refused at the handshake with HTTP 401.
"""

from __future__ import annotations

import copy
import json
import logging
import secrets
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from bot.devtools.slack_standin import responses
from bot.devtools.slack_standin.common import ApiError, JSONDict
from bot.devtools.slack_standin.workspace import ResponseTarget, Workspace

ENVELOPE_TYPES = ("events_api", "slash_commands", "interactive")
# The WebSocket library's own lines (each connection opened and closed) are noise in the
# demo's transcript and in test logs: only its warnings show.
_WIRE_LOG = logging.getLogger(__name__ + ".wire")
_WIRE_LOG.setLevel(logging.WARNING)
_RESET = struct.pack("ii", 1, 0)
_DEBUG_INFO = {"host": "applink-standin-1", "build_number": 1}


@dataclass
class Envelope:
    """One delivery over the socket and what became of it."""

    envelope_id: str
    type: str
    payload: JSONDict
    accepts_response_payload: bool
    redeliver: bool = True
    retry_attempt: int = 0
    retry_reason: str | None = None
    sent_at: float | None = None  # monotonic time of the latest send; None while waiting
    sends: int = 0
    acked: bool = False
    ack_payload: JSONDict | None = None
    connections: list[int] = field(default_factory=list)  # which connection got each send

    def message(self) -> JSONDict:
        """The envelope as it goes over the wire."""
        body: JSONDict = {
            "envelope_id": self.envelope_id,
            "payload": self.payload,
            "type": self.type,
            "accepts_response_payload": self.accepts_response_payload,
        }
        if self.retry_attempt:
            body.update(retry_attempt=self.retry_attempt, retry_reason=self.retry_reason)
        return body


@dataclass
class _Link:
    number: int
    conn: ServerConnection
    retiring: bool = False  # told to disconnect: gets no new envelopes


class SocketMode:
    """The Socket Mode side of the stand-in (guarded by the workspace's lock)."""

    def __init__(
        self, ws: Workspace, *, host: str, ack_timeout: float = 3.0, max_retries: int = 3
    ) -> None:
        self.ws = ws
        self.host = host
        self.ack_timeout = ack_timeout
        self.max_retries = max_retries
        self.port = 0
        self.opened = 0  # successful apps.connections.open calls
        self.connected = 0  # WebSocket connections accepted, ever
        self.envelopes: list[Envelope] = []
        self._tickets: set[str] = set()
        self._links: list[_Link] = []
        self._server: Server | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._server = serve(
            self._session,
            self.host,
            0,
            process_request=self._check_ticket,
            compression=None,
            server_header="SlackStandIn/1.0",
            logger=_WIRE_LOG,
        )
        self.port = self._server.socket.getsockname()[1]
        self._stopping.clear()
        self._threads = [
            threading.Thread(target=self._server.serve_forever, daemon=True, name="ws-serve"),
            threading.Thread(target=self._redeliver_loop, daemon=True, name="ws-redeliver"),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stopping.set()
        with self.ws.cond:
            self.ws.cond.notify_all()
        self.drop()
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    # ------------------------------------------------------------------ apps.connections.open

    def open_connection(self, ws: Workspace, args: JSONDict) -> JSONDict:
        """``apps.connections.open`` (the app token was checked by the caller)."""
        if "connections:write" not in ws.app_scopes:
            raise ApiError(
                "missing_scope", needed="connections:write", provided=",".join(ws.app_scopes)
            )
        ticket = secrets.token_hex(16)
        self._tickets.add(ticket)
        self.opened += 1
        return {"url": f"ws://{self.host}:{self.port}/link/?ticket={ticket}&app_id={ws.app_id}"}

    def _check_ticket(self, conn: ServerConnection, request: Request) -> Response | None:
        ticket = parse_qs(urlsplit(request.path).query).get("ticket", [""])[0]
        with self.ws.cond:
            if ticket in self._tickets:
                self._tickets.discard(ticket)  # a ticket opens one connection
                return None
        return conn.respond(HTTPStatus.UNAUTHORIZED, "invalid ticket\n")

    # ------------------------------------------------------------------ connections

    def _session(self, conn: ServerConnection) -> None:
        with self.ws.cond:
            self.connected += 1
            link = _Link(self.connected, conn)
            self._links.append(link)
            hello = {
                "type": "hello",
                "num_connections": len(self._links),
                "debug_info": {**_DEBUG_INFO, "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.ws.app_id},
            }
            self.ws.cond.notify_all()
        try:
            conn.send(json.dumps(hello))
            self._send_waiting()
            for raw in conn:
                self._receive(raw)
        except (ConnectionClosed, OSError):
            pass  # the app went away; its unacked envelopes are delivered again later
        finally:
            with self.ws.cond:
                if link in self._links:
                    self._links.remove(link)
                self.ws.cond.notify_all()

    def _receive(self, raw: str | bytes) -> None:
        try:
            ack = json.loads(raw)
        except ValueError:
            return  # Slack ignores what it cannot parse
        if not isinstance(ack, dict):
            return
        with self.ws.cond:
            envelope = self._find(str(ack.get("envelope_id") or ""))
            if envelope is None or envelope.acked:
                return
            envelope.acked = True
            payload = ack.get("payload")
            envelope.ack_payload = payload if isinstance(payload, dict) else None
            if envelope.type == "slash_commands" and envelope.ack_payload:
                # The ack payload of a command is its immediate response, shown to the user.
                target = ResponseTarget(channel=envelope.payload.get("channel_id"), message_ts=None)
                responses.apply(self.ws, target, envelope.ack_payload, source="ack")
            self.ws.cond.notify_all()

    @property
    def connections(self) -> int:
        """WebSocket connections open right now."""
        with self.ws.cond:
            return len(self._links)

    def disconnect(self, reason: str = "refresh_requested", *, grace: float = 2.0) -> None:
        """Send Slack's ``disconnect`` message to every open connection.

        ``refresh_requested`` (Slack's hourly refresh) closes them ``grace`` seconds later;
        ``warning`` (sent a little before) leaves them open.
        """
        message = json.dumps({"type": "disconnect", "reason": reason, "debug_info": _DEBUG_INFO})
        with self.ws.cond:
            links = list(self._links)
            for link in links:
                link.retiring = True
        for link in links:
            try:
                link.conn.send(message)
            except ConnectionClosed:
                continue
            if reason == "refresh_requested":
                closer = threading.Timer(grace, link.conn.close, kwargs={"code": 1000})
                closer.daemon = True
                closer.start()

    def drop(self) -> None:
        """Reset every connection at the TCP level, with no close frame (a network failure)."""
        with self.ws.cond:
            links = list(self._links)
        for link in links:
            try:
                # Linger 0: close sends RST, as a dropped route or a restarted proxy does.
                link.conn.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
                link.conn.socket.close()
            except OSError:
                pass

    # ------------------------------------------------------------------ envelopes

    def deliver(
        self,
        kind: str,
        payload: JSONDict,
        *,
        retry_attempt: int = 0,
        retry_reason: str | None = None,
        redeliver: bool = True,
    ) -> Envelope:
        """Queue an envelope and send it now if a connection is open; returns its record.

        ``redeliver=False``: no automatic retries (a test playing Slack's retries itself).
        """
        if kind not in ENVELOPE_TYPES:
            raise ValueError(f"unknown envelope type {kind!r}")
        envelope = Envelope(
            envelope_id=str(uuid.uuid4()),
            type=kind,
            payload=copy.deepcopy(payload),
            accepts_response_payload=kind != "events_api",
            redeliver=redeliver and kind == "events_api",
            retry_attempt=retry_attempt,
            retry_reason=retry_reason if retry_attempt else None,
        )
        with self.ws.cond:
            self.envelopes.append(envelope)
        self._send_waiting()
        return envelope

    def wait_ack(self, envelope: Envelope, timeout: float = 5.0) -> bool:
        """True once the envelope is acked; False if it is not within ``timeout``."""
        with self.ws.cond:
            return self.ws.cond.wait_for(lambda: envelope.acked, timeout)

    def forget(self, envelope: Envelope) -> None:
        """Stop delivering an envelope again (a test takes over its retries)."""
        with self.ws.cond:
            envelope.redeliver = False

    def _find(self, envelope_id: str) -> Envelope | None:
        return next((e for e in self.envelopes if e.envelope_id == envelope_id), None)

    def _send_waiting(self) -> None:
        """Send every envelope that is due: never sent yet, or unacked past the timeout."""
        now = time.monotonic()
        with self.ws.cond:
            live = [link for link in self._links if not link.retiring]
            if not live:
                return
            link = live[-1]  # the newest connection, as after a refresh
            due = [e for e in self.envelopes if self._due(e, now)]
            for envelope in due:
                if envelope.sends:
                    envelope.retry_attempt += 1
                    envelope.retry_reason = "timeout"
                envelope.sends += 1
                envelope.sent_at = now
                envelope.connections.append(link.number)
            messages = [json.dumps(e.message()) for e in due]
        for text in messages:
            try:
                link.conn.send(text)
            except ConnectionClosed:
                return  # still due: the next connection gets it after the timeout

    def _due(self, envelope: Envelope, now: float) -> bool:
        if envelope.acked:
            return False
        if envelope.sent_at is None:
            return True
        late = now - envelope.sent_at >= self.ack_timeout
        return envelope.redeliver and late and envelope.retry_attempt < self.max_retries

    def _redeliver_loop(self) -> None:
        while not self._stopping.is_set():
            self._send_waiting()
            self._stopping.wait(min(0.05, self.ack_timeout / 4))
