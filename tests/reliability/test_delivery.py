"""Slack's delivery over real HTTP to the running bridge (`python -m bot run`, HTTP mode).

Slack retries an event it got no 2xx for (X-Slack-Retry-Num), may deliver one twice, and
delivers thread replies in any order; requests must be signed and fresh. Each case posts
signed requests to /slack/events the way Slack does and checks what reached Wati and Slack.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest

from bot.devtools.harness.traffic import Traffic, post, settle
from bot.devtools.harness.world import (
    AGENT,
    ANA,
    BO,
    NUMBER_A,
    NUMBER_B,
    SENT_MARKS,
    SIGNING_SECRET,
    SLACK_A,
    World,
    wait_until,
)
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_driver.prepared import Prepared
from bot.slack import blocks

CHATS = ((NUMBER_A, BO), (NUMBER_B, ANA))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with World(tmp_path_factory.mktemp("delivery")) as w:
        w.prepare(CHATS)
        yield w


@pytest.fixture(scope="module")
def flow(world: World) -> Traffic:
    """The running bridge, with the three chats' threads open."""
    traffic = world.traffic(random.Random(5), CHATS)
    traffic.greet()
    world.start_bridge()
    settle(traffic, timeout=20)
    return traffic


def _thread(flow: Traffic, customer: str = BO) -> tuple[str, str, str, str]:
    return next(t for t in flow.open_threads() if t[0] == SLACK_A and t[3] == customer)


def _sent(world: World, text: str) -> int:
    return [m["text"] for m in world.sandbox.sent_by_api()].count(text)


def _reply_event(world: World, flow: Traffic, text: str) -> dict[str, Any]:
    _, parent, _, _ = _thread(flow)
    event = world.driver.message(channel=SLACK_A, user=AGENT, text=text, thread_ts=parent)
    world.slack.add_message(event)
    return event


def test_retries_and_duplicate_deliveries_never_send_twice(world: World, flow: Traffic) -> None:
    event = _reply_event(world, flow, "only once, whatever Slack does")
    first = world.driver.event(event, event_id="Ev0DELIVERY1")
    # The first delivery and Slack's retries race each other (the http_timeout retry comes
    # while the first is still being handled), then come the late ones.
    racing = [first, world.driver.redeliver(first, retry_num=1)]
    answers: list[httpx.Response | None] = []
    threads = [threading.Thread(target=lambda p=p: answers.append(post(world, p))) for p in racing]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    late = [
        world.driver.redeliver(first, retry_num=2, retry_reason="http_error"),
        world.driver.redeliver(first, retry_num=3, retry_reason="connection_failed"),
        world.driver.event(event, event_id="Ev0DELIVERY1"),  # a duplicate, no retry header
        world.driver.event(event),  # the same message under another event id
    ]
    answers += [post(world, p) for p in late]
    assert all(a is not None and a.status_code == 200 for a in answers)
    wait_until(lambda: set(world.slack.reactions(SLACK_A, event["ts"])) & SENT_MARKS, 10, "the ✅")
    assert _sent(world, "only once, whatever Slack does") == 1
    with closing(sqlite3.connect(world.db_path)) as db:
        (rows,) = db.execute(
            "select count(*) from outbox where slack_ts = ?", [event["ts"]]
        ).fetchone()
    assert rows == 1


def test_thread_replies_delivered_out_of_order_are_each_sent_once(
    world: World, flow: Traffic
) -> None:
    events = [_reply_event(world, flow, f"out of order {n}") for n in range(4)]
    deliveries = [world.driver.event(e) for e in events]
    order = [3, 1, 0, 2, 1, 3]  # later replies first, and two of them twice
    for n in order:
        answer = post(world, deliveries[n])
        assert answer is not None and answer.status_code == 200

    def outcomes_shown() -> bool:
        return all(set(world.slack.reactions(SLACK_A, e["ts"])) & SENT_MARKS for e in events)

    wait_until(outcomes_shown, 10, "the outcome of every reply")
    assert [_sent(world, f"out of order {n}") for n in range(4)] == [1, 1, 1, 1]


def test_url_verification_answers_the_challenge(world: World, flow: Traffic) -> None:
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    answer = post(world, world.driver.url_verification(challenge))
    assert answer is not None and answer.status_code == 200
    assert answer.json() == {"challenge": challenge}


def _unsigned(prepared: Prepared, **headers: str | None) -> Prepared:
    changed = {k: v for k, v in {**prepared.headers, **headers}.items() if v is not None}
    return Prepared(prepared.body, changed, prepared.driver)


def _snapshot(world: World) -> dict[str, Any]:
    with closing(sqlite3.connect(world.db_path)) as db:
        tables = {
            t: db.execute(f"select count(*) from {t}").fetchone()[0]  # fixed names
            for t in ("outbox", "events_seen", "links", "threads")
        }
    slack = world.slack
    return {
        **tables,
        "sent": len(world.sandbox.sent_by_api()),
        "responses": len(slack.responses),
        "ephemerals": len(slack.ephemerals()),
        "views": len(slack.views),
        "posts": len(slack.calls_to("chat.postMessage")),
        "users": len(slack.calls_to("users.info")),
    }


def test_stale_and_badly_signed_requests_get_401_and_change_nothing(
    world: World, flow: Traffic
) -> None:
    event = _reply_event(world, flow, "must never be sent")
    stale_clock = SlackDriver(
        SIGNING_SECRET,
        url=world.events_url,
        clock=lambda: world.driver.clock() - 330,  # Slack allows 300 s of skew
        response_url_factory=world.slack.response_url,
    )
    forged = SlackDriver("not-the-signing-secret", url=world.events_url)
    requests: dict[str, Prepared] = {}
    for name, driver in (("stale", stale_clock), ("forged", forged)):
        requests[f"{name} event"] = driver.event(event)
        requests[f"{name} command"] = driver.slash_command(
            "unlink", user_id="U0ADMIN", channel_id=SLACK_A
        )
        requests[f"{name} button"] = driver.block_action(
            blocks.RETRY, user_id=AGENT, channel_id=SLACK_A, value="1"
        )
        requests[f"{name} challenge"] = driver.url_verification("nope")
    good = world.driver.event(event)
    requests["no signature"] = _unsigned(good, **{"X-Slack-Signature": None})
    requests["no timestamp"] = _unsigned(good, **{"X-Slack-Request-Timestamp": None})
    requests["other body"] = Prepared(good.body.replace("never", "surely"), good.headers, None)
    requests["garbage signature"] = _unsigned(good, **{"X-Slack-Signature": "v0=deadbeef"})
    requests["future"] = _unsigned(
        good, **world.driver.sign(good.body, int(world.driver.clock()) + 330)
    )
    before = _snapshot(world)
    for name, prepared in requests.items():
        answer = post(world, prepared)
        assert answer is not None and answer.status_code == 401, name
    # A good reply after them: once it is sent, anything that got in before it would be too.
    canary = _reply_event(world, flow, "the canary")
    answer = post(world, world.driver.event(canary))
    assert answer is not None and answer.status_code == 200
    wait_until(lambda: set(world.slack.reactions(SLACK_A, canary["ts"])) & SENT_MARKS, 10)
    after = _snapshot(world)
    grew = {k: after[k] - before[k] for k in before if after[k] != before[k]}
    assert grew == {"outbox": 1, "events_seen": 1, "sent": 1}, grew
    assert _sent(world, "must never be sent") == 0
    assert world.slack.reactions(SLACK_A, event["ts"]) == []
