"""Inbound benchmark: new customers' first messages, a busy minute on five numbers, relay latency,
Wati calls per message, idle cost, and a 1,000-message burst.

    python bench/inbound.py            # everything (about 25 minutes)
    python bench/inbound.py --quick    # smaller counts, one run each, for a smoke run

Everything runs on loopback: the sandbox Wati (with its real 10 calls / 10 s limit), the Slack
stand-in and the bridge with its real scheduler. Latency is measured from the moment a
customer's message reaches Wati to the moment Slack receives the chat.postMessage for it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bot.base.clock import Clock
from bot.config import Settings
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_standin.server import SlackStandIn
from bot.relay.budget import Budget
from bot.relay.discovery import Discovery
from bot.relay.inbound import Inbound
from bot.relay.newcomers import Newcomers
from bot.relay.polling import Poller
from bot.relay.threads import Threads
from bot.service import Bridge, build
from bot.slack.poster import SlackPoster, make_web_client
from bot.store import open_store
from bot.wati.client import WatiClient
from bot.wati.limits import RateWindow, Windows


def _number(i: int) -> str:
    return f"1555{i:07d}"


def _customer(i: int) -> str:
    return f"4477009{i:05d}"


class Counting(httpx.HTTPTransport):
    """The bridge's Wati transport, counting the calls Wati answered with 429."""

    limited = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if response.status_code == 429:
            self.limited += 1
        return response


def _setup(
    tmp: Path,
    channels: int,
    *,
    min_interval: float,
    monthly: int = 200_000,
    poll_seconds: float = 10,
    transport: httpx.BaseTransport | None = None,
) -> tuple[Sandbox, SlackStandIn, Bridge]:
    tmp.mkdir(parents=True, exist_ok=True)
    numbers = [_number(i) for i in range(channels)]
    sandbox = Sandbox(tmp / "sandbox.db", channels=numbers, status_delays=(1.0, 2.0)).start()
    sandbox.monthly_quota = 10**9
    slack = SlackStandIn()
    for i in range(channels):
        slack.add_channel(f"C{i:08d}", f"wa-{i}")
    slack.start()
    settings = Settings.from_env(
        {
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": "bench",
            "SLACK_API_URL": slack.api_url,
            "WATI_API_ENDPOINT": sandbox.api_endpoint,
            "WATI_ACCESS_TOKEN": sandbox.token,
            "BRIDGE_DB": str(tmp / "bridge.db"),
            "BRIDGE_POLL_SECONDS": str(poll_seconds),
            "BRIDGE_WATI_MONTHLY_CALLS": str(monthly),
        }
    )
    bridge = build(settings, slack_min_interval=min_interval, wati_transport=transport)
    for i, number in enumerate(numbers):
        bridge.store.link(number, f"C{i:08d}", "UBENCH")
    time.sleep(0.01)
    return sandbox, slack, bridge


def _stop(sandbox: Sandbox, slack: SlackStandIn, bridge: Bridge) -> None:
    bridge.shutdown()
    slack.stop()
    sandbox.stop()


def _post_times(slack: SlackStandIn) -> dict[str, float]:
    found: dict[str, float] = {}
    for call in slack.calls_to("chat.postMessage"):
        meta = call.args.get("metadata")
        if isinstance(meta, str):
            meta = json.loads(meta)
        payload = (meta or {}).get("event_payload") or {}
        if call.ok and "wati_id" in payload:
            found.setdefault(payload["wati_id"], call.at)
    return found


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency(tmp: Path, *, chats: int, seconds: float, rate: float) -> dict[str, Any]:
    """Active conversations at the default 10 s interval; customers write at random."""
    sandbox, slack, bridge = _setup(tmp, 1, min_interval=1.0)
    number = _number(0)
    customers = [_customer(i) for i in range(chats)]
    for c in customers:
        sandbox.customer_says(number, c, "hello", name=f"Customer {c[-3:]}")
        bridge.poller.wake(number, c)
    bridge.start_jobs(tick=0.5)
    time.sleep(15)  # threads opened, every chat active
    calls_before = sandbox.calls("getMessages")
    sent: dict[str, float] = {}
    rng = random.Random(7)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(rng.expovariate(rate))
        c = rng.choice(customers)
        sent[sandbox.customer_says(number, c, f"msg {len(sent)}")] = time.time()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(set(sent) & set(_post_times(slack))) < len(sent):
        time.sleep(0.5)
    posted = _post_times(slack)
    lat = [posted[i] - t for i, t in sent.items() if i in posted]
    calls = sandbox.calls("getMessages") - calls_before
    bridge.shutdown()
    slack.stop()
    sandbox.stop()
    return {
        "chats": chats,
        "messages": len(sent),
        "relayed": len(lat),
        "p50": statistics.median(lat) if lat else float("nan"),
        "p99": _pct(lat, 0.99) if lat else float("nan"),
        "calls": calls,
        "calls_per_message": calls / max(1, len(lat)),
    }


def first_messages(tmp: Path, *, poll_seconds: float, customers: int, gap: float) -> dict[str, Any]:
    """New customers (never seen by Wati or the bridge) write their first message after the link,
    one every `gap` seconds at random; an unconstrained budget (20 million calls a month)."""
    sandbox, slack, bridge = _setup(
        tmp, 1, min_interval=1.0, monthly=20_000_000, poll_seconds=poll_seconds
    )
    bridge.start_jobs(tick=min(0.25, poll_seconds / 4))
    time.sleep(1.5)  # the first look (nothing to find)
    rng = random.Random(11)
    sent: dict[str, float] = {}
    for i in range(customers):
        time.sleep(rng.uniform(0.5, 1.5) * gap)
        wati_id = sandbox.customer_says(_number(0), _customer(500 + i), "hello", name=f"New {i}")
        sent[wati_id] = time.time()
    deadline = time.monotonic() + 10 * poll_seconds + 30
    while time.monotonic() < deadline and len(set(sent) & set(_post_times(slack))) < len(sent):
        time.sleep(0.2)
    posted = _post_times(slack)
    lat = [posted[i] - t for i, t in sent.items() if i in posted]
    _stop(sandbox, slack, bridge)
    return {
        "sent": len(sent),
        "relayed": len(lat),
        "p50": statistics.median(lat) if lat else float("nan"),
        "p99": _pct(lat, 0.99) if lat else float("nan"),
    }


def busy_minute(
    tmp: Path,
    *,
    numbers: int,
    customers: int,
    seconds: float,
    every: float,
    cold: bool = False,
    v3: bool = True,
) -> dict[str, Any]:
    """`customers` conversations spread over `numbers` linked numbers; one customer message
    every `every` seconds for `seconds`, at the default BRIDGE_POLL_SECONDS=10.

    Warm: the conversations are open in Slack before the clock starts. Cold: the customers
    have never been seen and all write at the start (their first messages count too);
    `v3=False` plays a tenant without Wati's v3 conversation list (404).
    """
    counting = Counting()
    sandbox, slack, bridge = _setup(tmp, numbers, min_interval=1.0, transport=counting)
    if not v3:
        sandbox.api.v3_conversations = 404
    people = [(_number(i % numbers), _customer(i)) for i in range(customers)]
    sent: dict[str, float] = {}
    if not cold:
        for number, customer in people:
            sandbox.customer_says(number, customer, "hello", name=f"Customer {customer[-3:]}")
            bridge.poller.wake(number, customer)  # conversations the team already has
    bridge.start_jobs(tick=0.5)
    if not cold:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(_post_times(slack)) < customers:
            time.sleep(0.5)  # every conversation open in Slack
        time.sleep(20)  # the first routine polls after the warm-up are done
    else:
        time.sleep(3)  # the bridge's first contacts look has run: every customer is new
        for number, customer in people:
            text = f"first from {customer[-3:]}"
            sent[sandbox.customer_says(number, customer, text, name=customer[-3:])] = time.time()
    warm = len(_post_times(slack))
    calls_before, limited_before = sandbox.calls(), counting.limited
    rng = random.Random(7)
    start = time.monotonic()
    for k in itertools.count():
        at = start + k * every
        if at >= start + seconds:
            break
        time.sleep(max(0.0, at - time.monotonic()))
        number, customer = rng.choice(people)
        sent[sandbox.customer_says(number, customer, f"msg {k}")] = time.time()
    end = time.time()
    by_end = _post_times(slack)
    in_minute = sum(1 for i in sent if i in by_end and by_end[i] <= end)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and len(set(sent) & set(_post_times(slack))) < len(sent):
        time.sleep(0.5)
    posted = _post_times(slack)
    within = sum(1 for i, t in sent.items() if i in posted and posted[i] <= t + 180)
    lat = [posted[i] - t for i, t in sent.items() if i in posted]
    calls = sandbox.calls() - calls_before
    limited = counting.limited - limited_before
    _stop(sandbox, slack, bridge)
    return {
        "warm": warm,
        "sent": len(sent),
        "in_minute": in_minute,
        "within_3min": within,
        "relayed": len(lat),
        "p50": statistics.median(lat) if lat else float("nan"),
        "p99": _pct(lat, 0.99) if lat else float("nan"),
        "calls": calls,
        "limited": limited,
    }


def _print_minute(label: str, minutes: list[dict[str, Any]], runs: int) -> None:
    sent = sum(x["sent"] for x in minutes)
    relayed = sum(x["relayed"] for x in minutes)
    print(
        f"{label} ({runs} runs): "
        f"median {statistics.median(x['in_minute'] / x['sent'] for x in minutes):.0%} in Slack "
        f"within the minute, median "
        f"{statistics.median(x['within_3min'] / x['sent'] for x in minutes):.0%} within 3 min, "
        f"{relayed}/{sent} in the end; median p50 "
        f"{statistics.median(x['p50'] for x in minutes):.1f} s, p99 "
        f"{statistics.median(x['p99'] for x in minutes):.1f} s; "
        f"{sum(x['limited'] for x in minutes)} 429s; Wati calls per relayed message "
        f"{statistics.median(x['calls'] / max(1, x['relayed']) for x in minutes):.2f}; "
        f"within the minute by run: {', '.join(str(x['in_minute']) for x in minutes)} of "
        f"{minutes[0]['sent']}",
        flush=True,
    )


def warm_minutes(tmp: Path, *, runs: int, seconds: float) -> None:
    """The warm minute: 40 conversations already open on 5 numbers, a message every 1.5 s."""
    minutes = [
        busy_minute(tmp / f"minute{r}", numbers=5, customers=40, seconds=seconds, every=1.5)
        for r in range(runs)
    ]
    _print_minute("warm minute, 5 numbers x 40 customers, a message every 1.5 s", minutes, runs)


def cold_minutes(
    tmp: Path, *, runs: int, seconds: float, tenants: tuple[bool, ...] = (False, True)
) -> None:
    """The cold minute: 40 never-seen customers on 5 numbers, v1 only and with v3's list."""
    for v3 in tenants:
        minutes = [
            busy_minute(
                tmp / f"cold{int(v3)}-{r}",
                numbers=5,
                customers=40,
                seconds=seconds,
                every=1.5,
                cold=True,
                v3=v3,
            )
            for r in range(runs)
        ]
        what = "with the v3 conversation list" if v3 else "v1 only"
        _print_minute(f"cold minute, 40 never-seen customers on 5 numbers, {what}", minutes, runs)


def lone_customers(
    tmp: Path, *, numbers: int, customers: int, v3: bool, poll_seconds: float = 2
) -> dict[str, Any]:
    """One new customer at a time, each on a number picked at random out of `numbers` linked
    ones: the seconds from their first message reaching Wati to Slack, and the getMessages
    calls it took."""
    sandbox, slack, bridge = _setup(
        tmp, numbers, min_interval=1.0, monthly=20_000_000, poll_seconds=poll_seconds
    )
    sandbox.api.v3_conversations = 200 if v3 else 404
    bridge.start_jobs(tick=min(0.25, poll_seconds / 4))
    time.sleep(1.5)  # the first look (nothing to find)
    rng = random.Random(23)
    waits: list[float] = []
    calls: list[int] = []
    for i in range(customers):
        before = sandbox.calls("getMessages")
        number = _number(rng.randrange(numbers))
        wati_id = sandbox.customer_says(number, _customer(700 + i), "hello", name=f"Lone {i}")
        said = time.time()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and wati_id not in _post_times(slack):
            time.sleep(0.1)
        waits.append(_post_times(slack).get(wati_id, float("inf")) - said)
        time.sleep(2 * poll_seconds)  # the asked numbers settle before the next customer
        calls.append(sandbox.calls("getMessages") - before)
    _stop(sandbox, slack, bridge)
    return {"waits": waits, "calls": calls}


def lone_minutes(tmp: Path, *, customers: int) -> None:
    """A lone new customer on 25 linked numbers at BRIDGE_POLL_SECONDS=2, v1 and v3."""
    for v3 in (False, True):
        r = lone_customers(tmp / f"lone{int(v3)}", numbers=25, customers=customers, v3=v3)
        what = "with the v3 conversation list" if v3 else "v1 only"
        print(
            f"a lone new customer on 25 linked numbers, BRIDGE_POLL_SECONDS=2, {what} "
            f"({customers} customers): median {statistics.median(r['waits']):.1f} s, "
            f"max {max(r['waits']):.1f} s; median getMessages "
            f"{statistics.median(r['calls']):.0f} per customer",
            flush=True,
        )


def idle_hour(tmp: Path, *, contacts: int, quiet_chats: int, monthly: int) -> dict[str, Any]:
    """One simulated idle hour (virtual time) with many contacts and some quiet chats."""
    # Start at the beginning of a month, where the monthly pacing is tightest.
    now = [datetime(2026, 12, 1, tzinfo=UTC).timestamp()]

    def clock() -> float:
        return now[0]

    sandbox = Sandbox(tmp / f"idle-{monthly}.db", channels=[_number(0)], clock=clock).start()
    sandbox.monthly_quota = 10**9
    old = clock() - 30 * 86400
    with sandbox.state._tx() as conn:  # bulk-load the contacts in one transaction
        conn.executemany(
            "INSERT OR IGNORE INTO contacts (wa_id, id, name, created, last_updated) VALUES (?,?,?,?,?)",
            [(_customer(i), f"{i:024x}", f"C{i}", old, old) for i in range(contacts)],
        )
    slack = SlackStandIn()
    slack.add_channel("C00000000", "wa-0")
    slack.start()
    the_clock = Clock(clock)
    store = open_store(tmp / f"idle-bridge-{monthly}.db", clock=the_clock)
    store.link(_number(0), "C00000000", "UBENCH")
    budget = Budget(store=store, monthly_calls=monthly, now=lambda: _dt(clock()))
    wati = WatiClient(sandbox.api_endpoint, sandbox.token, on_call=budget.record)
    poster = SlackPoster(make_web_client(slack.bot_token, slack.api_url), min_interval=0)
    windows = Windows(RateWindow(clock=clock), RateWindow(clock=clock))
    leaves = {"store": store, "wati": wati, "windows": windows, "clock": the_clock}
    threads = Threads(**leaves, poster=poster, budget=budget)
    inbound = Inbound(**leaves, poster=poster, threads=threads)
    newcomers = Newcomers(store=store, wati=wati, budget=budget)
    discovery = Discovery(**leaves, budget=budget, poll_seconds=10, newcomers=newcomers)
    relay = Poller(**leaves, inbound=inbound, discovery=discovery, budget=budget, poll_seconds=10)
    for i in range(quiet_chats):
        c = _customer(i)
        store.ensure_chat(_number(0), c, origin="bench", next_poll_at=clock() + i % 600)
        days_ago = 1 + (i % 13)
        store.update_chat(
            _number(0),
            c,
            last_activity_at=_dt(clock() - days_ago * 86400).isoformat(),
            empty_polls=20,
        )
    relay.discovery.run()  # bootstrap look (not counted)
    before = sandbox.calls()
    start = clock()
    while clock() < start + 3600:
        now[0] += 1
        relay.poll_number(_number(0))
        relay.discovery.run()  # the scheduler's discovery job, every tick
    calls = sandbox.calls() - before
    wati.close()
    store.close()
    slack.stop()
    sandbox.stop()
    return {"contacts": contacts, "quiet_chats": quiet_chats, "monthly": monthly, "calls": calls}


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def burst(tmp: Path, *, channels: int, per_chat: int, chats_per_channel: int) -> dict[str, Any]:
    """A burst spread over many channels, with Slack's one post per second per channel."""
    sandbox, slack, bridge = _setup(tmp, channels, min_interval=1.0)
    total = 0
    for i in range(channels):
        for j in range(chats_per_channel):
            customer = _customer(i * chats_per_channel + j)
            for k in range(per_chat):
                sandbox.customer_says(_number(i), customer, f"burst {k}")
                total += 1
    start = time.monotonic()
    for i in range(channels):
        for j in range(chats_per_channel):
            bridge.poller.wake(_number(i), _customer(i * chats_per_channel + j))
    bridge.start_jobs(tick=0.25)
    deadline = start + 600
    while time.monotonic() < deadline and len(_post_times(slack)) < total:
        time.sleep(0.25)
    elapsed = time.monotonic() - start
    relayed = len(_post_times(slack))
    bridge.shutdown()
    slack.stop()
    sandbox.stop()
    chats = channels * chats_per_channel
    return {
        "messages": total,
        "relayed": relayed,
        "seconds": elapsed,
        "slack_floor": total / channels,
        "wati_floor": chats,  # one getMessages per chat at 1 call/s
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    parser.add_argument("--runs", type=int, default=3, help="repeat the timed parts; medians shown")
    parser.add_argument("--cold", action="store_true", help="only the cold minutes")
    parser.add_argument("--v1", action="store_true", help="with --cold: the v1-only tenant alone")
    parser.add_argument("--v3", action="store_true", help="with --cold: the v3 tenant alone")
    parser.add_argument(
        "--lone", action="store_true", help="only a lone new customer on 25 linked numbers"
    )
    parser.add_argument("--warm", action="store_true", help="only the warm (busy) minute")
    args = parser.parse_args()
    q = args.quick
    runs = 1 if q else args.runs
    if args.cold:
        with tempfile.TemporaryDirectory() as tmp_name:
            tenants = tuple(v3 for v3, alone in ((False, args.v1), (True, args.v3)) if alone)
            cold_minutes(
                Path(tmp_name), runs=runs, seconds=20 if q else 60, tenants=tenants or (False, True)
            )
        return 0
    if args.lone:
        with tempfile.TemporaryDirectory() as tmp_name:
            lone_minutes(Path(tmp_name), customers=3 if q else 9)
        return 0
    if args.warm:
        with tempfile.TemporaryDirectory() as tmp_name:
            warm_minutes(Path(tmp_name), runs=runs, seconds=20 if q else 60)
        return 0
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for poll_seconds, customers in ((1, 15), (10, 8)):
            firsts = [
                first_messages(
                    tmp / f"first{poll_seconds}-{r}",
                    poll_seconds=poll_seconds,
                    customers=4 if q else customers,
                    # A new customer takes two posts (parent, message) at Slack's one post
                    # per second per channel: arrivals every 4 s keep the channel half busy.
                    gap=max(4.0, poll_seconds * 0.7),
                )
                for r in range(runs)
            ]
            print(
                f"new customers' first message at BRIDGE_POLL_SECONDS={poll_seconds} ({runs} runs): "
                f"{sum(x['relayed'] for x in firsts)}/{sum(x['sent'] for x in firsts)} relayed; "
                f"median p50 {statistics.median(x['p50'] for x in firsts):.1f} s, "
                f"median p99 {statistics.median(x['p99'] for x in firsts):.1f} s",
                flush=True,
            )
        warm_minutes(tmp, runs=runs, seconds=20 if q else 60)
        cold_minutes(tmp, runs=runs, seconds=20 if q else 60)
        lone_minutes(tmp, customers=3 if q else 9)
        lats = [
            latency(tmp / f"lat{r}", chats=5 if q else 10, seconds=20 if q else 60, rate=0.5)
            for r in range(runs)
        ]
        p50 = statistics.median(x["p50"] for x in lats)
        p99 = statistics.median(x["p99"] for x in lats)
        relayed = sum(x["relayed"] for x in lats)
        sent = sum(x["messages"] for x in lats)
        calls = sum(x["calls"] for x in lats)
        print(
            f"latency ({runs} runs, {lats[0]['chats']} active chats, BRIDGE_POLL_SECONDS=10): "
            f"{relayed}/{sent} relayed; median p50 {p50:.1f} s, median p99 {p99:.1f} s; "
            f"{calls / max(1, relayed):.2f} Wati calls per relayed message "
            f"({calls} for {relayed})",
            flush=True,
        )
        for monthly in (10_000, 200_000):
            idle = idle_hour(tmp, contacts=1_000 if q else 10_000, quiet_chats=200, monthly=monthly)
            print(
                f"idle hour at a month's start, {idle['contacts']:,} contacts, "
                f"{idle['quiet_chats']} quiet chats, quota {monthly:,}/month: {idle['calls']} Wati calls",
                flush=True,
            )
        bursts = [
            burst(tmp / f"burst{r}", channels=20, per_chat=5 if q else 25, chats_per_channel=2)
            for r in range(runs)
        ]
        seconds = statistics.median(b["seconds"] for b in bursts)
        b = bursts[0]
        print(
            f"burst ({runs} runs): {sum(x['relayed'] for x in bursts)}/"
            f"{sum(x['messages'] for x in bursts)} relayed; {b['messages']} messages over 20 channels "
            f"in a median {seconds:.1f} s (Slack floor {b['slack_floor']:.0f} s, Wati floor "
            f"{b['wati_floor']} s; {seconds / b['slack_floor']:.2f}× the Slack floor)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
