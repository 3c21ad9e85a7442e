"""HTTP mode: the ASGI app under a real uvicorn on loopback."""

from __future__ import annotations

import httpx

from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge
from tests.kit import ADMIN, SIGNING_SECRET, SLACK_A


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
