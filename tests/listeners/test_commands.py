"""`/wati link | unlink | status | help` through signed requests dispatched to Bolt."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import Settings
from bot.devtools.harness.inproc import ManualClock
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge, build
from tests.kit import ADMIN, AGENT, CHANNEL_A, CHANNEL_B, SLACK_A, SLACK_B

UNJOINED = "C0NOTJOINED"


def wati(
    bridge: Bridge,
    slack: SlackStandIn,
    driver: SlackDriver,
    text: str,
    *,
    user: str = ADMIN,
    channel: str = SLACK_A,
) -> dict[str, Any]:
    """Run `/wati <text>` and return the answer posted to the response_url."""
    before = len(slack.responses)
    url = slack.response_url(channel=channel)
    prepared = driver.slash_command(text, user_id=user, channel_id=channel, response_url=url)
    response = prepared.dispatch(bridge.app)
    assert response.status == 200
    slack.wait_for(lambda s: len(s.responses) > before)
    return slack.responses[-1]


def test_help_and_unknown_subcommands(
    bridge: Bridge, slack: SlackStandIn, driver: SlackDriver
) -> None:
    assert "/wati link <number>" in wati(bridge, slack, driver, "")["text"]
    answer = wati(bridge, slack, driver, "frobnicate now")
    assert "I don't know `/wati frobnicate`" in answer["text"]
    assert answer.get("response_type", "ephemeral") == "ephemeral"


def test_admin_links_and_unlinks(bridge: Bridge, slack: SlackStandIn, driver: SlackDriver) -> None:
    answer = wati(bridge, slack, driver, "link +1 (555) 000-0001")
    assert answer["response_type"] == "in_channel"
    assert "+1 555-000-0001" in answer["text"]
    link = bridge.store.link_for_channel(SLACK_A)
    assert link is not None and link.channel_number == CHANNEL_A and link.linked_by == ADMIN
    answer = wati(bridge, slack, driver, "unlink")
    assert answer["response_type"] == "in_channel" and "unlinked" in answer["text"]
    assert bridge.store.link_for_channel(SLACK_A) is None
    assert "not linked" in wati(bridge, slack, driver, "unlink")["text"]


def test_non_admins_cannot_link_or_unlink(
    bridge: Bridge, slack: SlackStandIn, driver: SlackDriver
) -> None:
    assert (
        "Only workspace admins and owners"
        in wati(bridge, slack, driver, "link 15550000001", user=AGENT)["text"]
    )
    bridge.store.link(CHANNEL_A, SLACK_A, ADMIN)
    assert "Only" in wati(bridge, slack, driver, "unlink", user=AGENT)["text"]
    assert bridge.store.link_for_channel(SLACK_A) is not None


def test_bridge_admins_setting_replaces_workspace_admins(
    settings: Settings, slack: SlackStandIn, driver: SlackDriver, clock: ManualClock
) -> None:
    custom = build(
        Settings(**{**settings.__dict__, "admins": (AGENT,)}),
        clock=clock,
        process_before_response=True,
    )
    try:
        assert (
            "BRIDGE_ADMINS" in wati(custom, slack, driver, "link 15550000001", user=ADMIN)["text"]
        )
        assert (
            wati(custom, slack, driver, "link 15550000001", user=AGENT)["response_type"]
            == "in_channel"
        )
    finally:
        custom.shutdown()


@pytest.mark.parametrize("number", ["12", "hello", "+999 123", ""])
def test_bad_numbers_get_a_clear_message(
    bridge: Bridge, slack: SlackStandIn, driver: SlackDriver, number: str
) -> None:
    text = wati(bridge, slack, driver, f"link {number}")["text"]
    if number:
        assert "country code" in text
    else:  # the sandbox lists the account's numbers, so a bare `link` offers them
        assert text == "Link this channel to which WhatsApp number?"
    assert bridge.store.links() == []


def test_conflicts_are_explained(bridge: Bridge, slack: SlackStandIn, driver: SlackDriver) -> None:
    wati(bridge, slack, driver, "link 15550000001")
    taken = wati(bridge, slack, driver, "link 15550000001", channel=SLACK_B)["text"]
    assert f"already linked to <#{SLACK_A}>" in taken
    busy = wati(bridge, slack, driver, "link 15550000002")["text"]
    assert "already linked to +1 555-000-0001" in busy
    assert bridge.store.link_for_number(CHANNEL_B) is None


def test_linking_a_channel_without_the_bot_says_how_to_invite_it(
    bridge: Bridge, slack: SlackStandIn, driver: SlackDriver
) -> None:
    slack.add_channel(UNJOINED, "elsewhere", members=[ADMIN], bot_is_member=False)
    text = wati(bridge, slack, driver, "link 15550000001", channel=UNJOINED)["text"]
    assert "/invite @wati-bridge" in text
    assert bridge.store.links() == []


def test_status_shows_number_conversations_polling_backlog_errors_and_quota(
    bridge: Bridge, slack: SlackStandIn, driver: SlackDriver, sandbox: Sandbox, clock: ManualClock
) -> None:
    assert "not linked" in wati(bridge, slack, driver, "status")["text"]
    bridge.store.link(CHANNEL_A, SLACK_A, ADMIN)
    clock.advance(1)
    sandbox.customer_says(CHANNEL_A, "447700900123", "hello")
    bridge.poller.wake(CHANNEL_A, "447700900123")
    bridge.poller.poll_number(CHANNEL_A)
    bridge.store.add_error(CHANNEL_A, "getMessages failed: boom")
    answer = wati(bridge, slack, driver, "status", user=AGENT)
    text = answer["text"]
    assert answer.get("response_type", "ephemeral") == "ephemeral"
    assert "+1 555-000-0001" in text
    assert "*Open conversations:* 1" in text
    assert "*Last successful poll:* never" not in text
    assert "*Waiting to be posted:* 0" in text
    assert "getMessages failed: boom" in text
    assert "of 200,000 Wati calls this month" in text
