"""The outbox's state machine against Wati's failures: unknown fates, refusals, 429, crashes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from bot.config import Settings
from bot.devtools.harness.inproc import ManualClock
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge, build
from bot.slack import blocks
from bot.store.db import iso, parse_iso
from bot.wati.client import WatiClient
from tests.kit import ADMIN, AGENT, CHANNEL_A, CHANNEL_B, SLACK_A
from tests.relay.kit import OTHER, Intercept, click, deliver, job_of, notices, open_chat, say

DAY = 24 * 3600


def use_wati(bridge: Bridge, transport: httpx.BaseTransport) -> WatiClient:
    """Send through another transport (for answers the sandbox cannot be asked to give)."""
    client = WatiClient(
        bridge.settings.wati_api_endpoint,
        bridge.settings.wati_access_token,
        transport=transport,
        on_call=bridge.budget.record,
    )
    bridge.outbound.sender.wati = client
    return client


def texts(sandbox: Sandbox) -> list[str]:
    return [m["text"] for m in sandbox.sent_by_api()]


def test_closed_window_blocks_the_reply_and_offers_a_template(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver, clock: ManualClock
) -> None:
    thread = open_chat(linked, sandbox)
    clock.advance(DAY + 60)
    event = say(linked, slack, driver, thread, "Sorry for the delay")
    linked.outbound.process()
    assert texts(sandbox) == []
    assert job_of(linked, SLACK_A, event["ts"]).state == "blocked"
    assert slack.reactions(SLACK_A, event["ts"]) == ["lock"]
    [notice] = notices(slack, thread, blocks.SEND_TEMPLATE)
    assert "24-hour reply window closed" in notice["text"] and f"<@{AGENT}>" in notice["text"]
    [button] = [e for b in notice["blocks"] for e in b.get("elements", []) if "action_id" in e]
    assert button["value"] == str(thread.id)
    # The thread parent now shows the closed window too.
    refreshed = linked.store.thread(thread.id)
    assert refreshed is not None and refreshed.window_shown == "closed"
    assert thread.thread_ts is not None
    parent = slack.replies(SLACK_A, thread.thread_ts)[0]
    assert "Reply window closed" in str(parent["blocks"])


def test_window_never_opened_blocks_the_reply(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    # A teammate wrote first from Wati's inbox: there is a thread, but no window.
    sandbox.operator_says(CHANNEL_A, OTHER, "Hello from the shop")
    linked.poller.wake(CHANNEL_A, OTHER)
    linked.poller.poll_number(CHANNEL_A)
    thread = linked.store.current_thread(CHANNEL_A, OTHER)
    assert thread is not None and thread.thread_ts is not None
    event = say(linked, slack, driver, thread, "Following up")
    linked.outbound.process()
    assert texts(sandbox) == []
    assert job_of(linked, SLACK_A, event["ts"]).state == "blocked"
    [notice] = notices(slack, thread, blocks.SEND_TEMPLATE)
    assert "has not written" in notice["text"]


def test_wati_saying_the_window_is_closed_blocks_too(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver, clock: ManualClock
) -> None:
    thread = open_chat(linked, sandbox)
    clock.advance(DAY + 60)
    # The bridge believes the window is open (say, a clock difference); Wati knows better.
    linked.store.update_chat(
        CHANNEL_A, thread.customer_number, last_inbound_at=iso(linked.clock.now())
    )
    event = say(linked, slack, driver, thread, "Are you there?")
    linked.outbound.process()
    assert texts(sandbox) == []
    assert job_of(linked, SLACK_A, event["ts"]).state == "blocked"
    assert notices(slack, thread, blocks.SEND_TEMPLATE)


def test_server_error_is_checked_in_history_then_sent_once(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver, clock: ManualClock
) -> None:
    thread = open_chat(linked, sandbox)
    sandbox.faults.inject("sendSessionMessage", "500")
    event = say(linked, slack, driver, thread, "Your refund is on its way")
    linked.outbound.process()
    job = job_of(linked, SLACK_A, event["ts"])
    assert job.state == "unknown" and texts(sandbox) == []
    checks = sandbox.calls("getMessages")
    linked.outbound.process()  # too early: no history check, no resend
    assert (
        sandbox.calls("getMessages") == checks
        and job_of(linked, SLACK_A, event["ts"]).state == "unknown"
    )
    clock.advance(31)
    linked.outbound.process()
    assert sandbox.calls("getMessages") == checks + 1
    assert texts(sandbox) == ["Your refund is on its way"]
    job = job_of(linked, SLACK_A, event["ts"])
    assert job.state == "sent" and job.resends == 1 and job.attempts == 2
    assert slack.reactions(SLACK_A, event["ts"]) == ["white_check_mark"]


def test_lost_answer_found_in_history_is_not_sent_again(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver, clock: ManualClock
) -> None:
    thread = open_chat(linked, sandbox)
    sandbox.faults.inject("sendSessionMessage", "reset_after")  # accepted, then the line drops
    event = say(linked, slack, driver, thread, "Tracking number 123")
    linked.outbound.process()
    assert job_of(linked, SLACK_A, event["ts"]).state == "unknown"
    assert texts(sandbox) == ["Tracking number 123"]
    clock.advance(31)
    linked.outbound.process()
    linked.outbound.process()
    assert texts(sandbox) == ["Tracking number 123"]
    job = job_of(linked, SLACK_A, event["ts"])
    [sent] = sandbox.sent_by_api()
    assert job.state == "sent" and job.wati_id == sent["id"] and job.resends == 0
    # The inbound relay knows it as the bridge's own: it is not echoed into the thread.
    linked.poller.wake(CHANNEL_A, thread.customer_number)
    linked.poller.poll_number(CHANNEL_A)
    assert thread.thread_ts is not None
    echoes = [
        m
        for m in slack.replies(SLACK_A, thread.thread_ts)
        if m.get("bot_id") and "Tracking number 123" in m.get("text", "")
    ]
    assert echoes == []


def test_unconfirmed_twice_fails_and_retry_sends(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver, clock: ManualClock
) -> None:
    thread = open_chat(linked, sandbox)
    sandbox.faults.inject("sendSessionMessage", "500", count=2)
    event = say(linked, slack, driver, thread, "Second try")
    linked.outbound.process()
    clock.advance(31)
    linked.outbound.process()  # not in history: sent again, and that fails too
    assert job_of(linked, SLACK_A, event["ts"]).state == "unknown"
    clock.advance(31)
    linked.outbound.process()  # still not there: given up, no third blind send
    job = job_of(linked, SLACK_A, event["ts"])
    assert job.state == "failed" and texts(sandbox) == []
    assert slack.reactions(SLACK_A, event["ts"]) == ["x"]
    [notice] = notices(slack, thread, blocks.RETRY)
    assert "not sent again" in notice["text"]
    click(linked, driver, notice, SLACK_A)
    linked.outbound.process()
    assert texts(sandbox) == ["Second try"]


@pytest.fixture
def rejecting(linked: Bridge) -> Iterator[Intercept]:
    body = {"result": False, "info": "Contact is blocked for this number"}
    intercept = Intercept("sendSessionMessage", lambda r: httpx.Response(200, json=body))
    client = use_wati(linked, intercept)
    yield intercept
    client.close()


def test_refusal_fails_with_reason_and_retry_requeues_once(
    linked: Bridge,
    rejecting: Intercept,
    sandbox: Sandbox,
    slack: SlackStandIn,
    driver: SlackDriver,
) -> None:
    thread = open_chat(linked, sandbox)
    event = say(linked, slack, driver, thread, "Your code is 4411")
    linked.outbound.process()
    job = job_of(linked, SLACK_A, event["ts"])
    assert job.state == "failed" and "Contact is blocked" in (job.error or "")
    assert slack.reactions(SLACK_A, event["ts"]) == ["x"]
    [notice] = notices(slack, thread, blocks.RETRY)
    assert "Contact is blocked for this number" in notice["text"]
    [button] = [e for b in notice["blocks"] for e in b.get("elements", []) if "action_id" in e]
    assert button["value"] == str(job.id)
    click(linked, driver, notice, SLACK_A)
    click(linked, driver, notice, SLACK_A)  # a double click re-queues nothing more
    linked.outbound.process()
    linked.outbound.process()
    assert texts(sandbox) == ["Your code is 4411"]
    assert job_of(linked, SLACK_A, event["ts"]).state == "sent"
    assert slack.reactions(SLACK_A, event["ts"]) == ["white_check_mark"]
    assert any("not waiting for a retry" in e["text"] for e in slack.ephemerals(SLACK_A))
    assert notices(slack, thread, blocks.RETRY) == []  # the notice lost its button


def test_auth_error_fails_with_notice(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    intercept = Intercept("sendSessionMessage", lambda r: httpx.Response(401, text=""))
    client = use_wati(linked, intercept)
    thread = open_chat(linked, sandbox)
    event = say(linked, slack, driver, thread, "hi")
    linked.outbound.process()
    client.close()
    assert job_of(linked, SLACK_A, event["ts"]).state == "failed"
    [notice] = notices(slack, thread, blocks.RETRY)
    assert "access token" in notice["text"]


def test_rate_limit_leaves_the_reply_queued_until_retry_after(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver, clock: ManualClock
) -> None:
    thread = open_chat(linked, sandbox)
    sandbox.faults.inject("sendSessionMessage", "429", retry_after=20)
    event = say(linked, slack, driver, thread, "Busy day")
    linked.outbound.process()
    job = job_of(linked, SLACK_A, event["ts"])
    assert job.state == "queued" and job.next_try_at is not None
    assert slack.reactions(SLACK_A, event["ts"]) == ["hourglass_flowing_sand"]
    linked.outbound.process()
    assert texts(sandbox) == []
    clock.advance(21)
    linked.outbound.process()
    assert texts(sandbox) == ["Busy day"]


def test_spent_quota_fails_in_plain_words(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    thread = open_chat(linked, sandbox)
    linked.budget.monthly_calls = linked.budget.used_total()  # every call of the plan is used
    event = say(linked, slack, driver, thread, "hi")
    linked.outbound.process()
    assert texts(sandbox) == []
    assert job_of(linked, SLACK_A, event["ts"]).state == "failed"
    [notice] = notices(slack, thread, blocks.RETRY)
    assert "used up" in notice["text"]


def test_one_bad_reply_never_blocks_the_others(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    first = open_chat(linked, sandbox, customer=OTHER)
    second = open_chat(linked, sandbox)
    names = linked.outbound.sender.composer.names

    def broken(user_id: str) -> str | None:
        raise RuntimeError("directory down")

    names.user = broken  # type: ignore[method-assign]
    bad = say(linked, slack, driver, first, f"<@{ADMIN}> will call")
    say(linked, slack, driver, second, "Fine one")
    linked.outbound.process()
    assert texts(sandbox) == ["Fine one"]
    assert job_of(linked, SLACK_A, bad["ts"]).state == "queued"
    assert linked.store.recent_errors(CHANNEL_A)[0]["message"].endswith("RuntimeError")


class Crash(BaseException):
    """The process dies (power cut, kill -9) in the middle of a send."""


@pytest.mark.parametrize("reached_wati", [True, False])
def test_crash_mid_send_is_settled_by_history_after_restart(
    linked: Bridge,
    settings: Settings,
    sandbox: Sandbox,
    slack: SlackStandIn,
    driver: SlackDriver,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    reached_wati: bool,
) -> None:
    thread = open_chat(linked, sandbox)
    real_send = linked.wati.send_session_message

    def dying_send(*args: object, **kwargs: object) -> object:
        if reached_wati:
            real_send(*args, **kwargs)  # type: ignore[arg-type]
        raise Crash

    monkeypatch.setattr(linked.wati, "send_session_message", dying_send)
    event = say(linked, slack, driver, thread, "Delivered before the crash?")
    with pytest.raises(Crash):
        linked.outbound.process()
    assert job_of(linked, SLACK_A, event["ts"]).state == "sending"
    monkeypatch.undo()

    restarted = build(settings, clock=clock, process_before_response=True, slack_min_interval=0.0)
    try:
        assert job_of(restarted, SLACK_A, event["ts"]).state == "unknown"
        restarted.outbound.process()  # not before the history can be trusted
        assert len(sandbox.sent_by_api()) == (1 if reached_wati else 0)
        clock.advance(31)
        restarted.outbound.process()
        assert texts(sandbox) == ["Delivered before the crash?"]
        job = job_of(restarted, SLACK_A, event["ts"])
        assert job.state == "sent" and job.resends == (0 if reached_wati else 1)
    finally:
        restarted.shutdown()


def test_replies_wait_for_an_earlier_unsettled_one_of_the_same_chat(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver, clock: ManualClock
) -> None:
    thread = open_chat(linked, sandbox)
    sandbox.faults.inject("sendSessionMessage", "500")
    say(linked, slack, driver, thread, "first")
    say(linked, slack, driver, thread, "second")
    linked.outbound.process()
    assert texts(sandbox) == []
    clock.advance(31)
    linked.outbound.process()
    assert texts(sandbox) == ["first", "second"]


def test_edit_of_a_blocked_reply_says_it_was_not_sent(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver, clock: ManualClock
) -> None:
    thread = open_chat(linked, sandbox)
    clock.advance(DAY + 1)
    event = say(linked, slack, driver, thread, "late")
    linked.outbound.process()
    edit = driver.message(
        channel=SLACK_A,
        user=AGENT,
        text="later",
        ts=event["ts"],
        thread_ts=thread.thread_ts,
        subtype="message_changed",
        previous_text="late",
    )
    deliver(linked, driver.event(edit))
    [told] = slack.ephemerals(SLACK_A)
    assert "was not sent" in told["text"]


def test_window_check_uses_the_chat_of_the_thread(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver, clock: ManualClock
) -> None:
    # The same customer on number B wrote recently; on number A the window is closed.
    thread_a = open_chat(linked, sandbox, CHANNEL_A)
    clock.advance(DAY + 60)
    open_chat(linked, sandbox, CHANNEL_B)
    chat_a = linked.store.chat(CHANNEL_A, thread_a.customer_number)
    assert chat_a is not None and chat_a.last_inbound_at is not None
    last_inbound = parse_iso(chat_a.last_inbound_at)
    assert last_inbound is not None and linked.clock.now() - timedelta(hours=24) > last_inbound
    say(linked, slack, driver, thread_a, "from A")
    linked.outbound.process()
    assert texts(sandbox) == []
