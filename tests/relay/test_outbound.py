"""Slack → Wati over real HTTP: which thread replies go out, from which number, and only once."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge
from tests.kit import ADMIN, AGENT, CHANNEL_A, CHANNEL_B, SLACK_A, SLACK_B
from tests.relay.kit import CUSTOMER, deliver, job_of, open_chat, say


def test_thread_reply_goes_to_the_customer_from_the_linked_number(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    thread = open_chat(linked, sandbox)
    event = say(linked, slack, driver, thread, "Hello *Ana*, it ships today &amp; arrives Friday")
    linked.outbound.process()
    [sent] = sandbox.sent_by_api()
    job = job_of(linked, SLACK_A, event["ts"])
    assert sent["channel"] == CHANNEL_A and sent["customer"] == CUSTOMER
    assert sent["text"] == "Hello *Ana*, it ships today & arrives Friday"
    assert sent["localMessageId"] == f"{job.local_message_id}.0"
    assert job.state == "sent" and job.wati_id == sent["id"] and job.attempts == 1
    assert slack.reactions(SLACK_A, event["ts"]) == ["white_check_mark"]
    # The send woke the chat, so its status and the customer's answer are polled soon.
    chat = linked.store.chat(CHANNEL_A, CUSTOMER)
    assert (
        chat is not None and chat.next_poll_at is not None and chat.next_poll_at <= linked.clock()
    )


def test_reply_in_channel_b_goes_from_number_b_only(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    open_chat(linked, sandbox, CHANNEL_A)
    thread_b = open_chat(linked, sandbox, CHANNEL_B)
    assert thread_b.slack_channel_id == SLACK_B
    say(linked, slack, driver, thread_b, "Sales here")
    linked.outbound.process()
    assert sandbox.sent_by_api(CHANNEL_A) == []
    [sent] = sandbox.sent_by_api(CHANNEL_B)
    assert sent["text"] == "Sales here" and sent["customer"] == CUSTOMER


def _events(driver: SlackDriver, parent_ts: str, other_parent: str) -> dict[str, dict[str, Any]]:
    base: dict[str, Any] = {"channel": SLACK_A, "user": AGENT}
    return {
        "top-level": driver.message(**base, text="team talk"),
        "other bot": driver.message(**base, text="bot", thread_ts=parent_ts, bot_id="B0OTHER"),
        "classic bot": driver.message(
            **base, text="hi", thread_ts=parent_ts, subtype="bot_message"
        ),
        "our own post": driver.message(
            channel=SLACK_A,
            user="UBRIDGEBOT",
            text="relay",
            thread_ts=parent_ts,
            bot_id="BBRIDGEBOT",
        ),
        "join": driver.message(**base, text="joined", thread_ts=parent_ts, subtype="channel_join"),
        "me": driver.message(**base, text="waves", thread_ts=parent_ts, subtype="me_message"),
        "not our thread": driver.message(**base, text="reply", thread_ts=other_parent),
        "unlinked channel": driver.message(
            channel="C0RANDOM", user=AGENT, text="x", thread_ts=parent_ts
        ),
        "empty": driver.message(**base, text="   ", thread_ts=parent_ts),
    }


def test_nothing_but_thread_replies_is_ever_sent(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    thread = open_chat(linked, sandbox)
    assert thread.thread_ts is not None
    other = driver.message(channel=SLACK_A, user=AGENT, text="a team thread")
    slack.add_message(other)
    for name, event in _events(driver, thread.thread_ts, other["ts"]).items():
        deliver(linked, driver.event(event))
        assert linked.store.replies_in_state("queued", "note") == [], name
    linked.outbound.process()
    assert sandbox.sent_by_api() == []
    assert slack.ephemerals() == []


def test_thread_of_a_number_no_longer_linked_is_not_sent(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    thread = open_chat(linked, sandbox, CHANNEL_A)
    linked.store.unlink(SLACK_B)
    linked.store.unlink(SLACK_A)
    linked.store.link(CHANNEL_B, SLACK_A, ADMIN)  # the channel now serves another number
    say(linked, slack, driver, thread, "Still there?")
    linked.outbound.process()
    assert sandbox.sent_by_api() == []
    [note] = slack.ephemerals(SLACK_A)
    assert note["user"] == AGENT and "no longer linked" in note["text"]
    assert note["thread_ts"] == thread.thread_ts


def test_slack_retries_and_duplicates_never_send_twice(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    thread = open_chat(linked, sandbox)
    event = driver.message(
        channel=SLACK_A, user=AGENT, text="Only once", thread_ts=thread.thread_ts
    )
    slack.add_message(event)
    first = driver.event(event, event_id="Ev0RETRY01")
    deliver(linked, first)
    # Recorded before anything is sent: the send happens in process(), not in the listener.
    job = job_of(linked, SLACK_A, event["ts"])
    assert job.state == "queued" and job.event_id == "Ev0RETRY01" and sandbox.sent_by_api() == []
    assert not linked.store.first_sighting("Ev0RETRY01")
    deliver(linked, driver.redeliver(first, retry_num=1))
    deliver(linked, driver.event(event, event_id="Ev0RETRY01", retry_num=2))
    deliver(linked, driver.event(event))  # the same message under another event id
    linked.outbound.process()
    linked.outbound.process()
    assert [m["text"] for m in sandbox.sent_by_api()] == ["Only once"]
    assert len(linked.store.replies_in_state("sent")) == 1


def test_a_reply_brings_the_outbound_job_forward(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    thread = open_chat(linked, sandbox)
    # Every job's interval is an hour: only the reply's kick can make the outbound job run now.
    linked.start_jobs(tick=3600.0, discovery=False)
    event = say(linked, slack, driver, thread, "Sent without waiting for the next round")
    slack.wait_for(lambda s: s.reactions(SLACK_A, event["ts"]) == ["white_check_mark"])
    assert [m["text"] for m in sandbox.sent_by_api()] == ["Sent without waiting for the next round"]


def test_notes_stay_in_slack(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    thread = open_chat(linked, sandbox)
    event = say(linked, slack, driver, thread, "NOTE: she called about this yesterday")
    linked.outbound.process()
    assert sandbox.sent_by_api() == []
    assert job_of(linked, SLACK_A, event["ts"]).state == "note"
    assert slack.reactions(SLACK_A, event["ts"]) == ["memo"]
    # "notes" is a word of its own, not the prefix: that one goes out.
    say(linked, slack, driver, thread, "notes are attached")
    linked.outbound.process()
    assert [m["text"] for m in sandbox.sent_by_api()] == ["notes are attached"]


def test_edits_and_deletes_get_an_ephemeral_and_send_nothing(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    thread = open_chat(linked, sandbox)
    event = say(linked, slack, driver, thread, "Price is 10")
    linked.outbound.process()
    edit = driver.message(
        channel=SLACK_A,
        user=AGENT,
        text="Price is 12",
        ts=event["ts"],
        thread_ts=thread.thread_ts,
        subtype="message_changed",
        previous_text="Price is 10",
    )
    deliver(linked, driver.event(edit))
    delete = driver.message(
        channel=SLACK_A,
        user=AGENT,
        text="Price is 12",
        ts=event["ts"],
        thread_ts=thread.thread_ts,
        subtype="message_deleted",
    )
    deliver(linked, driver.event(delete))
    linked.outbound.process()
    assert [m["text"] for m in sandbox.sent_by_api()] == ["Price is 10"]
    edited, deleted = slack.ephemerals(SLACK_A)
    assert edited["user"] == AGENT and "cannot change" in edited["text"]
    assert deleted["user"] == AGENT and "does not remove it from WhatsApp" in deleted["text"]


def test_deleting_a_reply_before_it_went_cancels_it(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    thread = open_chat(linked, sandbox)
    event = say(linked, slack, driver, thread, "Oops, wrong chat")
    delete = driver.message(
        channel=SLACK_A,
        user=AGENT,
        text="Oops, wrong chat",
        ts=event["ts"],
        thread_ts=thread.thread_ts,
        subtype="message_deleted",
    )
    deliver(linked, driver.event(delete))
    linked.outbound.process()
    assert sandbox.sent_by_api() == []
    assert job_of(linked, SLACK_A, event["ts"]).state == "cancelled"
    [told] = slack.ephemerals(SLACK_A)
    assert "will not be sent" in told["text"]


def test_long_reply_is_split_and_sent_in_order(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    thread = open_chat(linked, sandbox)
    paragraphs = [f"Paragraph {n}: " + "word " * 700 for n in range(4)]
    event = say(linked, slack, driver, thread, "\n\n".join(p.strip() for p in paragraphs))
    linked.outbound.process()
    sent = sandbox.sent_by_api()
    job = job_of(linked, SLACK_A, event["ts"])
    assert len(sent) >= 2 and all(len(m["text"]) <= 4096 for m in sent)
    assert [m["localMessageId"] for m in sent] == [
        f"{job.local_message_id}.{k}" for k in range(len(sent))
    ]
    assert " ".join(m["text"] for m in sent).split() == " ".join(paragraphs).split()
    assert [p.part for p in linked.outbound.store.reply_parts(job.id)] == list(range(len(sent)))
    assert job.state == "sent" and job.wati_id == sent[0]["id"]


def test_mentions_links_and_the_agent_name(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    linked.outbound.sender.composer.agent_prefix = True
    thread = open_chat(linked, sandbox)
    say(
        linked,
        slack,
        driver,
        thread,
        f"<@{ADMIN}> will call you, see <https://example.com/t?a=1&amp;b=2|tracking> :tada:",
    )
    linked.outbound.process()
    [sent] = sandbox.sent_by_api()
    assert sent["text"] == (
        "*Sam Agent*: @ada will call you, see tracking (https://example.com/t?a=1&b=2) 🎉"
    )


def test_broadcast_reply_is_sent_and_logs_carry_ids_only(
    linked: Bridge,
    sandbox: Sandbox,
    slack: SlackStandIn,
    driver: SlackDriver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    thread = open_chat(linked, sandbox)
    secret = "card ending 4242, pin 9911"
    event = say(linked, slack, driver, thread, secret, subtype="thread_broadcast")
    assert event["subtype"] == "thread_broadcast"
    linked.outbound.process()
    assert [m["text"] for m in sandbox.sent_by_api()] == [secret]
    ours = [r for r in caplog.records if r.name.startswith("bot")]
    assert any("sent" in r.getMessage() for r in ours)
    assert not any(secret in r.getMessage() or "xoxb-" in r.getMessage() for r in ours)
