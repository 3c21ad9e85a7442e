"""Polling as the safety net: slower while webhooks are healthy, back to pace after a miss."""

from __future__ import annotations

import pytest

from bot.devtools.harness.inproc import ManualClock as ManualClock
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge
from bot.webhooks.trust import GRACE, IDLE_LOOK, RECENT
from tests.kit import ADMIN, CHANNEL_A, SLACK_A
from tests.webhooks.kit import CUSTOMER, hook_up, posts_of, prove_ids, settle


@pytest.fixture
def healthy(bridge: Bridge, sandbox: Sandbox, served: str, clock: ManualClock) -> Bridge:
    bridge.store.link(CHANNEL_A, SLACK_A, ADMIN)
    hook_up(sandbox, bridge, served, CHANNEL_A)
    clock.catch_up()
    prove_ids(sandbox, bridge, CHANNEL_A)
    assert bridge.webhooks.trust.healthy(CHANNEL_A)
    return bridge


def test_before_any_event_the_webhooks_are_not_trusted(bridge: Bridge) -> None:
    bridge.store.link(CHANNEL_A, SLACK_A, ADMIN)
    assert not bridge.webhooks.trust.healthy(CHANNEL_A)
    assert not bridge.webhooks.trust.all_healthy()


def test_scheduled_polls_wait_longer_while_webhooks_are_healthy(
    healthy: Bridge, sandbox: Sandbox, clock: ManualClock
) -> None:
    chat = healthy.store.chat(CHANNEL_A, CUSTOMER)
    assert chat is not None
    healthy.store.update_chat(CHANNEL_A, CUSTOMER, empty_polls=5, next_poll_at=clock() - 1)
    calls = sandbox.calls("getMessages")
    healthy.poller.poll_number(CHANNEL_A)
    assert sandbox.calls("getMessages") == calls  # postponed, not polled
    later = healthy.store.chat(CHANNEL_A, CUSTOMER)
    assert later is not None and later.next_poll_at is not None
    assert later.next_poll_at > clock() + 60
    clock.now = later.next_poll_at
    healthy.poller.poll_number(CHANNEL_A)
    assert sandbox.calls("getMessages") == calls + 1  # stretched once, then polled


def test_a_message_no_webhook_brought_makes_them_unhealthy(
    healthy: Bridge, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    sandbox.webhooks.drop(1)
    lost = sandbox.customer_says(CHANNEL_A, CUSTOMER, "this webhook never comes")
    healthy.poller.wake(CHANNEL_A, CUSTOMER)
    healthy.poller.poll_number(CHANNEL_A)
    assert posts_of(slack, lost) == 1  # polling relays it
    assert healthy.webhooks.trust.check() == 0  # the webhook may still be on its way
    clock.advance(GRACE)
    assert healthy.webhooks.trust.check() == 1
    assert not healthy.webhooks.trust.healthy(CHANNEL_A)
    chat = healthy.store.chat(CHANNEL_A, CUSTOMER)
    assert chat is not None and healthy.webhooks.trust.postpone(chat) is None
    row = healthy.store.number_webhook(CHANNEL_A)
    assert row is not None and "no webhook brought" in (row.unhealthy_reason or "")


def test_a_late_webhook_is_not_a_miss(
    healthy: Bridge, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    sandbox.webhooks.jitter = 5.0  # the webhook comes after the poll
    late = sandbox.customer_says(CHANNEL_A, CUSTOMER, "slow webhook")
    healthy.poller.wake(CHANNEL_A, CUSTOMER)
    healthy.poller.poll_number(CHANNEL_A)
    clock.advance(5.0)
    settle(sandbox, healthy)
    clock.advance(GRACE)
    assert healthy.webhooks.trust.check() == 0
    assert healthy.webhooks.trust.healthy(CHANNEL_A)
    assert posts_of(slack, late) == 1


def test_a_missed_message_is_found_by_the_contacts_look_within_four_intervals(
    healthy: Bridge, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    trust = healthy.webhooks.trust
    assert trust.look_due()  # the first look
    healthy.poller.discover()
    _quiet(healthy, clock)
    sandbox.webhooks.drop(1)
    lost = sandbox.customer_says(CHANNEL_A, CUSTOMER, "dropped by Wati")
    interval = healthy.poller.poll_seconds
    clock.advance(4 * interval)
    healthy.poller.poll_number(CHANNEL_A)
    assert posts_of(slack, lost) == 0  # the chat is quiet: no poll is due
    assert trust.look_due()
    healthy.poller.discover()  # lastUpdated moved and no webhook explains it: woken
    healthy.poller.poll_number(CHANNEL_A)
    assert posts_of(slack, lost) == 1


def _quiet(bridge: Bridge, clock: ManualClock) -> None:
    """The chat has been quiet for a while: its next scheduled poll is an hour away."""
    bridge.store.update_chat(CHANNEL_A, CUSTOMER, empty_polls=6, next_poll_at=clock() + 3600)
    clock.advance(2)


def test_a_contact_change_a_webhook_explains_wakes_no_poll(
    healthy: Bridge, sandbox: Sandbox, clock: ManualClock
) -> None:
    healthy.poller.discover()
    _quiet(healthy, clock)
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "brought by a webhook")
    settle(sandbox, healthy)
    before = healthy.store.chat(CHANNEL_A, CUSTOMER)
    healthy.poller.discover()
    after = healthy.store.chat(CHANNEL_A, CUSTOMER)
    assert before is not None and after is not None
    assert after.next_poll_at == before.next_poll_at  # not woken
    # A change no webhook explains does wake the chat.
    clock.advance(2)
    sandbox.webhooks.drop(1)
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "this one was dropped")
    healthy.poller.discover()
    woken = healthy.store.chat(CHANNEL_A, CUSTOMER)
    assert woken is not None and woken.next_poll_at == clock()


def test_after_a_quiet_spell_the_contacts_look_slows_down(
    healthy: Bridge, clock: ManualClock
) -> None:
    trust = healthy.webhooks.trust
    assert trust.look_due()
    clock.advance(RECENT + 1)
    assert trust.look_due()  # the last look was long ago
    clock.advance(4 * healthy.poller.poll_seconds)
    assert not trust.look_due()  # quiet: every IDLE_LOOK seconds now
    clock.advance(IDLE_LOOK)
    assert trust.look_due()


def test_history_from_before_a_relink_found_by_a_first_poll_is_not_a_miss(
    healthy: Bridge, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    store = healthy.store
    store.unlink(SLACK_A)
    clock.advance(2)
    newcomer = "4915112345678"
    # No webhook brings it: whether Wati delivers for a number the bridge no longer serves
    # says nothing about the webhooks of the link that follows.
    sandbox.webhooks.drop(2)  # the new contact's event and the message's
    old = sandbox.customer_says(CHANNEL_A, newcomer, "written while the number was unlinked")
    settle(sandbox, healthy)
    assert not store.webhook_ids([old])
    clock.advance(2)
    store.link(CHANNEL_A, SLACK_A, ADMIN)
    healthy.poller.wake(CHANNEL_A, newcomer)
    healthy.poller.poll_number(CHANNEL_A)  # the first poll reads that old history
    assert posts_of(slack, old) == 0  # older than the link: not relayed
    clock.advance(GRACE)
    assert healthy.webhooks.trust.check() == 0
    assert healthy.webhooks.trust.healthy(CHANNEL_A)
