"""Wati's limits: 10 calls per rolling 10 s on some endpoints, and a monthly call quota.

`RateWindow` keeps the bridge under a per-endpoint rolling limit and holds off after a 429.
`Budget` counts every call in the store and paces polling over the month, keeping a reserve
so that replies can still be sent when polling has used its share.
"""

from __future__ import annotations

import calendar
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.store import Store

# Endpoints Wati limits to 10 calls per 10 s (docs/WATI.md#rate-limits-and-quota).
LIMITED_ENDPOINTS = ("getMessages", "getContacts", "addContact")


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


class Budget:
    """The month's Wati calls: counted in the store, polling paced to the quota.

    Polling may spend `monthly_calls * (1 - reserve)` calls a month, earned evenly over the
    month plus a burst allowance, so a quiet night leaves calls for a busy morning. Sends are
    refused only when the whole quota is spent.
    """

    def __init__(
        self,
        store: Store,
        monthly_calls: int,
        *,
        reserve: float = 0.2,
        burst: int | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.monthly_calls = monthly_calls
        self.reserve = reserve
        self.burst = burst if burst is not None else max(30, monthly_calls // 200)
        self._now = now
        self._lock = threading.Lock()
        self._cache: tuple[str, dict[str, int]] | None = None
        self._recorded = 0  # calls counted so far: a cache read before the last one is stale

    def record(self, endpoint: str) -> None:
        """Count one call (the WatiClient's on_call hook calls this before each request)."""
        self.store.count_call(endpoint, self._now().strftime("%Y-%m-%d"))
        with self._lock:
            self._cache = None
            self._recorded += 1

    def used(self) -> dict[str, int]:
        """Calls this month, per endpoint.

        The store is read without this lock held: /healthz holds the store's lock and then
        asks for the quota, so taking them the other way round here deadlocked the bridge.
        """
        month_start = self._now().strftime("%Y-%m-01")
        with self._lock:
            cached, recorded = self._cache, self._recorded
        if cached is not None and cached[0] == month_start:
            return dict(cached[1])
        counts = self.store.calls_since(month_start)
        with self._lock:
            if self._recorded == recorded:
                self._cache = (month_start, counts)
        return dict(counts)

    def used_total(self) -> int:
        """All calls this month."""
        return sum(self.used().values())

    def poll_allowance(self) -> float:
        """Polling calls that may be spent by now this month (earned evenly, plus the burst)."""
        now = self._now()
        days = calendar.monthrange(now.year, now.month)[1]
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        fraction = (now - start).total_seconds() / (days * 86400)
        share = self.monthly_calls * (1 - self.reserve)
        return min(share, share * fraction + self.burst)

    def may_poll(self) -> bool:
        """Whether a polling call fits the pace and leaves the reserve untouched."""
        return self.used_total() < self.poll_allowance()

    def pace(self, wanted: float, share: float) -> float:
        """Seconds between the runs of a recurring polling call that would run every `wanted`.

        `wanted` while at least half the burst allowance is saved up; as the saved calls run
        out, stretched toward the interval at which the call takes only `share` of the
        month's even pace, so a small plan is not spent on one kind of call.
        """
        now = self._now()
        seconds = calendar.monthrange(now.year, now.month)[1] * 86400
        rate = self.monthly_calls * (1 - self.reserve) / seconds
        sustainable = 1 / max(rate * share, 1e-9)
        room = (self.poll_allowance() - self.used_total()) / max(1.0, self.burst / 2)
        if room >= 1 or sustainable <= wanted:
            return wanted
        return wanted + (1 - max(0.0, room)) * (sustainable - wanted)

    def may_send(self) -> bool:
        """Whether any quota is left for a send."""
        return self.used_total() < self.monthly_calls

    def summary(self) -> str:
        """One line for /wati status and /healthz."""
        used = self.used_total()
        pct = 100 * used / self.monthly_calls if self.monthly_calls else 0
        return f"{used:,} of {self.monthly_calls:,} Wati calls this month ({pct:.1f}%)"


@dataclass
class Windows:
    """The tenant's rolling windows, one per limited endpoint family, shared by every caller."""

    messages: RateWindow = field(default_factory=RateWindow)
    contacts: RateWindow = field(default_factory=RateWindow)
