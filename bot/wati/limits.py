"""Wati's rolling limit: 10 calls per 10 s on some endpoints (the monthly quota: `bot.relay.budget`).

`RateWindow` keeps the bridge under a per-endpoint rolling limit and holds off after a 429.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

# Endpoints Wati limits to 10 calls per 10 s (docs/WATI.md#rate-limits-and-quota).
LIMITED_ENDPOINTS = ("getMessages", "getContacts", "addContact")
MARGIN = 0.5  # seconds added to the bridge's own 10 s window (see Windows)


class RateWindow:
    """At most `limit` calls in any `period` seconds, plus a hold after a 429."""

    def __init__(
        self, limit: int = 10, period: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.period = period
        self._clock = clock
        self._stamps: deque[float] = deque()
        self._held_until = 0.0
        self._lock = threading.Lock()

    def wait_time(self) -> float:
        """Seconds until a call may be made (0 when one may be made now)."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            wait = max(0.0, self._held_until - now)
            if len(self._stamps) >= self.limit:
                wait = max(wait, self._stamps[0] + self.period - now)
            return wait

    def free_slots(self) -> int:
        """Calls that may be made right now."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            return 0 if now < self._held_until else max(0, self.limit - len(self._stamps))

    def try_acquire(self) -> bool:
        """Take a slot if one is free now."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            if now < self._held_until or len(self._stamps) >= self.limit:
                return False
            self._stamps.append(now)
            return True

    def acquire(self, timeout: float, sleep: Callable[[float], None] = time.sleep) -> bool:
        """Wait up to `timeout` seconds for a slot."""
        deadline = self._clock() + timeout
        while not self.try_acquire():
            wait = self.wait_time()
            if self._clock() + wait > deadline:
                return False
            sleep(max(wait, 0.01))
        return True

    def hold(self, seconds: float) -> None:
        """Make no call for `seconds` (after Wati answered 429)."""
        with self._lock:
            self._held_until = max(self._held_until, self._clock() + seconds)

    def _expire(self, now: float) -> None:
        while self._stamps and self._stamps[0] <= now - self.period:
            self._stamps.popleft()


@dataclass
class Windows:
    """The tenant's rolling windows, one per limited endpoint family, shared by every caller."""

    # A call is counted here when it leaves; Wati counts it when it arrives, and a loaded host
    # may delay one call more than the next: the bridge's window is a little longer than
    # Wati's, or a full window sometimes meets a 429 (and its hold) at the boundary.
    messages: RateWindow = field(default_factory=lambda: RateWindow(period=10.0 + MARGIN))
    contacts: RateWindow = field(default_factory=lambda: RateWindow(period=10.0 + MARGIN))
