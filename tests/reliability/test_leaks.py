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

import httpx
import pytest

from bot.devtools.harness.traffic import Traffic, post, settle
from bot.devtools.harness.world import (
    ADMIN,
    AGENT,
    ANA,
    APP_TOKEN,
    BOT_TOKEN,
    MODES,
    NUMBER_A,
    NUMBER_B,
    SIGNING_SECRET,
    SLACK_A,
    SLACK_B,
    WATI_TOKEN,
    World,
    wait_until,
)
from bot.slack.erasure_blocks import FORGET_CONFIRM
from bot.store import open_store
from bot.text import phone
from tests.reliability.slack_kit import press, wati

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


# -- a whole conversation, scanned for the customer -------------------------------------------

ZED = "447911123456"  # a customer nobody else in these tests uses
ZED_NAME = "Zelda Quixote"
HIDDEN_USERNAME, HIDDEN_NAME = "quiet_quokka", "Quentin Hidden"  # a customer with no phone
HIDDEN_TEXT = "Quentin writes with his number hidden"
WEBHOOK_TOKEN = "leakscan-webhook-secret-55aa66bb77cc"
# The number in every way people write it, and as the bridge shows it.
ZED_FORMS = (
    ZED,
    "+44 7911 123456",
    "+447911123456",
    "07911 123456",
    "07911123456",
    "7911 123456",
    "7911123456",
    phone.display(ZED),
)


def _reply(world: World, channel: str, parent: str, text: str) -> str:
    event = world.driver.message(channel=channel, user=AGENT, text=text, thread_ts=parent)
    world.slack.add_message(event)
    assert post(world, world.driver.event(event)) is not None
    return str(event["ts"])


def _parent_holding(world: World, channel: str, text: str) -> str | None:
    for message in world.slack.messages(channel):
        replies = (
            world.slack.replies(channel, str(message["ts"])) if message.get("reply_count") else []
        )
        if any(text in str(r.get("text", "")) for r in replies):
            return str(message["ts"])
    return None


def _scrape(world: World) -> str:
    metrics = httpx.get(f"{world.base_url}/metrics", timeout=5)
    health = httpx.get(f"{world.base_url}/healthz", timeout=5)
    return metrics.text + "\n" + health.text


@pytest.mark.parametrize("mode", MODES)
def test_a_whole_conversation_leaves_no_customer_and_no_secret_behind(
    tmp_path: Path, mode: str
) -> None:
    """Text, a photo, a webhook, a teammate's reply, a refusal, a kill -9, a restart with
    --verbose, `/wati status` and `/wati forget`: the logs (INFO, then DEBUG), `/metrics` and
    `/healthz` name neither the customer nor a secret, even when Wati quotes the webhook URL
    back in a refusal."""
    with World(tmp_path, mode=mode) as world:
        world.extra_env = {"BRIDGE_PUBLIC_URL": world.base_url, "WATI_WEBHOOK_TOKEN": WEBHOOK_TOKEN}
        world.prepare(((NUMBER_A, ZED), (NUMBER_B, ZED)))
        world.sandbox.webhooks.refuse_echoing_url(1)  # one number's registration: quoted URL
        hidden = world.sandbox.phoneless(HIDDEN_USERNAME, name=HIDDEN_NAME)  # no phone at all
        store = open_store(world.db_path)
        store.ensure_chat(NUMBER_A, hidden, origin="test", next_poll_at=0)
        store.close()
        said = [
            "Zelda says the parcel code is QX-7781",
            "photo of the broken vase, receipt 55120",
            "Zelda writes to sales for a quote",
            "Zelda after the restart: still waiting",
            "teammate to Zelda: we refund QX-7781",
            "teammate to Zelda: this one Wati refuses",
        ]
        world.start_bridge()
        wait_until(lambda: len(world.sandbox.webhooks.hooks) == 1, 20, "one webhook registered")
        world.sandbox.customer_says(NUMBER_A, ZED, said[0], name=ZED_NAME)
        world.sandbox.customer_sends_file(
            NUMBER_A, ZED, "zelda-vase.jpg", b"\xff\xd8leak-scan", "image/jpeg", caption=said[1]
        )
        parent = None

        def relayed() -> bool:
            nonlocal parent
            parent = _parent_holding(world, SLACK_A, said[1])
            return parent is not None

        wait_until(relayed, 60, "the text and the photo relayed")
        world.sandbox.customer_says(NUMBER_A, hidden, HIDDEN_TEXT)
        wait_until(lambda: _parent_holding(world, SLACK_A, HIDDEN_TEXT), 60, "phoneless relayed")
        world.sandbox.customer_says(NUMBER_B, ZED, said[2], name=ZED_NAME)
        wait_until(lambda: _parent_holding(world, SLACK_B, said[2]), 60, "the webhook's message")
        assert parent is not None
        sent = _reply(world, SLACK_A, parent, said[4])
        wait_until(lambda: "white_check_mark" in world.slack.reactions(SLACK_A, sent), 30, "sent")
        world.sandbox.faults.inject("sendSessionMessage", "reject")
        refused = _reply(world, SLACK_A, parent, said[5])
        wait_until(lambda: "x" in world.slack.reactions(SLACK_A, refused), 30, "refused")
        scraped = [_scrape(world)]
        world.kill_bridge()

        bridge = world.start_bridge(verbose=True)
        world.sandbox.customer_says(NUMBER_A, ZED, said[3])
        wait_until(lambda: _parent_holding(world, SLACK_A, said[3]), 60, "relayed after restart")
        assert "*Kept:*" in wati(world, "status")["text"]
        question = wati(world, "forget +44 7911 123456")
        press(world, question, FORGET_CONFIRM, until="Erased one customer")
        scraped.append(_scrape(world))
        assert bridge.stop() == 0

        output = world.log_path.read_text(errors="replace")
        assert " DEBUG bot." in output and " INFO bot." in output
        assert "did not answer the verification request" in output  # the quoted refusal, masked
        for where, text in (("the log", output), ("/metrics or /healthz", "\n".join(scraped))):
            for form in ZED_FORMS:
                assert form not in text, f"the number as {form!r} is in {where}"
            for piece in (ZED_NAME, "Zelda", "zelda-vase", *said, *(s[:18] for s in said)):
                assert piece not in text, f"{piece!r} is in {where}"
            for piece in (hidden, hidden.split(".")[1], HIDDEN_USERNAME, HIDDEN_NAME, HIDDEN_TEXT):
                assert piece not in text, f"{piece!r} is in {where}"
            for name, secret in {**SECRETS, "webhook token": WEBHOOK_TOKEN}.items():
                for piece in (secret, secret[-12:]):
                    assert piece not in text, f"the {name} is in {where}"
        webhook_errors = [str(w.error) for w in open_store(world.db_path).number_webhooks()]
        assert not any(WEBHOOK_TOKEN in e for e in webhook_errors)
