"""The reply window outlives a kill -9 of the real bridge (`python -m bot run`) while it posts a
customer's first message: the message and the chat's "customer last wrote at" are recorded
together, so after the restart the message is in Slack once and a teammate's reply goes out,
not "blocked: this customer has not written to this number yet". The same for the message
that arrives through a webhook."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.devtools.harness.traffic import relayed, thread_parents
from bot.devtools.harness.world import AGENT, ANA, CY, NUMBER_A, SLACK_A, World, wait_until
from bot.slack import blocks

WAIT = 60.0
TOKEN = "window-crash-webhook-token-7a6b5c"


@pytest.fixture(params=["polled", "webhook"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    with World(tmp_path) as w:
        if request.param == "webhook":
            w.extra_env = {"BRIDGE_PUBLIC_URL": w.base_url, "WATI_WEBHOOK_TOKEN": TOKEN}
        w.prepare(((NUMBER_A, CY),))
        if request.param == "webhook":
            # Webhooks relay messages themselves once their ids are seen to be history ids:
            # a first customer's message shows it (before that, a webhook only wakes a poll).
            w.start_bridge()
            w.sandbox.customer_says(NUMBER_A, ANA, "Hello")
            wait_until(lambda: w.webhook_ids_proven(), WAIT, "webhook ids proven")
            assert w.bridge is not None and w.bridge.stop() == 0
        yield w


def _posted(world: World, text: str) -> int:
    return sum(1 for _, said, _ in relayed(world.slack, SLACK_A) if said == text)


def _meta(args: dict[str, Any]) -> str:
    return str(args.get("metadata") or "")


def test_a_kill_while_the_first_message_is_posted_leaves_the_reply_window_open(
    world: World,
) -> None:
    held = world.slack.hold_next(
        "chat.postMessage", applied=True, when=lambda args: blocks.MESSAGE_EVENT in _meta(args)
    )
    world.start_bridge()
    world.sandbox.customer_says(NUMBER_A, CY, "Is my order on its way?")
    world.kill_while_held(held)  # in Slack, and the bridge dies before it hears so
    world.start_bridge()
    wait_until(lambda: _posted(world, "Is my order on its way?") == 1, WAIT, "the message")

    [parent] = [
        p
        for p in thread_parents(world.slack, SLACK_A)
        if p["metadata"]["event_payload"]["customer_number"] == CY
    ]
    text = "Yes, it left this morning."
    event = world.driver.message(channel=SLACK_A, user=AGENT, text=text, thread_ts=parent["ts"])
    world.slack.add_message(event)
    world.post(world.driver.event(event))
    wait_until(
        lambda: [s["text"] for s in world.sandbox.sent_by_api(NUMBER_A)] == [text],  # once
        WAIT,
        lambda: f"the reply sent; the thread shows {world.slack.replies(SLACK_A, parent['ts'])}",
    )
    assert _posted(world, "Is my order on its way?") == 1
