"""The running bridge: every long-lived object `service.build` made, its scheduled jobs, and what
/healthz and /metrics report."""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot.base.clock import Clock
from bot.chatops import services as chatops
from bot.chatops.broadcasts import Broadcasts
from bot.chatops.desk import Desk
from bot.config import Settings
from bot.ops.health import Code
from bot.ops.metrics import BridgeCollector, ErrorTally, exposition
from bot.ops.watch import Watch
from bot.privacy.erasure import Eraser
from bot.privacy.retention import Retention
from bot.relay.budget import Budget
from bot.relay.outbound import Outbound
from bot.relay.polling import Poller
from bot.relay.threads import Threads
from bot.slack.poster import SlackPoster
from bot.slack.socket_mode import SocketLink
from bot.store import Store
from bot.store.outbox import ReplyState
from bot.wati.client import WatiClient
from bot.wati.limits import Windows
from bot.webhooks.fastpath import FastPath

logger = logging.getLogger(__name__)

PARENTS_SECONDS = 300.0  # refresh thread parents whose reply window has closed
DESK_SECONDS = 10.0  # waiting customers, nudges, half-done saved replies, Home caches
ERASE_SECONDS = 2.0  # erasures planned by `wati-bridge forget` beside the bridge: Slack clean-up
RETENTION_SECONDS = 600.0  # quiet conversations past BRIDGE_RETENTION_DAYS


@dataclass(kw_only=True)
class Bridge:
    """Every long-lived object of a running bridge."""

    settings: Settings
    store: Store
    wati: WatiClient
    budget: Budget
    clock: Clock
    windows: Windows
    poster: SlackPoster
    threads: Threads
    poller: Poller
    outbound: Outbound
    app: App
    services: chatops.Services
    scheduler: BackgroundScheduler
    watch: Watch
    desk: Desk
    broadcasts: Broadcasts  # `/wati broadcast`: its chunks are sent by the "broadcasts" job
    webhooks: FastPath
    eraser: Eraser
    retention: Retention
    socket: SocketLink | None = None  # Socket Mode's connection (opened by `service.run`)
    errors: ErrorTally = field(default_factory=ErrorTally)
    _tick: float = field(default=1.0, init=False)  # seconds between poll rounds of each number

    def start_jobs(self, *, tick: float = 1.0, discovery: bool = True) -> None:
        """Start polling: a job per linked number, contacts discovery, outbound sends.

        Discovery's job runs every tick and reads the contacts list when its budget-paced
        cadence says so (see bot.relay.discovery); `discovery=False` leaves it out (tests).
        """
        self.poller.release_claims()  # a killed predecessor's claims would stall its chats
        self._tick = tick
        self._every(self.sync_jobs, min(2.0, tick * 2), "sync")
        if discovery:
            self._every(self.webhooks.hint, tick, "hint", next_run_time=soon())
        self._every(self.outbound.process, tick, "outbound")
        self._every(self.broadcasts.process, tick, "broadcasts", next_run_time=soon())
        self._every(self.outbound.refresh_parents, PARENTS_SECONDS, "parents")
        self._every(self.watch.check, self.settings.check_seconds, "health", next_run_time=soon())
        self._every(self.desk.tick, DESK_SECONDS, "desk", next_run_time=soon())
        self._every(self.services.surveys.settle, tick, "surveys")
        self._every(self.webhooks.hub.process, tick, "webhooks", next_run_time=soon())
        self._every(self.webhooks.reconcile, tick, "reconcile")
        self._every(self.webhooks.tidy, min(5.0, tick * 5), "webhook-health")
        # The lock holder cleans Slack for every erasure, whoever planned it (bot.privacy).
        self._every(lambda: self.eraser.finish(wait=False), ERASE_SECONDS, "erase")
        self._every(self.retention.tick, RETENTION_SECONDS, "retention", next_run_time=soon())
        self.sync_jobs()
        self.scheduler.start()

    def _every(self, func: Callable[..., Any], seconds: float, job_id: str, **extra: Any) -> None:
        # Never two runs of one job at once, and no pile-up of missed runs after a stall.
        self.scheduler.add_job(
            functools.partial(self._guarded, func, job_id),
            "interval",
            seconds=seconds,
            id=job_id,
            max_instances=1,
            coalesce=True,
            **extra,
        )

    def _guarded(self, func: Callable[..., Any], job_id: str, *args: Any) -> None:
        """Run a job; a failure is one log line (the job runs again at its next turn)."""
        try:
            func(*args)
        except sqlite3.Error as exc:
            # A database that refuses writes is a health condition, logged once when it starts.
            level = logging.DEBUG if self.watch.health.holds(Code.DATABASE) else logging.WARNING
            logger.log(level, "job %s failed: %s", job_id, exc)
        except Exception as exc:  # noqa: BLE001 - one failed run must not stop the job
            logger.warning("job %s failed: %s", job_id, type(exc).__name__)
            logger.debug("job %s failure", job_id, exc_info=exc)

    def sync_jobs(self) -> None:
        """One poll job per linked number: add jobs for new links, drop those of unlinked ones."""
        self.webhooks.registrar.sync()  # a number just linked gets its webhook
        wanted = {f"poll:{link.channel_number}": link.channel_number for link in self.store.links()}
        for job in self.scheduler.get_jobs():
            if job.id.startswith("poll:") and job.id not in wanted:
                job.remove()
        for job_id, number in wanted.items():
            if self.scheduler.get_job(job_id) is None:
                self._every(
                    self.poller.poll_number,
                    self._tick,
                    job_id,
                    args=[number],
                    next_run_time=soon(),
                )

    def health(self) -> tuple[bool, dict[str, Any]]:
        """The state /healthz reports: healthy only when the bridge can do its job."""
        with self.store.available(timeout=1.0) as free:
            if free:
                db_ok, status = self._health()
            else:
                # Another connection holds the database's write lock and a job waits for it
                # (holding the store): the bridge is alive and goes on once it is free.
                db_ok, status = True, {"database": "busy"}
        conditions = self.watch.health
        if status["database"] == "ok" and conditions.holds(Code.DATABASE):
            status["database"] = "not_writable"
        report = conditions.report()
        ok = db_ok and not report["reasons"]
        return ok, {"status": "ok" if ok else "unhealthy", **status, **report}

    def _health(self) -> tuple[bool, dict[str, Any]]:
        try:
            self.store.query("select 1")
            db_ok = True
        except Exception:  # any database failure makes the bridge unhealthy
            db_ok = False
        status: dict[str, Any] = {"database": "ok" if db_ok else "error"}
        if db_ok:
            status["last_successful_poll"] = self.store.get("last_poll_ok")
            status["backlog"] = self.store.backlog()
            status["outbox"] = len(
                self.store.replies_in_state(ReplyState.QUEUED, ReplyState.SENDING)
            )
            status["links"] = len(self.store.links())
            status["wati_quota"] = self.budget.summary()
        return db_ok, status

    def metrics(self) -> bytes | None:
        """The text GET /metrics serves; None while another process holds the database."""
        with self.store.available(timeout=2.0) as free:
            if not free:
                return None  # the scrape fails (503) and Prometheus tries again next interval
            return exposition(
                BridgeCollector(
                    store=self.store, budget=self.budget, errors=self.errors, clock=self.clock
                )
            )

    def dispatch(self, request: BoltRequest) -> BoltResponse:
        """Hand one HTTP request to Bolt."""
        return self.app.dispatch(request)

    def shutdown(self) -> None:
        """Stop jobs and close clients."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.wati.close()
        self.store.close()


def soon() -> datetime:
    """Now, as a job's next run time (APScheduler keeps its own wall-clock time, not the
    bridge's `Clock`: a test's hand-moved clock must not delay or skip real job runs)."""
    return datetime.now(UTC)


def run_soon(scheduler: BackgroundScheduler, job_id: str) -> None:
    """Bring a job's next run forward to now (nothing when it is not scheduled: tests)."""
    if not scheduler.running:
        return
    try:
        scheduler.modify_job(job_id, next_run_time=soon())
    except JobLookupError:
        pass


def linked(poller: Poller, scheduler: BackgroundScheduler) -> None:
    """A number was just linked: a contacts look and its poll job start at once."""
    poller.discovery.soon()
    run_soon(scheduler, "sync")
    run_soon(scheduler, "hint")
