"""A teammate's file reaches the customer at most once through a kill -9 of the real bridge
(`python -m bot run`) while Wati holds the send it has already applied: after the restart the
bridge finds the file in Wati's history instead of sending it again, and the reply shows sent.
The same promise as for text (`test_crash.py`), on the file path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.devtools.harness.traffic import thread_parents
from bot.devtools.harness.world import AGENT, CY, NUMBER_A, SLACK_A, World, wait_until

WAIT = 60.0
PDF = b"%PDF-1.4 contract 12 " + bytes(range(256)) * 30
SENT = {"white_check_mark", "ballot_box_with_check", "eyes"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with World(tmp_path) as w:
        w.prepare(((NUMBER_A, CY),))
        yield w


def _files_sent(world: World) -> list[dict[str, Any]]:
    return [m for m in world.sandbox.sent_by_api(NUMBER_A) if m["type"] == "document"]


@pytest.mark.parametrize("caption", ["", "Here is the contract"])
def test_a_file_killed_mid_send_is_found_in_the_history_not_sent_twice(
    world: World, caption: str
) -> None:
    world.sandbox.customer_says(NUMBER_A, CY, "Please send the contract")
    world.start_bridge()
    wait_until(lambda: thread_parents(world.slack, SLACK_A), WAIT, "the customer's thread")
    [parent] = thread_parents(world.slack, SLACK_A)
    held = world.sandbox.faults.hold("sendSessionFile", applied=True)  # Wati sends it...
    pdf = world.slack.add_file(PDF, name="Contract-12.pdf", mimetype="application/pdf", user=AGENT)
    event = world.driver.message(
        channel=SLACK_A, user=AGENT, text=caption, thread_ts=parent["ts"], files=[pdf]
    )
    world.slack.add_message(event)
    world.post(world.driver.event(event))
    world.kill_while_held(held)  # ...and the bridge dies before hearing so
    assert len(_files_sent(world)) == 1

    world.age_unsettled()  # as if the bridge had stayed down long enough to read the history
    world.start_bridge()
    wait_until(
        lambda: SENT & set(world.slack.reactions(SLACK_A, event["ts"])),
        WAIT,
        lambda: f"the reply shown sent; marks {world.slack.reactions(SLACK_A, event['ts'])}",
    )
    assert len(_files_sent(world)) == 1
    texts = [m["text"] for m in world.sandbox.sent_by_api(NUMBER_A) if m["type"] == "text"]
    assert texts == ([caption] if caption else [])
