"""Business hours (BRIDGE_BUSINESS_HOURS): when the waiting clock runs.

`Mon-Fri 09:00-18:00 Europe/Berlin`: days (names, ranges and commas: `Mon-Fri`, `Mon,Wed,Sat`,
`Mon-Thu,Sat`), one daily span, and an IANA time zone. The span is read in that zone on each
day, so summer time moves it with the local clock.

Read as people type it: the dashes word processors put in (en and em dashes, the minus sign),
spaces round them, and day names whole or cut short (`Mon`, `Monday`, `tues`, `Thurs`). Anything
else is refused with what was expected: a word that only starts like a day (`Monkey`) is not
one, so a setting is never read as fewer days than it says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

EXPECTED = "days, hours and a time zone, e.g. `Mon-Fri 09:00-18:00 Europe/Berlin`"
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_DAYS = 400  # a wait longer than this is counted up to here (no one waits a year)
_FORM = re.compile(r"^\s*(\S+)\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})\s+(\S+)\s*$")
# Hyphen-minus, hyphen, non-breaking hyphen, figure dash, en dash, em dash, minus sign.
_DASHES = re.compile(r"\s*[-\u2010\u2011\u2012\u2013\u2014\u2212]\s*")
_COMMAS = re.compile(r"\s*,\s*")


@dataclass(frozen=True)
class BusinessHours:
    """Open on `days` (0 = Monday) from `start` to `end` local time in `zone`."""

    days: frozenset[int]
    start: time
    end: time  # time.max stands for 24:00
    zone: ZoneInfo
    text: str

    @classmethod
    def parse(cls, text: str) -> BusinessHours:
        """Read the setting; ValueError says what is wrong and the expected form."""
        found = _FORM.match(_COMMAS.sub(",", _DASHES.sub("-", text)))
        if not found:
            raise ValueError(f"expected {EXPECTED}, got {text[:100]!r}")
        days_text, h1, m1, h2, m2, zone_name = found.groups()
        days = _days(days_text)
        start, end = _clock(int(h1), int(m1)), _clock(int(h2), int(m2))
        if start is None or end is None or not start < end:
            raise ValueError(
                f"the hours must be HH:MM-HH:MM with the end after the start ({EXPECTED})"
            )
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            # OSError: a name too long for a file name; the zone database is a folder of files.
            raise ValueError(
                f"{zone_name[:60]!r} is not a time zone name such as Europe/Berlin ({EXPECTED})"
            ) from None
        return cls(frozenset(days), start, end, zone, text.strip())

    def _span(self, day: datetime) -> tuple[datetime, datetime] | None:
        """The open span of a local calendar day, in UTC (None when closed that day)."""
        if day.weekday() not in self.days:
            return None
        opens = datetime.combine(day.date(), self.start, self.zone)
        closes = (
            datetime.combine(day.date() + timedelta(days=1), time(0), self.zone)
            if self.end == time.max
            else datetime.combine(day.date(), self.end, self.zone)
        )
        return opens.astimezone(UTC), closes.astimezone(UTC)

    def is_open(self, moment: datetime) -> bool:
        """Whether `moment` falls inside business hours."""
        span = self._span(moment.astimezone(self.zone))
        return span is not None and span[0] <= moment < span[1]

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """How many business-hours seconds lie between two moments."""
        if end <= start:
            return 0.0
        total = 0.0
        day = start.astimezone(self.zone).replace(hour=12, minute=0, second=0, microsecond=0)
        last = end.astimezone(self.zone).date()
        for _ in range(MAX_DAYS):
            if day.date() > last:
                break
            span = self._span(day)
            if span is not None:
                overlap = min(end, span[1]) - max(start, span[0])
                total += max(0.0, overlap.total_seconds())
            day += timedelta(days=1)
        return total


def waited(hours: BusinessHours | None, since: datetime, now: datetime) -> float:
    """Seconds a customer has waited: business time when hours are set, else plain time."""
    if hours is None:
        return max(0.0, (now - since).total_seconds())
    return hours.seconds_between(since, now)


def _clock(hour: int, minute: int) -> time | None:
    if hour == 24 and minute == 0:
        return time.max
    if 0 <= hour <= 23 and 0 <= minute <= 59:
        return time(hour, minute)
    return None


def _days(text: str) -> set[int]:
    days: set[int] = set()
    for part in text.lower().split(","):
        first, dash, last = part.partition("-")
        a, b = _day(first), _day(last) if dash else None
        if a is None or (dash and b is None):
            raise ValueError(
                f"{part[:40]!r} is not a day or a range of days like Mon-Fri or Monday-Friday "
                f"({EXPECTED})"
            )
        b = a if b is None else b
        # Mon-Fri, or a range that wraps round the week end (Fri-Mon).
        days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    return days


def _day(word: str) -> int | None:
    """0 for Monday…6 for Sunday: the whole name or its start, two letters at least."""
    word = word.strip().rstrip(".")
    if word == "weds":  # the one short form people use that is not a start of the name
        word = "wed"
    found = [i for i, name in enumerate(DAYS) if len(word) >= 2 and name.startswith(word)]
    return found[0] if len(found) == 1 else None
