"""Fixtures of the reliability tests that drive an in-process bridge on the test clock."""

from __future__ import annotations

import pytest

from bot.devtools.harness.inproc import ManualClock, on_clock
from bot.devtools.harness.world import ADMIN, NUMBER_A, NUMBER_B, SLACK_A, SLACK_B
from bot.service import Bridge


@pytest.fixture
def linked(bridge: Bridge, clock: ManualClock) -> Bridge:
    """The bridge with both numbers linked, its rate windows on the test clock."""
    bridge.store.link(NUMBER_A, SLACK_A, ADMIN)
    bridge.store.link(NUMBER_B, SLACK_B, ADMIN)
    on_clock(bridge, clock)
    clock.catch_up()
    return bridge
