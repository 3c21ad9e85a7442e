"""The real bridge (`python -m bot run`) and 2026's customers (docs/WATI.md#bsuids-and-usernames), in HTTP
mode and Socket Mode: a customer who hides their number (known by a BSUID and a username) is
relayed and answered by polling and by webhook, a message and its `_bsuid` twin are posted
once, and a phone number that appears later joins the same conversation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.devtools.harness.traffic import relayed, thread_parents
from bot.devtools.harness.world import (
    AGENT,
    ANA,
    BO,
    MODES,
    NUMBER_A,
    NUMBER_B,
    SLACK_A,
    SLACK_B,
    World,
    wait_until,
)
from bot.store import open_store

TOKEN = "customers-webhook-token-5e4d3c2b1a"
PHONE = "447700900555"  # what the phoneless customer's number turns out to be
NEWCOMER = BO  # not among the chats the bridge knows at start


def _world(
    request: pytest.FixtureRequest, tmp: pytest.TempPathFactory, webhooks: bool
) -> Iterator[World]:
    name = f"customers-{'hooks' if webhooks else 'poll'}-{request.param}"
    with World(tmp.mktemp(name), mode=request.param) as world:
        if webhooks:
            world.extra_env = {"BRIDGE_PUBLIC_URL": world.base_url, "WATI_WEBHOOK_TOKEN": TOKEN}
        world.prepare(((NUMBER_A, ANA),))
        yield world


@pytest.fixture(params=MODES)
def polling(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    yield from _world(request, tmp_path_factory, webhooks=False)


@pytest.fixture(params=MODES)
def hooked(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    yield from _world(request, tmp_path_factory, webhooks=True)


def _count(world: World, wati_id: str) -> int:
    return sum(1 for found, _, _ in relayed(world.slack, SLACK_A) if found == wati_id)


def _parents_of(world: World, customer: str) -> list[dict[str, Any]]:
    return [
        p
        for p in thread_parents(world.slack, SLACK_A)
        if (p["metadata"].get("event_payload") or {}).get("customer_number") == customer
    ]


def _answer(world: World, customer: str, text: str) -> None:
    """A teammate replies in the customer's thread; wait until Wati has sent it."""
    (parent,) = _parents_of(world, customer)
    event = world.driver.message(channel=SLACK_A, user=AGENT, text=text, thread_ts=parent["ts"])
    world.slack.add_message(event)
    world.post(world.driver.event(event))
    wait_until(
        lambda: any(s["text"] == text for s in world.sandbox.sent_by_api()), 20, "the reply sent"
    )
    (sent,) = [s for s in world.sandbox.sent_by_api() if s["text"] == text]
    assert sent["customer"] == customer  # addressed by the BSUID: the sandbox's key for them


def _no_identifier_logged(world: World, *identifiers: str) -> None:
    log = world.log_path.read_text()
    for identifier in identifiers:
        assert identifier not in log


def test_a_phoneless_customer_by_polling(polling: World) -> None:
    world = polling
    bsuid = world.sandbox.phoneless("bob_rivers", name="Bob Rivers")
    first = world.sandbox.customer_says(NUMBER_A, bsuid, "Hello, I hide my number")
    world.start_bridge()
    wait_until(lambda: _count(world, first) == 1, 30, "the phoneless customer's message")
    (parent,) = _parents_of(world, bsuid)
    assert "Bob Rivers" in parent["text"]
    assert bsuid.split(".")[1][:7] not in parent["text"]  # never "the digits" as a number
    _answer(world, bsuid, "Hi Bob, how can we help?")

    # The customer's number becomes visible: the same conversation, the same thread.
    world.sandbox.reveal_phone(bsuid, PHONE)
    later = world.sandbox.customer_says(NUMBER_A, PHONE, "Here is my number after all")
    wait_until(lambda: _count(world, later) == 1, 30, "the message after the phone appeared")
    assert len(_parents_of(world, bsuid)) == 1 and _parents_of(world, PHONE) == []
    _answer(world, bsuid, "Thanks, still the same chat")
    _no_identifier_logged(world, bsuid, PHONE, "bob_rivers")


def test_a_phoneless_customer_by_webhook_and_twins_posted_once(hooked: World) -> None:
    world = hooked
    world.start_bridge()
    hooks = world.sandbox.webhooks.hooks
    wait_until(lambda: len(hooks) == 2, 20, "a webhook registered per linked number")
    assert all("message_bsuid" in h.event_types for h in hooks)

    # A known customer with a phone: `message` and `message_bsuid` (same id), posted once.
    twin = world.sandbox.customer_says(NUMBER_A, ANA, "Hello from a phone")
    wait_until(lambda: _count(world, twin) == 1, 20, "the phone customer's message")
    _processed(world, twin)
    assert _count(world, twin) == 1

    bsuid = world.sandbox.phoneless("cy_sees", name=None)
    first = world.sandbox.customer_says(NUMBER_A, bsuid, "No number here")
    wait_until(lambda: _count(world, first) == 1, 20, "the phoneless customer's message")
    (parent,) = _parents_of(world, bsuid)
    assert "cy_sees" in parent["text"]
    _answer(world, bsuid, "Hello there")
    world.sandbox.reveal_phone(bsuid, PHONE)
    later = world.sandbox.customer_says(NUMBER_A, PHONE, "Now with a phone")
    wait_until(lambda: _count(world, later) == 1, 20, "the message after the phone appeared")
    _processed(world, later)
    assert _count(world, later) == 1
    assert len(_parents_of(world, bsuid)) == 1 and _parents_of(world, PHONE) == []
    _no_identifier_logged(world, bsuid, PHONE, "cy_sees")


def _processed(world: World, wati_id: str) -> None:
    """Both twins of a customer message reached the bridge and were processed."""
    store = open_store(world.db_path)
    try:

        def done() -> bool:
            rows = store.query(
                "select state from webhook_events where wati_id = ? "
                "and event_type in ('message', 'message_bsuid')",
                [wati_id],
            )
            return len(rows) == 2 and all(r["state"] != "pending" for r in rows)

        wait_until(done, 20, "both twins processed")
    finally:
        store.close()


def test_a_new_customer_is_filed_under_their_phone_and_polled_where_webhooks_are_missing(
    hooked: World,
) -> None:
    """A new customer's `_bsuid` twin comes before the phone-keyed event (Wati sends them in
    either order). Their chat is still filed under the phone number, so when they write next
    to a number whose webhook is missing, polling finds them there (polling is the source of
    truth) and the thread is theirs, not a BSUID's."""
    world = hooked
    world.start_bridge()
    hooks = world.sandbox.webhooks.hooks
    wait_until(lambda: len(hooks) == 2, 20, "a webhook registered per linked number")
    hooks[:] = [h for h in hooks if h.channel == NUMBER_A]  # number B's webhook is gone
    world.sandbox.webhooks.phone_twin_lag = 1.5
    first = world.sandbox.customer_says(NUMBER_A, NEWCOMER, "First, on the support number")
    wait_until(lambda: _count(world, first) == 1, 60, "the message that came by webhook")
    _processed(world, first)
    assert len(_parents_of(world, NEWCOMER)) == 1  # the thread is filed under the phone
    later = world.sandbox.customer_says(NUMBER_B, NEWCOMER, "Then on the sales number")
    wait_until(
        lambda: any(w == later and c == NEWCOMER for w, _, c in relayed(world.slack, SLACK_B)),
        60,
        lambda: f"the message on the number without webhooks; {relayed(world.slack, SLACK_B)}",
    )
    assert len(_parents_of(world, NEWCOMER)) == 1
