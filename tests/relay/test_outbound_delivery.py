"""Delivery statuses from Wati's history as reactions, and the window state on thread parents."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.devtools.harness.inproc import ManualClock
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.server import SlackStandIn
from bot.relay.delivery import forward
from bot.service import Bridge
from bot.slack import blocks
from bot.store.outbox import Delivery
from bot.wati.types import WatiMessage
from tests.kit import CHANNEL_A, SLACK_A
from tests.relay.kit import CUSTOMER, click, job_of, notices, open_chat, say

DAY = 24 * 3600


def poll(bridge: Bridge) -> None:
    bridge.poller.wake(CHANNEL_A, CUSTOMER)
    bridge.poller.poll_number(CHANNEL_A)


def test_reactions_follow_sent_delivered_read(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver, clock: ManualClock
) -> None:
    thread = open_chat(linked, sandbox)
    event = say(linked, slack, driver, thread, "On its way")
    linked.outbound.process()
    assert slack.reactions(SLACK_A, event["ts"]) == ["white_check_mark"]
    clock.advance(3)  # the sandbox reports DELIVERED 2 s after a send
    poll(linked)
    assert slack.reactions(SLACK_A, event["ts"]) == ["ballot_box_with_check"]
    assert job_of(linked, SLACK_A, event["ts"]).delivery == Delivery.DELIVERED
    clock.advance(2)  # and READ after 4 s
    poll(linked)
    assert slack.reactions(SLACK_A, event["ts"]) == ["eyes"]
    assert job_of(linked, SLACK_A, event["ts"]).delivery == Delivery.READ
    # The bridge's own message is never relayed back into the thread.
    assert thread.thread_ts is not None
    bot_posts = [m for m in slack.replies(SLACK_A, thread.thread_ts)[1:] if m.get("bot_id")]
    assert [m["text"] for m in bot_posts] == ["Hi, where is my order?"]


def test_statuses_only_move_forward() -> None:
    assert forward(None, Delivery.SENT) == Delivery.SENT
    assert forward(Delivery.READ, Delivery.DELIVERED) == Delivery.READ
    assert forward(Delivery.DELIVERED, Delivery.READ) == Delivery.READ
    assert forward(Delivery.SENT, Delivery.FAILED) == Delivery.FAILED
    assert forward(Delivery.FAILED, Delivery.READ) == Delivery.FAILED
    assert forward(Delivery.READ, Delivery.FAILED) == Delivery.READ
    assert forward(Delivery.SENT, "PENDING") == Delivery.SENT


def failed_item(wati_id: str, local_id: str | None) -> WatiMessage:
    return WatiMessage(
        id=wati_id,
        created=datetime.now(UTC),
        event_type="message",
        type="text",
        text="On its way",
        data=None,
        owner=True,
        status=Delivery.FAILED,
        operator_name=None,
        local_message_id=local_id,
        failed_detail="Message undeliverable (131026)",
        conversation_id=None,
        raw={},
    )


def test_a_later_failure_posts_a_notice_with_retry(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    thread = open_chat(linked, sandbox)
    event = say(linked, slack, driver, thread, "On its way")
    linked.outbound.process()
    job = job_of(linked, SLACK_A, event["ts"])
    chat = linked.store.chat(CHANNEL_A, CUSTOMER)
    assert chat is not None and job.wati_id is not None
    linked.outbound.note_history(chat, [failed_item(job.wati_id, f"{job.local_message_id}.0")])
    linked.outbound.note_history(chat, [failed_item(job.wati_id, None)])  # seen again: one notice
    job = job_of(linked, SLACK_A, event["ts"])
    assert job.state == "failed" and job.delivery == Delivery.FAILED
    assert slack.reactions(SLACK_A, event["ts"]) == ["x"]
    [notice] = notices(slack, thread, blocks.RETRY)
    assert "Message undeliverable (131026)" in notice["text"]
    # Retry sends the part WhatsApp could not deliver again.
    click(linked, driver, notice, SLACK_A)
    linked.outbound.process()
    assert [m["text"] for m in sandbox.sent_by_api()] == ["On its way", "On its way"]
    assert job_of(linked, SLACK_A, event["ts"]).state == "sent"


def test_thread_parent_shows_the_window_closing_and_reopening(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    thread = open_chat(linked, sandbox)
    assert thread.thread_ts is not None
    assert linked.outbound.refresh_parents() == 0  # posted open, still open: nothing to do
    clock.advance(DAY + 60)
    assert linked.outbound.refresh_parents() == 1
    assert linked.outbound.refresh_parents() == 0
    parent = slack.replies(SLACK_A, thread.thread_ts)[0]
    assert "Reply window closed" in str(parent["blocks"])
    # The customer writes again: the poll that brings the message reopens the parent.
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "Hello again")
    updates = len(slack.calls_to("chat.update"))
    poll(linked)
    assert len(slack.calls_to("chat.update")) == updates + 1
    parent = slack.replies(SLACK_A, thread.thread_ts)[0]
    assert "Reply window open until" in str(parent["blocks"])
    refreshed = linked.store.thread(thread.id)
    assert refreshed is not None and refreshed.window_shown == "open"


def test_parent_refresh_skips_resolved_threads(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    thread = open_chat(linked, sandbox)
    linked.store.update_thread(thread.id, state="resolved")
    clock.advance(DAY + 60)
    assert linked.outbound.refresh_parents() == 0
    assert slack.calls_to("chat.update") == []
