"""The real bridge (`python -m bot run`) with Wati webhooks, in HTTP mode and Socket Mode alike:
it registers a webhook per linked number, relays what the sandbox sends, and a webhook that
arrives while it is down is retried by the sandbox and relayed once after the restart.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bot.devtools.harness.traffic import relayed
from bot.devtools.harness.world import (
    ANA,
    BO,
    MODES,
    NUMBER_A,
    NUMBER_B,
    SLACK_A,
    World,
    wait_until,
)
from bot.store import open_store

TOKEN = "reliability-webhook-token-9a8b7c6d"


@pytest.fixture(params=MODES)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with World(tmp_path_factory.mktemp(f"webhooks-{request.param}"), mode=request.param) as w:
        w.extra_env = {"BRIDGE_PUBLIC_URL": w.base_url, "WATI_WEBHOOK_TOKEN": TOKEN}
        w.prepare(((NUMBER_A, ANA), (NUMBER_A, BO)))
        yield w


def _count(world: World, wati_id: str) -> int:
    return sum(1 for found, _, _ in relayed(world.slack, SLACK_A) if found == wati_id)


def _tries(world: World, wati_id: str) -> list[int]:
    return [status for _, found, status, _ in world.sandbox.webhooks.log if found == wati_id]


def test_registered_relayed_and_retried_across_a_restart(world: World) -> None:
    world.start_bridge()
    hooks = world.sandbox.webhooks.hooks
    wait_until(lambda: len(hooks) == 2, 15, "a webhook registered per linked number")
    assert {h.channel for h in hooks} == {NUMBER_A, NUMBER_B}
    assert all(f"token={TOKEN}" in h.url and h.url.startswith(world.base_url) for h in hooks)

    first = world.sandbox.customer_says(NUMBER_A, ANA, "Hi, webhooks!", name="Ana")
    wait_until(lambda: _count(world, first) == 1, 15, "the first message relayed")
    assert 200 in _tries(world, first)

    world.kill_bridge()
    missed = world.sandbox.customer_says(NUMBER_A, ANA, "Sent while the bridge was down")
    wait_until(lambda: _tries(world, missed), 10, "the sandbox tried to deliver it")
    assert _tries(world, missed)[0] == 0  # nobody answered

    world.start_bridge()
    world.sandbox.advance(world.sandbox.webhooks.retry_seconds)  # Wati's next try is due
    wait_until(lambda: 200 in _tries(world, missed), 15, "the retry reached the bridge")
    wait_until(lambda: _count(world, missed) == 1, 15, "the missed message relayed")
    store = open_store(world.db_path)
    try:

        def processed() -> bool:
            # Wati retries the BSUID-keyed twin too, in either order: the phone-keyed event
            # may not be on record yet when the message is already in Slack.
            rows = store.query(
                "select state from webhook_events where wati_id = ? and event_type = 'message'",
                [missed],
            )
            return bool(rows) and rows[0]["state"] != "pending"

        wait_until(processed, 15, "the retried event processed")
        assert store.number_webhook(NUMBER_A) is not None
    finally:
        store.close()
    assert _count(world, missed) == 1 and _count(world, first) == 1

    # The listener refuses a wrong token in this mode too, and the log holds no token.
    bad = httpx.post(f"{world.base_url}/wati/webhook?token=nope", json={"eventType": "message"})
    assert bad.status_code == 403
    assert TOKEN not in world.log_path.read_text()
