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
import json
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
MAX_BODY = 1_000_000  # Slack payloads are far smaller; anything bigger is not Slack


@dataclass(frozen=True)
class Route:
    """One path: the methods it answers and the handler (an ASGI callable for that path)."""

    methods: frozenset[str]
    handler: ASGIApp


def health_route(health: HealthReport) -> Route:
    """`GET /healthz`: 200 with the state when healthy, 503 otherwise."""

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        ok, status = await asyncio.to_thread(health)
        await reply(send, 200 if ok else 503, json.dumps(status), "application/json")

    return Route(frozenset({"GET", "HEAD"}), handler)


def metrics_route(metrics: Callable[[], bytes | None]) -> Route:
    """`GET /metrics`: Prometheus's text format; 503 while the database is held elsewhere."""

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
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
) -> ASGIApp:
    """The listener's ASGI app: /healthz, /slack/events when `dispatch` is given, and `extra`."""
    routes: dict[str, Route] = {HEALTH_PATH: health_route(health)}
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
