"""`/wati link` against the account's numbers, through signed requests dispatched to Bolt and a
real sandbox Wati on loopback: the picker, the refusal of a number not on the account, and the
fallback when Wati will not list them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.server import SlackStandIn
from bot.listeners.linking import LINK_PICK
from bot.service import Bridge
from tests.kit import ADMIN, AGENT, CHANNEL_A, CHANNEL_B, SLACK_A, SLACK_B
from tests.listeners.test_commands import wati


def serves_numbers(sandbox: Sandbox) -> bool:
    response = httpx.get(
        f"{sandbox.api_endpoint}/api/v2/whatsapp/phoneNumbers",
        headers={"Authorization": f"Bearer {sandbox.token}"},
    )
    return response.status_code == 200


@pytest.fixture
def listing(sandbox: Sandbox) -> Sandbox:
    if not serves_numbers(sandbox):
        pytest.skip("this sandbox does not serve /api/v2/whatsapp/phoneNumbers yet")
    return sandbox


def pick(bridge: Bridge, slack: SlackStandIn, driver: SlackDriver, value: str) -> dict[str, Any]:
    """Choose `value` in the picker of an ephemeral answer, as Slack delivers that choice."""
    before = len(slack.responses)
    option = {"text": {"type": "plain_text", "text": value}, "value": value}
    prepared = driver.interaction(
        {
            "type": "block_actions",
            "user": {"id": ADMIN, "username": "ada", "team_id": driver.team_id},
            "api_app_id": driver.api_app_id,
            "token": "t",
            "container": {"type": "message", "is_ephemeral": True, "channel_id": SLACK_A},
            "channel": {"id": SLACK_A, "name": "support"},
            "trigger_id": driver.trigger_id(),
            "team": {"id": driver.team_id, "domain": "test"},
            "response_url": slack.response_url(channel=SLACK_A),
            "actions": [
                {
                    "action_id": LINK_PICK,
                    "block_id": "pick",
                    "type": "static_select",
                    "selected_option": option,
                    "action_ts": "1.2",
                }
            ],
        }
    )
    assert prepared.dispatch(bridge.app).status == 200
    slack.wait_for(lambda s: len(s.responses) > before)
    return slack.responses[-1]


def options(answer: dict[str, Any]) -> list[str]:
    [section] = answer["blocks"]
    assert section["accessory"]["action_id"] == LINK_PICK
    return [o["value"] for o in section["accessory"]["options"]]


def test_link_alone_offers_the_unlinked_numbers_and_a_choice_links_it(
    bridge: Bridge, slack: SlackStandIn, driver: SlackDriver, listing: Sandbox
) -> None:
    bridge.store.link(CHANNEL_A, SLACK_B, ADMIN)
    answer = wati(bridge, slack, driver, "link")
    assert answer["response_type"] == "ephemeral"
    assert options(answer) == [CHANNEL_B]  # CHANNEL_A is linked in #sales already
    chosen = pick(bridge, slack, driver, CHANNEL_B)
    assert chosen["response_type"] == "in_channel" and "+1 555-000-0002" in chosen["text"]
    link = bridge.store.link_for_channel(SLACK_A)
    assert link is not None and link.channel_number == CHANNEL_B


def test_every_number_linked_says_so(
    bridge: Bridge, slack: SlackStandIn, driver: SlackDriver, listing: Sandbox
) -> None:
    bridge.store.link(CHANNEL_A, SLACK_B, ADMIN)
    bridge.store.link(CHANNEL_B, "C0THIRD", ADMIN)
    text = wati(bridge, slack, driver, "link")["text"]
    assert "linked already" in text and "+1 555-000-0001" in text


def test_a_number_not_on_the_account_is_refused_with_the_list(
    bridge: Bridge, slack: SlackStandIn, driver: SlackDriver, listing: Sandbox
) -> None:
    text = wati(bridge, slack, driver, "link +1 555 000 0009")["text"]
    assert "+1 555-000-0009 is not a WhatsApp number of this Wati account" in text
    assert "+1 555-000-0001" in text and "+1 555-000-0002" in text
    assert bridge.store.links() == []


def test_only_admins_see_the_picker(
    bridge: Bridge, slack: SlackStandIn, driver: SlackDriver, sandbox: Sandbox
) -> None:
    text = wati(bridge, slack, driver, "link", user=AGENT)["text"]
    assert "Only workspace admins and owners" in text
    # The refused teammate can tell whoever runs the bridge how to let them.
    assert "BRIDGE_ADMINS" in text and "Copy member ID" in text


def test_when_wati_will_not_list_the_numbers_a_typed_one_is_accepted_and_said_so(
    bridge: Bridge, slack: SlackStandIn, driver: SlackDriver, sandbox: Sandbox
) -> None:
    if serves_numbers(sandbox):
        for endpoint in ("phoneNumbers", "channels"):
            sandbox.faults.inject(endpoint, "500", count=5)
    before = len(slack.responses)
    answer = wati(bridge, slack, driver, "link +1 555 000 0001")
    assert answer["response_type"] == "in_channel"
    note = slack.responses[before]
    assert note["response_type"] == "ephemeral"
    assert "Wati did not list the account's numbers" in note["text"]
    assert "linking it as typed" in note["text"]
    link = bridge.store.link_for_channel(SLACK_A)
    assert link is not None and link.channel_number == CHANNEL_A
    alone = wati(bridge, slack, driver, "link", channel=SLACK_B)["text"]
    assert "Wati did not list the account's numbers" in alone and "type it" in alone
