"""Names shared by the tests and their fixtures (the hand-moved clock is `ManualClock`)."""

from __future__ import annotations

SIGNING_SECRET = "test-signing-secret"
CHANNEL_A, CHANNEL_B = "15550000001", "15550000002"
SLACK_A, SLACK_B = "C0SUPPORT", "C0SALES"
ADMIN, AGENT = "U0ADMIN", "U0AGENT"
