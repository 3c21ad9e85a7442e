"""A new customer outlives a kill -9 of the real bridge (`python -m bot run`) in the middle of
being found: after the contacts look has seen them but before their first number is asked (the
v3 conversation list's call held), and between two numbers of a v1 search (a probe held).
Nothing of the search is written before its effect, and a search lost from memory goes on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.devtools.harness.traffic import relayed
from bot.devtools.harness.world import CY, NUMBER_B, SLACK_B, World, wait_until

WAIT = 60.0  # generous: the suite shares two cores


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with World(tmp_path) as w:
        w.prepare(())  # both numbers linked, no chat known: every customer is new
        yield w


def _posted(world: World, text: str) -> int:
    return sum(1 for _, said, _ in relayed(world.slack, SLACK_B) if said == text)


def _kill_while_held(world: World, endpoint: str) -> None:
    hold = world.sandbox.faults.hold(endpoint, applied=False)
    world.start_bridge()
    world.kill_while_held(hold)  # the held call is dropped unanswered: nothing happened in Wati
    world.start_bridge()


def test_killed_after_the_contacts_look_before_the_first_number_is_asked(world: World) -> None:
    world.sandbox.customer_says(NUMBER_B, CY, "hello from a new customer")
    _kill_while_held(world, "conversations")  # v3's list: which number they wrote to
    wait_until(lambda: _posted(world, "hello from a new customer") == 1, WAIT, "the message")
    world.sandbox.customer_says(NUMBER_B, CY, "and a second one")
    wait_until(lambda: _posted(world, "and a second one") == 1, WAIT, "the next message")
    assert _posted(world, "hello from a new customer") == 1


def test_killed_between_two_numbers_of_a_v1_search(world: World) -> None:
    world.sandbox.api.v3_conversations = 404  # one number at a time: support first
    world.sandbox.customer_says(NUMBER_B, CY, "hello sales")
    _kill_while_held(world, "getMessages")  # support's probe
    wait_until(lambda: _posted(world, "hello sales") == 1, WAIT, "the message")
