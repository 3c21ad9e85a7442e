"""Health that notices Wati failing and a second consumer of the Slack app, on the real process
in both Slack modes: /healthz 503 with the reason, one DM to the admin after the alert delay,
and (for Wati) one more when it answers again, as the other conditions do
(tests/reliability/test_health.py)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.devtools.harness.traffic import Traffic, post
from bot.devtools.harness.world import (
    ADMIN,
    AGENT,
    ANA,
    CY,
    MODES,
    NUMBER_A,
    NUMBER_B,
    SLACK_A,
    World,
    wait_until,
)

CHATS = ((NUMBER_A, ANA), (NUMBER_B, CY))
DM = "D" + ADMIN[1:]
FAST = {
    "BRIDGE_HEALTH_ALERT_SECONDS": "1",
    "BRIDGE_HEALTH_CHECK_SECONDS": "0.5",
    "BRIDGE_WATI_OUTAGE_SECONDS": "2",
}


@pytest.fixture(params=MODES)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    with World(tmp_path / request.param, mode=request.param) as w:
        w.extra_env.update(FAST)
        w.prepare(CHATS)
        yield w


@pytest.fixture
def traffic(world: World) -> Traffic:
    flow = world.traffic(random.Random(21), CHATS)
    flow.greet()
    return flow


def _health(world: World) -> tuple[int, dict[str, Any]]:
    assert world.bridge is not None
    response = world.bridge.health(timeout=5)
    return response.status_code, response.json()


def _wait_health(world: World, want: int, code: str | None, timeout: float = 40) -> dict[str, Any]:
    last: dict[str, Any] = {}

    def check() -> bool:
        status, body = _health(world)
        last.clear()
        last.update(body)
        return status == want and (code is None or code in body.get("reasons", []))

    wait_until(check, timeout, lambda: f"/healthz {want} {code or ''}, last {last}")
    return last


def _dms(world: World) -> list[str]:
    return [str(m.get("text")) for m in world.slack.messages(DM)]


def _wait_dms(world: World, count: int) -> list[str]:
    wait_until(lambda: len(_dms(world)) >= count, 30, lambda: f"{count} DM(s): {_dms(world)}")
    return _dms(world)


def _texts(world: World, channel: str) -> list[str]:
    found = []
    for parent in world.slack.messages(channel):
        found += [str(m.get("text")) for m in world.slack.replies(channel, str(parent["ts"]))]
    return found


def _log(world: World) -> str:
    return world.log_path.read_text()


def test_wati_answering_500_makes_the_bridge_unhealthy_and_tells_once(
    world: World, traffic: Traffic
) -> None:
    world.start_bridge()
    wait_until(lambda: len(traffic.open_threads()) == 2, 30, "both threads")
    world.sandbox.faults.inject("*", "500", count=10**6)
    body = _wait_health(world, 503, "wati_unavailable")
    problem = next(p for p in body["problems"] if p["code"] == "wati_unavailable")
    assert "HTTP 500 on " in problem["detail"] and problem["message"].startswith(
        "Wati has been failing every call"
    )
    dms = _wait_dms(world, 1)
    assert "needs attention" in dms[0] and "Wati has been failing every call" in dms[0]
    # More checks go by while Wati still fails: no second DM.
    checks = len(world.slack.calls_to("auth.test"))
    wait_until(lambda: len(world.slack.calls_to("auth.test")) >= checks + 4, 30, "more checks")
    assert len(_dms(world)) == 1
    world.sandbox.faults.clear()
    _wait_health(world, 200, None)
    dms = _wait_dms(world, 2)
    assert len(dms) == 2 and "Fixed" in dms[1] and "Wati has been failing" in dms[1]
    assert _log(world).count("health: wati_unavailable started") == 1
    assert _log(world).count("health: wati_unavailable ended") == 1


def test_a_short_wati_hiccup_is_not_an_outage(world: World, traffic: Traffic) -> None:
    world.extra_env["BRIDGE_WATI_OUTAGE_SECONDS"] = "3600"
    world.start_bridge()
    world.sandbox.faults.inject("*", "500", count=5)
    wait_until(lambda: world.sandbox.faults.pending() == [], 30, "the five failures")
    traffic.customer_says((NUMBER_A, ANA), "after the hiccup")
    wait_until(
        lambda: any("after the hiccup" in text for text in _texts(world, SLACK_A)),
        30,
        "the message relayed",
    )
    status, body = _health(world)
    assert status == 200, body
    assert "wati_unavailable" not in _log(world)


def test_replies_taken_by_a_second_consumer_are_noticed(world: World, traffic: Traffic) -> None:
    world.start_bridge()
    wait_until(lambda: len(traffic.open_threads()) == 2, 30, "both threads")
    channel, parent, _number, _customer = next(t for t in traffic.open_threads() if t[0] == SLACK_A)
    # A reply the bridge does receive: not a problem.
    delivered = world.driver.message(channel=channel, user=AGENT, text="on it", thread_ts=parent)
    world.slack.add_message(delivered)
    answer = post(world, world.driver.event(delivered))
    assert answer is not None and answer.status_code == 200
    # One Slack gave to another copy of the app: in Slack, never delivered here.
    taken = world.driver.message(
        channel=channel, user=AGENT, text="taken by the other copy", thread_ts=parent
    )
    world.slack.add_message(taken)
    body = _wait_health(world, 503, "events_taken_elsewhere", timeout=60)
    problem = next(p for p in body["problems"] if p["code"] == "events_taken_elsewhere")
    assert problem["detail"].startswith("1 in the last")  # the delivered one is not counted
    dms = _wait_dms(world, 1)
    assert "another program with this Slack app took teammates' replies" in dms[0]
    assert "stop every other copy of the bridge" in dms[0]
    assert "taken by the other copy" not in _log(world)  # no message body in the logs


def test_a_bridge_that_receives_every_reply_stays_healthy(world: World, traffic: Traffic) -> None:
    world.start_bridge()
    wait_until(lambda: len(traffic.open_threads()) == 2, 30, "both threads")
    channel, parent, _number, _customer = traffic.open_threads()[0]
    for text in ("first", "second"):
        event = world.driver.message(channel=channel, user=AGENT, text=text, thread_ts=parent)
        world.slack.add_message(event)
        answer = post(world, world.driver.event(event))
        assert answer is not None and answer.status_code == 200
    # Rounds enough for the grace (10 s) to pass, and the threads to be looked at.
    looked = len(world.slack.calls_to("conversations.replies"))
    wait_until(
        lambda: len(world.slack.calls_to("conversations.replies")) > looked,
        60,
        "a look at the thread's replies",
    )
    checks = len(world.slack.calls_to("auth.test"))
    wait_until(lambda: len(world.slack.calls_to("auth.test")) >= checks + 3, 30, "more checks")
    status, body = _health(world)
    assert status == 200, body
