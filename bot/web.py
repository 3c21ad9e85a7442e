"""The bridge's HTTP listener on HOST:PORT, in both Slack modes: a small ASGI app under uvicorn.

`GET /healthz` reports the bridge's state in both modes. In HTTP mode `POST /slack/events` also
hands the raw request to Bolt (which checks the signature and answers 401 when it is wrong); in
Socket Mode Slack talks over the WebSocket and that path is not served. Routes are a table of
path -> (methods, handler), so more can be added (webhooks, metrics) without touching the
others. Bolt's own dispatch is synchronous, so it runs in a worker thread and never blocks the
event loop.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import ipaddress
import json
import socket
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
HealthReport = Callable[[], tuple[bool, dict[str, Any]]]  # what /healthz serves: (ok, body)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # Prometheus's text format
METRICS_REFUSED = (
    "/metrics is answered to this machine only; from elsewhere set BRIDGE_METRICS_TOKEN and "
    "send 'Authorization: Bearer <token>'"
)
MAX_BODY = 1_000_000  # Slack payloads are far smaller; anything bigger is not Slack


class ListenError(Exception):
    """HOST:PORT cannot be listened on; the message names it and the fix, in one line."""


def bind(host: str, port: int) -> socket.socket:
    """Bind and listen on HOST:PORT now, before anything calls Wati or Slack.

    A port taken by another program or a HOST that is not this machine's is a problem a restart
    cannot fix: finding it first keeps a supervisor's restarts from spending Wati's monthly
    quota on starts that were going to fail anyway. uvicorn then serves on this very socket.
    """
    listener: socket.socket | None = None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        listener = socket.socket(family, kind, proto)
        # What uvicorn does too: a restart need not wait for the old connections' TIME_WAIT.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(2048)
    except (OSError, UnicodeError) as exc:
        if listener is not None:
            listener.close()
        raise ListenError(bind_problem(host, port, exc)) from exc
    return listener


def bind_problem(
    host: str, port: int, exc: Exception, *, host_name: str = "HOST", port_name: str = "PORT"
) -> str:
    """One line naming what is wrong with host:port and the setting that fixes it."""
    where = f"{host}:{port}"
    number = exc.errno if isinstance(exc, OSError) else None
    if isinstance(exc, socket.gaierror | UnicodeError) or number == errno.EADDRNOTAVAIL:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return (
            f"{host_name} {host[:100]!r} is not an address of this machine ({reason}) — fix: set "
            f"{host_name} to 0.0.0.0 (every interface), 127.0.0.1 (this machine only, behind a "
            "proxy) or one of this machine's addresses"
        )
    if number == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another program, or another bridge, "
            f"listens on {where}) — fix: stop that program or set {port_name} to a free port"
        )
    if number == errno.EACCES:
        return (
            f"not allowed to listen on {where} (ports below 1024 need privileges) — fix: set "
            f"{port_name} to 1024 or above and let a reverse proxy serve 443"
        )
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return f"cannot listen on {where} ({reason}) — fix: set {host_name} and {port_name} to a free address"


@dataclass(frozen=True)
class Route:
    """One path: the methods it answers and the handler (an ASGI callable for that path)."""

    methods: frozenset[str]
    handler: ASGIApp


def private(scope: Scope, token: str | None) -> bool:
    """Whether a request may read the bridge's internals (/metrics, /healthz's details).

    From this machine (loopback, and not relayed by a reverse proxy, which says so in a
    Forwarded or X-Forwarded-For header), or anywhere with `Authorization: Bearer <token>`
    when BRIDGE_METRICS_TOKEN is set: what the bridge's numbers say (links, backlog, Wati's
    quota, errors) is nobody else's business, as GitLab keeps its metrics to localhost.
    """
    headers = {name.lower(): value for name, value in scope.get("headers", [])}
    if token is not None:
        given = headers.get(b"authorization", b"").decode("latin-1")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
    if b"forwarded" in headers or b"x-forwarded-for" in headers:
        return False
    client = scope.get("client")
    try:
        return client is not None and ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


def health_route(health: HealthReport, token: str | None = None) -> Route:
    """`GET /healthz`: 200 with the state when healthy, 503 otherwise; to other machines (a
    load balancer, an uptime monitor) only the status and the reasons' codes."""

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        ok, status = await asyncio.to_thread(health)
        if not private(scope, token):
            status = {"status": status.get("status"), "reasons": status.get("reasons", [])}
        await reply(send, 200 if ok else 503, json.dumps(status), "application/json")

    return Route(frozenset({"GET", "HEAD"}), handler)


def metrics_route(metrics: Callable[[], bytes | None], token: str | None = None) -> Route:
    """`GET /metrics`: Prometheus's text format; 503 while the database is held elsewhere; 403
    unless `private`."""

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        if not private(scope, token):
            await reply(send, 403, METRICS_REFUSED, "text/plain")
            return
        text = await asyncio.to_thread(metrics)
        if text is None:
            await reply(send, 503, "database busy", "text/plain")
        else:
            await reply(send, 200, text.decode(), METRICS_TYPE)

    return Route(frozenset({"GET", "HEAD"}), handler)


def events_route(dispatch: Callable[[BoltRequest], BoltResponse]) -> Route:
    """`POST /slack/events` (HTTP mode): the raw request to Bolt, Bolt's answer back."""

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive)
        if body is None:
            await reply(send, 413, "request too large", "text/plain")
            return
        headers: dict[str, list[str]] = {}
        for raw_name, raw_value in scope.get("headers", []):
            headers.setdefault(raw_name.decode("latin-1").lower(), []).append(
                raw_value.decode("latin-1")
            )
        request = BoltRequest(
            body=body.decode("utf-8", errors="replace"),
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,  # type: ignore[arg-type]
        )
        response = await asyncio.to_thread(dispatch, request)
        await _send_bolt(send, response)

    return Route(frozenset({"POST"}), handler)


def make_asgi(
    health: HealthReport,
    dispatch: Callable[[BoltRequest], BoltResponse] | None = None,
    *,
    extra: Mapping[str, Route] | None = None,
    token: str | None = None,
) -> ASGIApp:
    """The listener's ASGI app: /healthz, /slack/events when `dispatch` is given, and `extra`."""
    routes: dict[str, Route] = {HEALTH_PATH: health_route(health, token)}
    if dispatch is not None:
        routes[EVENTS_PATH] = events_route(dispatch)
    routes.update(extra or {})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        route = routes.get(scope["path"])
        if route is None:
            await reply(send, 404, "not found", "text/plain")
        elif scope["method"] not in route.methods:
            await reply(send, 405, "method not allowed", "text/plain")
        else:
            await route.handler(scope, receive, send)

    return app


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def read_body(receive: Receive, limit: int = MAX_BODY) -> bytes | None:
    """The request body; None once it grows past `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def reply(send: Send, status: int, body: str, content_type: str) -> None:
    data = body.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


async def _send_bolt(send: Send, response: BoltResponse) -> None:
    data = response.body.encode()
    headers = [
        (name.encode("latin-1"), str(value).encode("latin-1"))
        for name, values in response.headers.items()
        if name.lower() != "content-length"
        for value in values
    ]
    headers.append((b"content-length", str(len(data)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
