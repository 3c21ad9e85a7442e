"""The last weeks in figures (real SQLite) and the cached picture on the Home tab (the Slack
stand-in on loopback): what is counted in which week, first replies in business hours, and a
chart drawn and uploaded once per change of its figures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.base.clock import Clock
from bot.base.hours import BusinessHours
from bot.devtools.slack_standin.server import SlackStandIn
from bot.insights import week
from bot.insights.picture import WeekPicture
from bot.store import Store, open_store
from bot.store.db import iso

NUMBER, OTHER = "15550000001", "15550000002"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(tmp_path / "bridge.db")
    opened.link(NUMBER, "C0SUPPORT", "U0ADMIN")
    opened.link(OTHER, "C0SALES", "U0ADMIN")
    yield opened
    opened.close()


def conversation(
    store: Store,
    customer: str,
    *,
    opened: datetime,
    reply_after: timedelta | None = None,
    resolved: datetime | None = None,
    rating: int | None = None,
    number: str = NUMBER,
) -> None:
    store.ensure_chat(number, customer, origin="test", next_poll_at=None)
    thread = store.create_thread(number, customer, "C0SUPPORT", None)
    store.update_thread(thread.id, opened_at=iso(opened), thread_ts=f"{customer}.1", state="open")
    store.record_message(
        f"in-{customer}",
        channel_number=number,
        customer_number=customer,
        direction="in",
        created=iso(opened),
        state="posted",
        thread_id=thread.id,
    )
    if reply_after is not None:
        store.enqueue_reply(
            slack_channel_id="C0SUPPORT",
            slack_ts=f"{customer}.2",
            event_id=None,
            thread_id=thread.id,
            channel_number=number,
            customer_number=customer,
            user_id="U0AGENT",
            body="hello",
            files=None,
            state="sent",
            local_message_id=f"local-{customer}",
            created_at=iso(opened + reply_after),
        )
    if resolved is not None:
        store.update_thread(thread.id, state="resolved", status_at=iso(resolved))
    if rating is not None:
        store.claim_survey(
            thread.id, channel_number=number, customer_number=customer, by="U0AGENT", at=iso(opened)
        )
        store.update_survey(thread.id, state="asked")
        store.record_rating(
            thread.id, rating, wati_id=f"answer-{customer}", at=iso(resolved or opened)
        )


def test_each_week_counts_its_conversations_replies_and_ratings(store: Store) -> None:
    day = timedelta(days=1)
    for k, minutes in enumerate((2, 4, 6, 8, 100)):
        conversation(
            store, f"44770090010{k}", opened=NOW - day, reply_after=timedelta(minutes=minutes)
        )
    conversation(store, "447700900200", opened=NOW - 2 * day, resolved=NOW - day, rating=5)
    conversation(store, "447700900201", opened=NOW - 9 * day, resolved=NOW - 8 * day, rating=2)
    conversation(store, "447700900202", opened=NOW - 60 * day, reply_after=timedelta(minutes=1))
    conversation(store, "447700900203", opened=NOW - day, number=OTHER, rating=4)

    found = week.figures(store, [NUMBER, OTHER], NOW, None)

    last, before = found[NUMBER][-1], found[NUMBER][-2]
    assert (last.opened, last.resolved, last.reply_median, last.reply_p90) == (6, 1, 6.0, 100.0)
    assert (last.rating, before.rating) == (5.0, 2.0)
    assert (before.opened, before.resolved, before.reply_median) == (1, 1, None)
    assert all(w.opened == 0 for w in found[NUMBER][:-2])  # 60 days ago is out of the picture
    assert (found[OTHER][-1].opened, found[OTHER][-1].rating) == (1, 4.0)
    assert found[NUMBER][-1].summary()["week"] == "2026-11-30"


def test_rating_questions_are_not_first_replies(store: Store) -> None:
    conversation(store, "447700900100", opened=NOW - timedelta(hours=2), rating=3)
    thread = store.current_thread(NUMBER, "447700900100")
    assert thread is not None
    store.enqueue_reply(
        slack_channel_id="C0SUPPORT",
        slack_ts="question.1",
        event_id=None,
        thread_id=thread.id,
        channel_number=NUMBER,
        customer_number="447700900100",
        user_id="U0AGENT",
        body="How would you rate us?",
        files=None,
        state="sent",
        local_message_id="question",
        created_at=iso(NOW - timedelta(hours=1)),
    )
    reply = store.reply_by_local_id("question")
    assert reply is not None
    store.update_survey(thread.id, reply_id=reply.id)

    assert week.figures(store, [NUMBER], NOW, None)[NUMBER][-1].reply_minutes == []


def test_first_replies_count_business_time_when_hours_are_set(store: Store) -> None:
    friday = datetime(2026, 12, 4, 16, 50, tzinfo=UTC)  # 17:50 in Berlin, ten minutes to close
    conversation(
        store, "447700900100", opened=friday, reply_after=timedelta(days=2, hours=15, minutes=20)
    )
    hours = BusinessHours.parse("Mon-Fri 09:00-18:00 Europe/Berlin")

    [minutes] = week.figures(store, [NUMBER], NOW, hours)[NUMBER][-1].reply_minutes

    assert minutes == pytest.approx(20.0)  # ten on Friday, ten on Monday from 09:00


def test_the_picture_is_drawn_once_per_change(store: Store) -> None:
    conversation(store, "447700900100", opened=NOW - timedelta(hours=3), rating=4)
    moments = [0.0]
    with SlackStandIn() as slack:
        picture = WeekPicture(
            store=store,
            client=WebClient(token=slack.bot_token, base_url=slack.api_url),
            clock=Clock(lambda: NOW.timestamp()),
            hours=None,
            ttl=60.0,
            monotonic=lambda: moments[0],
        )
        picture.refresh()  # no Home tab opened yet: nothing is drawn
        assert slack.calls_to("files.completeUploadExternal") == []
        first = picture.blocks([OTHER, NUMBER])  # the first opening draws it
        assert picture.blocks([NUMBER, OTHER]) == first
        moments[0] = 120.0
        picture.refresh()  # stale, figures unchanged: no new drawing
        assert len(slack.calls_to("files.completeUploadExternal")) == 1
        conversation(store, "447700900101", opened=NOW - timedelta(hours=1))
        picture.refresh()
        assert picture.blocks([NUMBER, OTHER]) == first  # fresh again: not redrawn yet
        moments[0] = 240.0
        picture.refresh()
        second = picture.blocks([NUMBER, OTHER])
        assert len(slack.calls_to("files.completeUploadExternal")) == 2
    [image] = [b for b in second if b["type"] == "image"]
    [old] = [b for b in first if b["type"] == "image"]
    assert image["slack_file"]["id"] != old["slack_file"]["id"]
    text = json.dumps(second, ensure_ascii=False)
    assert "*+1 555-000-0001*, last 7 days: 2 opened, 0 resolved" in text
    assert "average rating 4.0 (1 rating)" in text
