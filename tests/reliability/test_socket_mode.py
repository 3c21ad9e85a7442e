"""The real bridge (`python -m bot run`) in Socket Mode, the default install, against the
stand-in's WebSocket: linking, inbound, replies once under redelivery and kill -9 around the
ack, commands and buttons, reconnects, a refused app token, and a clean SIGTERM.

Slack redelivers an events_api envelope not acked in time (here `ack_timeout`, 1 s instead of
Slack's 3, to keep CI short) with `retry_attempt`; the bridge must send each reply once.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import httpx
import pytest

from bot.devtools.harness.traffic import ReplySent, Traffic, problems, settle, write_lock
from bot.devtools.harness.world import (
    ADMIN,
    AGENT,
    ANA,
    BO,
    NUMBER_A,
    NUMBER_B,
    SLACK_A,
    SLACK_B,
    BridgeProcess,
    World,
    wait_until,
)
from bot.devtools.slack_standin.socket_mode import Envelope
from bot.slack import blocks
from bot.store import open_store

CHATS = ((NUMBER_A, BO), (NUMBER_B, ANA))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with World(tmp_path_factory.mktemp("socket"), mode="socket", ack_timeout=1.0) as w:
        store = open_store(w.db_path)
        try:
            store.link(NUMBER_A, SLACK_A, ADMIN)  # number B is linked by a command below
        finally:
            store.close()
        yield w


@pytest.fixture(scope="module")
def flow(world: World) -> Traffic:
    return world.traffic(random.Random(12), CHATS)


def _running(world: World) -> None:
    if world.bridge is None or not world.bridge.alive:
        world.start_bridge()


def _command(world: World, text: str, channel: str) -> str:
    """`/wati <text>` over the socket; the text of what came back on the response_url."""
    before = len(world.slack.responses)
    url = world.slack.response_url(channel=channel)
    command = world.driver.slash_command(text, user_id=ADMIN, channel_id=channel, response_url=url)
    answer = world.post(command)
    assert answer is not None and answer.status_code == 200, "the command was not acked"
    world.slack.wait_for(lambda s: len(s.responses) > before, 10)
    return str(world.slack.responses[-1].get("text"))


def _reply(world: World, flow: Traffic, text: str) -> tuple[ReplySent, dict[str, object]]:
    """A teammate's reply in Bo's thread, in Slack but not delivered yet."""
    wait_until(lambda: any(t[3] == BO for t in flow.open_threads()), 20, "Bo's thread")
    channel, parent, number, customer = next(t for t in flow.open_threads() if t[3] == BO)
    event = world.driver.message(channel=channel, user=AGENT, text=text, thread_ts=parent)
    world.slack.add_message(event)
    reply = ReplySent(channel, str(event["ts"]), parent, number, customer, text)
    flow.replies[reply.ts] = reply
    return reply, world.driver.event(event).payload


def _sent(world: World, text: str) -> int:
    return [m["text"] for m in world.sandbox.sent_by_api()].count(text)


def _deliver(world: World, payload: dict[str, object]) -> Envelope:
    """An events_api envelope with the stand-in's own redelivery, as Slack does it."""
    return world.slack.socket.deliver("events_api", payload)


def test_link_inbound_and_a_reply_over_the_socket(world: World, flow: Traffic) -> None:
    bridge = world.start_bridge()
    answer = _command(world, "link +1 555 000 0002", SLACK_B)
    assert "+1 555" in answer or "linked" in answer.lower(), answer
    assert bridge.stop() == 0  # SIGTERM: a clean exit

    # Customers write while the bridge is down, so their chats are polled from the start.
    flow.greet()
    store = open_store(world.db_path)
    try:
        assert sorted(link.slack_channel_id for link in store.links()) == sorted([SLACK_A, SLACK_B])
        for number, customer in CHATS:
            store.ensure_chat(number, customer, origin="test", next_poll_at=0)
    finally:
        store.close()
    world.start_bridge()
    settle(flow, timeout=30)
    assert {t[0] for t in flow.open_threads()} == {SLACK_A, SLACK_B}

    reply, payload = _reply(world, flow, "socket reply one")
    envelope = _deliver(world, payload)
    assert world.slack.socket.wait_ack(envelope, 10)
    reply.delivered = True
    settle(flow, timeout=30)
    assert _sent(world, "socket reply one") == 1
    assert envelope.retry_attempt == 0
    assert problems(flow) == []


def test_a_reply_redelivered_with_retry_attempt_is_sent_once(world: World, flow: Traffic) -> None:
    """The database is write-locked, so the bridge cannot record the reply and must not ack:
    Slack delivers the envelope again (retry_attempt 1, 2...) while the first one waits."""
    _running(world)
    reply, payload = _reply(world, flow, "socket reply redelivered")
    with write_lock(world.db_path):
        envelope = _deliver(world, payload)
        wait_until(lambda: envelope.retry_attempt >= 1, 10, "a redelivery")
        assert not envelope.acked, "acked before the reply was recorded"
    assert world.slack.socket.wait_ack(envelope, 15)
    reply.delivered = True
    settle(flow, timeout=30)
    assert _sent(world, "socket reply redelivered") == 1
    assert problems(flow) == []


def test_kill_before_the_ack_the_redelivery_sends_the_reply_once(
    world: World, flow: Traffic
) -> None:
    _running(world)
    reply, payload = _reply(world, flow, "socket reply killed before ack")
    with write_lock(world.db_path):
        envelope = _deliver(world, payload)
        wait_until(lambda: envelope.sends >= 1, 10, "the envelope sent")
        world.kill_bridge()
    assert not envelope.acked
    world.start_bridge()
    assert world.slack.socket.wait_ack(envelope, 15), "the redelivery was not acked"
    assert envelope.retry_attempt >= 1
    reply.delivered = True
    settle(flow, timeout=30)
    assert _sent(world, "socket reply killed before ack") == 1
    assert problems(flow) == []


def test_kill_right_after_the_ack_loses_nothing(world: World, flow: Traffic) -> None:
    _running(world)
    reply, payload = _reply(world, flow, "socket reply killed after ack")
    envelope = _deliver(world, payload)
    assert world.slack.socket.wait_ack(envelope, 10)
    world.kill_bridge()
    reply.delivered = True
    world.age_unsettled()
    world.start_bridge()
    settle(flow, timeout=40)
    assert _sent(world, "socket reply killed after ack") == 1
    assert envelope.sends == 1  # acked: Slack never sends it again
    assert problems(flow) == []


def test_commands_and_buttons_over_the_socket(world: World, flow: Traffic) -> None:
    _running(world)
    status = _command(world, "status", SLACK_A)
    assert "*Linked number:* +1 555-000-0001" in status, status
    wait_until(lambda: any(t[0] == SLACK_A for t in flow.open_threads()), 20, "a thread")
    parent = next(
        m for m in world.slack.messages(SLACK_A) if blocks.RESOLVE in str(m.get("blocks"))
    )
    click = world.driver.block_action(
        blocks.RESOLVE, user_id=AGENT, channel_id=SLACK_A, message=parent
    )
    answer = world.post(click)
    assert answer is not None and answer.status_code == 200
    said = f"<@{AGENT}> resolved this conversation"
    world.slack.wait_for(
        lambda s: any(said in str(m.get("text")) for m in s.replies(SLACK_A, parent["ts"])), 15
    )
    # Reopen it: Wati refuses session messages to a solved chat, and later tests reply here.
    reopened = next(m for m in world.slack.messages(SLACK_A) if m["ts"] == parent["ts"])
    again = world.post(
        world.driver.block_action(
            blocks.REOPEN, user_id=AGENT, channel_id=SLACK_A, message=reopened
        )
    )
    assert again is not None and again.status_code == 200
    said = f"<@{AGENT}> reopened this conversation"
    world.slack.wait_for(
        lambda s: any(said in str(m.get("text")) for m in s.replies(SLACK_A, parent["ts"])), 15
    )


def test_reconnects_after_refresh_requested_and_a_dropped_connection(
    world: World, flow: Traffic
) -> None:
    _running(world)
    socket = world.slack.socket
    for cut in ("refresh", "drop"):
        before = socket.connected
        if cut == "refresh":
            socket.disconnect("refresh_requested", grace=0.5)
        else:
            socket.drop()
        wait_until(lambda b=before: socket.connected > b, 30, f"a new connection after {cut}")
        reply, payload = _reply(world, flow, f"socket reply after {cut}")
        envelope = _deliver(world, payload)
        assert socket.wait_ack(envelope, 15), f"no ack after {cut}"
        reply.delivered = True
    settle(flow, timeout=30)
    assert _sent(world, "socket reply after refresh") == 1
    assert _sent(world, "socket reply after drop") == 1
    assert problems(flow) == []


def test_sigterm_exits_0(world: World) -> None:
    _running(world)
    assert world.bridge is not None
    assert world.bridge.stop() == 0
    output = world.log_path.read_text(errors="replace")
    assert "Traceback" not in output


@pytest.mark.parametrize("error", ["invalid_auth", "not_allowed_token_type"])
def test_a_refused_app_token_is_one_clear_line_and_exit_2(world: World, error: str) -> None:
    if world.bridge is not None and world.bridge.alive:
        world.bridge.stop()
    world.slack.fail_next("apps.connections.open", status=200, error=error)
    start = world.log_path.stat().st_size
    bridge = world.bridge = BridgeProcess(world)
    world.processes.append(bridge)
    bridge.start()
    assert bridge.proc is not None
    assert bridge.proc.wait(timeout=30) == 2
    with open(world.log_path, "rb") as log:
        log.seek(start)
        output = log.read().decode("utf-8", "replace")
    assert f"Slack refused SLACK_APP_TOKEN (apps.connections.open: {error})" in output
    assert "Traceback" not in output
    assert "ended after" not in output and "bridge started" not in output  # no job ran
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{world.base_url}/healthz", timeout=1)


def test_a_passing_failure_to_connect_is_retried(world: World) -> None:
    """Slack answering 500 is not a refusal: the bridge stays up, serves /healthz and
    connects once Slack is back."""
    world.slack.fail_next("apps.connections.open", status=500, count=1)
    opened = world.slack.socket.opened
    bridge = world.start_bridge()  # /healthz answers while the socket is retried
    assert world.slack.socket.opened > opened
    assert bridge.health().status_code == 200
    output = world.log_path.read_text(errors="replace")
    assert "apps.connections.open failed (internal_error); retrying" in output
