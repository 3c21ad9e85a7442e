"""The real bridge's webhook fast path never stalls, in HTTP mode and Socket Mode: 2,000
delivery receipts for messages the bridge did not send (a broadcast from Wati's dashboard) are
settled without holding a new customer's message back, and messages relayed from webhooks that
overtake each other on the way reach Slack in the customer's order.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest

from bot.devtools.harness.traffic import relayed
from bot.devtools.harness.world import ANA, MODES, NUMBER_A, SLACK_A, World, wait_until
from bot.store import open_store
from bot.webhooks.registration import webhook_url

TOKEN = "fastpath-webhook-token-0f1e2d3c4b"
NEWCOMER = "4915112340000"
RECEIPTS = 2000


@pytest.fixture(params=MODES)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with World(tmp_path_factory.mktemp(f"fastpath-{request.param}"), mode=request.param) as w:
        w.extra_env = {"BRIDGE_PUBLIC_URL": w.base_url, "WATI_WEBHOOK_TOKEN": TOKEN}
        w.prepare(((NUMBER_A, ANA),))
        w.start_bridge()
        wait_until(lambda: len(w.sandbox.webhooks.hooks) == 2, 20, "webhooks registered")
        # A first message: its webhook wakes a poll, which proves webhook ids are history ids.
        first = w.sandbox.customer_says(NUMBER_A, ANA, "Hello")
        wait_until(lambda: _count(w, first) == 1, 20, "the first message")
        wait_until(w.webhook_ids_proven, 20, "webhook ids proven")
        yield w


def _count(world: World, wati_id: str) -> int:
    return sum(1 for found, _, _ in relayed(world.slack, SLACK_A) if found == wati_id)


def _pending_receipts(world: World) -> int:
    store = open_store(world.db_path)
    try:
        rows = store.query(
            "select count(*) as n from webhook_events where state = 'pending' "
            "and event_type like 'sentMessage%'"
        )
        return int(rows[0]["n"])
    finally:
        store.close()


def test_a_receipt_storm_holds_no_customer_message_back(world: World) -> None:
    url = webhook_url(world.base_url, TOKEN, NUMBER_A)
    with httpx.Client(timeout=10) as client:
        for k in range(RECEIPTS):
            status = ("DELIVERED", "READ")[k % 2]
            receipt = {
                "eventType": f"sentMessage{status}_v2",
                "statusString": status.capitalize(),
                "id": secrets.token_hex(12),
                "conversationId": secrets.token_hex(12),
                "localMessageId": None,
                "timestamp": "1784365964",
            }
            assert client.post(url, json=receipt).status_code == 200
    new = world.sandbox.customer_says(NUMBER_A, NEWCOMER, "First time writing", name="Nia")
    later = world.sandbox.customer_says(NUMBER_A, ANA, "Me again")
    wait_until(lambda: _count(world, new) == 1, 30, "the new customer's message")
    wait_until(lambda: _count(world, later) == 1, 30, "the known customer's message")
    wait_until(lambda: _pending_receipts(world) == 0, 60, "every receipt settled")


def test_webhook_messages_keep_their_order(world: World) -> None:
    world.sandbox.webhooks.jitter = 0.3  # events overtake each other on the way
    texts = [f"quick {k:02d}" for k in range(30)]
    ids = [world.sandbox.customer_says(NUMBER_A, ANA, text) for text in texts]
    wait_until(lambda: all(_count(world, i) == 1 for i in ids), 60, "all 30 relayed")
    posted = [text for _, text, _ in relayed(world.slack, SLACK_A) if text in texts]
    assert posted == texts
