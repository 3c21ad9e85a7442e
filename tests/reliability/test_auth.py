"""Who may do what, and from which number: linking, replies across channels, the Retry button.

Signed requests dispatched to the bridge's Bolt app (listeners run before dispatch returns);
Wati is the sandbox and Slack the stand-in, both over loopback HTTP.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from bot.config import Settings
from bot.devtools.harness.inproc import ManualClock, dispatch_sender, drive, spy_errors
from bot.devtools.harness.traffic import Traffic
from bot.devtools.harness.world import (
    ADMIN,
    AGENT,
    ANA,
    NUMBER_A,
    NUMBER_B,
    OUTSIDER,
    OWNER,
    SLACK_A,
    SLACK_B,
)
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_driver.prepared import Prepared
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge, build
from bot.slack import blocks


@pytest.fixture
def people(slack: SlackStandIn) -> SlackStandIn:
    slack.add_user(OWNER, name="otto", real_name="Otto Owner", is_owner=True)
    slack.add_user(OUTSIDER, name="olly", real_name="Olly Outsider")
    return slack


def _dispatch(bridge: Bridge, prepared: Prepared) -> int:
    return prepared.dispatch(bridge.app).status


def _wati(
    bridge: Bridge, slack: SlackStandIn, driver: SlackDriver, text: str, user: str
) -> dict[str, Any]:
    before = len(slack.responses)
    url = slack.response_url(channel=SLACK_A)
    prepared = driver.slash_command(text, user_id=user, channel_id=SLACK_A, response_url=url)
    assert _dispatch(bridge, prepared) == 200
    slack.wait_for(lambda s: len(s.responses) > before)
    return slack.responses[-1]


@pytest.mark.parametrize(
    ("admins", "allowed"),
    [((), {ADMIN, OWNER}), ((AGENT,), {AGENT})],
    ids=["workspace-admins-and-owners", "BRIDGE_ADMINS"],
)
def test_only_admins_link_and_unlink(
    settings: Settings,
    people: SlackStandIn,
    driver: SlackDriver,
    clock: ManualClock,
    admins: tuple[str, ...],
    allowed: set[str],
) -> None:
    bridge = build(replace(settings, admins=admins), clock=clock, process_before_response=True)
    errors = spy_errors(bridge)
    try:
        for user in (ADMIN, OWNER, AGENT, OUTSIDER):
            answer = _wati(bridge, people, driver, "link +1 555 000 0001", user)
            link = bridge.store.link_for_channel(SLACK_A)
            if user in allowed:
                assert link is not None and link.linked_by == user, user
                bridge.store.unlink(SLACK_A)
            else:
                assert link is None and answer["text"].startswith("Only"), user
        bridge.store.link(NUMBER_A, SLACK_A, "U0SOMEONE")
        for user in (ADMIN, OWNER, AGENT, OUTSIDER):
            answer = _wati(bridge, people, driver, "unlink", user)
            if user in allowed:
                assert bridge.store.link_for_channel(SLACK_A) is None, user
                bridge.store.link(NUMBER_A, SLACK_A, "U0SOMEONE")
            else:
                assert bridge.store.link_for_channel(SLACK_A) is not None, user
                assert answer["text"].startswith("Only"), user
        # users.info failing must refuse, not allow.
        if not admins:
            bridge.store.unlink(SLACK_A)
            people.fail_next("users.info", status=500)
            answer = _wati(bridge, people, driver, "link +1 555 000 0001", ADMIN)
            assert bridge.store.links() == [] and "try again" in answer["text"]
        assert errors == []
    finally:
        bridge.shutdown()


@pytest.fixture
def flow(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver, clock: ManualClock
) -> Iterator[Traffic]:
    """Ana writes to both numbers: a thread in each channel."""
    traffic = Traffic(
        sandbox,
        slack,
        driver,
        random.Random(3),
        dispatch_sender(linked),
        ((NUMBER_A, ANA), (NUMBER_B, ANA)),
    )
    traffic.greet()
    drive(linked, traffic, clock.advance)
    yield traffic


def _threads(flow: Traffic) -> dict[str, tuple[str, str, str, str]]:
    return {t[0]: t for t in flow.open_threads()}


def test_a_reply_leaves_only_from_its_threads_number(
    linked: Bridge, flow: Traffic, sandbox: Sandbox, driver: SlackDriver, clock: ManualClock
) -> None:
    errors = spy_errors(linked)
    threads = _threads(flow)
    for n in range(6):
        flow.reply(threads[SLACK_A if n % 2 else SLACK_B])
    # Forged: a reply "in channel B" whose thread is channel A's, and the other way round.
    for channel, other in ((SLACK_B, SLACK_A), (SLACK_A, SLACK_B)):
        event = driver.message(
            channel=channel, user=AGENT, text="crossed", thread_ts=threads[other][1]
        )
        assert _dispatch(linked, driver.event(event)) == 200
    drive(linked, flow, clock.advance)
    sent = sandbox.sent_by_api()
    assert len(sent) == 6 and "crossed" not in [m["text"] for m in sent]
    for message in sent:
        reply = next(r for r in flow.replies.values() if r.text == message["text"])
        assert message["channel"] == reply.number and message["customer"] == ANA
    assert {m["channel"] for m in sent} == {NUMBER_A, NUMBER_B}
    assert errors == []


def test_retry_is_refused_from_another_channel_and_for_bad_values(
    linked: Bridge,
    flow: Traffic,
    sandbox: Sandbox,
    slack: SlackStandIn,
    driver: SlackDriver,
    clock: ManualClock,
) -> None:
    errors = spy_errors(linked)
    sandbox.faults.inject("sendSessionMessage", "reject")
    reply = flow.reply(_threads(flow)[SLACK_A])
    assert reply is not None
    linked.outbound.process()
    [notice] = [m for m in slack.replies(SLACK_A, reply.thread_ts) if "Retry" in str(m)]
    reply_id = str(linked.store.reply_by_ts(SLACK_A, reply.ts).id)  # type: ignore[union-attr]
    # The button's value replayed from channel B (a forged or copied click).
    thread_b = _threads(flow)[SLACK_B]
    replayed = driver.block_action(
        blocks.RETRY, user_id=ADMIN, channel_id=SLACK_B, value=reply_id, thread_ts=thread_b[1]
    )
    assert _dispatch(linked, replayed) == 200
    for value in ("-1", "0", "abc", "9" * 30, "", "1e3", "１２", " 1", reply_id + "0"):
        click = driver.block_action(blocks.RETRY, user_id=AGENT, channel_id=SLACK_A, value=value)
        assert _dispatch(linked, click) == 200
    linked.outbound.process()
    assert sandbox.sent_by_api() == []
    job = linked.outbound.store.reply_job(int(reply_id))
    assert job is not None and job.state == "failed"
    [refusal] = slack.ephemerals(SLACK_B)
    assert refusal["user"] == ADMIN and "another channel" in refusal["text"]
    # The real click, in the reply's own channel, sends it once.
    click = driver.block_action(blocks.RETRY, user_id=AGENT, channel_id=SLACK_A, message=notice)
    assert _dispatch(linked, click) == 200
    assert _dispatch(linked, click) == 200  # a double click
    drive(linked, flow, clock.advance)
    assert [m["text"] for m in sandbox.sent_by_api()] == [reply.text]
    assert errors == []
