"""Health that tells the truth, on the real process: `python -m bot run` against the sandbox Wati
and the Slack stand-in, with each fault made where it really happens.

Every case runs in both Slack modes. For each condition: /healthz answers 503 naming it, `/wati status` shows it, a WARNING is logged
once when it starts and once when it ends, the admin (here: whoever linked the channel) gets one
DM saying what is wrong and one when it is fixed, and /healthz answers 200 again after. The
bridge runs with a 1-second alert delay and a half-second check instead of 5 minutes and 30 s.

The database fault is SQLite refusing every write of the bridge's own connection while a flag
file exists (`bot.devtools.harness.disk`), reads going on, as on a full disk; unlike chmod it
works when the tests run as root, and unlike a tmpfs it needs no mount.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.devtools.harness.disk import allow_writes, mark_read_only, refuse_writes
from bot.devtools.harness.traffic import Traffic, post
from bot.devtools.harness.world import (
    ADMIN,
    AGENT,
    ANA,
    BOT_TOKEN,
    CY,
    MODES,
    NUMBER_A,
    NUMBER_B,
    ROOT,
    SIGNING_SECRET,
    SLACK_A,
    SLACK_B,
    WATI_TOKEN,
    BridgeProcess,
    World,
    wait_until,
)
from bot.store import REFUSE_WRITES_ENV, open_store

CHATS = ((NUMBER_A, ANA), (NUMBER_B, CY))
DM = "D" + ADMIN[1:]  # the stand-in's DM channel with the admin
FAST = {
    "BRIDGE_HEALTH_ALERT_SECONDS": "1",
    "BRIDGE_HEALTH_CHECK_SECONDS": "0.5",
}


@pytest.fixture(params=MODES)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    with World(tmp_path / request.param, mode=request.param) as w:
        w.extra_env.update(FAST)
        w.extra_env[REFUSE_WRITES_ENV] = str(w.tmp / "refuse-writes")
        w.prepare(CHATS)
        yield w


@pytest.fixture
def traffic(world: World) -> Traffic:
    flow = world.traffic(random.Random(12), CHATS)
    flow.greet()
    return flow


def _health(world: World) -> tuple[int, dict[str, Any]]:
    assert world.bridge is not None
    response = world.bridge.health()
    return response.status_code, response.json()


def _answers(world: World) -> bool:
    try:
        _health(world)
    except httpx.TransportError:
        return False
    return True


def _unhealthy_with(world: World, code: str, timeout: float = 20.0) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def check() -> bool:
        status, body = _health(world)
        found.update(body)
        return status == 503 and code in body.get("reasons", [])

    wait_until(check, timeout, lambda: f"503 with {code}, last {found}")
    return found


def _healthy_again(world: World, timeout: float = 20.0) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def check() -> bool:
        status, body = _health(world)
        found.update(body)
        return status == 200

    wait_until(check, timeout, lambda: f"200 again, last {found}")
    assert found["reasons"] == [] and found["status"] == "ok"
    return found


def _dms(world: World) -> list[str]:
    return [str(m.get("text")) for m in world.slack.messages(DM)]


def _wait_dms(world: World, count: int) -> list[str]:
    wait_until(lambda: len(_dms(world)) >= count, 20, lambda: f"{count} DM(s), got {_dms(world)}")
    return _dms(world)


def _log_lines(world: World, needle: str) -> list[str]:
    return [line for line in world.log_path.read_text().splitlines() if needle in line]


def _logged_once_each_way(world: World, ident: str) -> None:
    started = _log_lines(world, f"health: {ident} started")
    ended = _log_lines(world, f"health: {ident} ended")
    assert len(started) == 1 and len(ended) == 1, (started, ended)
    assert " WARNING " in started[0] and " WARNING " in ended[0]


def _no_secrets(world: World) -> None:
    text = world.log_path.read_text()
    for secret in (BOT_TOKEN, SIGNING_SECRET, WATI_TOKEN):
        assert secret not in text


def _status_text(world: World, channel: str) -> str:
    before = len(world.slack.responses)
    prepared = world.driver.slash_command("status", user_id=AGENT, channel_id=channel)
    response = post(world, prepared)
    assert response is not None and response.status_code == 200
    wait_until(lambda: len(world.slack.responses) > before, 10, "the /wati status answer")
    return str(world.slack.responses[-1].get("text"))


def _refused(world: World, response: httpx.Response | None) -> bool:
    """Slack will deliver it again: HTTP 503, or in Socket Mode no ack at all."""
    if world.mode == "socket":
        return response is None
    return response is not None and response.status_code == 503


def _windows_recorded(world: World) -> int:
    with contextlib.closing(sqlite3.connect(world.db_path)) as db:
        row = db.execute("select count(*) from chats where last_inbound_at is not null").fetchone()
    return int(row[0])


def _one_problem_then_fixed(world: World, dms: list[str], words: str) -> None:
    assert len(dms) == 2, dms
    assert "needs attention" in dms[0] and words in dms[0] and "How to fix" in dms[0]
    assert "Fixed" in dms[1] and words in dms[1]


def test_wati_token_revoked_mid_run(world: World, traffic: Traffic) -> None:
    world.start_bridge()
    world.sandbox.token = "wati-token-after-rotation"  # the bridge's token is refused (401)
    body = _unhealthy_with(world, "wati_token_refused")
    assert body["problems"][0]["fix"].startswith("copy the access token")
    assert "wati_token_refused" in _status_text(world, SLACK_A)
    dms = _wait_dms(world, 1)
    world.sandbox.token = WATI_TOKEN
    _healthy_again(world)
    dms = _wait_dms(world, 2)
    _one_problem_then_fixed(world, dms, "Wati refuses the bridge's access token")
    _logged_once_each_way(world, "wati_token_refused")
    _no_secrets(world)


def test_slack_token_revoked_mid_run(world: World, traffic: Traffic) -> None:
    world.start_bridge()
    world.slack.refuse_bot_token("token_revoked")
    body = _unhealthy_with(world, "slack_token_refused")
    assert "token_revoked" in body["problems"][0]["detail"]
    wait_until(
        lambda: any(
            c.args.get("channel") == ADMIN for c in world.slack.calls_to("chat.postMessage")
        ),
        20,
        "a DM attempt while Slack refuses the token",
    )
    assert _dms(world) == []  # Slack refused it, as it refuses everything now
    world.slack.refuse_bot_token(None)
    _healthy_again(world)
    # The problem DM never went out: one message says what was wrong and that it is fixed.
    dms = _wait_dms(world, 1)
    assert len(dms) == 1 and "now fixed" in dms[0] and "Slack refuses the bot token" in dms[0]
    _logged_once_each_way(world, "slack_token_refused")
    _no_secrets(world)


def test_bot_removed_from_a_linked_channel(world: World, traffic: Traffic) -> None:
    world.start_bridge()
    world.slack.remove_bot(SLACK_B)
    body = _unhealthy_with(world, "channel_unreachable")
    assert body["problems"][0]["channel"] == SLACK_B
    assert body["problems"][0]["detail"] == "not_in_channel"
    dms = _wait_dms(world, 1)
    assert f"<#{SLACK_B}>" in dms[0]
    world.slack.add_bot(SLACK_B)
    _healthy_again(world)
    dms = _wait_dms(world, 2)
    _one_problem_then_fixed(world, dms, f"the bot cannot post in <#{SLACK_B}>")
    _logged_once_each_way(world, f"channel_unreachable:{SLACK_B}")


def test_oldest_waiting_message_too_old(world: World, traffic: Traffic) -> None:
    world.extra_env["BRIDGE_HEALTH_STALE_SECONDS"] = "1.5"
    world.start_bridge()
    wait_until(lambda: len(traffic.open_threads()) == 2, 20, "both threads")
    # Slack keeps the next post to #support waiting: the customer's message waits with it.
    hold = world.slack.hold_next(
        "chat.postMessage", applied=True, when=lambda args: args.get("channel") == SLACK_A
    )
    traffic.customer_says((NUMBER_A, ANA), "are you there?")
    hold.wait(timeout=15)
    body = _unhealthy_with(world, "backlog_stale")
    assert (
        "over 2 s" in body["problems"][0]["detail"] or "over 1 s" in body["problems"][0]["detail"]
    )
    _wait_dms(world, 1)
    hold.release()
    _healthy_again(world)
    dms = _wait_dms(world, 2)
    _one_problem_then_fixed(world, dms, "messages wait too long to be relayed")
    _logged_once_each_way(world, "backlog_stale")


def test_database_refusing_writes_and_a_reply_meanwhile(world: World, traffic: Traffic) -> None:
    world.start_bridge()
    wait_until(lambda: len(traffic.open_threads()) == 2, 20, "both threads")
    # The fault starts once both chats are on record with their reply windows open (see the
    # report: a write refused between a poll's message records and its chat update loses it).
    wait_until(lambda: _windows_recorded(world) == 2, 20, "both chats' windows on record")
    channel, parent, number, customer = next(t for t in traffic.open_threads() if t[0] == SLACK_A)
    flag = world.tmp / "refuse-writes"
    refuse_writes(flag)
    body = _unhealthy_with(world, "database_not_writable")
    assert body["database"] == "not_writable"
    assert "readonly" in body["problems"][0]["detail"]
    assert "database_not_writable" in _status_text(world, SLACK_A)
    # A teammate replies meanwhile: Slack is told to retry, the teammate is told why it waits.
    event = world.driver.message(channel=channel, user=AGENT, text="on full disk", thread_ts=parent)
    world.slack.add_message(event)
    first = world.driver.event(event)
    assert _refused(world, post(world, first, timeout=3))
    notes = [e for e in world.slack.ephemerals(SLACK_A) if e["user"] == AGENT]
    assert (
        len(notes) == 1 and "Not sent yet: the bridge cannot write its database" in notes[0]["text"]
    )
    assert _refused(world, post(world, world.driver.redeliver(first, retry_num=1), timeout=3))
    assert len([e for e in world.slack.ephemerals(SLACK_A) if e["user"] == AGENT]) == 1
    traffic.customer_says((NUMBER_B, CY), "written while the disk was full")
    _wait_dms(world, 1)
    allow_writes(flag)
    _healthy_again(world)
    # Slack's later retry is recorded and sent once; a further retry changes nothing.
    for attempt in (2, 3):
        again = post(world, world.driver.redeliver(first, retry_num=attempt))
        assert again is not None and again.status_code == 200
    wait_until(
        lambda: [m["text"] for m in world.sandbox.sent_by_api(number)] == ["on full disk"],
        20,
        lambda: f"the reply sent once, got {world.sandbox.sent_by_api(number)}",
    )
    wait_until(
        lambda: any(
            "written while the disk was full" in str(m.get("text"))
            for m in world.slack.replies(
                SLACK_B, next(t[1] for t in traffic.open_threads() if t[0] == SLACK_B)
            )
        ),
        20,
        "the customer's message of the outage in Slack",
    )
    dms = _wait_dms(world, 2)
    _one_problem_then_fixed(world, dms, "the bridge cannot write its database")
    _logged_once_each_way(world, "database_not_writable")
    assert [m["text"] for m in world.sandbox.sent_by_api(number)] == ["on full disk"]
    assert customer == ANA


def test_restart_does_not_tell_again(world: World, traffic: Traffic) -> None:
    world.start_bridge()
    world.slack.remove_bot(SLACK_B)
    _unhealthy_with(world, "channel_unreachable")
    _wait_dms(world, 1)
    assert world.bridge is not None and world.bridge.stop() == 0
    world.bridge = BridgeProcess(world).start()  # not start_bridge(): that waits for a 200
    world.processes.append(world.bridge)
    wait_until(lambda: _answers(world), 30, "the restarted bridge to answer /healthz")
    _unhealthy_with(world, "channel_unreachable")
    # Several checks go by with the condition on: no second DM about it.
    checks = len(world.slack.calls_to("auth.test"))
    wait_until(lambda: len(world.slack.calls_to("auth.test")) >= checks + 4, 20, "more checks")
    assert len(_dms(world)) == 1
    world.slack.add_bot(SLACK_B)
    _healthy_again(world)
    dms = _wait_dms(world, 2)
    assert "Fixed" in dms[1] and len(dms) == 2


# -- a database that cannot be used at start ------------------------------------------------------


def _run(db: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "WATI_API_ENDPOINT": "http://127.0.0.1:9/1",
        "WATI_ACCESS_TOKEN": WATI_TOKEN,
        "BRIDGE_DB": str(db),
        "PORT": "0",
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        cwd=db.parent if db.parent.is_dir() else ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _read_only_db(tmp: Path) -> Path:
    path = tmp / "bridge.db"
    open_store(path).close()
    mark_read_only(path)
    return path


def _not_a_database(tmp: Path) -> Path:
    path = tmp / "bridge.db"
    path.write_bytes(b"this is not SQLite\n" * 100)
    return path


def _under_a_file(tmp: Path) -> Path:
    (tmp / "plain-file").write_text("x")
    return tmp / "plain-file" / "sub" / "bridge.db"


@pytest.mark.parametrize(
    ("make", "cause"),
    [
        (_read_only_db, "attempt to write a readonly database"),
        (_not_a_database, "file is not a database"),
        (_under_a_file, "Not a directory"),
    ],
    ids=["read-only", "not-a-database", "parent-is-a-file"],
)
def test_a_database_that_cannot_be_used_at_start(tmp_path: Path, make: Any, cause: str) -> None:
    path = make(tmp_path)
    done = _run(path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(path) in lines[0] and cause in lines[0]
    assert "Traceback" not in done.stderr


def test_migrate_names_the_file_too(tmp_path: Path) -> None:
    path = _not_a_database(tmp_path)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "migrate", "--db", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"wati-bridge: cannot use the database {path}: file is not a database"
    )


def test_the_flag_makes_sqlite_refuse_writes_and_reads_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fault the database tests use is the one they claim to be."""
    flag = tmp_path / "refuse"
    monkeypatch.setenv(REFUSE_WRITES_ENV, str(flag))
    store = open_store(tmp_path / "x.db")
    store.put("k", "v")
    refuse_writes(flag)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        store.put("k", "w")
    assert store.get("k") == "v"
    allow_writes(flag)
    store.put("k", "w")
    assert store.get("k") == "w"
    store.close()
