"""Forgetting a customer in-process: the rows, the Slack posts, the report, a fresh start.

Real SQLite, the sandbox Wati and the Slack stand-in on loopback, the bridge's own objects.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from bot.devtools.harness.inproc import ManualClock
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.server import SlackStandIn
from bot.privacy.cleanup import NEUTRAL
from bot.privacy.identify import read_customer
from bot.service import Bridge
from bot.store.chats import Thread
from tests.kit import CHANNEL_A, CHANNEL_B, SLACK_A, SLACK_B
from tests.relay.kit import open_chat, say

ANA = "447700900123"
BO = "5511912345678"


def rows_naming(bridge: Bridge, *needles: str) -> dict[str, int]:
    """Rows of every table whose text holds any of the needles (a whole-database scan)."""
    found: dict[str, int] = {}
    conn: sqlite3.Connection = bridge.store.db.conn
    tables = [r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")]
    for table in tables:
        for row in conn.execute(f"select * from [{table}]"):
            text = " ".join(str(v) for v in row)
            if any(n in text for n in needles):
                found[table] = found.get(table, 0) + 1
    return found


def texts_of(slack: SlackStandIn, channel: str) -> list[str]:
    """Every text in the channel, threads included."""
    out: list[str] = []
    for message in slack.messages(channel):
        out.append(str(message.get("text", "")))
        if message.get("reply_count"):
            out += [str(m.get("text", "")) for m in slack.replies(channel, message["ts"])[1:]]
    return out


def conversation(
    bridge: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> tuple[Thread, Thread, dict[str, Any]]:
    """Ana writes to both numbers (a text and a photo), a teammate answers on A; Bo writes too."""
    a = open_chat(bridge, sandbox, CHANNEL_A, ANA, "Ana secret words on A")
    sandbox.customer_sends_file(
        CHANNEL_A, ANA, "id.jpg", b"\xff\xd8jpeg", "image/jpeg", caption="my ID card"
    )
    bridge.poller.wake(CHANNEL_A, ANA)
    bridge.poller.poll_number(CHANNEL_A)
    b = open_chat(bridge, sandbox, CHANNEL_B, ANA, "Ana words on B")
    reply = say(bridge, slack, driver, a, "teammate answer here")
    bridge.outbound.process()
    sandbox.customer_says(CHANNEL_A, BO, "Bo stays", name="Bo Berg")
    bridge.poller.wake(CHANNEL_A, BO)
    bridge.poller.poll_number(CHANNEL_A)
    return a, b, reply


def test_forget_erases_every_record_and_the_bridges_posts(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver, clock: ManualClock
) -> None:
    a, b, reply = conversation(linked, sandbox, slack, driver)
    clock.advance(31 * 60)  # Ana waits on B past the reply target: the channel gets a nudge
    linked.desk.tick()
    assert any("Ana Lima" in m.get("text", "") for m in slack.messages(SLACK_B)[1:])
    assert rows_naming(linked, ANA)
    erasure = linked.eraser.forget(read_customer("+44 7700 900123"), by="test")
    assert erasure is not None
    assert rows_naming(linked, ANA) == {}  # the rows went at once, in one transaction
    linked.eraser.finish()
    report = linked.eraser.report(erasure)
    assert report.finished and report.threads == 2
    assert report.counts["conversations"] == 2 and report.counts["messages"] >= 3
    assert report.counts["replies"] == 1
    texts = texts_of(slack, SLACK_A) + texts_of(slack, SLACK_B)
    assert not any("Ana" in t for t in texts), texts
    assert "teammate answer here" in texts  # a bot cannot delete it: reported instead
    [kept] = report.kept
    assert SLACK_A in kept and reply["ts"].replace(".", "") in kept
    assert any("Bo stays" in t for t in texts)  # another customer is untouched
    assert linked.store.chat(CHANNEL_A, BO) is not None
    assert not [f for f in slack._ws.files.values() if f.obj.get("name", "").endswith(".jpg")]
    lines = "\n".join(report.lines())
    assert kept in lines and "Wati" in lines and "backups" in lines


def test_a_refused_delete_overwrites_the_post_instead(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    a = open_chat(linked, sandbox, CHANNEL_A, ANA, "Ana private words")
    slack.refuse_deletes()
    erasure = linked.eraser.forget(read_customer(ANA), by="test")
    assert erasure is not None
    linked.eraser.finish()
    report = linked.eraser.report(erasure)
    assert report.neutralised == 2 and report.deleted == 0
    assert a.thread_ts is not None
    shown = [m.get("text") for m in slack.replies(SLACK_A, a.thread_ts)]
    assert shown == [NEUTRAL, NEUTRAL]
    assert all(not m.get("blocks") for m in slack.replies(SLACK_A, a.thread_ts))


def test_the_next_message_starts_a_fresh_conversation_and_nothing_old_returns(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver, clock: ManualClock
) -> None:
    conversation(linked, sandbox, slack, driver)
    erasure = linked.eraser.forget(read_customer(ANA), by="test")
    assert erasure is not None
    linked.eraser.finish()
    clock.advance(5)
    fresh = open_chat(linked, sandbox, CHANNEL_A, ANA, "a new question")
    assert fresh.thread_ts is not None
    assert [m.get("text") for m in slack.replies(SLACK_A, fresh.thread_ts)[1:]] == [
        "a new question"
    ]
    # Wati still holds the old history on B too: polling it brings nothing back.
    linked.poller.wake(CHANNEL_B, ANA)
    linked.poller.poll_number(CHANNEL_B)
    assert not any("Ana" in t for t in texts_of(slack, SLACK_B))
    assert linked.store.backlog() == 0


def test_an_interrupted_clean_up_is_finished_by_the_next_run(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    conversation(linked, sandbox, slack, driver)
    erasure = linked.eraser.forget(read_customer(ANA), by="test")
    assert erasure is not None
    slack.fail_next("chat.delete", status=200, error="ratelimited")
    with pytest.raises(SlackApiError):  # a passing refusal stops the round; nothing is lost
        linked.eraser.finish()
    assert not linked.eraser.report(erasure).finished
    linked.eraser.finish()
    report = linked.eraser.report(erasure)
    assert report.finished and report.deleted >= 4
    assert not any("Ana" in t for t in texts_of(slack, SLACK_A) + texts_of(slack, SLACK_B))


def test_forgetting_an_unknown_customer_changes_nothing(linked: Bridge) -> None:
    assert linked.eraser.forget(read_customer("+1 415 555 0100"), by="test") is None
    assert linked.store.unfinished_erasures() == []


def test_retention_erases_only_quiet_conversations_on_the_bridges_clock(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver, clock: ManualClock
) -> None:
    open_chat(linked, sandbox, CHANNEL_A, ANA, "Ana long ago")
    clock.advance(40 * 86400)
    sandbox.customer_says(CHANNEL_A, BO, "Bo just now", name="Bo Berg")
    linked.poller.wake(CHANNEL_A, BO)
    linked.poller.poll_number(CHANNEL_A)
    assert linked.retention.days is None and linked.retention.tick() == 0  # off by default
    from bot.privacy.retention import Retention

    retention = Retention(store=linked.store, eraser=linked.eraser, clock=linked.clock, days=30)
    assert retention.tick() == 1
    linked.eraser.finish()
    assert linked.store.chat(CHANNEL_A, ANA) is None
    assert linked.store.chat(CHANNEL_A, BO) is not None
    texts = texts_of(slack, SLACK_A)
    assert "Bo just now" in texts and not any("Ana" in t for t in texts)
    assert retention.tick() == 0
