"""Shared by the reliability tests and `bench/soak.py`: a real bridge process on loopback, the
Wati sandbox and Slack stand-in it talks to, customer and teammate traffic with Slack's retrying
event delivery, and the checks behind "nothing lost, nothing twice, nothing leaked".

Everything listens on 127.0.0.1. The bridge is `python -m bot run` in HTTP mode, started and
SIGKILLed at will; its database lives in the test's tmp folder, so a restart is a real restart.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from slack_bolt.request import BoltRequest

from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver import Prepared, SlackDriver
from bot.devtools.slack_standin import SlackStandIn
from bot.relay.sender import CHECK_DELAY
from bot.service import Bridge
from bot.slack import blocks
from bot.store.db import open_store
from bot.wati.limits import RateWindow

ROOT = Path(__file__).resolve().parent.parent

# Distinctive secrets, so a leak check can look for them verbatim.
BOT_TOKEN = "xoxb-1111-reliability-bot-token-7f3a9c"
SIGNING_SECRET = "reliability-signing-secret-5b1f0e"
WATI_TOKEN = "wati-reliability-access-token-c41d77"

NUMBER_A, NUMBER_B = "15550000001", "15550000002"
SLACK_A, SLACK_B = "C0SUPPORT", "C0SALES"
SLACK_OF = {NUMBER_A: SLACK_A, NUMBER_B: SLACK_B}
ADMIN, AGENT, OUTSIDER, OWNER = "U0ADMIN", "U0AGENT", "U0OUTSIDER", "U0OWNER"
ANA, BO, CY = "447700900123", "5511912345678", "4915112345678"
# Ana writes to both numbers: replies must leave from the number of the thread's channel.
CHATS = ((NUMBER_A, ANA), (NUMBER_A, BO), (NUMBER_B, ANA), (NUMBER_B, CY))

SENT_MARKS = {"white_check_mark", "ballot_box_with_check", "eyes"}
FAILED_MARKS = {"x", "lock"}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(
    predicate: Callable[[], object],
    timeout: float = 10.0,
    what: str | Callable[[], str] = "condition",
    interval: float = 0.02,
) -> None:
    """Re-check `predicate` until it is true; AssertionError (naming `what`) after `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            text = what() if callable(what) else what
            raise AssertionError(f"not reached within {timeout:.0f}s: {text}")
        time.sleep(interval)


# -- the world around the bridge ----------------------------------------------------------------


class World:
    """Sandbox Wati + Slack stand-in + signed-request driver, and a bridge database to run on."""

    def __init__(
        self,
        tmp: Path,
        *,
        admins: str = "",
        wati_limit: int | None = 1000,
        poll_seconds: int = 1,
        status_delays: tuple[float, float] = (0.5, 1.0),
    ) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp = tmp
        self.admins = admins
        self.poll_seconds = poll_seconds
        self.sandbox = Sandbox(
            tmp / "wati.db",
            token=WATI_TOKEN,
            channels=(NUMBER_A, NUMBER_B),
            status_delays=status_delays,
        )
        self.sandbox.monthly_quota = 10**9
        if wati_limit is not None:
            # Tests compress time: the real 10 getMessages per 10 s would make them slow.
            self.sandbox.limiter.limits["getMessages"] = ("getMessages", wati_limit)
            self.sandbox.limiter.limits["getContacts"] = ("contacts", wati_limit)
        self.slack = SlackStandIn(bot_token=BOT_TOKEN)
        self.slack.add_user(ADMIN, name="ada", real_name="Ada Admin", is_admin=True)
        self.slack.add_user(OWNER, name="otto", real_name="Otto Owner", is_owner=True)
        self.slack.add_user(AGENT, name="sam", real_name="Sam Agent")
        self.slack.add_user(OUTSIDER, name="olly", real_name="Olly Outsider")
        self.slack.add_channel(SLACK_A, "support")
        self.slack.add_channel(SLACK_B, "sales")
        self.db_path = tmp / "bridge.db"
        self.log_path = tmp / "bridge.log"
        self.port = free_port()
        self.driver = SlackDriver(
            SIGNING_SECRET, url=self.events_url, response_url_factory=self._response_url
        )
        self.bridge: BridgeProcess | None = None
        self.processes: list[BridgeProcess] = []  # every bridge started, killed on exit

    def _response_url(self, **target: str) -> str:
        return self.slack.response_url(**target)

    def __enter__(self) -> World:
        self.sandbox.start()
        self.slack.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for process in self.processes:
            process.kill()
        self.slack.stop()
        self.sandbox.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        return f"{self.base_url}/slack/events"

    def env(self, **extra: str) -> dict[str, str]:
        """The bridge's whole environment (nothing inherited that could change its mode)."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": self.slack.api_url,
            "WATI_API_ENDPOINT": self.sandbox.api_endpoint,
            "WATI_ACCESS_TOKEN": WATI_TOKEN,
            "BRIDGE_DB": str(self.db_path),
            "BRIDGE_POLL_SECONDS": str(self.poll_seconds),
            "BRIDGE_WATI_MONTHLY_CALLS": "100000000",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
        }
        if self.admins:
            env["BRIDGE_ADMINS"] = self.admins
        env.update(extra)
        return env

    def prepare(self, chats: Iterable[tuple[str, str]] = CHATS) -> None:
        """Link both numbers and register the chats before the bridge starts.

        A running bridge finds new customers through a contacts hint once a minute; chats known
        up front are polled from the first second.
        """
        store = open_store(self.db_path)
        try:
            store.link(NUMBER_A, SLACK_A, ADMIN)
            store.link(NUMBER_B, SLACK_B, ADMIN)
            for number, customer in chats:
                store.ensure_chat(number, customer, origin="test", next_poll_at=0)
        finally:
            store.close()
        # Customer messages must be newer than the links to be relayed.
        linked = time.time()
        wait_until(lambda: time.time() > linked + 0.01, 1.0, "the clock to move on")

    def start_bridge(
        self, *, verbose: bool = False, umask: int = 0o022, timeout: float = 30.0
    ) -> BridgeProcess:
        """Start `python -m bot run` and wait until /healthz answers 200."""
        if self.bridge is not None and self.bridge.alive:
            raise RuntimeError("a bridge is already running")
        self.bridge = BridgeProcess(self, verbose=verbose, umask=umask)
        self.processes.append(self.bridge)
        self.bridge.start().wait_healthy(timeout)
        return self.bridge

    def traffic(self, rng: random.Random, chats: tuple[tuple[str, str], ...] = CHATS) -> Traffic:
        """Traffic whose Slack events go to the running bridge over HTTP."""
        return Traffic(self.sandbox, self.slack, self.driver, rng, http_sender(self), chats)

    def kill_bridge(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut."""
        if self.bridge is not None:
            self.bridge.kill()

    def age_unsettled(self, seconds: float = CHECK_DELAY) -> int:
        """Make the bridge's outage last `seconds` longer for replies whose fate is unknown.

        The bridge reads Wati's history only CHECK_DELAY seconds after an unanswered send. CI
        cannot afford to wait that long after every crash, so while the bridge is down its
        unsettled sends are dated back, exactly as if it had stayed down that much longer.
        `bench/soak.py` does not do this: there the real wait happens.
        """
        if self.bridge is not None and self.bridge.alive:
            raise RuntimeError("only while the bridge is down")
        with contextlib.closing(sqlite3.connect(self.db_path)) as db, db:
            cursor = db.execute(
                "update outbox set attempted_at = attempted_at - ?, "
                "next_try_at = next_try_at - ? where state in ('sending', 'unknown')",
                [seconds, seconds],
            )
            return cursor.rowcount


class BridgeProcess:
    """One run of `python -m bot run` (HTTP mode), its output appended to the world's log."""

    def __init__(self, world: World, *, verbose: bool = False, umask: int = 0o022) -> None:
        self.world = world
        self.verbose = verbose
        self.umask = umask
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.healthy_at = 0.0

    def start(self) -> BridgeProcess:
        args = [sys.executable, "-m", "bot", *(["-v"] if self.verbose else []), "run"]
        with open(self.world.log_path, "ab") as log:
            self.started_at = time.monotonic()
            self.proc = subprocess.Popen(
                args,
                cwd=self.world.tmp,
                env=self.world.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                umask=self.umask,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def health(self, timeout: float = 2.0) -> httpx.Response:
        return httpx.get(f"{self.world.base_url}/healthz", timeout=timeout)

    def wait_healthy(self, timeout: float = 30.0) -> dict[str, Any]:
        """Wait for GET /healthz 200; fail at once (with the log's tail) if the process died."""
        found: dict[str, Any] = {}

        def healthy() -> bool:
            if not self.alive:
                raise AssertionError(f"the bridge exited:\n{self.world_log_tail()}")
            try:
                response = self.health(timeout=1.0)
            except httpx.TransportError:
                return False
            if response.status_code == 200:
                found.update(response.json())
                return True
            return False

        wait_until(healthy, timeout, lambda: f"bridge healthy\n{self.world_log_tail()}", 0.05)
        self.healthy_at = time.monotonic()
        return found

    def world_log_tail(self, lines: int = 30) -> str:
        text = (
            self.world.log_path.read_text(errors="replace") if self.world.log_path.exists() else ""
        )
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM (a clean stop); SIGKILL if it does not end in time. Returns the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return int(self.proc.returncode)


# -- Slack's side: signed deliveries with Slack's retries -----------------------------------------


def post(world: World, prepared: Prepared, timeout: float = 5.0) -> httpx.Response | None:
    """POST a signed request to the bridge; None when no answer came (Slack would retry)."""
    try:
        return world.driver.post(prepared, timeout=timeout)
    except httpx.TransportError:
        return None


@dataclass
class Pending:
    """An Events API delivery that did not get a 2xx yet."""

    prepared: Prepared
    tries: int = 1


@dataclass
class ReplySent:
    """A teammate's thread reply as the test wrote it."""

    channel: str
    ts: str
    thread_ts: str
    number: str
    customer: str
    text: str
    delivered: bool = False
    at: float = field(default_factory=time.time)


Send = Callable[[Prepared], bool]  # deliver a signed request; True when it got a 2xx


class Traffic:
    """Customers writing on WhatsApp and teammates replying in the threads.

    Event deliveries that get no 2xx are retried the way Slack does (X-Slack-Retry-Num, up to
    three retries) when `flush` is called, i.e. once the bridge is up again.
    """

    def __init__(
        self,
        sandbox: Sandbox,
        slack: SlackStandIn,
        driver: SlackDriver,
        rng: random.Random,
        send: Send,
        chats: tuple[tuple[str, str], ...] = CHATS,
    ) -> None:
        self.sandbox = sandbox
        self.slack = slack
        self.driver = driver
        self.rng = rng
        self.send = send
        self.chats = chats
        self.said: dict[str, tuple[str, str, str]] = {}  # wati id -> number, customer, text
        self.said_at: dict[str, float] = {}  # wati id -> when the customer wrote (epoch s)
        self.replies: dict[str, ReplySent] = {}  # Slack ts -> reply
        self.pending: list[Pending] = []
        self.given_up = 0
        self.retries = 0
        self.counter = 0

    def customer_says(self, chat: tuple[str, str] | None = None, text: str | None = None) -> str:
        number, customer = chat or self.rng.choice(self.chats)
        self.counter += 1
        text = text or f"c{self.counter}-{customer[-3:]}-to-{number[-1]}"
        wati_id = self.sandbox.customer_says(number, customer, text, name=f"Cust {customer}")
        self.said[wati_id] = (number, customer, text)
        self.said_at[wati_id] = time.time()
        return wati_id

    def greet(self) -> None:
        """Every customer writes once (before the bridge starts, so no chat is found empty).

        A chat polled while it has no message at all waits for a contacts hint (once a minute)
        before it is polled again, as it should: real chats come from such hints.
        """
        for chat in self.chats:
            self.customer_says(chat)

    def open_threads(self) -> list[tuple[str, str, str, str]]:
        """(slack channel, parent ts, number, customer) of the threads a teammate would answer:
        those showing a customer's message (a parent alone may not be on the bridge's record
        yet: a reply in the millisecond between its post and its record is not relayed)."""
        found = []
        for number, channel in SLACK_OF.items():
            for message in thread_parents(self.slack, channel):
                payload = message["metadata"].get("event_payload") or {}
                replies = self.slack.replies(channel, str(message["ts"]))[1:]
                if any(
                    (r.get("metadata") or {}).get("event_type") == blocks.MESSAGE_EVENT
                    for r in replies
                ):
                    customer = str(payload["customer_number"])
                    found.append((channel, str(message["ts"]), number, customer))
        return found

    def reply(
        self, thread: tuple[str, str, str, str] | None = None, text: str | None = None
    ) -> ReplySent | None:
        """A teammate answers in a thread (None while no thread exists yet)."""
        if thread is None:
            threads = self.open_threads()
            if not threads:
                return None
            thread = self.rng.choice(threads)
        channel, parent, number, customer = thread
        self.counter += 1
        text = text or f"r{self.counter}-for-{customer[-3:]}-via-{number[-1]}"
        event = self.driver.message(channel=channel, user=AGENT, text=text, thread_ts=parent)
        self.slack.add_message(event)
        sent = ReplySent(channel, str(event["ts"]), parent, number, customer, text)
        self.replies[sent.ts] = sent
        self.deliver(self.driver.event(event))
        return sent

    def deliver(self, prepared: Prepared) -> bool:
        if self.send(prepared):
            self._mark_delivered(prepared)
            return True
        self.pending.append(Pending(prepared))
        return False

    def _mark_delivered(self, prepared: Prepared) -> None:
        event = prepared.payload.get("event") or {}
        sent = self.replies.get(str(event.get("ts")))
        if sent is not None:
            sent.delivered = True

    def flush(self) -> None:
        """Slack's retries of deliveries that failed (call when the bridge is up again)."""
        waiting, self.pending = self.pending, []
        for item in waiting:
            if item.tries > 3:
                self.given_up += 1  # Slack stops after three retries
                continue
            again = self.driver.redeliver(
                item.prepared, retry_num=item.tries, retry_reason="http_error"
            )
            self.retries += 1
            if self.send(again):
                self._mark_delivered(item.prepared)
            else:
                self.pending.append(Pending(item.prepared, item.tries + 1))

    def step(self, reply_share: float = 0.4) -> None:
        """One human action: mostly customers writing, sometimes a teammate replying."""
        if self.rng.random() < reply_share and self.reply() is not None:
            return
        self.customer_says()


def http_sender(world: World) -> Send:
    """Deliver over HTTP to the running bridge, as Slack does (a 2xx within 3 s counts)."""

    def send(prepared: Prepared) -> bool:
        response = post(world, prepared, timeout=3.0)
        return response is not None and 200 <= response.status_code < 300

    return send


# -- what Slack and Wati show ---------------------------------------------------------------------


def thread_parents(slack: SlackStandIn, channel: str) -> list[dict[str, Any]]:
    return [
        m
        for m in slack.messages(channel)
        if (m.get("metadata") or {}).get("event_type") == blocks.THREAD_EVENT
    ]


def relayed(slack: SlackStandIn, channel: str) -> list[tuple[str, str, str]]:
    """(wati id, text, customer of the thread) of every customer message posted in a channel."""
    found = []
    for parent in thread_parents(slack, channel):
        customer = str((parent["metadata"].get("event_payload") or {}).get("customer_number"))
        for message in slack.replies(channel, parent["ts"])[1:]:
            meta = message.get("metadata") or {}
            if meta.get("event_type") == blocks.MESSAGE_EVENT:
                wati_id = str((meta.get("event_payload") or {}).get("wati_id"))
                found.append((wati_id, str(message.get("text", "")), customer))
    return found


def problems(traffic: Traffic) -> list[str]:
    """Every broken promise, in plain words (empty when all is well)."""
    slack, sandbox = traffic.slack, traffic.sandbox
    found: list[str] = []
    # Nothing lost, nothing twice, in the right channel: by Wati id and by text.
    posted: dict[str, Counter[str]] = {}
    texts: dict[str, Counter[tuple[str, str]]] = {}
    for channel in SLACK_OF.values():
        entries = relayed(slack, channel)
        posted[channel] = Counter(wati_id for wati_id, _, _ in entries)
        texts[channel] = Counter((text, customer) for _, text, customer in entries)
    for wati_id, (number, customer, text) in traffic.said.items():
        channel = SLACK_OF[number]
        if posted[channel][wati_id] != 1:
            found.append(f"customer message {wati_id} is in Slack {posted[channel][wati_id]}x")
        if texts[channel][(text, customer)] != 1:
            found.append(f"{text!r} is in {customer}'s thread {texts[channel][(text, customer)]}x")
    for channel, counts in posted.items():
        for wati_id in counts:
            if wati_id not in traffic.said:
                found.append(f"{channel} shows {wati_id}, which no customer wrote")
    # In order: each thread shows its customer's messages in the order they were written.
    order = {wati_id: n for n, wati_id in enumerate(traffic.said)}
    for channel in SLACK_OF.values():
        for parent in thread_parents(slack, channel):
            ids = [
                str(((m.get("metadata") or {}).get("event_payload") or {}).get("wati_id"))
                for m in slack.replies(channel, parent["ts"])[1:]
            ]
            seq = [order[i] for i in ids if i in order]
            if seq != sorted(seq):
                found.append(f"a thread in {channel} shows messages out of order")
    # One thread per chat.
    for channel in SLACK_OF.values():
        parents = Counter(
            str((p["metadata"]["event_payload"] or {}).get("customer_number"))
            for p in thread_parents(slack, channel)
        )
        found.extend(
            f"{channel} has {n} threads for {customer}" for customer, n in parents.items() if n > 1
        )
    # Replies: at most once, from the thread's number, outcome shown.
    sent = sandbox.sent_by_api()
    by_text = Counter(m["text"] for m in sent)
    for m in sent:
        reply = next((r for r in traffic.replies.values() if r.text == m["text"]), None)
        if reply is None:
            found.append(f"Wati sent {m['text']!r}, which nobody wrote")
        elif (m["channel"], m["customer"]) != (reply.number, reply.customer):
            found.append(f"{m['text']!r} left from {m['channel']} to {m['customer']}")
    for reply in traffic.replies.values():
        count = by_text[reply.text]
        marks = set(slack.reactions(reply.channel, reply.ts))
        if count > 1:
            found.append(f"reply {reply.text!r} was sent {count}x")
        if not reply.delivered:
            continue  # Slack never got an answer and gave up: the bridge never saw it
        if marks & SENT_MARKS and count != 1:
            found.append(f"reply {reply.text!r} shows sent but Wati has it {count}x")
        elif marks & FAILED_MARKS and count != 0:
            found.append(f"reply {reply.text!r} shows failed but Wati has it {count}x")
        elif not marks & (SENT_MARKS | FAILED_MARKS):
            found.append(f"reply {reply.text!r} shows no outcome (marks {sorted(marks)})")
    return found


def settle(traffic: Traffic, timeout: float = 60.0) -> None:
    """Wait until every promise holds (everything relayed, every reply's outcome shown)."""
    seen: list[str] = []

    def done() -> bool:
        seen[:] = problems(traffic)
        return not seen

    wait_until(done, timeout, lambda: f"{len(seen)} problem(s): {seen[:8]}", 0.1)


@contextlib.contextmanager
def write_lock(db_path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's connection holding the database's write lock until the block ends."""
    db = sqlite3.connect(db_path, timeout=10, isolation_level=None)
    try:
        db.execute("begin immediate")
        yield db
        db.execute("rollback")
    finally:
        db.close()


# -- an in-process bridge (fake clock), driven the way its scheduler would ------------------------


def dispatch_sender(bridge: Bridge) -> Send:
    """Hand signed requests to the bridge's Bolt app in-process (listeners run before it returns)."""

    def send(prepared: Prepared) -> bool:
        request = BoltRequest(body=prepared.body, headers=dict(prepared.headers))
        return 200 <= bridge.app.dispatch(request).status < 300

    return send


def on_clock(bridge: Bridge, clock: Callable[[], float]) -> None:
    """Put the relay's rate windows on the test clock, so advancing it ends a 429 hold."""
    bridge.relay.messages_window = RateWindow(clock=clock)
    bridge.relay.contacts_window = RateWindow(clock=clock)


@dataclass
class Drive:
    """What driving the bridge took: rounds, and the errors its jobs let out (logged by the
    scheduler in a running bridge, which then runs the job again at its next tick)."""

    rounds: int = 0
    escaped: list[str] = field(default_factory=list)


def drive(
    bridge: Bridge,
    traffic: Traffic,
    advance: Callable[[float], None],
    *,
    rounds: int = 15,
    step: float = 31.0,
) -> Drive:
    """Run the bridge's jobs (contacts hint, polls, outbox) round after round, moving the clock
    `step` seconds between rounds, until every promise holds; AssertionError if they never do."""
    done = Drive()
    for _ in range(rounds):
        done.rounds += 1
        numbers = [link.channel_number for link in bridge.store.links()]
        jobs: list[Callable[[], object]] = [bridge.relay.discover]
        jobs += [functools.partial(bridge.relay.poll_number, n) for n in numbers]
        jobs.append(bridge.outbound.process)
        for job in jobs:
            try:
                job()
            except Exception as exc:  # noqa: BLE001 - what APScheduler would log
                done.escaped.append(type(exc).__name__)
        traffic.flush()
        if not problems(traffic):
            return done
        advance(step)
    raise AssertionError(f"after {rounds} rounds: {problems(traffic)[:8]}")


def spy_errors(bridge: Bridge) -> list[Exception]:
    """Replace Bolt's global error handler by one that records what reaches it.

    A listener or middleware that raises ends there; for the promise "a clear message, never a
    crash" the list must stay empty.
    """
    caught: list[Exception] = []

    def record(error: Exception) -> None:
        caught.append(error)

    bridge.app.error(record)
    return caught


# -- fuzzing: generated Slack payloads, Wati JSON and numbers through the real code paths ----------


class ManualClock:
    """A clock the fuzz world moves by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ScriptedWati(httpx.BaseTransport):
    """A Wati whose getMessages / getContacts answer whatever the property put here."""

    def __init__(self) -> None:
        self.messages = b"{}"
        self.contacts = b"{}"

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if "/getMessages/" in path:
            return httpx.Response(200, content=self.messages)
        if path.endswith("/getContacts"):
            return httpx.Response(200, content=self.contacts)
        return httpx.Response(404)


@dataclass
class FuzzWorld:
    """An in-process bridge on a manual clock (Bolt listeners run inside dispatch) with two
    linked channels and Ana's thread in each, plus a second bridge fed by a scripted Wati."""

    bridge: Bridge
    sandbox: Sandbox
    slack: SlackStandIn
    driver: SlackDriver
    clock: ManualClock
    traffic: Traffic
    errors: list[Exception]
    scripted: ScriptedWati
    wati_bridge: Bridge
    wati_errors: list[Exception]

    def dispatch(self, prepared: Prepared) -> int:
        request = BoltRequest(body=prepared.body, headers=dict(prepared.headers))
        return self.bridge.app.dispatch(request).status


@contextlib.contextmanager
def fuzz_world(tmp: Path) -> Iterator[FuzzWorld]:
    from bot.config import Settings
    from bot.service import build

    tmp.mkdir(parents=True, exist_ok=True)
    clock = ManualClock()
    sandbox = Sandbox(tmp / "wati.db", token=WATI_TOKEN, channels=(NUMBER_A, NUMBER_B), clock=clock)
    sandbox.monthly_quota = 10**9
    slack = SlackStandIn(bot_token=BOT_TOKEN)
    for user, name, admin in ((ADMIN, "ada", True), (AGENT, "sam", False), (OWNER, "otto", False)):
        slack.add_user(user, name=name, is_admin=admin, is_owner=user == OWNER)
    slack.add_channel(SLACK_A, "support")
    slack.add_channel(SLACK_B, "sales")
    with sandbox, slack:
        env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "WATI_API_ENDPOINT": sandbox.api_endpoint,
            "WATI_ACCESS_TOKEN": WATI_TOKEN,
            "BRIDGE_DB": str(tmp / "bridge.db"),
            "BRIDGE_WATI_MONTHLY_CALLS": "100000000",
        }
        settings = Settings.from_env(env)
        bridge = build(settings, clock=clock, process_before_response=True, slack_min_interval=0.0)
        scripted = ScriptedWati()
        wati_bridge = build(
            Settings.from_env({**env, "BRIDGE_DB": str(tmp / "scripted.db")}),
            clock=clock,
            wati_transport=scripted,
            process_before_response=True,
            slack_min_interval=0.0,
        )
        try:
            driver = SlackDriver(
                SIGNING_SECRET, clock=clock, response_url_factory=slack.response_url
            )
            for each in (bridge, wati_bridge):
                each.store.link(NUMBER_A, SLACK_A, ADMIN)
                each.store.link(NUMBER_B, SLACK_B, ADMIN)
                each.outbound.kick_in_background = False
                on_clock(each, clock)
            clock.advance(1)
            chats = ((NUMBER_A, ANA), (NUMBER_B, ANA))
            send = dispatch_sender(bridge)
            traffic = Traffic(sandbox, slack, driver, random.Random(1), send, chats)
            traffic.greet()
            drive(bridge, traffic, clock.advance)
            yield FuzzWorld(
                bridge,
                sandbox,
                slack,
                driver,
                clock,
                traffic,
                spy_errors(bridge),
                scripted,
                wati_bridge,
                spy_errors(wati_bridge),
            )
        finally:
            wati_bridge.shutdown()
            bridge.shutdown()


def _fuzz_settings(n: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    from hypothesis import HealthCheck, settings

    return settings(
        max_examples=n,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def _strategies() -> Any:
    """Strategies shared by the properties (built lazily: hypothesis is a dev dependency)."""
    from hypothesis import strategies as st

    nasty = st.sampled_from(
        [
            "<!channel>",
            "<!here>",
            "<@U0ADMIN>",
            "<#C0SALES>",
            "&amp;",
            "*b* _i_ ~s~ ```x```",
            "\u202e",
            "\x00",
            "💥" * 5,
            "a" * 5000,
            "+1 415-555-0100",
            "link",
            "unlink",
        ]
    )
    text = st.one_of(st.text(max_size=80), nasty, st.lists(nasty, max_size=4).map(" ".join))
    leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), text)
    json = st.recursive(
        leaf,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
        ),
        max_leaves=10,
    )
    return st, text, json


def fuzz_slash_commands(world: FuzzWorld, n: int) -> int:
    """`/wati <anything>` from anyone, anywhere: always an answer, never a crash."""
    from hypothesis import given

    st, text, _ = _strategies()
    words = st.sampled_from(["link", "unlink", "status", "help", "LINK", "", "frobnicate"])
    counted = [0]

    @_fuzz_settings(n)
    @given(
        head=words,
        rest=text,
        user=st.sampled_from([ADMIN, AGENT, OWNER, "U0NOBODY"]),
        channel=st.sampled_from([SLACK_A, SLACK_B, "C0UNKNOWN", "D0DIRECT"]),
    )
    def prop(head: str, rest: str, user: str, channel: str) -> None:
        counted[0] += 1
        mark = len(world.errors)
        slack = world.slack
        before = len(slack.responses) + len(slack.views) + len(slack.ephemerals())
        url = slack.response_url(channel=channel)
        command = world.driver.slash_command(
            f"{head} {rest}", user_id=user, channel_id=channel, response_url=url
        )
        assert world.dispatch(command) == 200
        assert world.errors[mark:] == [], world.errors[mark:]
        said = len(slack.responses) + len(slack.views) + len(slack.ephemerals())
        assert said > before, f"no answer to /wati {head} {rest!r}"

    prop()
    return counted[0]


def fuzz_message_events(world: FuzzWorld, n: int) -> int:
    """Any message event: recorded only when it is a person's reply in a linked thread."""
    from hypothesis import given

    st, text, json = _strategies()
    parents = [t[1] for t in world.traffic.open_threads()]
    ts = st.one_of(st.sampled_from(parents), st.text(max_size=20), st.none(), st.integers())
    channel = st.sampled_from([SLACK_A, SLACK_B, "C0UNKNOWN", "", None])
    subtype = st.sampled_from(
        [
            None,
            "file_share",
            "thread_broadcast",
            "message_changed",
            "message_deleted",
            "bot_message",
            "channel_join",
            "me_message",
            "huddle_thread",
        ]
    )
    file = st.fixed_dictionaries(
        {},
        optional={
            "id": text,
            "name": text,
            "size": st.one_of(st.integers(), text),
            "mimetype": text,
            "url_private_download": st.sampled_from(
                [f"{world.slack.url}/files-pri/T-F1/x.png", "https://evil.example/x", "", "x"]
            ),
        },
    )
    event = st.fixed_dictionaries(
        {"type": st.just("message")},
        optional={
            "channel": channel,
            "user": st.sampled_from([AGENT, ADMIN, "", None]),
            "text": text,
            "ts": ts,
            "thread_ts": ts,
            "subtype": subtype,
            "bot_id": st.sampled_from(["B0OTHER", None]),
            "files": st.one_of(st.lists(file, max_size=2), json),
            "message": st.one_of(
                json,
                st.fixed_dictionaries(
                    {
                        "ts": ts,
                        "thread_ts": ts,
                        "user": st.just(AGENT),
                        "text": text,
                        "edited": json,
                    }
                ),
            ),
            "previous_message": json,
        },
    )
    counted = [0]

    @_fuzz_settings(n)
    @given(event=event, event_id=st.one_of(st.none(), st.sampled_from(["Ev1", "Ev2"]), text))
    def prop(event: dict[str, Any], event_id: str | None) -> None:
        counted[0] += 1
        mark = len(world.errors)
        prepared = world.driver.event(event, event_id=event_id or None)
        assert world.dispatch(prepared) == 200
        assert world.errors[mark:] == [], world.errors[mark:]

    prop()
    world.bridge.outbound.process()
    assert world.errors == []
    # Only people's replies in the bridge's own threads were recorded, and none went twice.
    store = world.bridge.store
    threads = {(t.slack_channel_id, t.thread_ts) for t in store.open_threads()}
    for row in store.query("select * from outbox"):
        thread = store.thread(row["thread_id"])
        assert thread is not None and (row["slack_channel_id"], thread.thread_ts) in threads
    local_ids = Counter(m["localMessageId"] for m in world.sandbox.sent_by_api())
    assert all(count == 1 for count in local_ids.values()), local_ids
    for local_id in local_ids:
        assert store.reply_by_local_id(str(local_id).split(".")[0]) is not None
    return counted[0]


def fuzz_interactions(world: FuzzWorld, n: int) -> int:
    """Button clicks and modal submissions with any values: never a crash."""
    from hypothesis import given

    from bot.slack import modals

    st, text, json = _strategies()
    found = {
        value
        for module in (blocks, modals)
        for name, value in vars(module).items()
        if name.isupper() and isinstance(value, str) and value.startswith("wati_")
    }
    ids = st.one_of(st.sampled_from(sorted(found)), text)
    parents = [t[1] for t in world.traffic.open_threads()]
    value = st.one_of(
        text, st.integers().map(str), st.sampled_from(["1", "2", "-1", "9" * 40, "1.5"])
    )
    counted = [0]

    @_fuzz_settings(n)
    @given(
        kind=st.sampled_from(["action", "view"]),
        action_id=ids,
        value=value,
        user=st.sampled_from([ADMIN, AGENT, "U0NOBODY"]),
        channel=st.sampled_from([SLACK_A, SLACK_B, "C0UNKNOWN"]),
        thread_ts=st.one_of(st.none(), st.sampled_from(parents)),
        metadata=st.one_of(text, json.map(lambda j: __import__("json").dumps(j))),
        values=st.dictionaries(
            text, st.dictionaries(text, st.one_of(text, json), max_size=3), max_size=3
        ),
    )
    def prop(
        kind: str,
        action_id: str,
        value: str,
        user: str,
        channel: str,
        thread_ts: str | None,
        metadata: str,
        values: dict[str, dict[str, Any]],
    ) -> None:
        counted[0] += 1
        mark = len(world.errors)
        if kind == "action":
            prepared = world.driver.block_action(
                action_id, user_id=user, channel_id=channel, value=value, thread_ts=thread_ts
            )
        else:
            clean = {
                block: {
                    action: {"type": "plain_text_input", **state}
                    if isinstance(state, dict)
                    else {"type": "plain_text_input", "value": state}
                    for action, state in actions.items()
                }
                for block, actions in values.items()
            }
            prepared = world.driver.view_submission(
                action_id, user_id=user, values=clean, private_metadata=metadata
            )
        assert world.dispatch(prepared) in (200, 404)
        assert world.errors[mark:] == [], world.errors[mark:]

    prop()
    return counted[0]


def _message_item(st: Any, text: Any, json: Any) -> Any:
    stamp = st.one_of(
        st.datetimes().map(lambda d: d.isoformat()),
        st.integers(min_value=-(10**15), max_value=10**15),
        st.floats(allow_nan=True),
        st.text(max_size=30),
        st.sampled_from(["2024-05-14T10:00:00.1234567Z", "1715680800", "May-14-2024", ""]),
    )
    return st.fixed_dictionaries(
        {},
        optional={
            "id": st.one_of(st.text(max_size=24), st.integers(), st.none()),
            "created": stamp,
            "timestamp": stamp,
            "eventType": st.sampled_from(["message", "broadcastMessage", "ticket", "", "x"]),
            "type": st.sampled_from(
                [
                    "text",
                    "image",
                    "video",
                    "audio",
                    "document",
                    "location",
                    "contacts",
                    "sticker",
                    "interactive",
                    "button",
                    "unknown",
                    "",
                ]
            ),
            "text": st.one_of(text, json),
            "finalText": text,
            "data": st.one_of(text, json),
            "owner": st.one_of(st.booleans(), st.sampled_from(["true", "false", 1, 0, None])),
            "statusString": st.sampled_from(["SENT", "DELIVERED", "READ", "FAILED", "", None]),
            "operatorName": text,
            "localMessageId": text,
            "failedDetail": text,
        },
    )


def fuzz_wati_messages(world: FuzzWorld, n: int) -> int:
    """Any getMessages answer, through the client's parser and the relay: no crash, no ping."""
    from hypothesis import given

    from bot.wati.types import parse_message

    st, text, json = _strategies()
    item = st.one_of(_message_item(st, text, json), json)
    body = st.one_of(
        st.lists(item, max_size=5).map(
            lambda items: {"result": "success", "messages": {"items": items, "total": len(items)}}
        ),
        json,
    )
    counted = [0]
    relay = world.wati_bridge.relay
    slack = world.slack

    @_fuzz_settings(n)
    @given(body=body, raw=st.booleans())
    def prop(body: Any, raw: bool) -> None:
        import json as jsonlib

        counted[0] += 1
        for each in (
            (body.get("messages") or {}).get("items", [])
            if isinstance(body, dict) and isinstance(body.get("messages"), dict)
            else []
        ):
            parse_message(each)  # never raises
        world.scripted.messages = (
            jsonlib.dumps(body).encode() if not raw else jsonlib.dumps(body)[:40].encode()
        )
        before = len(slack.calls_to("chat.postMessage"))
        relay.wake(NUMBER_A, ANA)
        relay.poll_number(NUMBER_A)  # never raises
        for call in slack.calls_to("chat.postMessage")[before:]:
            meta = str(call.args.get("metadata") or "")
            if blocks.MESSAGE_EVENT in meta:
                posted = str(call.args.get("text") or "")
                assert not any(tag in posted for tag in ("<!", "<@", "<#")), posted
        world.clock.advance(1)

    prop()
    return counted[0]


def fuzz_wati_contacts(world: FuzzWorld, n: int) -> int:
    """Any getContacts answer, through the parser and discovery: no crash."""
    from hypothesis import given

    from bot.wati.types import parse_contact

    st, text, json = _strategies()
    contact = st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                "id": st.one_of(text, st.integers(), st.none()),
                "wAid": st.one_of(text, st.sampled_from([ANA, "+44 7700", "", "x" * 40])),
                "phone": text,
                "fullName": text,
                "firstName": text,
                "lastUpdated": st.one_of(text, st.integers(), st.datetimes().map(str)),
                "created": text,
                "customParams": st.one_of(
                    json, st.lists(st.dictionaries(text, json, max_size=3), max_size=3)
                ),
            },
        ),
        json,
    )
    body = st.one_of(
        st.lists(contact, max_size=5).map(lambda cs: {"result": "success", "contact_list": cs}),
        json,
    )
    counted = [0]

    @_fuzz_settings(n)
    @given(body=body)
    def prop(body: Any) -> None:
        import json as jsonlib

        counted[0] += 1
        if isinstance(body, dict) and isinstance(body.get("contact_list"), list):
            for each in body["contact_list"]:
                parse_contact(each)  # never raises
        world.scripted.contacts = jsonlib.dumps(body).encode()
        world.wati_bridge.relay.contacts_window = RateWindow(limit=10**9)
        world.wati_bridge.relay.discover()  # never raises
        world.wati_bridge.relay.discover(sweep=True)

    prop()
    return counted[0]


def fuzz_phone_numbers(world: FuzzWorld, n: int) -> int:
    """Anything typed as a number: digits with a country code, or a clear refusal."""
    from hypothesis import given

    from bot.text import phone

    st, text, _ = _strategies()
    typed = st.one_of(
        text,
        st.text(alphabet="0123456789 +-().٠١٢３４\u200b", max_size=25),
        st.from_regex(r"\+?[0-9 ()\-]{0,20}", fullmatch=True),
        st.sampled_from(["<tel:+14155550100|+1 415 555 0100>", "+1 415-555-0100", "00441234"]),
    )
    counted = [0]

    @_fuzz_settings(n)
    @given(typed=typed)
    def prop(typed: str) -> None:
        counted[0] += 1
        try:
            digits = phone.normalise(typed)
        except phone.InvalidNumber as refused:
            assert str(refused) and "country code" in str(refused)
            return
        # Digits with a country code first; phonenumbers decides what is "possible" (some
        # countries allow very short numbers, and runs of zeros slip through as they are).
        assert digits.isascii() and digits.isdigit() and 4 <= len(digits) <= 17, digits
        assert not digits.startswith("0"), digits
        assert phone.display(digits).startswith("+")

    prop()
    return counted[0]


FUZZ: dict[str, Callable[[FuzzWorld, int], int]] = {
    "slash commands": fuzz_slash_commands,
    "message events": fuzz_message_events,
    "buttons and modals": fuzz_interactions,
    "Wati messages": fuzz_wati_messages,
    "Wati contacts": fuzz_wati_contacts,
    "phone numbers": fuzz_phone_numbers,
}
