"""Fixtures for the webhook tests: the bridge's listener served by uvicorn on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from bot.service import Bridge
from bot.web import make_asgi


@pytest.fixture
def served(bridge: Bridge) -> Iterator[str]:
    """The bridge's HTTP listener (Slack events, /healthz, the webhook path) on a free port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app = make_asgi(bridge.health, bridge.dispatch, extra=bridge.webhooks.routes)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)
