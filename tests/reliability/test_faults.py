"""Faults on every side: Wati, Slack and SQLite misbehave, and nothing is lost or doubled.

Most cases drive an in-process bridge on the test clock, round after round the way its
scheduler would (contacts hint, polls, outbox), while the sandbox Wati or the Slack stand-in
injects a fault; the promises are checked with the same `problems()` the crash tests use. The
last test runs the real process in HTTP mode through a storm of faults and watches /healthz.
(Send faults already covered one by one in test_outbound_faults.py — a 500, an answer lost after
Wati accepted, a 429 with Retry-After — are not repeated here.)
"""

from __future__ import annotations

import functools
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.devtools.harness.inproc import ManualClock, dispatch_sender, drive, on_clock
from bot.devtools.harness.traffic import ReplySent, Traffic, problems, settle, write_lock
from bot.devtools.harness.world import (
    ANA,
    CY,
    FAILED_MARKS,
    NUMBER_A,
    NUMBER_B,
    SENT_MARKS,
    World,
    wait_until,
)
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge, build
from bot.wati.types import MessagePage

CHATS = ((NUMBER_A, ANA), (NUMBER_B, ANA), (NUMBER_A, CY))


@pytest.fixture
def traffic(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver, clock: ManualClock
) -> Traffic:
    """Three chats with open threads (Ana writes to both numbers)."""
    flow = Traffic(sandbox, slack, driver, random.Random(7), dispatch_sender(linked), CHATS)
    flow.greet()
    drive(linked, flow, clock.advance)
    assert len(flow.open_threads()) == 3
    return flow


def _exchange(flow: Traffic) -> None:
    """A message on every chat and a reply in every thread, while the fault is armed."""
    for chat in flow.chats:
        flow.customer_says(chat)
    for thread in flow.open_threads():
        flow.reply(thread)


def _outcomes(flow: Traffic) -> set[str]:
    marks: set[str] = set()
    for reply in flow.replies.values():
        marks.update(flow.slack.reactions(reply.channel, reply.ts))
    return marks


WATI_FAULTS = [
    ("getMessages", "500", {}),
    ("getMessages", "429", {"retry_after": 1}),
    ("getMessages", "429", {}),
    ("getMessages", "malformed", {}),
    ("getMessages", "reset", {}),
    ("getMessages", "reject", {}),
    ("getContacts", "500", {}),
    ("getContacts", "429", {}),
    ("getContacts", "malformed", {}),
    ("sendSessionMessage", "429", {}),
    ("sendSessionMessage", "malformed", {}),
    ("sendSessionMessage", "reset", {}),
    ("sendSessionMessage", "reject", {}),
    ("*", "500", {}),
]


@pytest.mark.parametrize(
    ("endpoint", "kind", "options"),
    WATI_FAULTS,
    ids=[f"{e}-{k}{'-' + str(o) if o else ''}" for e, k, o in WATI_FAULTS],
)
def test_wati_fault_loses_and_doubles_nothing(
    linked: Bridge,
    traffic: Traffic,
    sandbox: Sandbox,
    clock: ManualClock,
    endpoint: str,
    kind: str,
    options: dict[str, float],
) -> None:
    sandbox.faults.inject(endpoint, kind, count=3, **options)  # type: ignore[arg-type]
    _exchange(traffic)
    drive(linked, traffic, clock.advance)
    refused = endpoint in ("sendSessionMessage", "*") and kind == "reject"
    assert _outcomes(traffic) <= (FAILED_MARKS if refused else SENT_MARKS)
    if not refused:
        assert len(sandbox.sent_by_api()) == len(traffic.replies)


def test_wati_timeouts_on_reads_and_a_send(
    linked: Bridge, traffic: Traffic, sandbox: Sandbox, clock: ManualClock
) -> None:
    linked.wati._http.timeout = httpx.Timeout(0.3)  # a 15 s timeout would make a slow test
    sandbox.faults.inject("getMessages", "slow", count=2, delay=0.6)
    sandbox.faults.inject("sendSessionMessage", "slow", delay=0.6)
    _exchange(traffic)
    linked.outbound.process()
    states = {j.state for j in linked.outbound.store.reply_jobs("unknown", "queued", "sent")}
    assert "unknown" in states  # the first send timed out: its fate is open
    # Wati finishes the timed-out send after the bridge gave up on it.
    wait_until(lambda: len(sandbox.sent_by_api()) == 3, 5, "the slow send to land")
    drive(linked, traffic, clock.advance)
    assert len(sandbox.sent_by_api()) == len(traffic.replies)


SLACK_FAULTS = [
    ("chat.postMessage", {"status": 429, "retry_after": None, "count": 1}),
    ("chat.postMessage", {"status": 500}),
    ("chat.postMessage", {"status": 200, "error": "ratelimited"}),
    ("conversations.replies", {"status": 500}),
    ("conversations.history", {"status": 500}),
    ("reactions.add", {"status": 500}),
]


@pytest.mark.parametrize(
    ("method", "failure"), SLACK_FAULTS, ids=[f"{m}-{f}" for m, f in SLACK_FAULTS]
)
def test_slack_fault_loses_and_doubles_nothing(
    linked: Bridge,
    traffic: Traffic,
    slack: SlackStandIn,
    clock: ManualClock,
    method: str,
    failure: dict[str, object],
) -> None:
    # A failed post makes the next attempt look in the thread first: fail those looks too.
    slack.fail_next("chat.postMessage", status=500)
    slack.fail_next(method, **{"count": 3, **failure})  # type: ignore[arg-type]
    traffic.customer_says((NUMBER_A, "4420700000000"))  # a new chat: its parent must go too
    _exchange(traffic)
    drive(linked, traffic, clock.advance)


def test_marks_slack_refused_are_put_right_later(
    linked: Bridge, traffic: Traffic, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    sandbox.state.status_delays = (1e9, 2e9)  # phones off: no DELIVERED comes to redraw a mark
    # Every reaction of the three replies fails: first ⏳, then ✅.
    slack.fail_next("reactions.add", count=6, status=500)
    _exchange(traffic)
    linked.outbound.process()
    assert len(slack.calls_to("reactions.add")) == 6
    assert _outcomes(traffic) == set()
    # Replies' marks are checked against their states every five minutes.
    drive(linked, traffic, clock.advance, rounds=15)
    assert _outcomes(traffic) <= SENT_MARKS


def test_a_failure_notice_slack_refused_is_posted_later(
    linked: Bridge, traffic: Traffic, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    sandbox.faults.inject("sendSessionMessage", "reject")
    reply = traffic.reply(traffic.open_threads()[0])
    assert reply is not None
    slack.fail_next("chat.postMessage", status=500)  # the notice with the reason
    linked.outbound.process()
    assert slack.reactions(reply.channel, reply.ts) == ["x"]
    assert _notices(slack, reply) == []
    drive(linked, traffic, clock.advance)  # converged already: ❌ shows the outcome
    for _ in range(10):  # the reason follows at the next check of the marks
        clock.advance(31)
        linked.outbound.process()
    [notice] = _notices(slack, reply)
    assert "Rejected by the sandbox" in notice["text"] and "Retry" in str(notice["blocks"])


def _notices(slack: SlackStandIn, reply: ReplySent) -> list[dict[str, Any]]:
    return [
        m
        for m in slack.replies(reply.channel, reply.thread_ts)
        if "not sent to WhatsApp" in str(m.get("text"))
    ]


def test_sqlite_busy_for_a_while_is_waited_out(
    linked: Bridge, traffic: Traffic, settings: object, clock: ManualClock
) -> None:
    db_path = Path(linked.settings.db_path)
    _exchange(traffic)
    release = threading.Event()

    def hold_lock() -> None:
        with write_lock(db_path):
            release.wait(1.0)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    result = drive(linked, traffic, clock.advance)
    holder.join(5)
    assert result.escaped == []  # the busy timeout (30 s) outlasts the lock


def test_sqlite_busy_past_the_timeout_loses_nothing(
    linked: Bridge, traffic: Traffic, clock: ManualClock
) -> None:
    db_path = Path(linked.settings.db_path)
    linked.store.db.execute("PRAGMA busy_timeout = 50")
    _exchange(traffic)
    with write_lock(db_path):
        refused = drive_once(linked, traffic)
    assert refused, "writes should have been refused while the lock was held"
    drive(linked, traffic, clock.advance)


def drive_once(bridge: Bridge, flow: Traffic) -> list[str]:
    """One scheduler round; the errors that escaped its jobs."""
    escaped = []
    numbers = [link.channel_number for link in bridge.store.links()]
    jobs: list[Callable[[], object]] = [
        functools.partial(bridge.poller.poll_number, n) for n in numbers
    ]
    for job in [bridge.poller.discover, *jobs, bridge.outbound.process, flow.flush]:
        try:
            job()
        except Exception as exc:  # the scheduler would log it and go on
            escaped.append(type(exc).__name__)
    return escaped


def test_send_whose_end_could_not_be_recorded_is_settled_not_stuck(
    linked: Bridge, traffic: Traffic, sandbox: Sandbox, clock: ManualClock
) -> None:
    """Wati accepts a send, then the database refuses the bridge's note of it (and of the
    failure): the reply is left `sending` in a running bridge, and must not stay so."""
    linked.store.db.execute("PRAGMA busy_timeout = 50")
    gate = sandbox.faults.hold("sendSessionMessage", applied=True)
    reply = traffic.reply(traffic.open_threads()[0])
    assert reply is not None
    escaped: list[BaseException] = []

    def process() -> None:
        try:
            linked.outbound.process()
        except sqlite3.OperationalError as exc:
            escaped.append(exc)

    worker = threading.Thread(target=process)
    worker.start()
    gate.wait()
    with write_lock(Path(linked.settings.db_path)):
        gate.release()
        worker.join(5)
    assert escaped, "the database should have refused the write"
    assert {j.state for j in linked.outbound.store.reply_jobs("sending")} == {"sending"}
    drive(linked, traffic, clock.advance)
    assert [m["text"] for m in sandbox.sent_by_api()] == [reply.text]


def test_wati_failing_during_recovery_stops_no_other_chat(
    linked: Bridge, traffic: Traffic, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    """After a restart, a message still waiting for Slack is fetched again from Wati; Wati
    failing then must not cut short the round for the number's other chats."""
    slack.fail_next("chat.postMessage", count=2, status=500)
    for customer in (ANA, CY):
        traffic.customer_says((NUMBER_A, customer))
        linked.poller.wake(NUMBER_A, customer)
    linked.poller.poll_number(NUMBER_A)
    assert linked.store.backlog(NUMBER_A) == 2
    restarted = build(
        linked.settings, clock=clock, process_before_response=True, slack_min_interval=0.0
    )
    try:
        on_clock(restarted, clock)
        traffic.send = dispatch_sender(restarted)
        clock.advance(60)
        for customer in (ANA, CY):
            restarted.poller.wake(NUMBER_A, customer)
        fetch = restarted.wati.get_messages
        armed = [True]

        def first_fetch_then_fail(*args: Any, **kwargs: Any) -> MessagePage:
            page = fetch(*args, **kwargs)
            if armed.pop() if armed else False:
                sandbox.faults.inject("getMessages", "500")  # the re-fetch that follows fails
            return page

        restarted.wati.get_messages = first_fetch_then_fail  # type: ignore[method-assign]
        report = restarted.poller.poll_number(NUMBER_A)
        assert report.errors == 1 and report.relayed == 1
        restarted.wati.get_messages = fetch  # type: ignore[method-assign]
        drive(restarted, traffic, clock.advance)
    finally:
        restarted.shutdown()


@pytest.mark.parametrize("kind", ["reject", "500", "malformed", "reset"])
def test_a_failed_refetch_never_gives_a_message_up(
    linked: Bridge,
    traffic: Traffic,
    sandbox: Sandbox,
    slack: SlackStandIn,
    clock: ManualClock,
    kind: str,
) -> None:
    """A message still waiting for Slack at a restart is fetched again from Wati. A refusal
    then ("reject": HTTP 200 result:false, which reads as an empty history) or any other
    fault must leave it waiting, never mark it gone."""
    slack.fail_next("chat.postMessage", status=500)
    wati_id = traffic.customer_says((NUMBER_A, ANA))
    linked.poller.wake(NUMBER_A, ANA)
    linked.poller.poll_number(NUMBER_A)
    assert linked.store.backlog(NUMBER_A) == 1
    restarted = build(
        linked.settings, clock=clock, process_before_response=True, slack_min_interval=0.0
    )
    try:
        on_clock(restarted, clock)
        traffic.send = dispatch_sender(restarted)
        clock.advance(60)
        restarted.poller.wake(NUMBER_A, ANA)
        fetch = restarted.wati.get_messages
        armed = [True]

        def first_fetch_then_fail(*args: Any, **kwargs: Any) -> MessagePage:
            page = fetch(*args, **kwargs)
            if args[0] == ANA and armed:
                armed.pop()
                sandbox.faults.inject("getMessages", kind)  # the re-fetch that follows
            return page

        restarted.wati.get_messages = first_fetch_then_fail  # type: ignore[method-assign]
        restarted.poller.poll_number(NUMBER_A)
        assert not armed
        restarted.wati.get_messages = fetch  # type: ignore[method-assign]
        logged = restarted.store.logged(wati_id)
        assert logged is not None and logged.state == "pending", logged
        drive(restarted, traffic, clock.advance)
    finally:
        restarted.shutdown()


# -- the real process through a storm ---------------------------------------------------------


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with World(tmp_path) as w:
        w.prepare()
        yield w


def test_the_running_bridge_stays_healthy_through_a_storm_and_catches_up(world: World) -> None:
    flow = world.traffic(random.Random(11), chats=((NUMBER_A, ANA), (NUMBER_B, ANA)))
    flow.greet()
    bridge = world.start_bridge()
    wait_until(lambda: len(flow.open_threads()) == 2, 20, "both threads")
    faults = world.sandbox.faults
    faults.inject("getMessages", "500")
    faults.inject("getMessages", "429", retry_after=1)
    faults.inject("getMessages", "reset")
    faults.inject("getMessages", "slow", delay=0.5)
    faults.inject("sendSessionMessage", "429", retry_after=1)
    faults.inject("sendSessionMessage", "reject")
    world.slack.fail_next("chat.postMessage", status=500)
    world.slack.fail_next("chat.postMessage", status=200, error="ratelimited")
    world.slack.fail_next("reactions.add", count=2, status=500)
    _exchange(flow)
    # Another process holds the database's write lock for a while as customers write: the
    # bridge's writes wait (its busy timeout is 30 s), and /healthz answers all along.
    with write_lock(world.db_path):
        flow.customer_says((NUMBER_A, ANA))
        until = time.monotonic() + 1.5
        while time.monotonic() < until:
            answer = bridge.health(timeout=2)
            assert answer.status_code == 200, answer.text
    settle(flow, timeout=40)
    health = bridge.health()
    assert health.status_code == 200 and health.json()["database"] == "ok"
    assert health.json()["backlog"] == 0
    assert problems(flow) == []


def test_a_write_waits_for_another_connections_lock_instead_of_failing(
    linked: Bridge, traffic: Traffic
) -> None:
    """Updates read the row first; SQLite must still wait out the lock (busy timeout)."""
    db_path = Path(linked.settings.db_path)
    done = threading.Event()

    def update() -> None:
        linked.store.update_chat(NUMBER_A, ANA, customer_name="Ana L.")
        done.set()

    with write_lock(db_path):
        writer = threading.Thread(target=update)
        writer.start()
        assert not done.wait(0.5)  # waiting, not failed
    writer.join(5)
    assert done.is_set()
    chat = linked.store.chat(NUMBER_A, ANA)
    assert chat is not None and chat.customer_name == "Ana L."
