"""Replies against live tenants' refusals (docs/WATI.md#refusals), over real HTTP.

"Ticket has been expired." (HTTP 200) comes on a closed window and on a closed or solved chat,
also inside the 24 hours (Wati's chatbot closes chats): the reply is blocked, and while the 24
hours by the customer's last message run the notice offers **Reopen and send** beside **Send
template**. A spam-limit refusal waits like a 429.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.devtools.harness.inproc import ManualClock
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.server import SlackStandIn
from bot.relay.delivery import TICKET_CLOSED
from bot.service import Bridge
from bot.slack import blocks
from bot.store.chats import Thread
from tests.kit import AGENT, CHANNEL_A, SLACK_A
from tests.relay.kit import CUSTOMER, click, job_of, notices, open_chat, say

DAY = 24 * 3600


def texts(sandbox: Sandbox) -> list[str]:
    return [m["text"] for m in sandbox.sent_by_api()]


def buttons(notice: dict[str, Any]) -> dict[str, str]:
    """action_id -> value of a notice's buttons."""
    return {
        e["action_id"]: e["value"]
        for b in notice.get("blocks") or []
        for e in b.get("elements") or []
        if "action_id" in e
    }


def close(linked: Bridge, sandbox: Sandbox, how: str) -> None:
    if how == "chatbot":
        sandbox.close_chat(CHANNEL_A, CUSTOMER)  # Wati's chatbot auto-closes the chat
    else:  # solved through the API, as the thread's Resolve button does
        linked.wati.update_chat_status(CUSTOMER, "SOLVED", channel_number=CHANNEL_A)


def refused_by_closed_chat(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver, text: str
) -> tuple[Thread, dict[str, Any], dict[str, Any]]:
    """Wati's chatbot closes the chat; a reply is refused: (thread, its event, the notice)."""
    thread = open_chat(linked, sandbox)
    sandbox.close_chat(CHANNEL_A, CUSTOMER)
    event = say(linked, slack, driver, thread, text)
    linked.outbound.process()
    [notice] = notices(slack, thread, blocks.REOPEN_SEND)
    return thread, event, notice


@pytest.mark.parametrize("how", ["chatbot", "solved"])
def test_closed_chat_inside_24h_offers_reopen_and_send_beside_a_template(
    linked: Bridge,
    sandbox: Sandbox,
    slack: SlackStandIn,
    driver: SlackDriver,
    clock: ManualClock,
    how: str,
) -> None:
    thread = open_chat(linked, sandbox)
    close(linked, sandbox, how)
    clock.advance(60)
    event = say(linked, slack, driver, thread, "Your parcel left today")
    linked.outbound.process()
    job = job_of(linked, SLACK_A, event["ts"])
    assert texts(sandbox) == []
    assert job.state == "blocked" and job.error == TICKET_CLOSED
    assert slack.reactions(SLACK_A, event["ts"]) == ["lock"]
    [notice] = notices(slack, thread, blocks.REOPEN_SEND)
    assert buttons(notice) == {
        blocks.REOPEN_SEND: str(job.id),
        blocks.SEND_TEMPLATE: str(thread.id),
    }
    assert "Ticket has been expired." in notice["text"] and f"<@{AGENT}>" in notice["text"]


def test_reopen_and_send_reopens_then_sends_exactly_once(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver, clock: ManualClock
) -> None:
    linked.outbound.kick_in_background = False
    thread, event, notice = refused_by_closed_chat(
        linked, sandbox, slack, driver, "Your parcel left today"
    )
    # A double click, and Slack delivering the same click again: one reopen, one send.
    for _ in range(3):
        click(linked, driver, notice, SLACK_A, action_id=blocks.REOPEN_SEND)
    linked.outbound.process()
    linked.outbound.process()
    assert sandbox.chat_status(CHANNEL_A, CUSTOMER) == "OPEN"
    assert sandbox.calls("updateChatStatus") == 1
    assert texts(sandbox) == ["Your parcel left today"]
    job = job_of(linked, SLACK_A, event["ts"])
    assert job.state == "sent" and job.reopen == 0
    assert slack.reactions(SLACK_A, event["ts"]) == ["white_check_mark"]
    refused = [e["text"] for e in slack.ephemerals(SLACK_A)]
    assert len(refused) == 2 and all("not waiting" in text for text in refused)
    shown = [m for m in slack.replies(SLACK_A, notice["thread_ts"]) if m["ts"] == notice["ts"]]
    assert "pressed Reopen and send" in shown[0]["text"]


def test_reopen_refused_by_wati_fails_with_the_reason_and_sends_nothing(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    thread, event, notice = refused_by_closed_chat(linked, sandbox, slack, driver, "Hello again")
    sandbox.faults.inject("updateChatStatus", "reject")
    click(linked, driver, notice, SLACK_A, action_id=blocks.REOPEN_SEND)
    linked.outbound.process()
    job = job_of(linked, SLACK_A, event["ts"])
    assert texts(sandbox) == [] and sandbox.chat_status(CHANNEL_A, CUSTOMER) == "SOLVED"
    assert job.state == "failed" and "did not reopen" in (job.error or "")
    [failed] = notices(slack, thread, blocks.RETRY)
    assert "Rejected by the sandbox" in failed["text"]


def test_outside_the_24_hours_only_a_template_is_offered(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver, clock: ManualClock
) -> None:
    thread, event, notice = refused_by_closed_chat(linked, sandbox, slack, driver, "Hello again")
    clock.advance(DAY + 60)  # the click comes after the window closed: a reopen cannot help
    click(linked, driver, notice, SLACK_A, action_id=blocks.REOPEN_SEND)
    linked.outbound.process()
    job = job_of(linked, SLACK_A, event["ts"])
    assert job.state == "blocked" and texts(sandbox) == []
    assert sandbox.calls("updateChatStatus") == 0
    later = notices(slack, thread, blocks.SEND_TEMPLATE)[-1]
    assert set(buttons(later)) == {blocks.SEND_TEMPLATE}
    # The same refusal shown again (say, its notice was lost) after the 24 hours: no reopen.
    linked.outbound.feedback.blocked(job, TICKET_CLOSED)
    again = notices(slack, thread, blocks.SEND_TEMPLATE)[-1]
    assert set(buttons(again)) == {blocks.SEND_TEMPLATE}
    assert "Ticket has been expired." in again["text"]


def test_spam_limit_refusal_waits_like_a_429_and_sends_later(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver, clock: ManualClock
) -> None:
    thread = open_chat(linked, sandbox)
    sandbox.spam_limit = 1
    say(linked, slack, driver, thread, "first")
    linked.outbound.process()
    event = say(linked, slack, driver, thread, "second")
    linked.outbound.process()
    job = job_of(linked, SLACK_A, event["ts"])
    assert texts(sandbox) == ["first"]
    assert job.state == "queued" and job.next_try_at is not None and job.error is None
    assert slack.reactions(SLACK_A, event["ts"]) == ["hourglass_flowing_sand"]
    assert notices(slack, thread, blocks.RETRY) == []
    clock.advance(61)
    linked.outbound.process()
    assert texts(sandbox) == ["first", "second"]
    assert job_of(linked, SLACK_A, event["ts"]).state == "sent"
