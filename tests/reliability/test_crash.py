"""Crash safety of the real process: `python -m bot run` SIGKILLed mid-relay and mid-send.

Each test runs the bridge as a subprocess in HTTP mode against the sandbox Wati and the Slack
stand-in, kills it with SIGKILL (no shutdown code runs), restarts it on the same database and
then checks the promises: every customer message is in Slack exactly once (by Wati id in the
post's metadata, and by text), every reply reached Wati at most once, from its thread's number,
and shows its outcome as a reaction. Random kills find what nobody thought of; holds (a call
kept waiting in the stand-in or the sandbox while the bridge is killed) hit the dangerous
windows every time.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.devtools.harness.traffic import (
    Pending,
    ReplySent,
    Traffic,
    post,
    problems,
    settle,
    write_lock,
)
from bot.devtools.harness.world import (
    AGENT,
    ANA,
    BO,
    CY,
    NUMBER_A,
    NUMBER_B,
    SLACK_A,
    World,
    wait_until,
)
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_standin.server import SlackStandIn
from bot.relay.polling import LEASE
from bot.slack import blocks

SEED = int(os.environ.get("RELIABILITY_SEED", "20240611"))


# Ana writes to both numbers: her replies must leave from the number of the thread's channel.
CHATS = ((NUMBER_A, ANA), (NUMBER_A, BO), (NUMBER_B, ANA))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One workspace for the whole module: each test crashes the bridge in its own way and
    leaves it running with every promise kept, so the next one starts from a settled state.
    The customers' phones stay off: no DELIVERED status comes to redraw a mark a crash left."""
    with World(tmp_path_factory.mktemp("crash"), status_delays=(3600.0, 7200.0)) as w:
        w.prepare(CHATS)
        yield w


@pytest.fixture(scope="module")
def traffic(world: World) -> Traffic:
    flow = world.traffic(random.Random(SEED), CHATS)
    flow.greet()
    return flow


def _running(world: World) -> None:
    if world.bridge is None or not world.bridge.alive:
        world.start_bridge()


def _meta(args: dict[str, object]) -> str:
    meta = args.get("metadata")
    return str(meta or "")


def _thread(traffic: Traffic) -> tuple[str, str, str, str]:
    wait_until(lambda: any(t[0] == SLACK_A for t in traffic.open_threads()), 15, "a thread")
    return next(t for t in traffic.open_threads() if t[0] == SLACK_A)


def test_random_kills_during_relay_and_sends_lose_and_duplicate_nothing(
    world: World, traffic: Traffic
) -> None:
    rng = random.Random(SEED)
    for round_ in range(2):
        world.start_bridge()
        traffic.flush()
        until = time.monotonic() + rng.uniform(0.5, 1.5)
        cap = time.monotonic() + 15
        # The last round goes on until a teammate has replied (whatever RELIABILITY_SEED says).
        while time.monotonic() < until or (
            round_ == 1 and not traffic.replies and time.monotonic() < cap
        ):
            traffic.step()
            time.sleep(rng.uniform(0.15, 0.35))  # human pace: Slack takes one post per second
        world.kill_bridge()
    world.age_unsettled()
    world.start_bridge()
    traffic.flush()
    settle(traffic, timeout=40)
    assert traffic.said and traffic.replies
    assert world.bridge is not None and world.bridge.stop() == 0  # a clean stop on SIGTERM
    assert problems(traffic) == []


def test_kill_while_slack_holds_a_thread_parent_or_a_relayed_message(
    world: World, traffic: Traffic
) -> None:
    world.kill_bridge()
    # A new customer's thread parent reaches Slack, and the bridge dies before it hears back.
    traffic.customer_says((NUMBER_B, CY))
    hold = world.slack.hold_next(
        "chat.postMessage", applied=True, when=lambda args: blocks.THREAD_EVENT in _meta(args)
    )
    world.start_bridge()
    world.kill_while_held(hold, timeout=15)
    world.start_bridge()
    settle(traffic, timeout=45)
    # A message's post reaches Slack unanswered; then one never lands.
    for applied in (True, False):
        hold = world.slack.hold_next(
            "chat.postMessage",
            applied=applied,
            when=lambda args: blocks.MESSAGE_EVENT in _meta(args),
        )
        traffic.customer_says((NUMBER_A, ANA))
        world.kill_while_held(hold, timeout=15)
        world.start_bridge()
    settle(traffic, timeout=45)


def test_kill_while_wati_holds_a_send(world: World, traffic: Traffic) -> None:
    _running(world)
    thread = _thread(traffic)
    sent_before = len(world.sandbox.sent_by_api())
    # First Wati accepts the send and the answer never comes back; then it never arrives.
    for applied in (True, False):
        hold = world.sandbox.faults.hold("sendSessionMessage", applied=applied)
        reply = traffic.reply(thread)
        assert reply is not None and reply.delivered
        world.kill_while_held(hold, timeout=15)
        assert world.age_unsettled() == 1  # its fate is unknown until the history says
        world.start_bridge()
        settle(traffic, timeout=45)
    assert len(world.sandbox.sent_by_api()) == sent_before + 2


def test_kill_before_the_sent_reaction_still_shows_the_outcome(
    world: World, traffic: Traffic
) -> None:
    _running(world)
    hold = world.slack.hold_next(
        "reactions.add", applied=False, when=lambda args: args.get("name") == "white_check_mark"
    )
    reply = traffic.reply(_thread(traffic))
    assert reply is not None
    world.kill_while_held(hold, timeout=15)
    assert [m["text"] for m in world.sandbox.sent_by_api()].count(reply.text) == 1
    world.start_bridge()
    settle(traffic, timeout=45)


def test_reply_answered_200_is_never_lost_even_if_the_bridge_dies_at_once(
    world: World, traffic: Traffic
) -> None:
    """Slack does not retry a delivery it got 200 for: the reply must be recorded before that.

    The database is write-locked by another connection, so recording the reply has to wait;
    the bridge must not answer Slack in the meantime. It is killed, and Slack retries.
    """
    _running(world)
    channel, parent, number, customer = _thread(traffic)
    event = world.driver.message(channel=channel, user=AGENT, text="kept", thread_ts=parent)
    world.slack.add_message(event)
    reply = ReplySent(channel, str(event["ts"]), parent, number, customer, "kept")
    traffic.replies[reply.ts] = reply
    delivery = world.driver.event(event)
    with write_lock(world.db_path):
        answer = post(world, delivery, timeout=1.0)
        world.kill_bridge()
    assert answer is None, "the bridge said 200 before the reply was recorded"
    traffic.pending.append(Pending(delivery))  # no 2xx: Slack will deliver it again
    world.start_bridge()
    traffic.flush()
    assert reply.delivered
    settle(traffic, timeout=45)
    assert [m["text"] for m in world.sandbox.sent_by_api()].count("kept") == 1


def test_kill_mid_poll_does_not_stall_the_chats(world: World, traffic: Traffic) -> None:
    """A poll claims its chat for LEASE (two minutes); a killed poll's claim must not outlive
    the process. Nobody writes meanwhile: a new message would have the restart's contacts hint
    wake the chat anyway and hide a claim that was never released."""
    _running(world)
    settle(traffic, timeout=45)
    hold = world.sandbox.faults.hold("getMessages", applied=False)
    world.kill_while_held(hold, timeout=15)

    def next_polls() -> dict[tuple[str, str], float]:
        with contextlib.closing(sqlite3.connect(world.db_path)) as db:
            rows = db.execute("select channel_number, customer_number, next_poll_at from chats")
            return {(number, customer): float(at or 0) for number, customer, at in rows}

    # What the killed process left behind: the held poll's claim (and maybe another one). A
    # claim is at most LEASE ahead of now (it was made before the kill); a quiet chat's own
    # schedule may lie further ahead (its interval doubles past LEASE) and is no claim.
    now = time.time()
    left = {chat: at for chat, at in next_polls().items() if now + LEASE - 20 < at <= now + LEASE}
    assert left
    world.start_bridge()
    wait_until(
        lambda: all(next_polls()[chat] != at for chat, at in left.items()),
        10,
        "the dead process's claims released",
    )
    settle(traffic, timeout=45)


# -- the holds themselves -----------------------------------------------------------------------


def _in_background(call: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    result: list[object] = []

    def run() -> None:
        try:
            result.append(call())
        except Exception as exc:  # the test looks at what came back
            result.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


@pytest.mark.parametrize("applied", [True, False])
def test_stand_in_holds_a_call_applied_or_not(applied: bool) -> None:
    with SlackStandIn() as slack:
        slack.add_channel(SLACK_A, "support")
        client = WebClient(token=slack.bot_token, base_url=slack.api_url)
        hold = slack.hold_next(
            "chat.postMessage", applied=applied, when=lambda args: args.get("text") == "held"
        )
        assert client.chat_postMessage(channel=SLACK_A, text="not this one")["ok"]
        thread, result = _in_background(
            lambda: client.chat_postMessage(channel=SLACK_A, text="held")
        )
        assert hold.wait()["text"] == "held" and hold.holding
        texts = [m["text"] for m in slack.messages(SLACK_A)]
        assert texts == (["not this one", "held"] if applied else ["not this one"])
        assert thread.is_alive() and result == []  # the answer waits
        hold.release()
        thread.join(5)
        if applied:
            assert result[0]["ok"]  # type: ignore[index]
        else:
            assert isinstance(result[0], SlackApiError)
            assert result[0].response.status_code == 500
            assert [m["text"] for m in slack.messages(SLACK_A)] == ["not this one"]


def test_stand_in_stop_lets_a_held_call_go() -> None:
    slack = SlackStandIn().start()
    slack.add_channel(SLACK_A, "support")
    client = WebClient(token=slack.bot_token, base_url=slack.api_url, timeout=5)
    hold = slack.hold_next("chat.postMessage")
    thread, _ = _in_background(lambda: client.chat_postMessage(channel=SLACK_A, text="x"))
    hold.wait()
    slack.stop()
    thread.join(5)
    assert not thread.is_alive()


@pytest.mark.parametrize("applied", [True, False])
def test_sandbox_holds_a_send_applied_or_not(tmp_path: Path, applied: bool) -> None:
    with Sandbox(tmp_path / "wati.db") as sandbox:
        sandbox.customer_says("15550000001", ANA, "hi")
        gate = sandbox.faults.hold("sendSessionMessage", applied=applied)
        url = f"{sandbox.api_endpoint}/api/v1/sendSessionMessage/{ANA}"
        headers = {"Authorization": f"Bearer {sandbox.token}"}
        thread, result = _in_background(
            lambda: httpx.post(url, params={"messageText": "held"}, headers=headers, timeout=10)
        )
        gate.wait()
        assert gate.holding and thread.is_alive()
        assert [m["text"] for m in sandbox.sent_by_api()] == (["held"] if applied else [])
        gate.release()
        thread.join(5)
        if applied:
            assert result[0].status_code == 200  # type: ignore[attr-defined]
        else:
            assert isinstance(result[0], httpx.TransportError)
            assert sandbox.sent_by_api() == []
        assert sandbox.faults.pending() == []
