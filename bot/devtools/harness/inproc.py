"""An in-process bridge (fake clock), driven the way its scheduler would drive it."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from bot.devtools.harness.traffic import Send, Traffic, problems
from bot.devtools.slack_driver.prepared import Prepared
from bot.service import Bridge
from bot.wati.limits import RateWindow

# -- an in-process bridge (fake clock), driven the way its scheduler would ------------------------


def dispatch_sender(bridge: Bridge) -> Send:
    """Hand signed requests to the bridge's Bolt app in-process (listeners run before it returns)."""

    def send(prepared: Prepared) -> bool:
        return 200 <= prepared.dispatch(bridge.app).status < 300

    return send


def on_clock(bridge: Bridge, clock: Callable[[], float]) -> None:
    """Put the relay's rate windows on the test clock, so advancing it ends a 429 hold."""
    bridge.windows.messages = RateWindow(clock=clock)
    bridge.windows.contacts = RateWindow(clock=clock)


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
        jobs: list[Callable[[], object]] = [bridge.poller.discover]
        jobs += [functools.partial(bridge.poller.poll_number, n) for n in numbers]
        jobs.append(bridge.outbound.process)
        for job in jobs:
            try:
                job()
            except Exception as exc:  # what APScheduler would log
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


class ManualClock:
    """Wall-clock time that tests move forward by hand (shared by the sandbox and the bridge)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def catch_up(self, margin: float = 1.0) -> None:
        """Move at least `margin` seconds on, and `margin` past the wall clock: what the store
        stamps with the real time (a link) is then older than anything the test makes next,
        however long a loaded machine took to build the fixtures."""
        self.now = max(self.now, time.time()) + margin


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
