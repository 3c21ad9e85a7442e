"""The last weeks in figures, per linked number: conversations opened and resolved, the median
and 90th percentile of the time to the first reply (business time when BRIDGE_BUSINESS_HOURS is
set, as the waiting clock counts it), and the average rating.

Weeks end now: week 0 is the last seven days, week 1 the seven before, and so on.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.base.hours import BusinessHours, waited
from bot.store import Store
from bot.store.db import iso, parse_iso

WEEKS = 6
WEEK = timedelta(days=7)


@dataclass
class WeekFigures:
    """One number's figures for one week."""

    start: datetime
    opened: int = 0
    resolved: int = 0
    reply_minutes: list[float] = field(default_factory=list, repr=False)
    ratings: list[int] = field(default_factory=list, repr=False)

    @property
    def reply_median(self) -> float | None:
        return statistics.median(self.reply_minutes) if self.reply_minutes else None

    @property
    def reply_p90(self) -> float | None:
        if not self.reply_minutes:
            return None
        ordered = sorted(self.reply_minutes)
        return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]  # nearest rank

    @property
    def rating(self) -> float | None:
        return sum(self.ratings) / len(self.ratings) if self.ratings else None

    def summary(self) -> dict[str, object]:
        """The figures as plain values (what the chart draws and the text says)."""
        return {
            "week": f"{self.start:%Y-%m-%d}",
            "opened": self.opened,
            "resolved": self.resolved,
            "reply_median": _round(self.reply_median),
            "reply_p90": _round(self.reply_p90),
            "rating": _round(self.rating),
            "ratings": len(self.ratings),
        }


def figures(
    store: Store, numbers: list[str], now: datetime, hours: BusinessHours | None
) -> dict[str, list[WeekFigures]]:
    """Number → its weeks, oldest first."""
    since = now - WEEKS * WEEK
    weeks = {n: [WeekFigures(since + k * WEEK) for k in range(WEEKS)] for n in numbers}

    def week_of(number: str, moment: datetime | None) -> WeekFigures | None:
        if number not in weeks or moment is None or not since <= moment < now + WEEK:
            return None
        return weeks[number][min(WEEKS - 1, int((moment - since) / WEEK))]

    for times in store.thread_times(iso(since)):
        if (week := week_of(times.channel_number, parse_iso(times.opened_at))) is not None:
            week.opened += 1
        if (week := week_of(times.channel_number, parse_iso(times.resolved_at))) is not None:
            week.resolved += 1
        first_in, reply = parse_iso(times.first_in), parse_iso(times.first_reply)
        week = week_of(times.channel_number, first_in)
        if week is not None and first_in is not None and reply is not None:
            week.reply_minutes.append(waited(hours, first_in, reply) / 60)
    for number, answered, rating in store.ratings_since(iso(since)):
        if (week := week_of(number, parse_iso(answered))) is not None:
            week.ratings.append(rating)
    return weeks


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
