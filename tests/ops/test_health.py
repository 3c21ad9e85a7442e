"""Health, alerts and the periodic check in-process, on the test clock, with real SQLite and the
Slack stand-in on loopback (the real process is in tests/reliability/test_health.py)."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from slack_bolt.request import BoltRequest

from bot.config import Settings
from bot.devtools.harness.inproc import ManualClock
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.server import SlackStandIn
from bot.listeners.commands import run
from bot.listeners.invocation import Invocation
from bot.ops.alerts import Alerts
from bot.ops.health import Code, Health
from bot.service import Bridge, build
from bot.store import REFUSE_WRITES_ENV, open_store
from bot.wati.errors import WatiError, raise_for_status
from tests.kit import ADMIN, AGENT, CHANNEL_A, CHANNEL_B, SLACK_A, SLACK_B

DM_ADMIN = "D" + ADMIN[1:]


@pytest.fixture
def watched(
    settings: Settings, clock: ManualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Bridge]:
    """A bridge alerting after 60 s, messages stale after 120 s, writes refusable by a flag."""
    monkeypatch.setenv(REFUSE_WRITES_ENV, str(tmp_path / "refuse"))
    quick = dataclasses.replace(settings, alert_after=60.0, stale_after=120.0)
    built = build(quick, clock=clock, process_before_response=True, slack_min_interval=0.0)
    built.store.link(CHANNEL_A, SLACK_A, ADMIN)
    built.store.link(CHANNEL_B, SLACK_B, AGENT)
    try:
        yield built
    finally:
        built.shutdown()


def _refusal(status: int, body: str = "") -> WatiError:
    response = httpx.Response(status, text=body, request=httpx.Request("GET", "http://w/x"))
    with pytest.raises(WatiError) as caught:
        raise_for_status("getMessages", response)
    return caught.value


# -- the conditions ---------------------------------------------------------------------------


def test_a_condition_is_logged_once_when_it_starts_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock()
    health = Health(clock=clock)
    caplog.set_level(logging.WARNING, logger="bot.ops.health")
    for _ in range(3):
        health.wati_answered("getMessages", _refusal(401))
    clock.advance(90)
    for _ in range(3):
        health.wati_answered("getMessages", None)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "health: wati_token_refused started: HTTP 401 on getMessages",
        "health: wati_token_refused ended after 90 s",
    ]
    assert all(r.levelno == logging.WARNING for r in caplog.records)


def test_a_403_is_about_its_endpoint_and_cloudflare_is_not_the_token() -> None:
    health = Health(clock=ManualClock())
    health.wati_answered("sendSessionMessage", _refusal(403, "error code: 1010"))
    (condition,) = health.conditions()
    assert condition.ident == "wati_token_refused:sendSessionMessage"
    assert "not a token problem" in condition.words()
    health.wati_answered("getMessages", None)  # another endpoint working says nothing of it
    assert health.holds(Code.WATI_TOKEN, "sendSessionMessage")
    health.wati_answered("sendSessionMessage", None)
    assert health.conditions() == []


def test_slack_refusals_and_channels() -> None:
    health = Health(clock=ManualClock())
    health.linked([SLACK_A])
    health.slack_answered("chat.postMessage", SLACK_B, "not_in_channel")  # not linked: not ours
    health.slack_answered("chat.postMessage", SLACK_A, "is_archived")
    health.slack_answered("reactions.add", SLACK_A, "account_inactive")
    assert [c.ident for c in health.conditions()] == [
        f"channel_unreachable:{SLACK_A}",
        "slack_token_refused",
    ]
    health.slack_answered("conversations.info", SLACK_A, None)  # reading is not posting
    assert health.holds(Code.CHANNEL, SLACK_A) and not health.holds(Code.SLACK_TOKEN)
    health.linked([])  # unlinked: its condition ends with it
    assert health.conditions() == []


def test_a_late_answer_to_an_older_call_does_not_end_what_a_newer_call_found(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Calls are numbered as they start (`bot.base.calls`); answers come back in any order.
    health = Health(clock=ManualClock())
    caplog.set_level(logging.WARNING, logger="bot.ops.health")
    health.slack_answered("conversations.members", None, "token_revoked", 7)
    health.slack_answered("chat.postMessage", SLACK_A, None, 5)  # began before 7, answered after
    assert health.holds(Code.SLACK_TOKEN)
    health.slack_answered("chat.postMessage", SLACK_A, None, 8)  # began after: the token works
    assert not health.holds(Code.SLACK_TOKEN)
    health.wati_answered("getMessages", _refusal(401), 12)
    health.wati_answered("getContacts", None, 11)
    assert health.holds(Code.WATI_TOKEN)
    health.wati_answered("getContacts", None, 13)
    assert health.conditions() == []
    started = [r.getMessage() for r in caplog.records if " started" in r.getMessage()]
    assert len(started) == 2  # each condition started once: no flapping


def test_a_busy_database_is_not_a_fault_and_a_full_one_is(tmp_path: Path) -> None:
    health = Health(clock=ManualClock())
    health.wrote(sqlite3.OperationalError("database is locked"))
    assert health.conditions() == []
    # A real SQLITE_FULL: the database may not grow past its present size.
    store = open_store(tmp_path / "full.db", on_write=health.wrote)
    pages = store.query("pragma page_count")[0]["page_count"]
    store.db.execute(f"pragma max_page_count = {pages}")
    with pytest.raises(sqlite3.OperationalError, match="full"):
        for n in range(200):
            store.add_error("x", "e" * 2000 + str(n))
    (condition,) = health.conditions()
    assert condition.code == Code.DATABASE and "full" in condition.detail
    store.db.execute("pragma max_page_count = 1000000")
    store.put("k", "v")
    assert health.conditions() == []
    store.close()


def test_the_socket_counts_as_down_after_a_minute() -> None:
    clock = ManualClock()
    health = Health(clock=clock)
    health.socket(False)
    clock.advance(59)
    health.socket(False)
    assert health.conditions() == []
    clock.advance(2)
    health.socket(False)
    assert [c.code for c in health.conditions()] == [Code.SOCKET]
    health.socket(True)
    assert health.conditions() == []


# -- /healthz, /wati status, the check and the DMs --------------------------------------------


def test_healthz_names_the_reasons_and_keeps_its_fields(
    watched: Bridge, clock: ManualClock
) -> None:
    ok, status = watched.health()
    assert ok and status["status"] == "ok" and status["reasons"] == []
    assert {"database", "backlog", "outbox", "links", "wati_quota"} <= status.keys()
    watched.watch.health.wati_answered("getMessages", _refusal(401))
    ok, status = watched.health()
    assert not ok and status["status"] == "unhealthy"
    assert status["reasons"] == ["wati_token_refused"]
    assert status["problems"][0]["message"].startswith("Wati refuses the bridge's access token")


def test_wati_status_shows_the_same_reasons(watched: Bridge, slack: SlackStandIn) -> None:
    told: list[str] = []
    call = Invocation(
        user_id=AGENT,
        channel_id=SLACK_A,
        args=["status"],
        respond=lambda **kw: told.append(kw["text"]),  # type: ignore[arg-type]
        client=watched.app.client,
    )
    run(call, watched.services)
    assert "*Bridge health:* ok" in told[-1]
    watched.watch.health.slack_answered("auth.test", None, "token_revoked")
    run(call, watched.services)
    assert "`slack_token_refused`" in told[-1] and "reinstall the app" in told[-1]


def test_admins_are_told_once_each_way_and_not_again_after_a_restart(
    watched: Bridge, slack: SlackStandIn, clock: ManualClock
) -> None:
    watch = watched.watch
    slack.remove_bot(SLACK_B, archived=True)
    watch.check()
    assert [c.ident for c in watch.health.conditions()] == [f"channel_unreachable:{SLACK_B}"]
    assert watch.health.conditions()[0].detail == "is_archived"
    clock.advance(59)
    watch.check()
    dm_agent = "D" + AGENT[1:]
    assert slack.messages(dm_agent) == []  # not for a minute yet
    clock.advance(2)
    for _ in range(3):
        watch.check()
        clock.advance(30)
    # The channel was linked by the agent: the agent is told, the admin is not.
    (problem,) = slack.messages(dm_agent)
    assert "needs attention" in problem["text"] and "unarchive" in problem["text"]
    assert slack.messages(DM_ADMIN) == []
    # A restart: what was told is read back, so nothing is told again.
    again = Alerts(
        health=watch.health,
        store=watched.store,
        client=watched.app.client,
        admins=(),
        alert_after=60,
        clock=clock,
    )
    watch.alerts = again
    watch.check()
    assert len(slack.messages(dm_agent)) == 1
    slack.add_bot(SLACK_B)
    watch.check()
    watch.check()
    texts = [m["text"] for m in slack.messages(dm_agent)]
    assert len(texts) == 2 and texts[1].startswith(":white_check_mark: *Fixed*")


def test_bridge_admins_are_told_when_set(
    settings: Settings, clock: ManualClock, slack: SlackStandIn
) -> None:
    quick = dataclasses.replace(settings, alert_after=0.0, admins=(ADMIN,))
    bridge = build(quick, clock=clock, process_before_response=True, slack_min_interval=0.0)
    try:
        bridge.store.link(CHANNEL_B, SLACK_B, AGENT)
        bridge.watch.health.wati_answered("getMessages", _refusal(401))
        bridge.watch.check()
        assert len(slack.messages(DM_ADMIN)) == 1
        assert slack.messages("D" + AGENT[1:]) == []
    finally:
        bridge.shutdown()


def test_a_message_waiting_too_long(watched: Bridge, clock: ManualClock) -> None:
    watched.store.ensure_chat(CHANNEL_A, "447700900123", origin="test", next_poll_at=0)
    watched.store.record_message(
        "w1",
        channel_number=CHANNEL_A,
        customer_number="447700900123",
        direction="in",
        created="2026-01-01T00:00:00+00:00",
        state="pending",
    )
    clock.now = datetime.fromisoformat(str(watched.store.oldest_waiting())).timestamp()
    watched.watch.check()
    assert not watched.watch.health.holds(Code.BACKLOG)
    clock.advance(121)
    watched.watch.check()
    assert watched.watch.health.holds(Code.BACKLOG)
    watched.store.update_message("w1", state="posted")
    watched.watch.check()
    assert not watched.watch.health.holds(Code.BACKLOG)


# -- a reply that cannot be recorded ---------------------------------------------------------


def _thread(bridge: Bridge) -> str:
    bridge.store.ensure_chat(CHANNEL_A, "447700900123", origin="test", next_poll_at=0)
    thread = bridge.store.create_thread(CHANNEL_A, "447700900123", SLACK_A, None)
    bridge.store.update_thread(thread.id, state="open", thread_ts="1700000000.000100")
    return "1700000000.000100"


@pytest.mark.parametrize("mode", ["http", "socket_mode"])
def test_an_unrecordable_reply_is_not_acknowledged_and_its_author_is_told(
    watched: Bridge, slack: SlackStandIn, driver: SlackDriver, tmp_path: Path, mode: str
) -> None:
    parent = _thread(watched)
    event = driver.message(channel=SLACK_A, user=AGENT, text="hello", thread_ts=parent)
    prepared = driver.event(event)
    (tmp_path / "refuse").write_text("x")

    def deliver() -> int:
        if mode == "http":
            return prepared.dispatch(watched.app).status
        # Socket Mode: Bolt's adapter acks only a 200; anything else leaves Slack to retry.
        request = BoltRequest(body=prepared.payload, mode="socket_mode")
        return watched.app.dispatch(request).status

    assert deliver() == 503
    assert deliver() == 503
    notes = slack.ephemerals(SLACK_A)
    assert len(notes) == 1 and notes[0]["user"] == AGENT
    assert "Not sent yet: the bridge cannot write its database" in notes[0]["text"]
    assert "readonly" in notes[0]["text"]
    (tmp_path / "refuse").unlink()
    assert deliver() == 200
    assert deliver() == 200
    assert len(watched.store.reply_jobs("queued", "sending", "sent", "unknown")) == 1
