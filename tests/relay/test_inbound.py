"""Wati → Slack over real HTTP: the sandbox Wati, the Slack stand-in and a real Relay."""

from __future__ import annotations

from typing import Any

import pytest

from bot.devtools.harness.inproc import ManualClock
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_standin.server import SlackStandIn
from bot.relay.polling import Poller
from bot.service import Bridge, build
from bot.slack import blocks
from tests.kit import ADMIN, CHANNEL_A, CHANNEL_B, SLACK_A, SLACK_B

CUSTOMER = "447700900123"
OTHER = "5511912345678"


def thread_texts(slack: SlackStandIn, channel: str, parent_ts: str) -> list[str]:
    return [m.get("text", "") for m in slack.replies(channel, parent_ts)[1:]]


def parents(slack: SlackStandIn, channel: str) -> list[dict[str, Any]]:
    return [
        m
        for m in slack.messages(channel)
        if (m.get("metadata") or {}).get("event_type") == blocks.THREAD_EVENT
    ]


def poll(relay: Poller, number: str = CHANNEL_A, customer: str = CUSTOMER) -> int:
    relay.wake(number, customer)
    return relay.poll_number(number).relayed


def test_customer_message_opens_a_thread_and_arrives_once(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "Hi, is my order shipped?", name="Ana Lima")
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "Order <!channel> 1001 & more")
    assert poll(linked.poller) == 2
    [parent] = parents(slack, SLACK_A)
    assert "+44" in parent["text"] and "Ana Lima" in parent["text"]
    assert any(b.get("type") == "actions" for b in parent["blocks"])
    texts = thread_texts(slack, SLACK_A, parent["ts"])
    assert texts[0] == "Hi, is my order shipped?"
    assert "&lt;!channel&gt;" in texts[1] and "&amp;" in texts[1]
    # Polling again relays nothing twice.
    assert poll(linked.poller) == 0
    assert len(slack.replies(SLACK_A, parent["ts"])) == 3
    chat = linked.store.chat(CHANNEL_A, CUSTOMER)
    assert chat is not None and chat.last_inbound_at is not None


def test_two_numbers_never_mix(linked: Bridge, sandbox: Sandbox, slack: SlackStandIn) -> None:
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "to support")
    sandbox.customer_says(CHANNEL_B, CUSTOMER, "to sales")
    poll(linked.poller, CHANNEL_A)
    poll(linked.poller, CHANNEL_B)
    [pa] = parents(slack, SLACK_A)
    [pb] = parents(slack, SLACK_B)
    assert thread_texts(slack, SLACK_A, pa["ts"]) == ["to support"]
    assert thread_texts(slack, SLACK_B, pb["ts"]) == ["to sales"]


def test_history_from_before_the_link_is_not_relayed(
    bridge: Bridge, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "old news")
    clock.advance(5)
    bridge.store.link(CHANNEL_A, SLACK_A, ADMIN)
    clock.advance(5)
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "fresh")
    poll(bridge.poller)
    [parent] = parents(slack, SLACK_A)
    assert thread_texts(slack, SLACK_A, parent["ts"]) == ["fresh"]


def test_new_customer_found_through_contacts(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    sandbox.customer_says(CHANNEL_A, OTHER, "written after the link, before the first look")
    # First look: only contacts updated since the link, each on the number v3's list names.
    assert linked.poller.discover() == 1
    assert linked.poller.discover() == 0  # nothing changed since
    clock.advance(2)
    sandbox.customer_says(CHANNEL_B, CUSTOMER, "first message ever", name="Bo")
    assert linked.poller.discover() == 1  # the new contact, on its number only
    linked.poller.poll_number(CHANNEL_A)
    linked.poller.poll_number(CHANNEL_B)
    [pa] = parents(slack, SLACK_A)
    [pb] = parents(slack, SLACK_B)
    assert thread_texts(slack, SLACK_A, pa["ts"]) == [
        "written after the link, before the first look"
    ]
    assert thread_texts(slack, SLACK_B, pb["ts"]) == ["first message ever"]
    assert "Bo" in pb["text"]


def test_crash_after_recording_before_posting_posts_once(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, settings: Any, clock: ManualClock
) -> None:
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "one")
    poll(linked.poller)
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "two")
    # Slack fails the post: the message stays recorded as pending, attempted once.
    slack.fail_next("chat.postMessage", status=500, count=1)
    with pytest.raises(Exception):  # noqa: B017 - the Slack error surfaces from this round
        linked.poller.poll_chat(
            linked.store.link_for_number(CHANNEL_A), linked.store.chat(CHANNEL_A, CUSTOMER)
        )
    assert linked.store.backlog() == 1
    # A fresh bridge (a restart) on the same database posts it exactly once.
    fresh = build(settings, clock=clock, process_before_response=True, slack_min_interval=0.0)
    try:
        poll(fresh.poller)
        [parent] = parents(slack, SLACK_A)
        assert thread_texts(slack, SLACK_A, parent["ts"]) == ["one", "two"]
        assert fresh.store.backlog() == 0
    finally:
        fresh.shutdown()


def test_crash_after_posting_before_marking_does_not_post_again(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "hello")
    poll(linked.poller)
    [parent] = parents(slack, SLACK_A)
    wati_id = sandbox.customer_says(CHANNEL_A, CUSTOMER, "posted but not marked")
    # What a crash right after chat.postMessage leaves: the post is in Slack, the row pending.
    linked.store.record_message(
        wati_id,
        channel_number=CHANNEL_A,
        customer_number=CUSTOMER,
        direction="in",
        created="2000-01-01T00:00:00+00:00",
        state="pending",
        attempts=1,
    )
    linked.poster.post(
        SLACK_A, thread_ts=parent["ts"], **blocks.relayed_message(wati_id, "posted but not marked")
    )
    poll(linked.poller)
    assert thread_texts(slack, SLACK_A, parent["ts"]).count("posted but not marked") == 1
    logged = linked.store.logged(wati_id)
    assert logged is not None and logged.state == "posted" and logged.slack_ts


def test_thread_parent_found_again_after_crash(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "hello")
    linked.poller.wake(CHANNEL_A, CUSTOMER)
    thread = linked.store.create_thread(CHANNEL_A, CUSTOMER, SLACK_A, None)
    chat = linked.store.chat(CHANNEL_A, CUSTOMER)
    # The parent was posted but the crash came before its ts was stored.
    linked.poster.post(SLACK_A, **linked.threads.parent_message(thread, chat))
    poll(linked.poller)
    [parent] = parents(slack, SLACK_A)
    assert thread_texts(slack, SLACK_A, parent["ts"]) == ["hello"]


def test_resolved_conversation_starts_a_new_linked_thread(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "first")
    poll(linked.poller)
    thread = linked.store.current_thread(CHANNEL_A, CUSTOMER)
    linked.store.update_thread(thread.id, state="resolved")
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "back again")
    poll(linked.poller)
    first, second = parents(slack, SLACK_A)
    assert thread_texts(slack, SLACK_A, second["ts"]) == ["back again"]
    context = " ".join(
        e["text"] for b in second["blocks"] if b["type"] == "context" for e in b["elements"]
    )
    assert "earlier conversation" in context


def test_operator_messages_are_mirrored_and_own_sends_are_not(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "hi")
    poll(linked.poller)
    sandbox.operator_says(CHANNEL_A, CUSTOMER, "typed in Wati")
    # A send the bridge made (its localMessageId is in the outbox) must not come back.
    thread = linked.store.current_thread(CHANNEL_A, CUSTOMER)
    linked.store.enqueue_reply(
        slack_channel_id=SLACK_A,
        slack_ts="1.000001",
        thread_id=thread.id,
        channel_number=CHANNEL_A,
        customer_number=CUSTOMER,
        user_id=ADMIN,
        body="from slack",
        local_message_id="feedface",
        state="sent",
    )
    linked.wati.send_session_message(
        CUSTOMER, "from slack", channel_number=CHANNEL_A, local_message_id="feedface.1"
    )
    poll(linked.poller)
    [parent] = parents(slack, SLACK_A)
    texts = thread_texts(slack, SLACK_A, parent["ts"])
    assert len(texts) == 2 and "typed in Wati" in texts[1] and "Sent from Wati" in texts[1]


def test_malformed_items_and_wati_faults_never_stop_other_chats(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "a")
    sandbox.customer_says(CHANNEL_A, OTHER, "b")
    linked.poller.wake(CHANNEL_A, CUSTOMER)
    linked.poller.wake(CHANNEL_A, OTHER)
    sandbox.faults.inject("getMessages", "500", count=1)
    report = linked.poller.poll_number(CHANNEL_A)
    assert report.errors == 1 and report.relayed == 1
    assert linked.store.recent_errors(CHANNEL_A)
    # The failed chat is retried after its back-off and catches up.
    linked.poller.wake(CHANNEL_A, CUSTOMER)
    linked.poller.wake(CHANNEL_A, OTHER)
    linked.poller.poll_number(CHANNEL_A)
    assert len(parents(slack, SLACK_A)) == 2


def test_wati_429_holds_polling(linked: Bridge, sandbox: Sandbox) -> None:
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "a")
    sandbox.faults.inject("getMessages", "429", count=1, retry_after=7)
    linked.poller.wake(CHANNEL_A, CUSTOMER)
    linked.poller.poll_number(CHANNEL_A)
    assert linked.windows.messages.wait_time() > 5
    assert linked.store.backlog() == 0


def test_slack_rate_limit_is_waited_out_in_order(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    for n in range(5):
        sandbox.customer_says(CHANNEL_A, CUSTOMER, f"m{n}")
    slack.fail_next("chat.postMessage", status=429, retry_after=0, count=3)
    poll(linked.poller)
    [parent] = parents(slack, SLACK_A)
    assert thread_texts(slack, SLACK_A, parent["ts"]) == [f"m{n}" for n in range(5)]


def test_downtime_backlog_is_caught_up_in_order(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "m-first")
    poll(linked.poller)
    for n in range(120):  # more than two pages arrive while the bridge is down
        sandbox.customer_says(CHANNEL_A, CUSTOMER, f"m{n:03d}")
    poll(linked.poller)
    [parent] = parents(slack, SLACK_A)
    assert thread_texts(slack, SLACK_A, parent["ts"]) == ["m-first"] + [
        f"m{n:03d}" for n in range(120)
    ]


def test_free_wati_slots_go_to_the_longest_waiting_chat_on_any_number(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    from bot.wati.limits import RateWindow

    linked.windows.messages = RateWindow(limit=1, period=10.0)
    sandbox.customer_says(CHANNEL_B, CUSTOMER, "waiting longest")
    linked.poller.wake(CHANNEL_B, CUSTOMER)
    clock.advance(1)
    sandbox.customer_says(CHANNEL_A, OTHER, "came later")
    linked.poller.wake(CHANNEL_A, OTHER)
    assert linked.poller.poll_number(CHANNEL_A).calls == 0  # B's chat is ahead of it
    assert linked.poller.poll_number(CHANNEL_B).relayed == 1
    assert parents(slack, SLACK_A) == []
