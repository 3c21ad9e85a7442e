"""Desk benchmark: the Home tab and the waiting job over a large queue.

    python bench/desk.py                 # 5,000 conversations on two numbers
    python bench/desk.py --count 20000

Loopback only: the sandbox Wati, the Slack stand-in and a bridge built in-process; the queue
is seeded straight into the store (bot.devtools.harness.queue), spread over the last six weeks
with replies and ratings. Prints the time to build and publish a Home tab (with the members
cache warm, as the desk job keeps it), the Slack calls and SQL queries that took, the same with
the week's chart drawn and uploaded (the first opening after a change), the desk job's check
of the chart when nothing changed, and the time of one waiting-job pass.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from bot.config import Settings
from bot.devtools.harness.queue import seed_queue
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.server import SlackStandIn
from bot.insights import chart, week
from bot.service import build
from bot.store import Store
from bot.store.db import iso

CHANNELS = ("15550000001", "15550000002")
SLACK = ("C0SUPPORT", "C0SALES")
AGENT = "U0AGENT"
SECRET = "bench-secret"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="conversations in all")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, SlackStandIn() as slack:
        slack.add_user(AGENT, name="sam")
        for channel, name in zip(SLACK, ("support", "sales"), strict=True):
            slack.add_channel(channel, name, members=[AGENT])
        with Sandbox(Path(tmp) / "sandbox.db", channels=CHANNELS) as sandbox:
            settings = Settings.from_env(
                {
                    "SLACK_BOT_TOKEN": slack.bot_token,
                    "SLACK_SIGNING_SECRET": SECRET,
                    "SLACK_API_URL": slack.api_url,
                    "WATI_API_ENDPOINT": sandbox.api_endpoint,
                    "WATI_ACCESS_TOKEN": sandbox.token,
                    "BRIDGE_DB": str(Path(tmp) / "bridge.db"),
                }
            )
            bridge = build(settings, process_before_response=True, slack_min_interval=0.0)
            try:
                run(bridge, slack, args.count)
            finally:
                bridge.shutdown()


def run(bridge, slack: SlackStandIn, count: int) -> None:  # type: ignore[no-untyped-def]
    for number, channel in zip(CHANNELS, SLACK, strict=True):
        bridge.store.link(number, channel, AGENT)
    started = time.perf_counter()
    now = bridge.clock.now()
    seed_queue(bridge.store, CHANNELS[0], SLACK[0], count * 4 // 5, now=now, owner=AGENT)
    seed_queue(
        bridge.store,
        CHANNELS[1],
        SLACK[1],
        count - count * 4 // 5,
        now=now,
        owner=AGENT,
        first_customer=1,
    )
    spread_over_weeks(bridge.store, now)
    print(f"seeded {count:,} conversations in {time.perf_counter() - started:.1f} s")
    bridge.desk.home.warm()
    driver = SlackDriver(SECRET)
    times, calls, statements = [], [], []
    for _ in range(10):
        slack.clear_calls()
        seen: list[str] = []
        bridge.store.db.conn.set_trace_callback(seen.append)
        event = {"type": "app_home_opened", "user": AGENT, "tab": "home", "event_ts": "1.0"}
        t0 = time.perf_counter()
        response = driver.event(event).dispatch(bridge.app)
        times.append(time.perf_counter() - t0)
        bridge.store.db.conn.set_trace_callback(None)
        assert response.status == 200
        calls.append(len(slack.calls))
        statements.append(sum(1 for q in seen if q.lstrip().lower().startswith("select")))
    print(
        f"home tab: median {statistics.median(times) * 1000:.0f} ms, "
        f"max {max(times) * 1000:.0f} ms over 10 openings; "
        f"{max(calls)} Slack call(s), {max(statements)} SQL queries each"
    )
    picture = bridge.desk.home.picture
    assert picture is not None
    drawn = []
    for _ in range(5):
        picture._pictures.clear()  # noqa: SLF001 - the bench measures the first opening
        t0 = time.perf_counter()
        response = driver.event(event).dispatch(bridge.app)
        drawn.append(time.perf_counter() - t0)
    checks = []
    for _ in range(5):
        picture.ttl = 0.0  # the desk job finds the picture stale, the figures unchanged
        t0 = time.perf_counter()
        picture.refresh()
        checks.append(time.perf_counter() - t0)
    numbers = list(CHANNELS)
    figures, draws = [], []
    for _ in range(5):
        t0 = time.perf_counter()
        weeks = week.figures(bridge.store, numbers, bridge.clock.now(), None)
        figures.append(time.perf_counter() - t0)
        rows = {n: [w.summary() for w in weeks[n]] for n in numbers}
        t0 = time.perf_counter()
        png = chart.draw(rows)
        draws.append(time.perf_counter() - t0)
    print(
        f"home tab with the week's chart drawn and uploaded (the first opening after a change): "
        f"median {statistics.median(drawn) * 1000:.0f} ms over 5 openings, of which figures "
        f"{statistics.median(figures) * 1000:.0f} ms and drawing "
        f"{statistics.median(draws) * 1000:.0f} ms ({len(png):,}-byte PNG); the desk job's "
        f"check of an unchanged chart: median {statistics.median(checks) * 1000:.0f} ms"
    )
    passes = []
    for _ in range(5):
        t0 = time.perf_counter()
        bridge.desk.waiting.run()
        passes.append(time.perf_counter() - t0)
    print(
        f"waiting job over {count:,} open conversations: median pass "
        f"{statistics.median(passes) * 1000:.0f} ms (one query; no Slack call when nothing changed)"
    )


def spread_over_weeks(store: Store, now: datetime) -> None:
    """The seeded conversations opened over six weeks; two in three answered from Slack after
    i % 90 minutes, half of them resolved a day later, one in four rated."""
    threads = store.query(
        "select id, channel_number, customer_number, slack_channel_id from threads"
    )
    with store.write():
        for i, row in enumerate(threads):
            opened = now - timedelta(hours=(i * 7) % (6 * 7 * 24) + 1)
            store.update_thread(row["id"], opened_at=iso(opened))
            store.db.execute(
                "update messages set created = ? where thread_id = ? and direction = 'in'",
                [iso(opened), row["id"]],
            )
            if i % 3:
                store.enqueue_reply(
                    slack_channel_id=row["slack_channel_id"],
                    slack_ts=f"9{i}.000001",
                    event_id=None,
                    thread_id=row["id"],
                    channel_number=row["channel_number"],
                    customer_number=row["customer_number"],
                    user_id=AGENT,
                    body="answer",
                    files=None,
                    state="sent",
                    local_message_id=f"bench-{i}",
                    created_at=iso(opened + timedelta(minutes=i % 90)),
                )
            if i % 2:
                resolved = iso(min(now, opened + timedelta(days=1)))
                store.update_thread(row["id"], state="resolved", status_at=resolved)
            if i % 4 == 1:
                store.claim_survey(
                    row["id"],
                    channel_number=row["channel_number"],
                    customer_number=row["customer_number"],
                    by=AGENT,
                    at=iso(opened),
                )
                store.update_survey(row["id"], state="asked")
                store.record_rating(row["id"], 1 + i % 5, wati_id=f"bench-{i}", at=iso(opened))


if __name__ == "__main__":
    main()
