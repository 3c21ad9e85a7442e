"""BRIDGE_BUSINESS_HOURS: reading the setting, and counting business time across days and
summer time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.base.hours import BusinessHours, waited
from bot.chatops.waiting import duration

BERLIN = ZoneInfo("Europe/Berlin")


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN).astimezone(UTC)


def test_days_hours_and_zone_are_read() -> None:
    hours = BusinessHours.parse("Mon-Fri 09:00-18:00 Europe/Berlin")
    assert hours.days == frozenset(range(5)) and hours.zone.key == "Europe/Berlin"
    assert BusinessHours.parse("mon,wed,Sat 8:30-12:00 UTC").days == frozenset({0, 2, 5})
    assert BusinessHours.parse("Fri-Mon 00:00-24:00 Asia/Kolkata").days == frozenset({4, 5, 6, 0})


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("9-5", "expected days, hours and a time zone"),
        ("Mon-Fri 09:00-18:00", "expected days, hours and a time zone"),
        ("Mon-Fry 09:00-18:00 Europe/Berlin", "'mon-fry' is not a day"),
        ("Mon-Fri 18:00-09:00 Europe/Berlin", "the end after the start"),
        ("Mon-Fri 09:00-25:00 Europe/Berlin", "HH:MM-HH:MM"),
        ("Mon-Fri 09:00-18:00 Mars/Olympus", "'Mars/Olympus' is not a time zone"),
    ],
)
def test_a_bad_setting_names_the_expected_form(text: str, says: str) -> None:
    with pytest.raises(ValueError) as caught:
        BusinessHours.parse(text)
    assert says in str(caught.value)
    assert "Mon-Fri 09:00-18:00 Europe/Berlin" in str(caught.value)


def test_business_time_skips_nights_and_weekends() -> None:
    hours = BusinessHours.parse("Mon-Fri 09:00-18:00 Europe/Berlin")
    # Friday 17:30 to Monday 09:45: half an hour on Friday, 45 minutes on Monday.
    assert hours.seconds_between(at(2026, 3, 6, 17, 30), at(2026, 3, 9, 9, 45)) == 75 * 60
    assert hours.seconds_between(at(2026, 3, 7, 10), at(2026, 3, 8, 23)) == 0
    assert hours.seconds_between(at(2026, 3, 9, 10), at(2026, 3, 9, 9)) == 0
    assert not hours.is_open(at(2026, 3, 9, 8, 59)) and hours.is_open(at(2026, 3, 9, 9))
    assert not hours.is_open(at(2026, 3, 9, 18))


def test_summer_time_moves_the_hours_with_the_local_clock() -> None:
    hours = BusinessHours.parse("Mon-Sun 09:00-18:00 Europe/Berlin")
    # Berlin went to summer time on Sunday 29 March 2026: 09:00 local was 08:00 UTC on the
    # Saturday and 07:00 UTC on the Sunday.
    assert hours.is_open(datetime(2026, 3, 28, 7, 30, tzinfo=UTC)) is False
    assert hours.is_open(datetime(2026, 3, 29, 7, 30, tzinfo=UTC)) is True
    assert hours.seconds_between(at(2026, 3, 28, 12), at(2026, 3, 29, 12)) == 9 * 3600


def test_without_hours_the_wait_is_plain_time() -> None:
    assert waited(None, at(2026, 3, 7, 10), at(2026, 3, 7, 11)) == 3600
    assert waited(None, at(2026, 3, 7, 11), at(2026, 3, 7, 10)) == 0


def test_durations_read_naturally() -> None:
    assert duration(20) == "less than a minute"
    assert duration(31 * 60 - 0.5) == "31 minutes"
    assert duration(3600) == "1 hour"
    assert duration(3600 + 5 * 60) == "1 hour 5 minutes"
    assert duration(2 * 86400 + 3 * 3600 + 60) == "2 days 3 hours"
