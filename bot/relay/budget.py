"""Wati's monthly call quota: every call counted in the store, polling paced over the month.

A reserve is kept so that replies can still be sent when polling has used its share. It lives
in relay because polling and sending are what it paces; Wati's rolling limit is `bot.wati.limits`.
"""

from __future__ import annotations

import calendar
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from bot.store import Store


class Budget:
    """The month's Wati calls: counted in the store, polling paced to the quota.

    Polling may spend `monthly_calls * (1 - reserve)` calls a month, earned evenly over the
    month plus a burst allowance, so a quiet night leaves calls for a busy morning. Sends are
    refused only when the whole quota is spent.
    """

    def __init__(
        self,
        *,
        store: Store,
        monthly_calls: int,
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
