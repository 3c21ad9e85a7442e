"""A template sent from a thread goes through the outbox in the real process (`python -m bot
run`), in both Slack modes: SIGKILLed while Wati holds the send it has already applied, the
restarted bridge finds the template in the history instead of sending it again, and the note in
the thread ends as sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.devtools.harness.world import AGENT, ANA, MODES, NUMBER_A, SLACK_A, World, wait_until
from bot.slack import blocks, modals
from tests.chatops.kit import blocks_text, select

WAIT = 60.0


@pytest.fixture(params=MODES)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    with World(tmp_path, mode=request.param) as w:
        w.prepare(((NUMBER_A, ANA),))
        yield w


def _parent(world: World) -> dict[str, Any] | None:
    found = [
        m
        for m in world.slack.messages(SLACK_A)
        if (m.get("metadata") or {}).get("event_type") == blocks.THREAD_EVENT
    ]
    return found[-1] if found else None


def _thread_texts(world: World) -> list[str]:
    parent = _parent(world)
    return (
        [blocks_text(m) for m in world.slack.replies(SLACK_A, parent["ts"])[1:]] if parent else []
    )


def _sent(world: World) -> list[dict[str, Any]]:
    return [
        s for s in world.sandbox.sent_by_api(NUMBER_A) if s.get("templateName") == "hello_again"
    ]


def _send_template(world: World) -> None:
    """The parent's Send template, then the modal's Submit with hello_again filled in."""
    parent = _parent(world)
    assert parent is not None
    click = world.driver.block_action(
        blocks.SEND_TEMPLATE, user_id=AGENT, channel_id=SLACK_A, message=parent
    )
    assert world.post(click) is not None

    def modal() -> dict[str, Any] | None:  # HTTP mode shows "Loading from Wati…" first
        found = [v for v in world.slack.views if v["callback_id"] == modals.TEMPLATE_VIEW]
        return found[-1] if found else None

    wait_until(modal, WAIT, "the template modal")
    view = modal()
    assert view is not None
    submission = world.driver.view_submission(
        modals.TEMPLATE_VIEW,
        user_id=AGENT,
        values={
            modals.TEMPLATE: {modals.TEMPLATE_PICK: select("hello_again")},
            "param:name": {modals.INPUT: "Ana"},
        },
        private_metadata=view["private_metadata"],
        view_id=view["id"],
    )
    answer = world.post(submission, timeout=20)
    assert answer is not None and answer.status_code == 200


def test_a_template_killed_mid_send_is_found_in_the_history_not_sent_twice(world: World) -> None:
    world.sandbox.customer_says(NUMBER_A, ANA, "Where is my order?")
    world.start_bridge()
    wait_until(
        lambda: any("Where is my order?" in t for t in _thread_texts(world)), WAIT, "the thread"
    )
    held = world.sandbox.faults.hold("sendTemplateMessage", applied=True)  # Wati sends it...
    _send_template(world)
    world.kill_while_held(held)  # ...and the bridge dies before hearing so
    assert len(_sent(world)) == 1

    world.age_unsettled()  # as if the bridge had stayed down long enough to check the history
    world.start_bridge()
    wait_until(
        lambda: any("sent template *hello_again*" in t for t in _thread_texts(world)),
        WAIT,
        lambda: f"the note to say sent; the thread shows {_thread_texts(world)}",
    )
    assert len(_sent(world)) == 1
    assert not any("was not sent" in t for t in _thread_texts(world))
