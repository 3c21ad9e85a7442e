"""Shared fixtures: a real sandbox Wati and a Slack stand-in on loopback, and a bridge wired to them."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from bot.config import Settings
from bot.devtools.harness.inproc import ManualClock
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge, build
from bot.web import make_asgi
from tests.kit import ADMIN, AGENT, CHANNEL_A, CHANNEL_B, SIGNING_SECRET, SLACK_A, SLACK_B


@pytest.fixture
def clock() -> ManualClock:
    """The shared test clock."""
    return ManualClock()


@pytest.fixture
def sandbox(tmp_path: Path, clock: ManualClock) -> Iterator[Sandbox]:
    """A local Wati with two channel numbers, on the shared clock."""
    with Sandbox(tmp_path / "sandbox.db", channels=(CHANNEL_A, CHANNEL_B), clock=clock) as box:
        yield box


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    """A local Slack Web API with two channels, an admin and an agent."""
    standin = SlackStandIn()
    standin.add_user(ADMIN, name="ada", real_name="Ada Admin", is_admin=True)
    standin.add_user(AGENT, name="sam", real_name="Sam Agent")
    standin.add_channel(SLACK_A, "support", members=[ADMIN, AGENT])
    standin.add_channel(SLACK_B, "sales", members=[ADMIN, AGENT])
    with standin.start():
        yield standin


@pytest.fixture
def settings(tmp_path: Path, sandbox: Sandbox, slack: SlackStandIn) -> Settings:
    """Settings pointing at the loopback stand-ins."""
    return Settings.from_env(
        {
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "WATI_API_ENDPOINT": sandbox.api_endpoint,
            "WATI_ACCESS_TOKEN": sandbox.token,
            "BRIDGE_DB": str(tmp_path / "bridge.db"),
            "BRIDGE_POLL_SECONDS": "10",
            "BRIDGE_WATI_MONTHLY_CALLS": "200000",
        }
    )


@pytest.fixture
def bridge(settings: Settings, clock: ManualClock) -> Iterator[Bridge]:
    """A bridge whose listeners run inside dispatch() and whose Slack pacing is off (no sleeps)."""
    built = build(settings, clock=clock, process_before_response=True, slack_min_interval=0.0)
    try:
        yield built
    finally:
        built.shutdown()


@pytest.fixture
def driver() -> SlackDriver:
    """Builds signed Slack requests."""
    return SlackDriver(SIGNING_SECRET)


@pytest.fixture
def served(bridge: Bridge) -> Iterator[str]:
    """The bridge's HTTP listener (Slack events, /healthz, the webhook path) under uvicorn."""
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
