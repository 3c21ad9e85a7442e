"""Fixtures of the privacy tests: both numbers linked, as in the relay tests."""

from __future__ import annotations

import pytest

from bot.devtools.harness.inproc import ManualClock
from bot.service import Bridge
from tests.kit import ADMIN, CHANNEL_A, CHANNEL_B, SLACK_A, SLACK_B


@pytest.fixture
def linked(bridge: Bridge, clock: ManualClock) -> Bridge:
    """The bridge with both numbers linked; customer messages after this moment are relayed."""
    bridge.store.link(CHANNEL_A, SLACK_A, ADMIN)
    bridge.store.link(CHANNEL_B, SLACK_B, ADMIN)
    clock.catch_up()  # customer messages after the links are relayed
    return bridge
