"""`wati-bridge backfill` after the README's order (link while running, stop, backfill), on the
real processes: a customer who wrote before the link and again while the bridge ran gets the
older messages too, and the report is per number. Backfill posts through the Web API only, so
the Slack mode makes no difference to it (the bridge before it runs in HTTP mode)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.devtools.harness.traffic import thread_parents
from bot.devtools.harness.world import (
    AGENT,
    ANA,
    CY,
    NUMBER_A,
    NUMBER_B,
    SLACK_A,
    SLACK_B,
    World,
    wait_until,
)
from bot.text import phone
from tests.kit import cli


def _thread_texts(world: World, channel: str) -> list[str]:
    texts = []
    for parent in world.slack.messages(channel):
        texts += [str(m.get("text")) for m in world.slack.replies(channel, str(parent["ts"]))]
    return texts


def test_backfill_reaches_back_for_a_conversation_polling_already_read(tmp_path: Path) -> None:
    with World(tmp_path) as world:
        world.sandbox.customer_says(NUMBER_A, ANA, "written before the link", name="Ana")
        world.sandbox.customer_says(NUMBER_B, CY, "cy before the link", name="Cy")
        world.prepare(((NUMBER_A, ANA),))
        bridge = world.start_bridge()
        world.sandbox.customer_says(NUMBER_A, ANA, "written while running", name="Ana")
        wait_until(
            lambda: any("written while running" in t for t in _thread_texts(world, SLACK_A)),
            30,
            "the new message in Slack",
        )
        assert not any("before the link" in t for t in _thread_texts(world, SLACK_A))
        assert bridge.stop() == 0
        done = subprocess.run(
            [sys.executable, "-m", "bot", "backfill", "--days", "1"],
            cwd=world.tmp,
            env=world.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        texts = _thread_texts(world, SLACK_A)
        assert sum("written before the link" in t for t in texts) == 1, texts
        assert sum("written while running" in t for t in texts) == 1, texts
        lines = done.stdout.splitlines()
        a = next(line for line in lines if line.startswith(phone.display(NUMBER_A) + ":"))
        assert "1 message(s) relayed, 1 of them from before the thread" in a, done.stdout
        assert any(line.startswith(phone.display(NUMBER_B) + ":") for line in lines)
        # A second backfill finds nothing more to do, and posts nothing twice.
        again = subprocess.run(
            [sys.executable, "-m", "bot", "backfill", "--days", "1"],
            cwd=world.tmp,
            env=world.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert again.returncode == 0, again.stdout + again.stderr
        assert _thread_texts(world, SLACK_A) == texts
        assert "backfill done: 0 message(s) relayed" in again.stdout
        # Cy wrote to sales an hour ago at most: backfill's thread is open for a reply.
        world.start_bridge()
        [parent] = thread_parents(world.slack, SLACK_B)
        text = "Answering your earlier message"
        event = world.driver.message(channel=SLACK_B, user=AGENT, text=text, thread_ts=parent["ts"])
        world.slack.add_message(event)
        world.post(world.driver.event(event))
        wait_until(
            lambda: [s["text"] for s in world.sandbox.sent_by_api(NUMBER_B)] == [text],
            30,
            lambda: f"the reply sent; the thread shows {_thread_texts(world, SLACK_B)}",
        )


def test_backfill_refuses_days_that_are_no_period(tmp_path: Path) -> None:
    for days in ("-1", "0", "400", "three"):
        done = cli("backfill", "--days", days, cwd=tmp_path)
        assert done.returncode == 2, days
        assert "argument --days" in done.stderr and "Traceback" not in done.stderr
