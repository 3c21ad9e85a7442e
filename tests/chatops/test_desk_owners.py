"""Ownership through signed requests: Assign to me, /wati assign and unassign, assignOperator
in the sandbox by the Slack user's e-mail, the not-an-operator case, the first-responder rule."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from bot.config import Settings
from bot.devtools.harness.inproc import ManualClock
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge, build
from bot.slack import blocks
from tests.chatops.kit import CHANNEL_A, CUSTOMER, SLACK_A, SLACK_B, Kit, blocks_text
from tests.kit import ADMIN, AGENT
from tests.relay.kit import say

SAM_EMAIL = "sam@example.com"


def staff(slack: SlackStandIn, sandbox: Sandbox) -> None:
    """Sam is a Wati operator with the e-mail Slack shows for him; Ada is in Slack only."""
    slack.add_user(AGENT, name="sam", real_name="Sam Agent", email=SAM_EMAIL)
    slack.add_user(ADMIN, name="ada", real_name="Ada Admin", is_admin=True, email="ada@example.com")
    sandbox.add_operator(SAM_EMAIL, "Sam Agent")


@pytest.fixture
def team(kit: Kit) -> Kit:
    staff(kit.slack, kit.sandbox)
    return kit


def _buttons(message: dict[str, object]) -> list[str]:
    return [
        e["action_id"]
        for b in message.get("blocks") or []  # type: ignore[attr-defined]
        for e in b.get("elements") or []
        if e.get("type") == "button"
    ]


def test_assign_to_me_assigns_in_wati_by_email_and_the_parent_shows_the_owner(team: Kit) -> None:
    thread = team.conversation()
    parent = team.parent(thread)
    assert "No owner yet" in blocks_text(parent)
    assert {blocks.ASSIGN_ME, blocks.SAVED_REPLY} <= set(_buttons(parent))

    team.click(blocks.ASSIGN_ME, thread, user=AGENT)

    assert team.sandbox.assignee(CHANNEL_A, CUSTOMER) == SAM_EMAIL
    desk = team.bridge.store.desk_chat(CHANNEL_A, CUSTOMER)
    assert (desk.owner_id, desk.owner_in_wati, desk.assigned_by) == (AGENT, 1, AGENT)
    shown = blocks_text(team.parent(thread))
    assert f"Owner: <@{AGENT}>" in shown and "Slack only" not in shown
    assert team.told() == ["This conversation is now assigned to you, in Slack and in Wati."]


def test_someone_wati_does_not_know_is_owner_in_slack_only_and_is_told_why(team: Kit) -> None:
    thread = team.conversation()
    team.click(blocks.ASSIGN_ME, thread, user=ADMIN)

    assert team.sandbox.assignee(CHANNEL_A, CUSTOMER) is None
    desk = team.bridge.store.desk_chat(CHANNEL_A, CUSTOMER)
    assert (desk.owner_id, desk.owner_in_wati) == (ADMIN, 0)
    assert f"Owner: <@{ADMIN}> (in Slack only)" in blocks_text(team.parent(thread))
    [said] = team.told()
    assert "in Slack only" in said and "is not a Wati operator" in said
    assert "ada@example.com" in said and "Operator not found" in said


def test_assign_and_unassign_commands_name_the_customer_by_number(team: Kit) -> None:
    thread = team.conversation()
    team.command(f"assign <@{AGENT}|sam> +44 7700 900123", user=ADMIN)

    assert team.sandbox.assignee(CHANNEL_A, CUSTOMER) == SAM_EMAIL
    assert f"Owner: <@{AGENT}>" in blocks_text(team.parent(thread))
    # The new owner hears of it in the thread (a mention), the one who assigned ephemerally.
    note = f":bust_in_silhouette: <@{ADMIN}> assigned this conversation to <@{AGENT}>."
    assert note in team.thread_texts(thread)
    assert (
        team.told()[-1] == f"This conversation is now assigned to <@{AGENT}>, in Slack and in Wati."
    )

    team.command("unassign 447700900123", user=AGENT)
    assert team.sandbox.assignee(CHANNEL_A, CUSTOMER) is None  # back to Wati's bot
    assert team.bridge.store.desk_chat(CHANNEL_A, CUSTOMER).owner_id is None
    assert "No owner yet" in blocks_text(team.parent(thread))
    assert team.told()[-1] == f"<@{AGENT}> no longer owns this conversation."


def test_assign_refusals_are_plain_words(team: Kit) -> None:
    team.conversation()
    cases = {
        "assign @sam 447700900123": "pick the person from Slack's suggestions",
        "assign 447700900123": "Whom?",
        f"assign <@{AGENT}>": "Which customer?",
        f"assign <@{AGENT}> 5511912345678": "no open conversation with +55",
        f"assign <@{AGENT}> 12": "is not a phone number",
        "unassign 447700900123": "Nobody owns this conversation",
    }
    for text, expected in cases.items():
        team.command(text)
        assert expected in team.told()[-1], text
    team.command(f"assign <@{AGENT}> 447700900123", channel=SLACK_B)  # not this number's channel
    assert "no open conversation" in team.told()[-1]
    assert team.sandbox.assignee(CHANNEL_A, CUSTOMER) is None


def test_assign_to_me_twice_changes_nothing_and_a_takeover_says_whose_it_was(team: Kit) -> None:
    thread = team.conversation()
    team.click(blocks.ASSIGN_ME, thread, user=AGENT)
    team.click(blocks.ASSIGN_ME, thread, user=AGENT)
    assert team.told()[-1] == "You already own this conversation; nothing changed."
    team.click(blocks.ASSIGN_ME, thread, user=ADMIN)
    assert f"(it was <@{AGENT}>'s)" in team.told()[-1]
    assert team.bridge.store.desk_chat(CHANNEL_A, CUSTOMER).owner_id == ADMIN


def test_assign_to_me_from_another_channel_is_refused(team: Kit) -> None:
    thread = team.conversation()
    team.click(blocks.ASSIGN_ME, thread, user=AGENT, channel=SLACK_B)
    assert team.bridge.store.desk_chat(CHANNEL_A, CUSTOMER).owner_id is None
    assert "another channel" in team.told(SLACK_B)[-1]


@pytest.fixture
def first_responder(settings: Settings, clock: ManualClock) -> Iterator[Bridge]:
    built = build(
        replace(settings, assign_on_reply=True),
        clock=clock,
        process_before_response=True,
        slack_min_interval=0.0,
    )
    try:
        yield built
    finally:
        built.shutdown()


def test_first_teammate_to_reply_owns_an_unowned_thread(
    first_responder: Bridge, slack: SlackStandIn, sandbox: Sandbox, clock: ManualClock
) -> None:
    bridge = first_responder
    staff(slack, sandbox)
    kit = Kit(bridge, slack, sandbox, clock)
    thread = kit.conversation()
    say(bridge, kit.slack, kit.driver, thread, "Looking into it")
    say(bridge, kit.slack, kit.driver, thread, "Me too", user=ADMIN)
    desk = bridge.store.desk_chat(CHANNEL_A, CUSTOMER)
    assert (desk.owner_id, desk.owner_in_wati) == (AGENT, 1)
    assert kit.sandbox.assignee(CHANNEL_A, CUSTOMER) == SAM_EMAIL
    assert f"Owner: <@{AGENT}>" in blocks_text(kit.parent(thread))


def test_without_the_rule_a_reply_assigns_nobody(team: Kit) -> None:
    thread = team.conversation()
    say(team.bridge, team.slack, team.driver, thread, "Looking into it")
    assert team.bridge.store.desk_chat(CHANNEL_A, CUSTOMER).owner_id is None


def test_a_resolved_conversation_shows_no_owner_buttons(team: Kit) -> None:
    thread = team.conversation()
    team.click(blocks.ASSIGN_ME, thread, user=AGENT)
    team.click(blocks.RESOLVE, thread, user=AGENT)
    parent = team.parent(thread)
    assert blocks.ASSIGN_ME not in _buttons(parent) and "Owner" not in blocks_text(parent)
    assert SLACK_A == thread.slack_channel_id
