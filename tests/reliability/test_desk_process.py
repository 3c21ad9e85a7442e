"""The desk in the real process: `python -m bot run` in HTTP mode, every request signed and
POSTed to /slack/events. The wait on the parent, Assign to me (assignOperator in the sandbox),
a saved reply submitted twice and sent once, and the Home tab; a bad BRIDGE_BUSINESS_HOURS
stops the bridge with exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from bot.devtools.harness.traffic import post
from bot.devtools.harness.world import ADMIN, AGENT, ANA, NUMBER_A, SLACK_A, World, wait_until
from bot.slack import blocks, team_views

EMAIL = "sam@example.com"


def _text(message: dict[str, Any]) -> str:
    parts = [str(message.get("text") or "")]
    for block in message.get("blocks") or []:
        if isinstance(block.get("text"), dict):
            parts.append(str(block["text"].get("text", "")))
        parts.extend(
            str(e.get("text", "")) for e in block.get("elements") or [] if isinstance(e, dict)
        )
    return "\n".join(parts)


def _parent(world: World) -> dict[str, Any] | None:
    for message in world.slack.messages(SLACK_A):
        if (message.get("metadata") or {}).get("event_type") == blocks.THREAD_EVENT:
            return message
    return None


def _shown(world: World, words: str) -> dict[str, Any] | None:
    parent = _parent(world)
    return parent if parent is not None and words in _text(parent) else None


def _view(world: World, callback_id: str, words: str = "") -> dict[str, Any] | None:
    found = [v for v in world.slack.views if v["callback_id"] == callback_id]
    return found[-1] if found and words in _text(found[-1]) else None


def test_the_desk_through_the_real_process(tmp_path: Path) -> None:
    with World(tmp_path) as world:
        world.slack.add_user(AGENT, name="sam", real_name="Sam Agent", email=EMAIL)
        world.slack.add_channel(SLACK_A, "support", members=[ADMIN, AGENT])
        world.sandbox.add_operator(EMAIL, "Sam Agent")
        world.prepare([(NUMBER_A, ANA)])
        # Before the start: a chat polled with nothing in it waits for the contacts hint.
        world.sandbox.customer_says(NUMBER_A, ANA, "Where is my order?", name="Ana Lima")
        world.start_bridge()
        driver = world.driver
        wait_until(
            lambda: _shown(world, "Waiting for an answer since"), 30, "the wait on the parent"
        )

        parent = _parent(world)
        assert parent is not None
        post(
            world,
            driver.block_action(
                blocks.ASSIGN_ME, user_id=AGENT, channel_id=SLACK_A, message=parent
            ),
        )
        wait_until(lambda: world.sandbox.assignee(NUMBER_A, ANA) == EMAIL, 10, "assigned in Wati")
        wait_until(lambda: _shown(world, f"Owner: <@{AGENT}>"), 10, "the owner on the parent")

        post(
            world,
            driver.slash_command(
                "replies add thanks Thank you, {name}!", user_id=ADMIN, channel_id=SLACK_A
            ),
        )
        wait_until(
            lambda: any("`thanks` added" in e["text"] for e in world.slack.ephemerals()),
            10,
            "saved",
        )
        parent = _parent(world)
        assert parent is not None
        post(
            world,
            driver.block_action(
                blocks.SAVED_REPLY, user_id=AGENT, channel_id=SLACK_A, message=parent
            ),
        )
        wait_until(lambda: _view(world, team_views.SAVED_VIEW), 10, "the saved reply modal")
        view = _view(world, team_views.SAVED_VIEW)
        assert view is not None
        [option] = view["blocks"][1]["element"]["options"]
        pick = driver.view_select(
            view,
            team_views.SAVED_PICK,
            block_id=team_views.SAVED_BLOCK,
            value=option["value"],
            user_id=AGENT,
        )
        post(world, pick)
        wait_until(
            lambda: _view(world, team_views.SAVED_VIEW, "> Thank you, Ana Lima!"), 10, "the preview"
        )
        view = _view(world, team_views.SAVED_VIEW)
        assert view is not None
        chosen = {"type": "static_select", "selected_option": option}
        submission = driver.view_submission(
            team_views.SAVED_VIEW,
            user_id=AGENT,
            values={team_views.SAVED_BLOCK: {team_views.SAVED_PICK: chosen}},
            private_metadata=view["private_metadata"],
            view_id=view["id"],
        )
        post(world, submission)
        post(world, driver.redeliver(submission))  # a retry of the same submission
        wait_until(lambda: world.sandbox.sent_by_api(), 15, "the saved reply sent")
        wait_until(lambda: not _shown(world, "Waiting for an answer"), 30, "the wait over")

        home = {
            "type": "app_home_opened",
            "user": AGENT,
            "tab": "home",
            "event_ts": driver.next_ts(),
        }
        post(world, driver.event(home))
        wait_until(
            lambda: any(
                v["type"] == "home" and v.get("user_id") == AGENT for v in world.slack.views
            ),
            10,
            "the Home tab",
        )
        [tab] = [v for v in world.slack.views if v["type"] == "home"]
        shown = _text(tab) + "\n".join(
            b["text"]["text"] for b in tab["blocks"] if b["type"] == "section"
        )
        assert "#support" in shown and "*:bust_in_silhouette: Yours* (1)" in shown
        assert "*:alarm_clock: Waiting for an answer* (0)" in shown

        assert [s["text"] for s in world.sandbox.sent_by_api()] == ["Thank you, Ana Lima!"]
        assert world.bridge is not None and world.bridge.stop() == 0


def test_a_bad_business_hours_setting_stops_the_bridge_with_exit_2(tmp_path: Path) -> None:
    with World(tmp_path, extra_env={"BRIDGE_BUSINESS_HOURS": "weekdays nine to five"}) as world:
        result = subprocess.run(
            [sys.executable, "-m", "bot", "run"],
            env=world.env(),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert "BRIDGE_BUSINESS_HOURS" in result.stderr
    assert "e.g. `Mon-Fri 09:00-18:00 Europe/Berlin`" in result.stderr
    assert "Traceback" not in result.stderr
