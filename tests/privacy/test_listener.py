"""`/wati forget` in Slack: admins only, a question first, Cancel erases nothing, Erase reports;
`/wati status` says what the bridge keeps; log lines are blanked of secrets."""

from __future__ import annotations

import logging
from typing import Any

from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.server import SlackStandIn
from bot.ops.logs import HIDDEN, formatter, hide
from bot.service import Bridge
from bot.slack.erasure_blocks import FORGET_CANCEL, FORGET_CONFIRM
from tests.kit import ADMIN, AGENT, CHANNEL_A, SLACK_A
from tests.relay.kit import open_chat

ANA = "447700900123"


def wati(
    bridge: Bridge, slack: SlackStandIn, driver: SlackDriver, text: str, user: str = ADMIN
) -> dict[str, Any]:
    before = len(slack.responses)
    url = slack.response_url(channel=SLACK_A)
    prepared = driver.slash_command(text, user_id=user, channel_id=SLACK_A, response_url=url)
    assert prepared.dispatch(bridge.app).status == 200
    slack.wait_for(lambda s: len(s.responses) > before)
    return slack.responses[-1]


def press(
    bridge: Bridge,
    slack: SlackStandIn,
    driver: SlackDriver,
    question: dict[str, Any],
    action: str,
    user: str = ADMIN,
) -> dict[str, Any]:
    before = len(slack.responses)
    prepared = driver.block_action(
        action,
        user_id=user,
        channel_id=SLACK_A,
        message={**question, "ts": "1.000001"},
        response_url=slack.response_url(channel=SLACK_A),
    )
    assert prepared.dispatch(bridge.app).status == 200
    slack.wait_for(lambda s: len(s.responses) > before)
    return slack.responses[-1]


def test_only_admins_and_only_after_erase(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    open_chat(linked, sandbox, CHANNEL_A, ANA, "Ana writes")
    assert "Only" in wati(linked, slack, driver, "forget +44 7700 900123", user=AGENT)["text"]
    assert "BSUID" in wati(linked, slack, driver, "forget bob")["text"]
    assert "nothing to erase" in wati(linked, slack, driver, "forget +1 415 555 0100")["text"]
    question = wati(linked, slack, driver, "forget +44 7700 900123")
    assert "1 conversation(s) on 1 number(s)" in question["text"]
    assert press(linked, slack, driver, question, FORGET_CONFIRM, user=AGENT)["text"].startswith(
        "Only"
    )
    assert "Nothing was erased" in press(linked, slack, driver, question, FORGET_CANCEL)["text"]
    assert linked.store.chat(CHANNEL_A, ANA) is not None
    press(linked, slack, driver, question, FORGET_CONFIRM)
    slack.wait_for(lambda s: "Erased one customer" in str(s.responses[-1].get("text")))
    assert linked.store.chat(CHANNEL_A, ANA) is None
    assert "/wati forget" in wati(linked, slack, driver, "help")["text"]


def test_status_says_what_is_kept(linked: Bridge, slack: SlackStandIn, driver: SlackDriver) -> None:
    assert (
        "*Kept:* conversations are kept until erased"
        in wati(linked, slack, driver, "status")["text"]
    )


def test_log_lines_are_blanked_of_hidden_secrets() -> None:
    hide("xoxb-a-very-secret-token", None, "short")
    record = logging.LogRecord(
        "bot.x",
        logging.WARNING,
        __file__,
        1,
        "refused: %s",
        ("url?token=xoxb-a-very-secret-token",),
        None,
    )
    for kind in ("text", "json"):
        line = formatter(kind).format(record)
        assert "xoxb-a-very-secret-token" not in line and HIDDEN in line
    plain = logging.LogRecord("bot.x", logging.INFO, __file__, 1, "short words", (), None)
    assert "short words" in formatter("text").format(plain)  # too short to be hidden
