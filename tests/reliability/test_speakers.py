"""Threads that read like conversations, on the real process in both Slack modes: a customer's
message is posted under the customer's name with an avatar (chat:write.customize), or, where
the workspace did not grant that scope, with a first line naming them; the thread parent and
the bridge's notices stay the app's own."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.devtools.harness.traffic import Traffic
from bot.devtools.harness.world import ANA, MODES, NUMBER_A, SLACK_A, World, wait_until
from bot.devtools.slack_standin.common import DEFAULT_SCOPES

CHATS = ((NUMBER_A, ANA),)


@pytest.fixture(params=MODES)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    with World(tmp_path / request.param, mode=request.param) as w:
        w.prepare(CHATS)
        yield w


def _relayed(world: World, text: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def look() -> bool:
        for parent in world.slack.messages(SLACK_A):
            for message in world.slack.replies(SLACK_A, str(parent["ts"])):
                if text in str(message.get("text")) and message.get("ts") != parent.get("ts"):
                    found.append(message)
        return bool(found)

    wait_until(look, 30, f"{text!r} in a thread")
    return found[0]


def _parent(world: World) -> dict[str, Any]:
    return world.slack.messages(SLACK_A)[0]


def test_customer_posts_carry_the_customers_name_and_avatar(world: World) -> None:
    world.start_bridge()
    traffic = world.traffic(random.Random(5), CHATS)
    traffic.customer_says((NUMBER_A, ANA), "hello from the phone")
    message = _relayed(world, "hello from the phone")
    assert message["username"] == f"Cust {ANA} (WhatsApp)"
    assert message["icons"] == {"emoji": ":bust_in_silhouette:"}
    assert message["text"] == "hello from the phone"  # no label: Slack shows the name
    assert "username" not in _parent(world)  # the bridge's own card


def test_without_the_scope_each_post_names_the_customer(world: World) -> None:
    world.slack.set_scopes([s for s in DEFAULT_SCOPES if s != "chat:write.customize"])
    world.start_bridge()
    traffic: Traffic = world.traffic(random.Random(6), CHATS)
    traffic.customer_says((NUMBER_A, ANA), "no customize here")
    message = _relayed(world, "no customize here")
    assert "username" not in message and "icons" not in message
    assert message["text"] == f":bust_in_silhouette: *Cust {ANA} (WhatsApp)*\nno customize here"
    assert "username" not in _parent(world)
