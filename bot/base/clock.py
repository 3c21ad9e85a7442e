"""The bridge's one clock, shared by polling, sending and chat-ops (tests move it by hand)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime


class Clock:
    """Seconds since the epoch from `source`, also as an aware datetime."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self.source = source

    def __call__(self) -> float:
        return self.source()

    def now(self) -> datetime:
        """The clock as an aware UTC datetime."""
        return datetime.fromtimestamp(self.source(), UTC)
