"""Desk benchmark: the Home tab and the waiting job over a large queue.

    python bench/desk.py                 # 5,000 conversations on two numbers
    python bench/desk.py --count 20000

Loopback only: the sandbox Wati, the Slack stand-in and a bridge built in-process; the queue
is seeded straight into the store (bot.devtools.harness.queue). Prints the time to build and
publish a Home tab (with the members cache warm, as the desk job keeps it), the Slack calls
and SQL queries that took, and the time of one waiting-job pass.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bot.config import Settings
from bot.devtools.harness.queue import seed_queue
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import build

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
    passes = []
    for _ in range(5):
        t0 = time.perf_counter()
        bridge.desk.waiting.run()
        passes.append(time.perf_counter() - t0)
    print(
        f"waiting job over {count:,} open conversations: median pass "
        f"{statistics.median(passes) * 1000:.0f} ms (one query; no Slack call when nothing changed)"
    )


if __name__ == "__main__":
    main()
