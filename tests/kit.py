"""Names shared by the tests and their fixtures (the hand-moved clock is `ManualClock`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SIGNING_SECRET = "test-signing-secret"
CHANNEL_A, CHANNEL_B = "15550000001", "15550000002"
SLACK_A, SLACK_B = "C0SUPPORT", "C0SALES"
ADMIN, AGENT = "U0ADMIN", "U0AGENT"


def cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot …` with a clean environment (no stray SLACK_/WATI_ variables), on
    the code under test whatever the working folder."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WATI_", "BRIDGE_"))}
    base["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**base, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
