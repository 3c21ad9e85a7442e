"""A real bridge process on loopback with the Wati sandbox and the Slack stand-in it talks to.

Shared by the reliability tests and `bench/soak.py`. Everything listens on 127.0.0.1. The bridge
is `python -m bot run`, started and SIGKILLed at will; its database lives in the given folder, so
a restart is a real restart.

`mode="http"` (the default) gives the bridge a signing secret and posts Slack's signed requests
to its /slack/events; `mode="socket"` gives it an app-level token instead, as a default install
has, and the same requests go as envelopes over the stand-in's Socket Mode WebSocket.
`World.post` delivers either way and answers like an HTTP response.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import httpx

import bot
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_driver.prepared import Prepared
from bot.devtools.slack_standin.server import SlackStandIn
from bot.relay.sender import CHECK_DELAY
from bot.store import open_store

if TYPE_CHECKING:
    from bot.devtools.harness.traffic import Traffic

ROOT = Path(bot.__file__).resolve().parent.parent  # the checkout (or site-packages) holding bot/

# Distinctive secrets, so a leak check can look for them verbatim.
BOT_TOKEN = "xoxb-1111-reliability-bot-token-7f3a9c"
SIGNING_SECRET = "reliability-signing-secret-5b1f0e"
WATI_TOKEN = "wati-reliability-access-token-c41d77"
APP_TOKEN = "xapp-1-A0BRIDGE-2222-reliability-app-token-9e6d21"
MODES = ("http", "socket")

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


class Held(Protocol):
    """A call held in flight by a stand-in (`Sandbox.faults.hold`, `SlackStandIn.hold_next`)."""

    def wait(self, timeout: float = ...) -> object: ...

    def release(self) -> None: ...


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
        mode: str = "http",
        ack_timeout: float = 3.0,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp = tmp
        self.mode = mode
        self.admins = admins
        self.extra_env = dict(extra_env or {})  # more settings for every bridge started
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
        self.slack = SlackStandIn(bot_token=BOT_TOKEN, app_token=APP_TOKEN, ack_timeout=ack_timeout)
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
            "SLACK_API_URL": self.slack.api_url,
            "WATI_API_ENDPOINT": self.sandbox.api_endpoint,
            "WATI_ACCESS_TOKEN": WATI_TOKEN,
            "BRIDGE_DB": str(self.db_path),
            "BRIDGE_POLL_SECONDS": str(self.poll_seconds),
            "BRIDGE_WATI_MONTHLY_CALLS": "100000000",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
        }
        if self.mode == "socket":
            env["SLACK_APP_TOKEN"] = APP_TOKEN
        else:
            env["SLACK_SIGNING_SECRET"] = SIGNING_SECRET
        if self.admins:
            env["BRIDGE_ADMINS"] = self.admins
        env.update(self.extra_env)
        env.update(extra)
        return env

    def post(self, prepared: Prepared, timeout: float = 5.0) -> httpx.Response | None:
        """Deliver a Slack request as the mode does; None when no answer came (Slack would retry).

        HTTP mode: the signed POST. Socket Mode: the same payload as an envelope (retry headers
        become ``retry_attempt``), answered 200 with the ack's payload once acked in time. The
        stand-in's own redelivery is off for it: the caller plays Slack's retries, as over HTTP.
        """
        if self.mode == "http":
            try:
                return self.driver.post(prepared, timeout=timeout)
            except httpx.TransportError:
                return None
        kind, payload = prepared.socket_envelope()
        retry = int(prepared.headers.get("X-Slack-Retry-Num") or 0)
        envelope = self.slack.socket.deliver(
            kind, payload, retry_attempt=retry, retry_reason="timeout", redeliver=False
        )
        if not self.slack.socket.wait_ack(envelope, timeout):
            return None
        if envelope.ack_payload:
            return httpx.Response(200, json=envelope.ack_payload)
        return httpx.Response(200)

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

    def stored(self, key: str) -> str | None:
        """A value the bridge keeps in its database's key-value table (None when unset)."""
        store = open_store(self.db_path)
        try:
            return store.get(key)
        finally:
            store.close()

    def webhook_ids_proven(self) -> bool:
        """Whether the bridge has seen webhook ids to be history ids: until then a customer's
        webhook only wakes a poll; after, webhooks relay messages themselves."""
        return self.stored("webhook_ids") == "same"

    def known_chat(self, number: str, customer: str) -> None:
        """Register a chat in the bridge's database as due now, as `prepare` does for its
        chats: the bridge polls it from its next tick (no contacts look needed)."""
        store = open_store(self.db_path)
        try:
            store.ensure_chat(number, customer, origin="test", next_poll_at=0)
        finally:
            store.close()

    def start_bridge(
        self,
        *,
        verbose: bool = False,
        umask: int = 0o022,
        timeout: float = 30.0,
        env: dict[str, str] | None = None,
    ) -> BridgeProcess:
        """Start `python -m bot run` and wait until /healthz answers 200."""
        if self.bridge is not None and self.bridge.alive:
            raise RuntimeError("a bridge is already running")
        self.bridge = BridgeProcess(self, verbose=verbose, umask=umask, env=env)
        self.processes.append(self.bridge)
        self.bridge.start().wait_healthy(timeout)
        return self.bridge

    def traffic(self, rng: random.Random, chats: tuple[tuple[str, str], ...] = CHATS) -> Traffic:
        """Traffic whose Slack events go to the running bridge over HTTP."""
        from bot.devtools.harness.traffic import Traffic, http_sender  # traffic builds on World

        return Traffic(self.sandbox, self.slack, self.driver, rng, http_sender(self), chats)

    def kill_bridge(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut."""
        if self.bridge is not None:
            self.bridge.kill()

    def kill_while_held(self, hold: Held, timeout: float = 60.0) -> None:
        """SIGKILL the bridge while `hold` (the sandbox's or the Slack stand-in's) keeps its
        call waiting, then let the call go on: done or not, the bridge never hears."""
        hold.wait(timeout=timeout)
        self.kill_bridge()
        hold.release()

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
    """One run of `python -m bot run`, its output appended to the world's log."""

    def __init__(
        self,
        world: World,
        *,
        verbose: bool = False,
        umask: int = 0o022,
        env: dict[str, str] | None = None,
    ) -> None:
        self.world = world
        self.extra_env = env or {}
        self.verbose = verbose
        self.umask = umask
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.healthy_at = 0.0
        self.connections_before = 0

    def start(self) -> BridgeProcess:
        self.connections_before = self.world.slack.socket.connected
        args = [sys.executable, "-m", "bot", *(["-v"] if self.verbose else []), "run"]
        with open(self.world.log_path, "ab") as log:
            self.started_at = time.monotonic()
            self.proc = subprocess.Popen(
                args,
                cwd=self.world.tmp,
                env=self.world.env(**self.extra_env),
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
        """Wait for GET /healthz 200 (and, in Socket Mode, this run's WebSocket to the stand-in);
        fail at once (with the log's tail) if the process died."""
        found: dict[str, Any] = {}
        socket = self.world.slack.socket

        def healthy() -> bool:
            if not self.alive:
                raise AssertionError(f"the bridge exited:\n{self.world_log_tail()}")
            if self.world.mode == "socket" and socket.connected <= self.connections_before:
                return False
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
