"""New and changed customers through Wati's contacts list, over real HTTP (sandbox + Slack stand-in)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from bot.config import Settings
from bot.devtools.harness.inproc import ManualClock
from bot.devtools.harness.world import wait_until
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.server import SlackStandIn
from bot.relay.budget import Budget
from bot.relay.discovery import CONFIRMATIONS
from bot.relay.polling import SAFETY_NET
from bot.service import Bridge, build
from bot.store.db import iso
from tests.kit import ADMIN, CHANNEL_A, CHANNEL_B, SLACK_A, SLACK_B
from tests.relay.kit import CUSTOMER, OTHER


def texts(slack: SlackStandIn, channel: str) -> list[str]:
    return [
        reply.get("text", "")
        for parent in slack.messages(channel)
        if parent.get("thread_ts") or parent.get("metadata")
        for reply in slack.replies(channel, parent["ts"])[1:]
    ]


def test_the_link_command_starts_a_contacts_look_at_once(
    bridge: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    # The test clock stands still: the cadence alone would never make another look due.
    bridge.start_jobs(tick=0.1)
    wait_until(lambda: not bridge.poller.discovery.soon_pending(), 10, "the first (empty) look")
    before = sandbox.calls("getContacts")
    prepared = driver.slash_command(
        "link +1 555 000 0001",
        user_id=ADMIN,
        channel_id=SLACK_A,
        response_url=slack.response_url(channel=SLACK_A),
    )
    assert prepared.dispatch(bridge.app).status == 200
    wait_until(lambda: sandbox.calls("getContacts") > before, 10, "a look after the link")
    assert bridge.store.link_for_channel(SLACK_A) is not None


def test_a_new_customer_is_found_on_the_poll_cadence_not_a_fixed_minute(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    discovery = linked.poller.discovery
    assert discovery.interval() == linked.settings.poll_seconds  # an ample budget
    discovery.run()  # the first look
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "hello, first time here", name="Ana")
    calls = sandbox.calls("getContacts")
    assert discovery.run() == 0  # not due yet: no call
    assert sandbox.calls("getContacts") == calls
    clock.advance(linked.settings.poll_seconds)
    assert discovery.run() == 1  # one interval later: the new contact, on the number v3 names
    linked.poller.poll_number(CHANNEL_A)
    assert texts(slack, SLACK_A) == ["hello, first time here"]


def test_the_look_cadence_stretches_as_the_months_calls_run_out(linked: Bridge) -> None:
    month_start = datetime(2026, 12, 1, 0, 5, tzinfo=UTC)
    budget = Budget(store=linked.store, monthly_calls=10_000, now=lambda: month_start)
    assert budget.pace(10.0, 0.25) == 10.0  # the burst allowance is still saved up
    for _ in range(budget.burst - 5):
        budget.record("getContacts")
    slower = budget.pace(10.0, 0.25)
    assert slower > 10.0
    for _ in range(10):
        budget.record("getContacts")
    assert budget.pace(10.0, 0.25) > slower  # out of saved calls: toward the month's pace


def test_a_known_customers_change_wakes_their_chat_first_and_other_numbers_only_if_needed(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "on support")
    assert linked.poller.discover() == 1  # a customer never seen: the number v3's list names
    linked.poller.poll_number(CHANNEL_A)
    linked.poller.poll_number(CHANNEL_B)
    clock.advance(2)
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "still on support")
    assert linked.poller.discover() == 1  # known on A: only A
    before = sandbox.calls("getMessages")
    linked.poller.poll_number(CHANNEL_A)
    linked.poller.poll_number(CHANNEL_B)
    assert sandbox.calls("getMessages") == before + 1
    clock.advance(2)
    sandbox.customer_says(CHANNEL_B, CUSTOMER, "now writing to sales")
    assert linked.poller.discover() == 1  # still only A: nothing new there...
    linked.poller.poll_number(CHANNEL_A)
    linked.poller.poll_number(CHANNEL_B)  # ...so B was asked
    assert texts(slack, SLACK_A) == ["on support", "still on support"]
    assert texts(slack, SLACK_B) == ["now writing to sales"]


def test_hinted_chats_are_polled_before_routine_ones(
    linked: Bridge, sandbox: Sandbox, clock: ManualClock
) -> None:
    for customer in (CUSTOMER, OTHER):
        sandbox.customer_says(CHANNEL_A, customer, "hi")
    linked.poller.discover()
    for number in (CHANNEL_A, CHANNEL_B):
        linked.poller.poll_number(number)
    clock.advance(60)  # both chats are due for a routine poll
    sandbox.customer_says(CHANNEL_A, OTHER, "again")
    linked.poller.discover()
    [first, *_] = linked.store.due_chats(CHANNEL_A, clock(), limit=5)
    assert first.customer_number == OTHER and first.hinted_at is not None


def _stamp_stays(sandbox: Sandbox, customer: str, at: float) -> None:
    """Make the customer's contact keep an old lastUpdated (a tenant where it does not move)."""
    with sandbox.state._tx() as db:
        db.execute("UPDATE contacts SET last_updated = ? WHERE wa_id = ?", (at, customer))


def test_a_trusted_hint_slows_routine_polls_and_one_miss_restores_them(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    relay = linked.poller
    for k in range(CONFIRMATIONS):
        clock.advance(2)
        sandbox.customer_says(CHANNEL_A, CUSTOMER, f"message {k}")
        relay.discover()
        relay.poll_number(CHANNEL_A)
        relay.poll_number(CHANNEL_B)
    assert relay.discovery.trusted()
    chat = linked.store.chat(CHANNEL_A, CUSTOMER)
    assert chat is not None and chat.next_poll_at is not None
    assert chat.next_poll_at >= clock() + SAFETY_NET  # only a safety net now
    # A message whose contact stamp does not move: the looks cannot announce it.
    clock.advance(2)
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "unannounced")
    _stamp_stays(sandbox, CUSTOMER, clock() - 2)
    clock.advance(10)
    relay.discover()  # a complete look after the message, with nothing changed
    relay.wake(CHANNEL_A, CUSTOMER)  # a routine poll finds it
    relay.poll_number(CHANNEL_A)
    assert texts(slack, SLACK_A)[-1] == "unannounced"
    assert not relay.discovery.trusted()
    chat = linked.store.chat(CHANNEL_A, CUSTOMER)
    assert chat is not None and chat.next_poll_at is not None
    assert chat.next_poll_at <= clock() + linked.settings.poll_seconds


@pytest.mark.parametrize("refusal", [404, 403])
def test_without_v3_new_customers_are_asked_for_one_number_at_a_time_and_learned(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock, refusal: int
) -> None:
    sandbox.api.v3_conversations = refusal
    sandbox.customer_says(CHANNEL_B, CUSTOMER, "hello sales")
    before = sandbox.calls("getMessages")
    assert linked.poller.discover() == 1  # one number first, not all of them
    linked.poller.poll_number(CHANNEL_A)  # nothing there: the next number is asked
    linked.poller.poll_number(CHANNEL_B)
    assert texts(slack, SLACK_B) == ["hello sales"]
    assert sandbox.calls("getMessages") == before + 2
    calls_v3 = sandbox.calls("conversations")
    # Learned: the next new customer is asked on sales first, and v3 is not asked again.
    clock.advance(2)
    sandbox.customer_says(CHANNEL_B, "4915112345678", "also sales")
    before = sandbox.calls("getMessages")
    assert linked.poller.discover() == 1
    linked.poller.poll_number(CHANNEL_B)
    linked.poller.poll_number(CHANNEL_A)
    assert texts(slack, SLACK_B) == ["hello sales", "also sales"]
    assert sandbox.calls("getMessages") == before + 1
    assert sandbox.calls("conversations") == calls_v3


def test_with_v3_a_new_customer_costs_no_getmessages_on_other_numbers(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    sandbox.customer_says(CHANNEL_B, CUSTOMER, "hello sales")
    before = sandbox.calls("getMessages")
    assert linked.poller.discover() == 1
    linked.poller.poll_number(CHANNEL_A)
    linked.poller.poll_number(CHANNEL_B)
    assert texts(slack, SLACK_B) == ["hello sales"]
    assert sandbox.calls("getMessages") == before + 1
    assert sandbox.calls("conversations") == 1


def test_a_contact_with_no_identity_is_a_warning_and_a_health_reason(
    linked: Bridge, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "a customer Wati names")
    hidden = sandbox.phoneless("no_one")
    sandbox.customer_says(CHANNEL_A, hidden, "a customer Wati gives no identity")
    with sandbox.state.transaction() as db:  # Wati lists them with neither phone nor BSUID
        db.execute("UPDATE contacts SET bsuid = '', username = NULL WHERE wa_id = ?", (hidden,))
    with caplog.at_level(logging.WARNING):
        assert linked.poller.discover() == 1  # the named customer only
    warned = [r.getMessage() for r in caplog.records if "no BSUID" in r.getMessage()]
    assert warned == [
        "1 Wati contact(s) have no phone number and no BSUID: their messages cannot be fetched"
    ]
    assert hidden not in warned[0] and "no_one" not in warned[0]
    linked.watch.check()
    reasons = linked.watch.health.report()["reasons"]
    assert "customer_unidentified" in reasons
    with caplog.at_level(logging.WARNING):
        linked.poller.discover()  # the same contact again: not said twice
    assert len([r for r in caplog.records if "no BSUID" in r.getMessage()]) == 1


def test_a_first_look_at_an_old_contact_leaves_its_quiet_chat_alone(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    # A customer who wrote long ago, in a conversation the bridge carried over from before
    # it kept contacts (as after an upgrade): the first look sees the contact for the first
    # time, with the stamp of that old message.
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "an old question")
    clock.advance(3 * 86400)
    store = linked.store
    store.ensure_chat(CHANNEL_A, CUSTOMER, origin="slack", next_poll_at=clock() + 3600)
    store.update_chat(
        CHANNEL_A,
        CUSTOMER,
        last_activity_at=iso(datetime.fromtimestamp(clock(), UTC)),
        empty_polls=9,
    )
    relay = linked.poller
    before = sandbox.calls("getMessages")
    assert relay.discover() == 0  # nothing since the bridge last saw the chat
    relay.poll_number(CHANNEL_A)
    relay.poll_number(CHANNEL_B)
    assert sandbox.calls("getMessages") == before
    chat = store.chat(CHANNEL_A, CUSTOMER)
    assert chat is not None and chat.empty_polls == 9  # its slow pace is kept
    # A message written after that is still announced by the next look.
    clock.advance(2)
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "a new question")
    clock.advance(linked.settings.poll_seconds)
    assert relay.discover() == 1
    relay.poll_number(CHANNEL_A)
    assert texts(slack, SLACK_A)[-1] == "a new question"


def test_a_contact_older_than_every_link_costs_no_call_but_the_look(
    linked: Bridge, sandbox: Sandbox, clock: ManualClock
) -> None:
    # The sweep meets every contact once; one whose last change predates the links cannot
    # have written to them since: neither v3's list nor any history is asked for it.
    sandbox.customer_says(CHANNEL_A, OTHER, "long before the link")
    _stamp_stays(sandbox, OTHER, clock() - 86400)
    before = sandbox.calls()
    assert linked.poller.discover() == 0
    linked.poller.poll_number(CHANNEL_A)
    linked.poller.poll_number(CHANNEL_B)
    assert sandbox.calls() == before + 1  # the contacts page alone
    assert sandbox.calls("conversations") == 0


def test_a_name_look_up_leaves_the_contacts_change_for_the_next_look(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    # Ana is known on both numbers; sales was asked before she wrote there, so only a
    # contacts hint wakes it. Opening her support thread looks her name up in the contacts:
    # that must not pass for the look that would have seen her change.
    store = linked.store
    for number in (CHANNEL_A, CHANNEL_B):
        store.ensure_chat(number, CUSTOMER, origin="slack", next_poll_at=0)
    linked.poller.poll_number(CHANNEL_B)  # nothing yet
    clock.advance(1)
    sandbox.customer_says(CHANNEL_B, CUSTOMER, "to sales", name="Ana")
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "to support", name="Ana")
    linked.poller.poll_number(CHANNEL_A)  # the thread opens with her name
    assert texts(slack, SLACK_A) == ["to support"]
    clock.advance(linked.settings.poll_seconds)
    linked.poller.discover()
    linked.poller.poll_number(CHANNEL_B)
    assert texts(slack, SLACK_B) == ["to sales"]


def test_a_hint_that_finds_nothing_keeps_a_quiet_chats_pace(
    linked: Bridge, sandbox: Sandbox, clock: ManualClock
) -> None:
    # Bo's conversation has been quiet for days (polled at its slow pace); then his contact
    # changes without a message (an attribute set in Wati's dashboard).
    sandbox.customer_says(CHANNEL_A, OTHER, "an old question")
    linked.poller.discover()
    linked.poller.poll_number(CHANNEL_A)
    clock.advance(3 * 86400)
    store = linked.store
    store.update_chat(CHANNEL_A, OTHER, empty_polls=9, next_poll_at=clock() + 1800)
    sandbox.state.update_params(OTHER, [{"name": "tier", "value": "gold"}])
    clock.advance(linked.settings.poll_seconds)
    assert linked.poller.discover() == 1  # the stamp moved: the chat is asked at once
    before = sandbox.calls("getMessages")
    linked.poller.poll_number(CHANNEL_A)
    assert sandbox.calls("getMessages") == before + 1
    chat = store.chat(CHANNEL_A, OTHER)
    assert chat is not None and chat.empty_polls == 10
    assert chat.next_poll_at is not None and chat.next_poll_at >= clock() + 600  # still slow


@pytest.mark.parametrize("v3", [False, True])
def test_a_new_contact_with_more_news_is_asked_first(
    linked: Bridge, sandbox: Sandbox, clock: ManualClock, v3: bool
) -> None:
    # Two customers the contacts list shows as new; Ana was seen first, then Bo wrote
    # twice: one call on Bo's number brings two messages, on Ana's one.
    if not v3:
        sandbox.api.v3_conversations = 404  # each is asked on support first
    asked = CHANNEL_B if v3 else CHANNEL_A  # the number v3 names; else the first guess
    sandbox.customer_says(CHANNEL_B, CUSTOMER, "hello")
    assert linked.poller.discover() == 1
    clock.advance(2)
    sandbox.customer_says(CHANNEL_B, OTHER, "hello")
    assert linked.poller.discover() == 1
    assert [c.customer_number for c in linked.store.due_chats(asked, clock())] == [
        CUSTOMER,
        OTHER,
    ]
    clock.advance(2)
    sandbox.customer_says(CHANNEL_B, OTHER, "anyone there?")
    assert linked.poller.discover() == 1  # Bo's pending call moves up; nothing new is woken
    assert [c.customer_number for c in linked.store.due_chats(asked, clock())] == [
        OTHER,
        CUSTOMER,
    ]
    assert linked.store.due_chats(CHANNEL_A if v3 else CHANNEL_B, clock()) == []  # no other


def test_without_v3_a_contact_change_mid_search_asks_no_number_found_empty_again(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    sandbox.api.v3_conversations = 404
    sandbox.customer_says(CHANNEL_B, CUSTOMER, "hello sales")
    before = sandbox.calls("getMessages")
    assert linked.poller.discover() == 1
    linked.poller.poll_number(CHANNEL_A)  # nothing there: sales is next
    clock.advance(2)
    sandbox.customer_says(CHANNEL_B, CUSTOMER, "hello again")
    linked.poller.discover()
    linked.poller.poll_number(CHANNEL_A)  # support is not asked again
    linked.poller.poll_number(CHANNEL_B)
    assert texts(slack, SLACK_B) == ["hello sales", "hello again"]
    assert sandbox.calls("getMessages") == before + 2


def test_a_change_a_poll_has_already_read_wakes_nothing(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    # Ana is known on support; her next message is read by a poll before the next look
    # sees her contact's stamp move: neither her chat nor sales is asked for it again.
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "hello")
    linked.poller.discover()
    linked.poller.poll_number(CHANNEL_A)
    clock.advance(2)
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "one more thing")
    linked.poller.wake(CHANNEL_A, CUSTOMER)
    linked.poller.poll_number(CHANNEL_A)
    assert texts(slack, SLACK_A) == ["hello", "one more thing"]
    before = sandbox.calls("getMessages")
    clock.advance(1)  # (her chat's routine poll is not due yet)
    assert linked.poller.discover() == 0
    linked.poller.poll_number(CHANNEL_A)
    linked.poller.poll_number(CHANNEL_B)
    assert sandbox.calls("getMessages") == before


def test_without_v3_a_search_whose_number_is_unlinked_goes_on_with_the_linked_ones(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    sandbox.api.v3_conversations = 404
    sandbox.customer_says(CHANNEL_B, CUSTOMER, "hello sales")
    assert linked.poller.discover() == 1  # support is asked first...
    linked.store.unlink(SLACK_A)  # ...and unlinked before its call
    clock.advance(2)
    sandbox.customer_says(CHANNEL_B, CUSTOMER, "hello again")
    assert linked.poller.discover() == 1  # the search starts again on the numbers linked
    linked.poller.poll_number(CHANNEL_B)
    assert texts(slack, SLACK_B) == ["hello sales", "hello again"]


def test_without_v3_a_search_lost_with_the_process_goes_on_after_a_restart(
    linked: Bridge, settings: Settings, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    """Searches live in memory: a bridge restarted between two of a search's calls finds the
    customer on the numbers not asked yet, not only at their next message."""
    sandbox.api.v3_conversations = 404
    sandbox.customer_says(CHANNEL_B, CUSTOMER, "hello sales")
    assert linked.poller.discover() == 1  # support is asked first...
    linked.shutdown()  # ...and the process is gone before that call
    again = build(settings, clock=clock, process_before_response=True, slack_min_interval=0.0)
    try:
        assert again.poller.discover() == 0  # the change was seen: the look wakes nothing
        again.poller.poll_number(CHANNEL_A)  # support had nothing: sales is asked next
        before = sandbox.calls("getMessages")
        again.poller.poll_number(CHANNEL_B)
        assert texts(slack, SLACK_B) == ["hello sales"]
        assert sandbox.calls("getMessages") == before + 1
        again.poller.poll_number(CHANNEL_A)
        again.poller.poll_number(CHANNEL_B)
        assert sandbox.calls("getMessages") == before + 1  # and nothing more is asked
    finally:
        again.shutdown()


def test_a_customer_already_known_is_left_to_widen_not_searched_again(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    """A hinted chat without a thread that finds nothing starts no search for a customer the
    bridge already talks to on another number (their other numbers are widen's)."""
    sandbox.api.v3_conversations = 404
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "hello support")
    linked.poller.discover()
    linked.poller.poll_number(CHANNEL_A)
    assert texts(slack, SLACK_A) == ["hello support"]
    linked.store.wake_chat(CHANNEL_B, CUSTOMER, clock(), "contacts", hinted=True)
    before = sandbox.calls("getMessages")
    linked.poller.poll_number(CHANNEL_B)  # nothing on sales
    linked.poller.poll_number(CHANNEL_A)
    linked.poller.poll_number(CHANNEL_B)
    assert sandbox.calls("getMessages") == before + 1
