"""Privacy against the real bridge (`python -m bot run`), in both Slack modes.

`/wati forget` deletes the bridge's posts and reports a teammate's reply; `wati-bridge forget`
runs beside the live bridge, whose clean-up survives a kill -9 midway; a `forget` killed
midway with no bridge is finished by the next run; retention erases only quiet conversations;
and the customer's next message opens a fresh thread with nothing old in it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from bot.devtools.harness.traffic import post
from bot.devtools.harness.world import (
    ADMIN,
    ANA,
    BO,
    MODES,
    NUMBER_A,
    NUMBER_B,
    SLACK_A,
    SLACK_B,
    World,
    wait_until,
)
from bot.slack.erasure_blocks import FORGET_CONFIRM
from bot.store import open_store
from tests.reliability.slack_kit import press, wati

ANA_TYPED = "+44 7700 900123"  # how an admin types Ana's number (ANA in digits)
# What a user sees in Slack is tested in both modes; the command-line erasure, its crash
# recovery and retention do not pass through the Slack mode: HTTP mode alone runs those.
HTTP_ONLY = pytest.mark.parametrize("world", ["http"], indirect=True)


@pytest.fixture(params=MODES)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with World(tmp_path_factory.mktemp(f"privacy-{request.param}"), mode=request.param) as w:
        w.prepare(((NUMBER_A, ANA), (NUMBER_B, ANA), (NUMBER_A, BO)))
        yield w


def everything(world: World, channel: str) -> list[dict[str, Any]]:
    """Every message of a channel, thread replies included."""
    found: list[dict[str, Any]] = []
    for message in world.slack.messages(channel):
        found.append(message)
        if message.get("reply_count"):
            found += world.slack.replies(channel, str(message["ts"]))[1:]
    return found


def texts(world: World, *channels: str) -> list[str]:
    return [str(m.get("text", "")) for c in channels for m in everything(world, c)]


def shown(world: World, text: str, channel: str = SLACK_A) -> bool:
    return any(text in t for t in texts(world, channel))


def thread_of(world: World, channel: str, text: str) -> str:
    """The parent ts of the thread holding `text`."""
    for message in everything(world, channel):
        if text in str(message.get("text", "")):
            return str(message.get("thread_ts") or message["ts"])
    raise AssertionError(f"{text!r} is not in {channel}")


def talk(world: World) -> dict[str, str]:
    """Ana writes on both numbers, Bo on A; a teammate answers Ana on A. Returns the texts."""
    said = {
        "ana_a": "Ana asks on support about order 5521",
        "ana_b": "Ana asks sales for a quote",
        "bo": "Bo asks something else",
    }
    world.sandbox.customer_says(NUMBER_A, ANA, said["ana_a"], name="Ana Lima")
    world.sandbox.customer_says(NUMBER_B, ANA, said["ana_b"], name="Ana Lima")
    world.sandbox.customer_says(NUMBER_A, BO, said["bo"], name="Bo Berg")
    for text, channel in (
        (said["ana_a"], SLACK_A),
        (said["ana_b"], SLACK_B),
        (said["bo"], SLACK_A),
    ):
        wait_until(lambda t=text, c=channel: shown(world, t, c), 180, f"{text!r} relayed")
    parent = thread_of(world, SLACK_A, said["ana_a"])
    event = world.driver.message(
        channel=SLACK_A, user=ADMIN, text="teammate: it ships Monday", thread_ts=parent
    )
    world.slack.add_message(event)
    post(world, world.driver.event(event))
    said["teammate_ts"] = str(event["ts"])
    return said


def ana_gone(world: World, said: dict[str, str]) -> bool:
    found = texts(world, SLACK_A, SLACK_B)
    return not any(
        said[k] in t or "Ana Lima" in t or "7700" in t for t in found for k in ("ana_a", "ana_b")
    )


def db_rows(world: World, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(world.db_path)) as db:
        return list(db.execute(sql, params))


def forget_cli(world: World, *args: str) -> subprocess.Popen[str]:
    """`python -m bot forget …` with the bridge's environment (the same database)."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "forget", *args],
        env=world.env(),
        cwd=world.tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def fresh_start(world: World, said: dict[str, str]) -> None:
    """Ana writes again: a new thread holding only the new message."""
    world.sandbox.customer_says(NUMBER_A, ANA, "Ana is back with a new question")
    wait_until(lambda: shown(world, "Ana is back"), 90, "the new message relayed")
    parent = thread_of(world, SLACK_A, "Ana is back")
    replies = world.slack.replies(SLACK_A, parent)
    assert [str(m.get("text")) for m in replies[1:]] == ["Ana is back with a new question"]
    assert not any(said["ana_a"] in t or said["ana_b"] in t for t in texts(world, SLACK_A, SLACK_B))


def test_wati_forget_deletes_the_bridges_posts_and_reports_a_teammates_reply(
    world: World,
) -> None:
    world.start_bridge()
    said = talk(world)
    question = wati(world, f"forget {ANA_TYPED}")
    assert "2 conversation(s) on 2 number(s)" in question["text"]
    assert shown(world, said["ana_a"])  # nothing happens before the confirmation
    report = press(world, question, FORGET_CONFIRM, until="Erased one customer")
    assert said["teammate_ts"].replace(".", "") in report["text"]  # the teammate's reply's link
    assert "Wati" in report["text"]
    assert ana_gone(world, said)
    assert "teammate: it ships Monday" in texts(world, SLACK_A)
    assert shown(world, said["bo"])
    # Wati still lists the contact and keeps the history, so a contacts look may open an
    # empty chat and re-read old rows for them at once; no thread and no reply is back.
    for table in ("threads", "outbox"):
        sql = f"select count(*) from {table} where customer_number = ?"
        assert db_rows(world, sql, (ANA,)) == [(0,)], table
    fresh_start(world, said)


@HTTP_ONLY
def test_cli_forget_beside_the_bridge_survives_a_kill_midway(world: World) -> None:
    world.start_bridge()
    said = talk(world)
    hold = world.slack.hold_next("chat.delete", applied=True)
    command = forget_cli(world, ANA_TYPED, "--yes")
    world.kill_while_held(hold)  # the bridge is cleaning: one delete done, its answer held
    assert db_rows(world, "select count(*) from erasures where state != 'done'") == [(1,)]
    world.start_bridge()
    out, err = command.communicate(timeout=150)
    assert command.returncode == 0, err
    assert "Erased one customer" in out and said["teammate_ts"].replace(".", "") in out
    assert ana_gone(world, said)
    assert db_rows(world, "select count(*) from erasure_posts where state != 'done'") == [(0,)]
    fresh_start(world, said)


@HTTP_ONLY
def test_cli_forget_killed_midway_is_finished_by_the_next_run(world: World) -> None:
    bridge = world.start_bridge()
    said = talk(world)
    assert bridge.stop() == 0
    hold = world.slack.hold_next("chat.delete", applied=True)
    first = forget_cli(world, ANA_TYPED, "--yes")
    hold.wait(timeout=60)
    first.kill()  # kill -9 in the middle of the Slack clean-up
    first.wait(timeout=10)
    hold.release()
    assert not ana_gone(world, said)
    second = forget_cli(world, ANA_TYPED, "--yes")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert "Erased one customer" in out
    assert ana_gone(world, said)
    world.start_bridge()
    fresh_start(world, said)


@HTTP_ONLY
def test_retention_erases_only_quiet_conversations(world: World) -> None:
    bridge = world.start_bridge()
    said = talk(world)
    assert bridge.stop() == 0
    # Forty days pass for Ana's conversations alone: their activity is dated back (the test's
    # clock for one conversation; the bridge compares it with its own clock).
    days = 40 * 86400
    with contextlib.closing(sqlite3.connect(world.db_path)) as db, db:
        for column in ("last_activity_at", "last_inbound_at", "created_at"):
            db.execute(
                f"update chats set {column} = strftime('%Y-%m-%dT%H:%M:%f+00:00', "
                f"{column}, '-{days} seconds') where customer_number = ?",
                (ANA,),
            )
        db.execute(  # the teammate's reply to Ana counts as activity too
            "update outbox set created_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', created_at, "
            f"'-{days} seconds') where customer_number = ?",
            (ANA,),
        )
    world.start_bridge(env={"BRIDGE_RETENTION_DAYS": "30"})
    wait_until(lambda: ana_gone(world, said), 60, "Ana's quiet conversations erased")
    assert shown(world, said["bo"])
    # Bo's conversation is kept (a contacts look may also have asked his other number).
    kept = "select count(*) from chats where customer_number = ? and channel_number = ? and thread_id is not null"
    assert db_rows(world, kept, (BO, NUMBER_A)) == [(1,)]
    fresh_start(world, said)


@HTTP_ONLY
def test_a_phoneless_customer_is_forgotten_by_username_and_by_bsuid(world: World) -> None:
    bsuid = world.sandbox.phoneless("bob_rivers", name="Bob Rivers")
    store = open_store(world.db_path)
    store.ensure_chat(NUMBER_A, bsuid, origin="test", next_poll_at=0)
    store.close()
    world.start_bridge()
    world.sandbox.customer_says(NUMBER_A, bsuid, "Bob asks without a phone number")
    wait_until(lambda: shown(world, "Bob asks without"), 60, "the phoneless customer relayed")
    question = wati(world, "forget @Bob_Rivers")
    assert "Erase *@bob_rivers*" in question["text"] and "conversation(s)" in question["text"]
    press(world, question, FORGET_CONFIRM, until="Erased one customer")
    assert not shown(world, "Bob asks without")
    world.sandbox.customer_says(NUMBER_A, bsuid, "Bob again, fresh start")
    wait_until(lambda: shown(world, "Bob again"), 60, "the new message relayed")
    parent = thread_of(world, SLACK_A, "Bob again")
    assert [m.get("text") for m in world.slack.replies(SLACK_A, parent)[1:]] == [
        "Bob again, fresh start"
    ]
    question = wati(world, f"forget {bsuid}")
    press(world, question, FORGET_CONFIRM, until="Erased one customer")
    assert not shown(world, "Bob again")
