"""Resolve and ask for a rating, and what replies cost, in the real process (`python -m bot
run`), in both Slack modes: the question once under a double click and Slack's retry, as
WhatsApp buttons, as a numbered text where the tenant has no v3 interactive messages, and as
the rating template outside the window; the answers recognised, shown on the parent and not
relayed, the chats solved again in Wati; other messages still relayed; the month's sends per
number in `/wati status`, on the Home tab and in /metrics."""

from __future__ import annotations

import json
import struct
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.devtools.harness.world import (
    AGENT,
    ANA,
    BO,
    CY,
    MODES,
    NUMBER_A,
    NUMBER_B,
    SLACK_A,
    SLACK_B,
    World,
    wait_until,
)
from bot.slack import blocks
from bot.survey import wording
from tests.chatops.kit import blocks_text

TEMPLATE = "rate_us"
DEADLINE = 60


def _parents(world: World, channel: str, customer: str) -> list[dict[str, Any]]:
    return [
        m
        for m in world.slack.messages(channel)
        if (m.get("metadata") or {}).get("event_type") == blocks.THREAD_EVENT
        and m["metadata"]["event_payload"]["customer_number"] == customer
    ]


def _parent(world: World, channel: str, customer: str) -> dict[str, Any] | None:
    found = _parents(world, channel, customer)
    return found[-1] if found else None


def _thread_texts(world: World, channel: str, customer: str) -> list[str]:
    return [
        blocks_text(m)
        for parent in _parents(world, channel, customer)
        for m in world.slack.replies(channel, parent["ts"])[1:]
    ]


def _click(world: World, channel: str, customer: str, *, times: int = 1) -> None:
    """Press "Resolve and ask for a rating" `times` at once, then replay the first as Slack's
    retry would."""
    parent = _parent(world, channel, customer)
    assert parent is not None
    presses = [
        world.driver.block_action(
            blocks.RESOLVE_RATE, user_id=AGENT, channel_id=channel, message=parent
        )
        for _ in range(times)
    ]
    runners = [threading.Thread(target=world.post, args=(press,)) for press in presses]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    world.post(world.driver.redeliver(presses[0]))


def _sent(world: World, channel: str, customer: str) -> list[dict[str, Any]]:
    return [s for s in world.sandbox.sent_by_api(channel) if s["customer"] == customer]


def _rated(world: World, channel: str, customer: str, stars: int) -> bool:
    parent = _parent(world, channel, customer)
    return parent is not None and f"Rated {stars}/5" in blocks_text(parent)


def _png_text(png: bytes) -> dict[str, str]:
    """The PNG's tEXt chunks (keyword → text), read by hand from its chunk list."""
    found, at = {}, 8
    while at < len(png):
        length = struct.unpack(">I", png[at : at + 4])[0]
        kind, data = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        if kind == b"tEXt":
            key, _, value = data.partition(b"\0")
            found[key.decode("latin-1")] = value.decode("latin-1")
        at += 12 + length
    return found


def _check_chart(world: World, tab: dict[str, Any]) -> None:
    """The Home tab's chart: a PNG of a sane size, drawn from the scenario's figures."""
    [image] = [b for b in tab["blocks"] if b["type"] == "image"]
    png = world.slack.file_content(image["slack_file"]["id"])
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert 600 <= width <= 2000 and 200 <= height <= 2000 and len(png) < 1_000_000
    rows = json.loads(_png_text(png)["Description"])
    a_week, b_week = rows["+1 555-000-0001"][-1], rows["+1 555-000-0002"][-1]
    # Number A: Ana's two threads and Bo's, two resolved, rated 5 and 4; one reply (Ana's
    # second thread): the rating questions are not replies.
    assert (a_week["opened"], a_week["resolved"], a_week["ratings"]) == (3, 2, 2)
    assert a_week["rating"] == 4.5 and a_week["reply_median"] is not None
    assert a_week["reply_median"] == a_week["reply_p90"]
    assert (b_week["opened"], b_week["resolved"], b_week["ratings"]) == (1, 1, 1)
    assert b_week["rating"] == 3.0 and b_week["reply_median"] is None
    assert all(w["opened"] == 0 for w in rows["+1 555-000-0001"][:-1])
    assert all(text in json.dumps(tab["blocks"], ensure_ascii=False) for text in _CHART_TEXT)


_CHART_TEXT = (
    "*+1 555-000-0001*, last 7 days: 3 opened, 2 resolved",
    "*+1 555-000-0002*, last 7 days: 1 opened, 1 resolved · first reply median –, "
    "90th percentile – · average rating 3.0 (1 rating)",
)


def _home_shows(world: World, texts: tuple[str, ...]) -> bool:
    """Open the Home tab and wait for its publish; whether it shows all `texts`."""
    before = len(world.slack.calls_to("views.publish"))
    home = {"type": "app_home_opened", "user": AGENT, "tab": "home"}
    world.post(world.driver.event({**home, "event_ts": world.driver.next_ts()}))
    wait_until(
        lambda: len(world.slack.calls_to("views.publish")) > before, DEADLINE, "the Home tab"
    )
    tabs = [v for v in world.slack.views if v["type"] == "home"]
    shown = json.dumps(tabs[-1]["blocks"], ensure_ascii=False) if tabs else ""
    return all(text in shown for text in texts)


def _status(world: World, channel: str) -> str:
    before = len(world.slack.responses)
    world.post(world.driver.slash_command("status", user_id=AGENT, channel_id=channel))
    wait_until(lambda: len(world.slack.responses) > before, DEADLINE, "/wati status")
    return str(world.slack.responses[before].get("text"))


@pytest.mark.parametrize("mode", MODES)
def test_ratings_and_monthly_sends_through_the_real_process(tmp_path: Path, mode: str) -> None:
    # The chart's figures are read again at every desk job (every 10 s) instead of every 15 min.
    env = {"BRIDGE_RATING_TEMPLATE": TEMPLATE, "BRIDGE_CHART_MINUTES": "0"}
    with World(tmp_path, mode=mode, extra_env=env) as world:
        world.slack.add_channel(SLACK_A, "support", members=[AGENT])
        world.slack.add_channel(SLACK_B, "sales", members=[AGENT])
        world.sandbox.add_template(TEMPLATE, "Hi {{name}}, how would you rate our help, 1 to 5?")
        world.prepare([(NUMBER_A, ANA), (NUMBER_A, BO), (NUMBER_B, CY)])
        world.sandbox.customer_says(NUMBER_A, ANA, "Where is my order?", name="Ana Lima")
        world.start_bridge()
        wait_until(lambda: _parent(world, SLACK_A, ANA), DEADLINE, "Ana's thread")

        # Buttons, once: two clicks at the same moment and Slack's retry of the first.
        _click(world, SLACK_A, ANA, times=2)
        wait_until(
            lambda: world.sandbox.chat_status(NUMBER_A, ANA) == "SOLVED", DEADLINE, "resolved"
        )
        wait_until(
            lambda: any("already asked" in e["text"] for e in world.slack.ephemerals(SLACK_A)),
            DEADLINE,
            "the second click told",
        )
        [question] = _sent(world, NUMBER_A, ANA)
        assert question["type"] == "interactive" and question["text"] == wording.QUESTION
        messages = world.sandbox.messages(NUMBER_A, ANA)
        assert messages[-1]["eventType"] == "ticket"  # asked first, then solved
        # The customer taps a button: recorded, shown, not relayed, the chat solved again.
        world.sandbox.customer_taps(NUMBER_A, ANA, wording.BUTTONS[0])
        wait_until(lambda: _rated(world, SLACK_A, ANA, 5), DEADLINE, "Rated 5/5 on the parent")
        wait_until(
            lambda: world.sandbox.chat_status(NUMBER_A, ANA) == "SOLVED", DEADLINE, "solved again"
        )
        # Anything else the customer writes is relayed as usual (in a new thread).
        world.sandbox.customer_says(NUMBER_A, ANA, "One more thing: 4 pizzas")
        wait_until(
            lambda: any("4 pizzas" in t for t in _thread_texts(world, SLACK_A, ANA)),
            DEADLINE,
            "the next message relayed",
        )
        assert not any(wording.BUTTONS[0] in t for t in _thread_texts(world, SLACK_A, ANA))
        assert len(_parents(world, SLACK_A, ANA)) == 2

        # A teammate's reply in Ana's new thread: one more session message on number A.
        parent = _parent(world, SLACK_A, ANA)
        assert parent is not None
        event = world.driver.message(
            channel=SLACK_A, user=AGENT, text="On its way!", thread_ts=parent["ts"]
        )
        world.slack.add_message(event)
        world.post(world.driver.event(event))
        wait_until(
            lambda: any(s["text"] == "On its way!" for s in _sent(world, NUMBER_A, ANA)),
            DEADLINE,
            "the reply sent",
        )

        # A tenant without v3 interactive messages: a numbered text, answered in words.
        world.sandbox.api.interactive = False
        world.sandbox.customer_says(NUMBER_A, BO, "Hello?", name="Bo")
        wait_until(lambda: _parent(world, SLACK_A, BO), DEADLINE, "Bo's thread")
        _click(world, SLACK_A, BO)
        wait_until(lambda: _sent(world, NUMBER_A, BO), DEADLINE, "Bo asked")
        wait_until(
            lambda: world.sandbox.chat_status(NUMBER_A, BO) == "SOLVED", DEADLINE, "Bo resolved"
        )
        [numbered] = _sent(world, NUMBER_A, BO)
        assert numbered["type"] == "text" and numbered["text"] == wording.NUMBERED
        world.sandbox.customer_says(NUMBER_A, BO, "four")
        wait_until(lambda: _rated(world, SLACK_A, BO, 4), DEADLINE, "Rated 4/5")
        wait_until(
            lambda: world.sandbox.chat_status(NUMBER_A, BO) == "SOLVED", DEADLINE, "Bo solved again"
        )

        # Outside the window (Wati says so): the rating template, answered in stars.
        world.sandbox.api.interactive = True
        world.sandbox.customer_says(NUMBER_B, CY, "Do you ship to Berlin?", name="Cy")
        wait_until(lambda: _parent(world, SLACK_B, CY), DEADLINE, "Cy's thread")
        world.sandbox.advance(25 * 3600)
        _click(world, SLACK_B, CY)
        wait_until(
            lambda: world.sandbox.chat_status(NUMBER_B, CY) == "SOLVED", DEADLINE, "Cy resolved"
        )
        [template] = _sent(world, NUMBER_B, CY)
        assert template["templateName"] == TEMPLATE
        world.sandbox.customer_says(NUMBER_B, CY, "⭐⭐⭐")
        wait_until(lambda: _rated(world, SLACK_B, CY, 3), DEADLINE, "Rated 3/5")
        assert not any("⭐⭐⭐" in t for t in _thread_texts(world, SLACK_B, CY))

        # What replies cost, per number: A sent buttons, a numbered text and a reply; B a
        # template (its refused button send is not counted).
        a_line = "3 session replies · 0 templates · 997 of 1,000 free replies left"
        b_line = "0 session replies · 1 template · 1,000 of 1,000 free replies left"
        wait_until(lambda: a_line in _status(world, SLACK_A), DEADLINE, "number A's sends")
        assert b_line in _status(world, SLACK_B)
        metrics = httpx.get(f"{world.base_url}/metrics", timeout=10).text
        assert f'wati_bridge_sent_this_month{{kind="session",number="{NUMBER_A}"}} 3.0' in metrics
        assert f'wati_bridge_sent_this_month{{kind="template",number="{NUMBER_B}"}} 1.0' in metrics
        assert f'wati_bridge_free_replies_left{{number="{NUMBER_A}"}} 997.0' in metrics
        # The Home tab: the sends, and once the desk job has drawn it, the week's chart.
        wait_until(lambda: _home_shows(world, _CHART_TEXT), DEADLINE * 2, "the chart of the week")
        tab = [v for v in world.slack.views if v["type"] == "home"][-1]
        shown = json.dumps(tab["blocks"], ensure_ascii=False)
        assert a_line in shown and b_line in shown
        _check_chart(world, tab)
        # A clean stop waits for the desk job's drawing of the chart the tab's opening started
        # (seconds of CPU on a loaded machine).
        assert world.bridge is not None and world.bridge.stop(timeout=60) == 0
