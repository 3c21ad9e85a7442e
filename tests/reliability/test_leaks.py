"""Nothing leaked: no secret and no message body in the logs, the database owner-only.

The real process (`python -m bot run`, which sets up logging with `bot.cli.configure_logging`)
goes through a whole loop in each Slack mode, once at INFO and once with --verbose (DEBUG): a customer's message
relayed, a teammate's reply sent, slash commands, a send Wati refuses and a poll that fails.
Its output is then searched for the Slack bot token, the signing secret, the Wati token and
every message text; in Socket Mode the app-level token too, and the envelopes' response_urls.
It runs with umask 000, so owner-only files are the bridge's doing.
"""

from __future__ import annotations

import random
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.devtools.harness.traffic import Traffic, post, settle
from bot.devtools.harness.world import (
    ADMIN,
    ANA,
    APP_TOKEN,
    BOT_TOKEN,
    MODES,
    NUMBER_A,
    SIGNING_SECRET,
    SLACK_A,
    WATI_TOKEN,
    World,
    wait_until,
)

SECRETS = {
    "Slack bot token": BOT_TOKEN,
    "signing secret": SIGNING_SECRET,
    "Wati token": WATI_TOKEN,
    "app-level token": APP_TOKEN,
}


@pytest.fixture(scope="module", params=MODES)
def world(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[World]:
    with World(tmp_path_factory.mktemp(f"leaks-{request.param}"), mode=request.param) as w:
        w.prepare(((NUMBER_A, ANA),))
        yield w


def _loop(world: World, flow: Traffic, tag: str) -> list[str]:
    """Everything the bridge does once; returns the message texts that went through it."""
    wait_until(lambda: flow.open_threads(), 20, "the thread")
    reply = flow.reply(flow.open_threads()[0], text=f"{tag} your PIN reset code is 998877")
    world.sandbox.faults.inject("sendSessionMessage", "reject")
    refused = flow.reply(flow.open_threads()[0], text=f"{tag} this one Wati refuses")
    world.sandbox.faults.inject("getMessages", "500")
    for text in ("status", "help", f"link {tag} +1 555 000 0001", "frobnicate"):
        url = world.slack.response_url(channel=SLACK_A)
        command = world.driver.slash_command(
            text, user_id=ADMIN, channel_id=SLACK_A, response_url=url
        )
        answer = post(world, command)
        assert answer is not None and answer.status_code == 200
    settle(flow, timeout=30)
    assert reply is not None and refused is not None
    return [reply.text, refused.text]


@pytest.fixture(scope="module")
def flow(world: World) -> Traffic:
    return world.traffic(random.Random(2), ((NUMBER_A, ANA),))


@pytest.mark.parametrize("verbose", [False, True], ids=["INFO", "DEBUG"])
def test_logs_carry_no_secret_and_no_message_body(
    world: World, flow: Traffic, verbose: bool
) -> None:
    start = world.log_path.stat().st_size if world.log_path.exists() else 0
    tag = "DEBUGRUN" if verbose else "INFORUN"
    said = f"{tag} my card is 4242 and my secret word is swordfish"
    flow.customer_says((NUMBER_A, ANA), said)
    bridge = world.start_bridge(verbose=verbose, umask=0)
    texts = [said, *_loop(world, flow, tag)]
    _owner_only(world.db_path, running=True)  # WAL and shared memory in use
    assert bridge.stop() == 0
    with open(world.log_path, "rb") as log:
        log.seek(start)
        output = log.read().decode("utf-8", "replace")
    assert "bridge started" in output
    if verbose:
        assert " DEBUG bot." in output  # the verbose run did log at DEBUG
    for name, secret in SECRETS.items():
        for piece in (secret, secret[-12:]):
            assert piece not in output, f"the {name} is in the log"
    for text in texts:
        for piece in (text, text.split(" ", 1)[1][:20]):
            assert piece not in output, f"message text {piece!r} is in the log"
    assert "/response/" not in output, "a response_url is in the log"


def _owner_only(db_path: Path, *, running: bool) -> None:
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{db_path}{suffix}")
        if not running and suffix and not path.exists():
            continue  # a clean stop may fold the WAL back
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == 0o600, f"{path.name} is {oct(mode)}"


def test_database_files_stay_owner_only_after_the_runs(world: World) -> None:
    _owner_only(world.db_path, running=False)


def test_a_fresh_database_is_created_owner_only(tmp_path: Path) -> None:
    with World(tmp_path) as fresh:  # no prepare(): the bridge creates the database itself
        fresh.start_bridge(umask=0)
        _owner_only(fresh.db_path, running=True)
