"""Waiting customers with a hand-moved clock: the wait on the parent (redrawn on change only),
one nudge at the target and one at twice it, nothing more until answered, never @here or
@channel, and the clock paused outside business hours."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.base.hours import BusinessHours
from bot.config import Settings
from bot.devtools.harness.inproc import ManualClock
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge, build
from bot.slack import blocks
from bot.store.chats import Thread
from tests.chatops.kit import CHANNEL_A, CUSTOMER, SLACK_A, Kit, blocks_text
from tests.kit import AGENT
from tests.relay.kit import say

MINUTE = 60.0
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def desk_kit(
    settings: Settings, clock: ManualClock, slack: SlackStandIn, sandbox: Sandbox
) -> Iterator[Callable[..., Kit]]:
    """A Kit over a bridge built with these desk settings."""
    built: list[Bridge] = []

    def make(**changes: object) -> Kit:
        bridge = build(
            replace(settings, **changes),  # type: ignore[arg-type]
            clock=clock,
            process_before_response=True,
            slack_min_interval=0.0,
        )
        built.append(bridge)
        return Kit(bridge, slack, sandbox, clock)

    yield make
    for bridge in built:
        bridge.shutdown()


def nudges(kit: Kit) -> list[str]:
    """The nudges posted in the support channel (top-level messages)."""
    return [
        str(m.get("text"))
        for m in kit.slack.messages(SLACK_A)
        if str(m.get("text", "")).startswith(":alarm_clock:") and not m.get("thread_ts")
    ]


def customer_writes(kit: Kit, text: str) -> None:
    kit.sandbox.customer_says(CHANNEL_A, CUSTOMER, text, name="Ana Lima")
    kit.bridge.poller.wake(CHANNEL_A, CUSTOMER)
    kit.bridge.poller.poll_number(CHANNEL_A)


def parent_updates(kit: Kit, thread: Thread) -> int:
    return sum(1 for c in kit.slack.calls_to("chat.update") if c.args.get("ts") == thread.thread_ts)


def test_the_parent_shows_the_wait_and_is_redrawn_only_when_it_changes(
    desk_kit: Callable[..., Kit],
) -> None:
    kit = desk_kit()
    thread = kit.conversation()
    kit.bridge.desk.waiting.run()
    assert "Waiting for an answer since <!date^" in blocks_text(kit.parent(thread))
    updates = parent_updates(kit, thread)
    for _ in range(3):  # time passes: Slack shows the moment, nothing to redraw
        kit.clock.advance(10 * MINUTE)
        kit.bridge.desk.waiting.run()
    assert parent_updates(kit, thread) == updates

    say(kit.bridge, kit.slack, kit.driver, thread, "On its way!")
    kit.bridge.outbound.process()
    kit.bridge.desk.waiting.run()
    assert "Waiting for an answer" not in blocks_text(kit.parent(thread))
    assert parent_updates(kit, thread) == updates + 1
    kit.bridge.desk.waiting.run()
    assert parent_updates(kit, thread) == updates + 1


def test_one_nudge_at_the_target_one_at_twice_it_then_nothing_until_answered(
    desk_kit: Callable[..., Kit],
) -> None:
    kit = desk_kit(reply_target_minutes=30)
    thread = kit.conversation()
    run = kit.bridge.desk.waiting.run
    kit.clock.advance(29 * MINUTE)
    assert run() == 0 and nudges(kit) == []
    kit.clock.advance(2 * MINUTE)
    assert run() == 1
    [first] = nudges(kit)
    assert "*Ana Lima (+44 7700 900123)* has waited 31 minutes for an answer" in first
    assert "(target: 30 minutes)" in first and "Nobody owns it yet." in first
    assert (
        f"/archives/{SLACK_A}/p{thread.thread_ts.replace('.', '')}|Open the conversation>" in first
    )  # type: ignore[union-attr]
    assert run() == 0  # the same wait is nudged once

    kit.click(blocks.ASSIGN_ME, thread, user=AGENT)
    customer_writes(kit, "Hello??")  # still the same wait
    kit.clock.advance(30 * MINUTE)
    assert run() == 1
    second = nudges(kit)[1]
    assert "(twice the target of 30 minutes)" in second and second.endswith(f"<@{AGENT}>")
    kit.clock.advance(5 * 60 * MINUTE)
    assert run() == 0 and len(nudges(kit)) == 2
    for text in nudges(kit):
        assert "<!here" not in text and "<!channel" not in text and "<!everyone" not in text

    say(kit.bridge, kit.slack, kit.driver, thread, "Sorry for the wait!", user=AGENT)
    kit.bridge.outbound.process()
    run()
    assert kit.bridge.store.desk_chat(CHANNEL_A, CUSTOMER).waiting_since is None
    customer_writes(kit, "One more question")  # a new wait starts its own nudges
    kit.clock.advance(31 * MINUTE)
    assert run() == 1 and len(nudges(kit)) == 3


def test_an_answer_from_wati_inbox_ends_the_wait(desk_kit: Callable[..., Kit]) -> None:
    kit = desk_kit()
    thread = kit.conversation()
    kit.bridge.desk.waiting.run()
    kit.clock.advance(MINUTE)
    kit.sandbox.operator_says(CHANNEL_A, CUSTOMER, "Answered from Wati")
    kit.bridge.poller.wake(CHANNEL_A, CUSTOMER)
    kit.bridge.poller.poll_number(CHANNEL_A)
    kit.clock.advance(40 * MINUTE)
    assert kit.bridge.desk.waiting.run() == 0
    assert "Waiting for an answer" not in blocks_text(kit.parent(thread))


def test_target_zero_turns_nudges_off_but_the_wait_still_shows(
    desk_kit: Callable[..., Kit],
) -> None:
    kit = desk_kit(reply_target_minutes=0)
    thread = kit.conversation()
    kit.clock.advance(10 * 60 * MINUTE)
    assert kit.bridge.desk.waiting.run() == 0 and nudges(kit) == []
    assert "Waiting for an answer since" in blocks_text(kit.parent(thread))


def _friday() -> datetime:
    """A Friday at least a day from now (the links are dated now), midnight in Berlin."""
    day = datetime.now(BERLIN) + timedelta(days=1)
    while day.weekday() != 4:
        day += timedelta(days=1)
    return day.replace(hour=0, minute=0, second=0, microsecond=0)


def _at(friday: datetime, days: int, hour: int, minute: int) -> float:
    """Berlin wall-clock time `days` after that Friday (right across a summer-time change)."""
    day = (friday + timedelta(days=days)).replace(hour=hour, minute=minute)
    return day.astimezone(UTC).timestamp()


def test_the_clock_pauses_outside_business_hours(desk_kit: Callable[..., Kit]) -> None:
    hours = BusinessHours.parse("Mon-Fri 09:00-18:00 Europe/Berlin")
    kit = desk_kit(reply_target_minutes=30, business_hours=hours)
    friday = _friday()
    kit.clock.now = _at(friday, 0, 17, 50)
    kit.conversation()  # Friday 17:50: ten minutes of business time left
    run = kit.bridge.desk.waiting.run
    kit.clock.now = _at(friday, 0, 18, 30)  # 10 business minutes
    assert run() == 0
    kit.clock.now = _at(friday, 1, 12, 0)  # Saturday: closed
    assert run() == 0
    kit.clock.now = _at(friday, 3, 9, 19)  # Monday: 29 minutes
    assert run() == 0
    kit.clock.now = _at(friday, 3, 9, 21)
    assert run() == 1
    assert "has waited 31 minutes" in nudges(kit)[0]
    kit.clock.advance(28 * MINUTE)
    assert run() == 0
    kit.clock.advance(MINUTE + 1)  # Wati's `created` is to the millisecond: a second's margin
    assert run() == 1 and "has waited 1 hour" in nudges(kit)[1]


def test_no_nudge_is_posted_while_closed_even_when_the_wait_is_long(
    desk_kit: Callable[..., Kit],
) -> None:
    hours = BusinessHours.parse("Mon-Fri 09:00-18:00 Europe/Berlin")
    kit = desk_kit(reply_target_minutes=30, business_hours=hours)
    friday = _friday()
    kit.clock.now = _at(friday, 0, 16, 0)
    kit.conversation()
    kit.clock.now = _at(friday, 0, 19, 0)  # the wait passed both targets during hours
    assert kit.bridge.desk.waiting.run() == 0
    kit.clock.now = _at(friday, 3, 9, 0)  # Monday, opening time
    assert kit.bridge.desk.waiting.run() == 1  # one nudge (the second level), not two
    assert "twice the" in nudges(kit)[0] and len(nudges(kit)) == 1
