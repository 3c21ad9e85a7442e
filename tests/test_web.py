"""HTTP mode: the ASGI app under a real uvicorn on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge
from bot.web import make_asgi
from tests.kit import ADMIN, SIGNING_SECRET, SLACK_A


@pytest.fixture
def served(bridge: Bridge) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(make_asgi(bridge.health, bridge.dispatch), log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)


def test_healthz_reports_the_bridge_state(served: str, bridge: Bridge) -> None:
    bridge.store.link("15550000001", SLACK_A, ADMIN)
    response = httpx.get(f"{served}/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok" and body["links"] == 1 and body["backlog"] == 0
    assert "Wati calls this month" in body["wati_quota"]


def test_unknown_paths_and_methods(served: str) -> None:
    assert httpx.get(f"{served}/nope").status_code == 404
    assert httpx.get(f"{served}/slack/events").status_code == 405


def test_signed_command_is_answered_and_unsigned_is_refused(
    served: str, slack: SlackStandIn
) -> None:
    driver = SlackDriver(SIGNING_SECRET, url=f"{served}/slack/events")
    url = slack.response_url(channel=SLACK_A)
    ok = driver.post(
        driver.slash_command("help", user_id=ADMIN, channel_id=SLACK_A, response_url=url)
    )
    assert ok.status_code == 200
    slack.wait_for(lambda s: any("/wati link" in (r.get("text") or "") for r in s.responses))
    forged = SlackDriver("wrong-secret", url=f"{served}/slack/events")
    bad = forged.post(forged.slash_command("unlink", user_id=ADMIN, channel_id=SLACK_A))
    assert bad.status_code == 401


def test_oversized_body_is_refused(served: str) -> None:
    response = httpx.post(f"{served}/slack/events", content=b"x" * 1_100_000)
    assert response.status_code == 413
