"""Nothing lost, nothing stuck: long histories, same-millisecond ties, long texts and posts Slack
refuses for good, over real HTTP (sandbox Wati + Slack stand-in)."""

from __future__ import annotations

from typing import Any

from bot.devtools.harness.inproc import ManualClock
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge
from bot.slack import blocks
from bot.wati.limits import RateWindow
from tests.kit import ADMIN, CHANNEL_A, SLACK_A
from tests.relay.kit import CUSTOMER


def thread(slack: SlackStandIn) -> list[dict[str, Any]]:
    [parent] = [
        m
        for m in slack.messages(SLACK_A)
        if (m.get("metadata") or {}).get("event_type") == blocks.THREAD_EVENT
    ]
    return slack.replies(SLACK_A, parent["ts"])[1:]


def texts(slack: SlackStandIn) -> list[str]:
    return [m.get("text", "") for m in thread(slack)]


def poll(bridge: Bridge) -> int:
    bridge.poller.wake(CHANNEL_A, CUSTOMER)
    return bridge.poller.poll_number(CHANNEL_A).relayed


def test_a_new_customers_long_history_is_read_back_to_the_link(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    # A chatbot flow before the first poll: far more than one page (50) of history.
    written = [f"step {k}" for k in range(130)]
    for text in written:
        sandbox.customer_says(CHANNEL_A, CUSTOMER, text)
    assert poll(linked) == 130
    assert texts(slack) == written


def test_reading_stops_at_the_link_time(
    bridge: Bridge, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    for k in range(120):
        sandbox.customer_says(CHANNEL_A, CUSTOMER, f"before {k}")
    clock.advance(1)  # the link comes after them (the store stamps it with the bridge's clock)
    bridge.store.link(CHANNEL_A, SLACK_A, ADMIN)
    clock.advance(1)
    for k in range(10):
        sandbox.customer_says(CHANNEL_A, CUSTOMER, f"after {k}")
    before = sandbox.calls("getMessages")
    assert poll(bridge) == 10
    assert sandbox.calls("getMessages") - before == 1  # the first page reaches the link time
    assert texts(slack) == [f"after {k}" for k in range(10)]


def test_a_history_that_cannot_be_read_whole_is_not_taken_in_part(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    for k in range(70):
        sandbox.customer_says(CHANNEL_A, CUSTOMER, f"m{k}")
    # Only one getMessages slot in the window for a long time: the second page cannot be read.
    window = linked.windows.messages
    linked.windows.messages = linked.poller.windows.messages = RateWindow(limit=1, period=3600)
    linked.poller.inbound.windows.messages = linked.windows.messages
    assert poll(linked) == 0
    assert linked.store.backlog() == 0 and not linked.store.has_messages(CHANNEL_A, CUSTOMER)
    linked.windows.messages = linked.poller.windows.messages = window
    linked.poller.inbound.windows.messages = window
    assert poll(linked) == 70
    assert texts(slack) == [f"m{k}" for k in range(70)]


def test_messages_of_the_same_millisecond_keep_watis_order(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    for k in range(6):
        sandbox.customer_says(CHANNEL_A, CUSTOMER, f"tie {k}")
    with sandbox.state._tx() as db:  # one created millisecond for all (their ids are random)
        db.execute("UPDATE messages SET created = (SELECT MIN(created) FROM messages)")
    assert poll(linked) == 6
    assert texts(slack) == [f"tie {k}" for k in range(6)]


def test_a_long_text_is_posted_in_several_parts_in_order(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    words = [f"w{k} & <x>" for k in range(2000)]  # about 22,000 characters, 44,000 escaped
    sandbox.customer_says(CHANNEL_A, CUSTOMER, " ".join(words))
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "next message")
    assert poll(linked) == 2
    posted = texts(slack)
    assert len(posted) > 2 and posted[-1] == "next message"
    assert all(len(p) <= 4000 for p in posted)
    joined = " ".join(posted[:-1])
    assert (
        joined.split()
        == " ".join(words).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").split()
    )


def test_an_interrupted_long_text_resumes_at_the_missing_part(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "first")
    poll(linked)
    thread_ts = linked.store.current_thread(CHANNEL_A, CUSTOMER).thread_ts  # type: ignore[union-attr]
    long_text = " ".join(f"word{k}" for k in range(1500))
    wati_id = sandbox.customer_says(CHANNEL_A, CUSTOMER, long_text)
    # What a crash after the first part's chat.postMessage leaves: part 1 in Slack, row pending.
    linked.store.record_message(
        wati_id,
        channel_number=CHANNEL_A,
        customer_number=CUSTOMER,
        direction="in",
        created="2000-01-01T00:00:00+00:00",
        state="pending",
        attempts=1,
    )
    parts = blocks.relayed_parts(wati_id, long_text)
    assert len(parts) >= 3
    linked.poster.post(SLACK_A, thread_ts=thread_ts, **parts[0])
    poll(linked)
    posted = texts(slack)
    assert posted == ["first", *(p["text"] for p in parts)]  # part 1 once, then the rest
    logged = linked.store.logged(wati_id)
    assert logged is not None and logged.state == "posted"


def test_a_post_slack_refuses_for_good_becomes_a_notice_and_the_thread_moves_on(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "hello")
    poll(linked)
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "this one Slack refuses")
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "and this one follows")
    slack.fail_next("chat.postMessage", status=200, error="msg_too_long")
    assert poll(linked) == 2
    posted = texts(slack)
    assert posted[0] == "hello" and posted[2] == "and this one follows"
    assert "could not be shown here" in posted[1] and "msg_too_long" in posted[1]
    assert "Team Inbox" in posted[1] and "+44" in posted[1]
    assert linked.store.backlog() == 0
    assert poll(linked) == 0  # nothing is posted again


def test_a_very_long_name_is_cut_and_a_refused_parent_still_opens_the_thread(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "hi", name="Ana " * 200)
    linked.poller.discover()
    assert poll(linked) == 1
    [parent] = [m for m in slack.messages(SLACK_A) if m.get("metadata")]
    assert "…" in parent["text"] and len(parent["blocks"][0]["text"]["text"]) <= 3000
    # The next conversation's parent is refused for good: a plain parent opens it.
    first = linked.store.current_thread(CHANNEL_A, CUSTOMER)
    assert first is not None
    linked.store.update_thread(first.id, state="resolved")
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "back again")
    slack.fail_next("chat.postMessage", status=200, error="invalid_blocks")
    assert poll(linked) == 1
    newest = linked.store.current_thread(CHANNEL_A, CUSTOMER)
    assert newest is not None and newest.state == "open" and newest.thread_ts
    assert [m["text"] for m in slack.replies(SLACK_A, newest.thread_ts)[1:]] == ["back again"]
