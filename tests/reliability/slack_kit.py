"""Slash commands and button presses against the real bridge, answered on a response_url."""

from __future__ import annotations

from typing import Any

from bot.devtools.harness.traffic import post
from bot.devtools.harness.world import ADMIN, SLACK_A, World


def wati(world: World, text: str, *, user: str = ADMIN, channel: str = SLACK_A) -> dict[str, Any]:
    """Run `/wati <text>` and return the first answer posted to its response_url."""
    before = len(world.slack.responses)
    url = world.slack.response_url(channel=channel)
    command = world.driver.slash_command(text, user_id=user, channel_id=channel, response_url=url)
    answer = post(world, command)
    assert answer is not None and answer.status_code == 200
    world.slack.wait_for(lambda s: len(s.responses) > before, timeout=20)
    return world.slack.responses[before]


def press(
    world: World,
    question: dict[str, Any],
    action_id: str,
    *,
    until: str,
    user: str = ADMIN,
    channel: str = SLACK_A,
    timeout: float = 60,
) -> dict[str, Any]:
    """Press a button of an ephemeral answer; return the first later answer holding `until`."""
    before = len(world.slack.responses)
    click = world.driver.block_action(
        action_id,
        user_id=user,
        channel_id=channel,
        message={**question, "ts": "1.000001"},  # an ephemeral message has no ts of its own
        response_url=world.slack.response_url(channel=channel),
    )
    assert post(world, click) is not None

    def answered() -> list[dict[str, Any]]:
        return [r for r in world.slack.responses[before:] if until in str(r.get("text"))]

    world.slack.wait_for(lambda s: bool(answered()), timeout=timeout)
    return answered()[0]
