"""Each webhook event, exactly once: the sandbox sends over HTTP to the served bridge."""

from __future__ import annotations

import time

import pytest

from bot.devtools.harness.inproc import ManualClock as ManualClock
from bot.devtools.harness.world import wait_until
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge
from tests.kit import ADMIN, CHANNEL_A, CHANNEL_B, SLACK_A, SLACK_B
from tests.relay.kit import job_of, open_chat, say
from tests.webhooks.kit import CUSTOMER, NEWCOMER, hook_up, posts_of, prove_ids, settle


@pytest.fixture
def hooked(bridge: Bridge, sandbox: Sandbox, served: str, clock: ManualClock) -> Bridge:
    bridge.store.link(CHANNEL_A, SLACK_A, ADMIN)
    bridge.store.link(CHANNEL_B, SLACK_B, ADMIN)
    hook_up(sandbox, bridge, served, CHANNEL_A)
    hook_up(sandbox, bridge, served, CHANNEL_B)
    # Messages after the link are relayed: the link takes the real time, which a slow setup
    # may have carried past the test clock.
    clock.now = max(clock.now, time.time()) + 1
    return bridge


def test_a_first_message_wakes_a_poll_that_proves_the_ids(
    hooked: Bridge, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    calls = sandbox.calls("getMessages")
    first = sandbox.customer_says(CHANNEL_A, CUSTOMER, "Hello there", name="Ana Lima")
    settle(sandbox, hooked)
    assert not hooked.webhooks.trust.ids_match()  # not assumed: a poll has to show it
    chat = hooked.store.chat(CHANNEL_A, CUSTOMER)
    assert chat is not None and chat.next_poll_at is not None  # woken: due now
    assert chat.next_poll_at <= hooked.clock()
    hooked.poller.poll_number(CHANNEL_A)
    assert sandbox.calls("getMessages") == calls + 1
    assert hooked.webhooks.trust.ids_match()
    assert posts_of(slack, first) == 1


def test_once_ids_are_proven_messages_are_relayed_without_a_wati_call(
    hooked: Bridge, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    prove_ids(sandbox, hooked, CHANNEL_A)
    calls = sandbox.calls()
    ids = [sandbox.customer_says(CHANNEL_A, CUSTOMER, f"message {i}") for i in range(3)]
    settle(sandbox, hooked)
    assert sandbox.calls() == calls
    assert [posts_of(slack, i) for i in ids] == [1, 1, 1]
    thread = hooked.store.current_thread(CHANNEL_A, CUSTOMER)
    assert thread is not None and thread.thread_ts is not None
    texts = [m.get("text") for m in slack.replies(SLACK_A, thread.thread_ts)[1:]]
    assert texts == ["Hello there", "message 0", "message 1", "message 2"]
    # The poll that follows finds them known: nothing twice.
    hooked.poller.wake(CHANNEL_A, CUSTOMER)
    assert hooked.poller.poll_number(CHANNEL_A).relayed == 0


def test_duplicates_retries_and_any_order_post_each_message_once(
    hooked: Bridge, sandbox: Sandbox, slack: SlackStandIn, served: str, clock: ManualClock
) -> None:
    prove_ids(sandbox, hooked, CHANNEL_A)
    hook_up(sandbox, hooked, served, CHANNEL_A)  # a second hook: every event arrives twice
    sandbox.webhooks.jitter = 0.3  # and in any order
    ids = [sandbox.customer_says(CHANNEL_A, CUSTOMER, f"part {i}") for i in range(5)]
    hooked.poller.wake(CHANNEL_A, CUSTOMER)
    hooked.poller.poll_number(CHANNEL_A)  # a poll sees them too
    clock.advance(0.3)
    settle(sandbox, hooked)
    assert [posts_of(slack, i) for i in ids] == [1] * 5


def test_a_new_customer_gets_a_thread_from_the_webhook(
    hooked: Bridge, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    prove_ids(sandbox, hooked, CHANNEL_A)
    first = sandbox.customer_says(CHANNEL_B, NEWCOMER, "New here, hi!", name="Bo Silva")
    settle(sandbox, hooked)
    assert posts_of(slack, first) == 1
    thread = hooked.store.current_thread(CHANNEL_B, NEWCOMER)
    assert thread is not None and thread.slack_channel_id == SLACK_B
    # newContactMessageReceived woke a poll too: it finds the message known.
    assert hooked.poller.poll_number(CHANNEL_B).relayed == 0
    assert posts_of(slack, first) == 1


def test_teammates_in_wati_are_mirrored_and_the_bridge_is_never_echoed(
    hooked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    prove_ids(sandbox, hooked, CHANNEL_A)
    thread = hooked.store.current_thread(CHANNEL_A, CUSTOMER)
    assert thread is not None
    event = say(hooked, slack, driver, thread, "Your order ships today")
    hooked.outbound.process()
    inbox = sandbox.operator_says(CHANNEL_A, CUSTOMER, "Adding: tracking number 123")
    settle(sandbox, hooked)
    assert posts_of(slack, inbox) == 1
    assert thread.thread_ts is not None
    texts = [str(m.get("text")) for m in slack.replies(SLACK_A, thread.thread_ts)]
    assert sum("Your order ships today" in t for t in texts) == 1  # the teammate's own only
    mine = [m for m in sandbox.sent_by_api(CHANNEL_A) if m["text"] == "Your order ships today"]
    assert len(mine) == 1 and hooked.store.logged(mine[0]["id"]) is not None
    assert hooked.store.logged(mine[0]["id"]).state == "ours"  # type: ignore[union-attr]
    assert job_of(hooked, SLACK_A, event["ts"]).state == "sent"


def test_delivery_marks_move_at_once_without_a_poll(
    hooked: Bridge,
    sandbox: Sandbox,
    slack: SlackStandIn,
    driver: SlackDriver,
    clock: ManualClock,
) -> None:
    prove_ids(sandbox, hooked, CHANNEL_A)
    thread = hooked.store.current_thread(CHANNEL_A, CUSTOMER)
    assert thread is not None
    event = say(hooked, slack, driver, thread, "Sent with care")
    hooked.outbound.process()
    assert slack.reactions(SLACK_A, event["ts"]) == ["white_check_mark"]
    calls = sandbox.calls("getMessages")
    clock.advance(sandbox.status_delays[0])
    settle(sandbox, hooked)
    assert slack.reactions(SLACK_A, event["ts"]) == ["ballot_box_with_check"]
    clock.advance(sandbox.status_delays[1])
    settle(sandbox, hooked)
    assert slack.reactions(SLACK_A, event["ts"]) == ["eyes"]
    assert sandbox.calls("getMessages") == calls
    # The v1 twins came too, without a phone number; each status counted once.
    names = [e[0] for e in sandbox.webhooks.log]
    assert "sentMessageREAD" in names and "sentMessageREAD_v2" in names


def test_a_failed_delivery_shows_the_reason_at_once(
    hooked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    thread = open_chat(hooked, sandbox)
    sandbox.webhooks.fail_next("Message undeliverable: the number is not on WhatsApp")
    event = say(hooked, slack, driver, thread, "Are you there?")
    hooked.outbound.process()
    settle(sandbox, hooked)
    assert slack.reactions(SLACK_A, event["ts"]) == ["x"]
    job = job_of(hooked, SLACK_A, event["ts"])
    assert job.state == "failed" and "not on WhatsApp" in (job.error or "")
    assert thread.thread_ts is not None
    notices = [str(m.get("text")) for m in slack.replies(SLACK_A, thread.thread_ts)]
    assert any("could not deliver" in t and "not on WhatsApp" in t for t in notices)


def test_an_event_naming_no_number_wakes_the_customer_on_every_linked_number(
    hooked: Bridge, sandbox: Sandbox
) -> None:
    from bot.webhooks.receiver import accept

    body = b'{"eventType": "message", "id": "abc123", "waId": "447700900999", "owner": false,'
    body += b' "created": "2026-07-07T12:00:07.838Z", "type": "text", "text": "hi"}'
    assert accept(hooked.store, body, None)
    hooked.webhooks.hub.process()
    for number in (CHANNEL_A, CHANNEL_B):
        chat = hooked.store.chat(number, "447700900999")
        assert chat is not None and chat.origin == "webhook"


def test_a_bsuid_twin_first_waits_for_the_phone_keyed_one_and_the_chat_is_the_phone_s(
    hooked: Bridge, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    """Wati sends a message and its `_bsuid` twin in either order. A new customer's BSUID
    twin that comes first must not open their chat under the BSUID: the phone number is
    their key everywhere else (the contacts list, other numbers' polls, the thread)."""
    import json

    from bot.webhooks.receiver import accept

    prove_ids(sandbox, hooked, CHANNEL_A)
    [hook] = [h for h in sandbox.webhooks.hooks if h.channel == CHANNEL_B]
    hook.event_types = ["message_bsuid"]  # the phone-keyed twin comes later, by hand
    first = sandbox.customer_says(CHANNEL_B, NEWCOMER, "New here, hi!", name="Bo Silva")
    wait_until(sandbox.webhooks.idle, 10, "the sandbox's webhooks delivered")
    [event] = [e for e in hooked.store.pending_webhook_events() if e.wati_id == first]
    twin = json.loads(event.payload or "{}")
    assert twin["eventType"] == "message_bsuid" and "waId" not in twin
    hooked.webhooks.hub.process()
    twin.update(eventType="message", waId=NEWCOMER)
    assert accept(hooked.store, json.dumps(twin).encode(), CHANNEL_B)
    settle(sandbox, hooked)
    assert hooked.store.chat(CHANNEL_B, twin["bsuid"]) is None
    assert posts_of(slack, first) == 1
    thread = hooked.store.current_thread(CHANNEL_B, NEWCOMER)
    assert thread is not None and thread.slack_channel_id == SLACK_B
