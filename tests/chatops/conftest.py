"""Fixtures of the chat-op tests: a `Kit` over the bridge, the stand-ins and the clock."""

from __future__ import annotations

import pytest

from bot.devtools.harness.inproc import ManualClock
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge
from tests.chatops.kit import Kit


@pytest.fixture
def kit(bridge: Bridge, slack: SlackStandIn, sandbox: Sandbox, clock: ManualClock) -> Kit:
    return Kit(bridge, slack, sandbox, clock)
