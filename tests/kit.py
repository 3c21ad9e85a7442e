"""Names and the hand-moved clock shared by the tests and their fixtures."""

from __future__ import annotations

import time

SIGNING_SECRET = "test-signing-secret"
CHANNEL_A, CHANNEL_B = "15550000001", "15550000002"
SLACK_A, SLACK_B = "C0SUPPORT", "C0SALES"
ADMIN, AGENT = "U0ADMIN", "U0AGENT"


class Clock:
    """Wall-clock time that tests move forward by hand (shared by the sandbox and the bridge)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
