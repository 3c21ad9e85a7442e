"""Webhooks benchmark: the same workload with polling only and with Wati webhooks, side by side.

    python bench/webhooks.py            # both modes (about 4 minutes)
    python bench/webhooks.py --quick    # smaller counts, for a smoke run

Everything runs on loopback: the sandbox Wati (its real 10 calls / 10 s limit, sending webhooks
as a live tenant does), the Slack stand-in, and the bridge with its real scheduler and its HTTP
listener under uvicorn. With webhooks, the bridge registers its webhook through
BRIDGE_PUBLIC_URL like a deployment would. Latency runs from the moment a customer's message
reaches Wati to Slack receiving its chat.postMessage; calls count every Wati call (history,
contacts) made while the workload runs.
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from inbound import _pct, _post_times  # bench/ is on the path when run as a script

from bot.config import Settings
from bot.devtools.harness.inproc import on_clock
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge, build
from bot.web import make_asgi

NUMBER = "15550000001"
CHANNEL = "C00000001"
NUMBERS = tuple(f"1555000000{i}" for i in range(1, 6))  # the workload's numbers and channels
CHANNELS = tuple(f"C0000000{i}" for i in range(1, 6))


def _customer(i: int) -> str:
    return f"4477009{i:05d}"


def _env(tmp: Path, sandbox: Sandbox, slack: SlackStandIn) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": "bench",
        "SLACK_API_URL": slack.api_url,
        "WATI_API_ENDPOINT": sandbox.api_endpoint,
        "WATI_ACCESS_TOKEN": sandbox.token,
        "BRIDGE_DB": str(tmp / "bridge.db"),
        "BRIDGE_POLL_SECONDS": "10",
        "BRIDGE_WATI_MONTHLY_CALLS": "200000",
    }


def _serve(bridge: Bridge, sock: socket.socket) -> uvicorn.Server:
    app = make_asgi(bridge.health, bridge.dispatch, extra=bridge.webhooks.routes)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server


def workload(
    tmp: Path, *, webhooks: bool, chats: int, seconds: float, rate: float
) -> dict[str, Any]:
    """Active conversations on five numbers at BRIDGE_POLL_SECONDS=10; customers write at
    random (spread over five channels, so Slack's one post per second per channel is rarely
    what they wait for)."""
    tmp.mkdir(parents=True, exist_ok=True)
    sandbox = Sandbox(tmp / "sandbox.db", channels=NUMBERS, status_delays=(1.0, 2.0)).start()
    sandbox.monthly_quota = 10**9
    slack = SlackStandIn()
    for i, channel in enumerate(CHANNELS):
        slack.add_channel(channel, f"wa-{i}")
    slack.start()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    env = _env(tmp, sandbox, slack)
    if webhooks:
        env["BRIDGE_PUBLIC_URL"] = f"http://127.0.0.1:{sock.getsockname()[1]}"
    bridge = build(Settings.from_env(env), slack_min_interval=1.0)
    server = _serve(bridge, sock)
    for number, channel in zip(NUMBERS, CHANNELS, strict=True):
        bridge.store.link(number, channel, "UBENCH")
    time.sleep(0.01)
    customers = [(NUMBERS[i % len(NUMBERS)], _customer(i)) for i in range(chats)]
    bridge.start_jobs(tick=0.5)
    while webhooks and len(sandbox.webhooks.hooks) < len(NUMBERS):
        time.sleep(0.05)  # registered through BRIDGE_PUBLIC_URL, as a deployment does
    for number, c in customers:
        sandbox.customer_says(number, c, "hello", name=f"Customer {c[-3:]}")
        bridge.poller.wake(number, c)
    time.sleep(15)  # threads opened, every chat active (with webhooks: delivering, ids proven)
    calls_before = sandbox.calls()
    sent: dict[str, float] = {}
    rng = random.Random(7)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(rng.expovariate(rate))
        number, c = rng.choice(customers)
        sent[sandbox.customer_says(number, c, f"msg {len(sent)}")] = time.time()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(set(sent) & set(_post_times(slack))) < len(sent):
        time.sleep(0.2)
    posted = _post_times(slack)
    lat = [posted[i] - t for i, t in sent.items() if i in posted]
    calls = sandbox.calls() - calls_before
    healthy = sum(bridge.webhooks.trust.healthy(n) for n in NUMBERS)
    bridge.shutdown()
    server.should_exit = True
    slack.stop()
    sandbox.stop()
    return {
        "messages": len(sent),
        "relayed": len(lat),
        "p50": statistics.median(lat) if lat else float("nan"),
        "p99": _pct(lat, 0.99) if lat else float("nan"),
        "calls": calls,
        "healthy": healthy,
    }


def storm(tmp: Path, *, receipts: int) -> float:
    """Seconds from a new customer's message to Slack, right after `receipts` delivery
    receipts for messages the bridge did not send (a broadcast from Wati's dashboard)."""
    tmp.mkdir(parents=True, exist_ok=True)
    sandbox = Sandbox(tmp / "sandbox.db", channels=(NUMBER,), status_delays=(1.0, 2.0)).start()
    sandbox.monthly_quota = 10**9
    slack = SlackStandIn()
    slack.add_channel(CHANNEL, "wa-1")
    slack.start()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    env = _env(tmp, sandbox, slack)
    env["BRIDGE_PUBLIC_URL"] = f"http://127.0.0.1:{sock.getsockname()[1]}"
    bridge = build(Settings.from_env(env), slack_min_interval=1.0)
    server = _serve(bridge, sock)
    bridge.store.link(NUMBER, CHANNEL, "UBENCH")
    time.sleep(0.01)
    bridge.start_jobs(tick=0.5)
    while not sandbox.webhooks.hooks:
        time.sleep(0.05)
    first = sandbox.customer_says(NUMBER, _customer(0), "hello", name="Ana")
    while first not in _post_times(slack) or not bridge.webhooks.trust.ids_match():
        time.sleep(0.1)  # the first message's poll proved webhook ids are history ids
    url = sandbox.webhooks.hooks[0].url
    with httpx.Client(timeout=10) as client:
        for k in range(receipts):
            client.post(
                url,
                json={
                    "eventType": ("sentMessageDELIVERED_v2", "sentMessageREAD_v2")[k % 2],
                    "id": f"{k:024x}",
                    "conversationId": "c" * 24,
                    "timestamp": str(int(time.time())),
                },
            )
    new = sandbox.customer_says(NUMBER, _customer(1), "first time here", name="Bo")
    said = time.time()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and new not in _post_times(slack):
        time.sleep(0.05)
    seconds = _post_times(slack).get(new, float("inf")) - said
    bridge.shutdown()
    server.should_exit = True
    slack.stop()
    sandbox.stop()
    return seconds


KINDS = ("getContacts", "getMessages", "conversations")  # what an idle hour may spend


def idle_hour(
    tmp: Path, *, webhooks: bool, contacts: int, quiet_chats: int, hours: int = 1
) -> dict[str, Any]:
    """Simulated idle hours (virtual time): many contacts, some quiet chats, no traffic; the
    calls of each hour in `per_hour`, their sum in `calls`."""
    tmp.mkdir(parents=True, exist_ok=True)
    now = [datetime(2026, 12, 1, tzinfo=UTC).timestamp()]

    def clock() -> float:
        return now[0]

    sandbox = Sandbox(tmp / "sandbox.db", channels=[NUMBER], clock=clock).start()
    sandbox.monthly_quota = 10**9
    old = clock() - 30 * 86400
    with sandbox.state._tx() as conn:  # bulk-load the contacts in one transaction
        conn.executemany(
            "INSERT OR IGNORE INTO contacts (wa_id, id, name, created, last_updated) "
            "VALUES (?,?,?,?,?)",
            [(_customer(i), f"{i:024x}", f"C{i}", old, old) for i in range(contacts)],
        )
    slack = SlackStandIn()
    slack.add_channel(CHANNEL, "wa-0")
    slack.start()
    env = _env(tmp, sandbox, slack)
    bridge = build(Settings.from_env(env), clock=clock, slack_min_interval=0.0)
    on_clock(bridge, clock)  # Wati's rolling windows and the month's pacing in virtual time
    bridge.budget._now = lambda: datetime.fromtimestamp(clock(), UTC)
    store = bridge.store
    store.link(NUMBER, CHANNEL, "UBENCH")
    for i in range(quiet_chats):
        c = _customer(i)
        store.ensure_chat(NUMBER, c, origin="bench", next_poll_at=clock() + i % 600)
        days_ago = 1 + (i % 13)
        last = datetime.fromtimestamp(clock() - days_ago * 86400, UTC).isoformat()
        store.update_chat(NUMBER, c, last_activity_at=last, empty_polls=20)
    if webhooks:
        # The number's webhooks have been delivering (and their ids were proven) before.
        bridge.webhooks.trust.note_event(NUMBER, "message")
        store.put("webhook_ids", "same")
        now[0] += 601  # the last event was a while ago: the hour is quiet
    bridge.poller.discover()  # bootstrap look (not counted)
    fast = bridge.webhooks
    first = before = sandbox.calls()
    start = clock()
    next_hint, next_sweep = start + 60, start + 300
    per_hour: list[int] = []
    kinds: list[dict[str, int]] = []  # each hour's calls by endpoint
    kinds_before = {kind: sandbox.calls(kind) for kind in KINDS}
    while clock() < start + 3600 * hours:
        now[0] += 1
        bridge.poller.poll_number(NUMBER)
        fast.reconcile()
        if clock() >= next_hint:
            fast.hint()
            next_hint += 60
        if clock() >= next_sweep:
            bridge.poller.discover(sweep=True)
            next_sweep += 300
        if (clock() - start) % 3600 == 0:
            per_hour.append(sandbox.calls() - before)
            before = sandbox.calls()
            counts = {kind: sandbox.calls(kind) for kind in KINDS}
            kinds.append({k: counts[k] - kinds_before[k] for k in KINDS})
            kinds_before = counts
    calls = sandbox.calls() - first
    bridge.shutdown()
    slack.stop()
    sandbox.stop()
    return {
        "contacts": contacts,
        "quiet_chats": quiet_chats,
        "calls": calls,
        "per_hour": per_hour,
        "kinds": kinds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    parser.add_argument("--storm", action="store_true", help="only the receipt storm")
    parser.add_argument("--idle", action="store_true", help="only the three idle hours")
    args = parser.parse_args()
    q = args.quick
    if args.idle:
        with tempfile.TemporaryDirectory() as tmp_name:
            _print_idle(Path(tmp_name))
        return 0
    if args.storm:
        with tempfile.TemporaryDirectory() as tmp_name:
            _print_storm(Path(tmp_name), runs=1 if q else 3)
        return 0
    chats, seconds = (5, 20) if q else (10, 60)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        print(
            f"workload: {chats} active chats on 5 numbers, customers write at 0.5 msg/s for "
            f"{seconds} s, BRIDGE_POLL_SECONDS=10",
            flush=True,
        )
        for mode in (False, True):
            r = workload(
                tmp / f"w{int(mode)}", webhooks=mode, chats=chats, seconds=seconds, rate=0.5
            )
            name = "webhooks + polling" if mode else "polling only     "
            print(
                f"  {name}: {r['relayed']}/{r['messages']} relayed; latency p50 {r['p50']:.2f} s, "
                f"p99 {r['p99']:.2f} s; {r['calls']} Wati calls = "
                f"{r['calls'] / max(1, r['relayed']):.2f} per relayed message"
                + (
                    f" (numbers with healthy webhooks at the end: {r['healthy']}/5)" if mode else ""
                ),
                flush=True,
            )
        n = 1_000 if q else 10_000
        print(f"idle hour at a month's start, {n:,} contacts, 200 quiet chats:", flush=True)
        for mode in (False, True):
            r = idle_hour(tmp / f"i{int(mode)}", webhooks=mode, contacts=n, quiet_chats=200)
            name = "webhooks healthy " if mode else "polling only     "
            print(f"  {name}: {r['calls']} Wati calls", flush=True)
        _print_storm(tmp, runs=1 if q else 3)
    return 0


def _print_idle(tmp: Path) -> None:
    """Each of three idle hours, at 1,000 and at 10,000 contacts, both modes."""
    for contacts in (1_000, 10_000):
        print(f"three idle hours, {contacts:,} contacts, 200 quiet chats:", flush=True)
        for mode in (False, True):
            r = idle_hour(
                tmp / f"idle{contacts}-{int(mode)}",
                webhooks=mode,
                contacts=contacts,
                quiet_chats=200,
                hours=3,
            )
            name = "webhooks healthy " if mode else "polling only     "
            hours = ", ".join(str(n) for n in r["per_hour"])
            print(f"  {name}: Wati calls in hours 1-3: {hours}", flush=True)
            for hour, kinds in enumerate(r["kinds"], 1):
                spent = ", ".join(f"{k} {n}" for k, n in kinds.items())
                print(f"      hour {hour}: {spent}", flush=True)


def _print_storm(tmp: Path, *, runs: int) -> None:
    waits = [storm(tmp / f"storm{r}", receipts=2_000) for r in range(runs)]
    print(
        f"receipt storm: a new customer's message after 2,000 unmatched receipts reached Slack "
        f"in a median {statistics.median(waits):.1f} s ({runs} runs: "
        + ", ".join(f"{w:.1f}" for w in waits)
        + " s)",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
