"""manifest.yml against Slack's schema, and against what the code registers and needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from bot import listeners
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_driver.prepared import Prepared
from bot.devtools.slack_standin.server import SlackStandIn
from bot.listeners import commands
from bot.ops.doctor import BOT_SCOPES
from bot.service import Bridge
from tests.kit import ADMIN, SIGNING_SECRET, SLACK_A

MANIFEST = Path(__file__).resolve().parents[1] / "manifest.yml"
# Slack's published manifest schema, kept with the tests (see tests/fixtures/slack/README.md).
SCHEMA = Path(__file__).resolve().parent / "fixtures" / "slack" / "manifest.schema.1.0.0.json"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_manifest_is_valid_against_slacks_schema(manifest: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    errors = sorted(Draft7Validator(schema).iter_errors(manifest), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_bot_scopes_are_the_ones_the_code_uses(manifest: dict[str, Any]) -> None:
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert len(scopes) == len(set(scopes))
    assert set(scopes) == BOT_SCOPES


def test_shortcuts_are_the_ones_the_code_handles(manifest: dict[str, Any]) -> None:
    declared = {s["callback_id"]: s["type"] for s in manifest["features"]["shortcuts"]}
    assert declared == listeners.SHORTCUTS


def test_bot_events_cover_channel_messages_and_interactivity_is_on(
    manifest: dict[str, Any],
) -> None:
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert {"message.channels", "message.groups"} <= set(events)
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def test_usage_hint_names_every_subcommand_of_the_table(manifest: dict[str, Any]) -> None:
    # The hint Slack shows while typing `/wati` lists the rows of `commands.SUBCOMMANDS`:
    # a new subcommand is added to manifest.yml's usage_hint too.
    [wati] = manifest["features"]["slash_commands"]
    named = {part.split()[0] for part in wati["usage_hint"].split(" | ")}
    assert named == {sub.name for sub in commands.SUBCOMMANDS}


def test_every_declared_command_and_shortcut_reaches_a_listener(
    manifest: dict[str, Any], bridge: Bridge, slack: SlackStandIn
) -> None:
    driver = SlackDriver(SIGNING_SECRET, response_url_factory=slack.response_url)

    def status(prepared: Prepared) -> int:
        return prepared.dispatch(bridge.app).status

    message = {"type": "message", "user": ADMIN, "text": "hello", "ts": driver.next_ts()}
    for command in manifest["features"]["slash_commands"]:
        assert (
            status(
                driver.slash_command(
                    "help", user_id=ADMIN, channel_id=SLACK_A, command=command["command"]
                )
            )
            == 200
        )
    for shortcut in manifest["features"]["shortcuts"]:
        if shortcut["type"] == "global":
            prepared = driver.shortcut(shortcut["callback_id"], user_id=ADMIN)
        else:
            prepared = driver.message_action(
                shortcut["callback_id"], user_id=ADMIN, channel_id=SLACK_A, message=message
            )
        assert status(prepared) == 200, shortcut["callback_id"]
    # And something no listener handles is answered 404, so the checks above mean something.
    assert status(driver.shortcut("not_declared_anywhere", user_id=ADMIN)) == 404


def test_the_home_tab_and_its_event_are_declared_and_handled(
    manifest: dict[str, Any], bridge: Bridge, slack: SlackStandIn
) -> None:
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]
    assert "users:read.email" in manifest["oauth_config"]["scopes"]["bot"]
    # Mentions in `/wati assign @someone` arrive as <@U…|name> only when Slack escapes them.
    [wati] = manifest["features"]["slash_commands"]
    assert wati["should_escape"] is True
    driver = SlackDriver(SIGNING_SECRET)
    event = {"type": "app_home_opened", "user": ADMIN, "tab": "home", "event_ts": "1.0"}
    assert driver.event(event).dispatch(bridge.app).status == 200
    assert [c.method for c in slack.calls if c.method == "views.publish"] == ["views.publish"]
