"""Composition root: builds the bridge from Settings, schedules polling, runs Socket or HTTP mode."""

from __future__ import annotations

import functools
import logging
import signal
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App, BoltContext
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot import listeners
from bot.base.clock import Clock
from bot.chatops import services as chatops
from bot.chatops.desk import Desk
from bot.config import Settings
from bot.ops.alerts import Alerts
from bot.ops.health import Code, Health
from bot.ops.metrics import BridgeCollector, ErrorTally, exposition
from bot.ops.watch import Watch
from bot.relay.budget import Budget
from bot.relay.delivery import Feedback
from bot.relay.inbound import Inbound
from bot.relay.media import InboundMedia
from bot.relay.outbound import Outbound
from bot.relay.polling import Poller
from bot.relay.threads import Threads
from bot.slack.poster import SlackPoster, make_web_client, observed
from bot.slack.quiet import quiet_logger
from bot.slack.reader import SlackNames
from bot.slack.socket_mode import SocketLink
from bot.store import Store, open_store
from bot.store.outbox import ReplyState
from bot.wati.client import WatiClient
from bot.wati.limits import Windows
from bot.web import METRICS_PATH, make_asgi, metrics_route
from bot.webhooks.fastpath import FastPath, build_fastpath, poll_hooks
from bot.webhooks.trust import WebhookTrust

logger = logging.getLogger(__name__)

PARENTS_SECONDS = 300.0  # refresh thread parents whose reply window has closed
DESK_SECONDS = 10.0  # waiting customers, nudges, half-done saved replies, Home caches


@dataclass
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
    webhooks: FastPath
    errors: ErrorTally = field(default_factory=ErrorTally)
    _tick: float = 1.0  # seconds between poll rounds of each number

    def start_jobs(self, *, tick: float = 1.0, discovery: bool = True) -> None:
        """Start polling: a job per linked number, contacts discovery, outbound sends.

        Discovery's job runs every tick and reads the contacts list when its budget-paced
        cadence says so (see bot.relay.discovery); `discovery=False` leaves it out (tests).
        """
        self.poller.release_claims()  # a killed predecessor's claims would stall its chats
        self._tick = tick
        self._every(self.sync_jobs, min(2.0, tick * 2), "sync")
        if discovery:
            self._every(self.webhooks.hint, tick, "hint", next_run_time=_soon())
        self._every(self.outbound.process, tick, "outbound")
        self._every(self.outbound.refresh_parents, PARENTS_SECONDS, "parents")
        self._every(self.watch.check, self.settings.check_seconds, "health", next_run_time=_soon())
        self._every(self.desk.tick, DESK_SECONDS, "desk", next_run_time=_soon())
        self._every(self.webhooks.hub.process, tick, "webhooks", next_run_time=_soon())
        self._every(self.webhooks.reconcile, tick, "reconcile")
        self._every(self.webhooks.tidy, min(5.0, tick * 5), "webhook-health")
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
                    next_run_time=_soon(),
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
            return exposition(BridgeCollector(self.store, self.budget, self.errors))

    def dispatch(self, request: BoltRequest) -> BoltResponse:
        """Hand one HTTP request to Bolt."""
        return self.app.dispatch(request)

    def shutdown(self) -> None:
        """Stop jobs and close clients."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.wati.close()
        self.store.close()


def _soon() -> datetime:
    return datetime.now(UTC)


def _run_soon(scheduler: BackgroundScheduler, job_id: str) -> None:
    """Bring a job's next run forward to now (nothing when it is not scheduled: tests)."""
    if not scheduler.running:
        return
    try:
        scheduler.modify_job(job_id, next_run_time=_soon())
    except JobLookupError:
        pass


def _linked(poller: Poller, scheduler: BackgroundScheduler) -> None:
    """A number was just linked: a contacts look and its poll job start at once."""
    poller.discovery.soon()
    _run_soon(scheduler, "sync")
    _run_soon(scheduler, "hint")


def build(
    settings: Settings,
    *,
    wati_transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.time,
    process_before_response: bool = False,
    slack_min_interval: float | None = None,
) -> Bridge:
    """Wire every object from the settings (tests pass loopback URLs and a clock)."""
    health = Health(clock)
    store = open_store(settings.db_path, writable=True)
    store.on_write = health.wrote
    budget = Budget(store, settings.wati_monthly_calls)
    errors = ErrorTally()
    wati = WatiClient(
        settings.wati_api_endpoint,
        settings.wati_access_token,
        transport=wati_transport,
        on_call=budget.record,
        on_error=errors.wati,
        on_answer=health.wati_answered,
    )
    web = make_web_client(
        settings.slack_bot_token,
        settings.slack_api_url,
        on_error=errors.slack,
        on_answer=health.slack_answered,
    )
    poster = (
        SlackPoster(web)
        if slack_min_interval is None
        else SlackPoster(web, min_interval=slack_min_interval)
    )
    the_clock = Clock(clock)
    windows = Windows()
    scheduler = BackgroundScheduler(executors={"default": ThreadPoolExecutor(50)}, timezone="UTC")
    threads = Threads(store, poster, wati, budget, windows, the_clock)
    media = InboundMedia(store=store, wati=wati, poster=poster, clock=the_clock)
    inbound = Inbound(store, wati, poster, threads, windows, the_clock, media=media)
    names = SlackNames(web)
    wake = functools.partial(store.wake_chat, origin="slack")
    feedback = Feedback(store, poster, threads)
    outbound = Outbound(
        store,
        wati,
        poster,
        budget,
        settings=settings,
        feedback=feedback,
        names=names,
        windows=windows,
        clock=the_clock,
        wake=lambda channel, customer: wake(channel, customer, the_clock()),
        run_soon=lambda: _run_soon(scheduler, "outbound"),
    )
    trust = WebhookTrust(store, the_clock, settings.poll_seconds)
    poller = Poller(
        store,
        wati,
        inbound,
        budget,
        windows,
        the_clock,
        poll_seconds=settings.poll_seconds,
        **poll_hooks(trust, feedback.note_history),
    )
    webhooks = build_fastpath(
        store,
        wati,
        poster,
        inbound,
        poller,
        feedback,
        trust,
        the_clock,
        public_url=settings.public_url,
        configured_token=settings.webhook_token,
        run_soon=lambda job_id: _run_soon(scheduler, job_id),
    )
    app = App(
        client=web,
        signing_secret=settings.slack_signing_secret or "socket-mode",
        process_before_response=process_before_response,
        logger=quiet_logger("bot.bolt"),  # Bolt quotes request bodies: held back
    )
    services = chatops.build(
        settings=settings,
        store=store,
        wati=wati,
        poster=poster,
        threads=threads,
        outbound=outbound,
        names=names,
        budget=budget,
        windows=windows,
        clock=the_clock,
        wake=poller.wake,
        health=health,
        on_link=lambda number: _linked(poller, scheduler),
    )
    listeners.register(app, services)

    @app.middleware
    def count_slack_errors(context: BoltContext, next: Callable[[], None]) -> None:
        context["client"] = observed(context.client, errors.slack, on_answer=health.slack_answered)
        next()

    @app.error
    def handle_error(error: Exception, body: dict[str, Any]) -> None:
        logger.error("listener failed: %s", type(error).__name__, exc_info=error)

    return Bridge(
        settings,
        store,
        wati,
        budget,
        the_clock,
        windows,
        poster,
        threads,
        poller,
        outbound,
        app,
        services,
        scheduler,
        Watch(
            health,
            store,
            web,
            Alerts(
                health,
                store,
                web,
                admins=settings.admins,
                alert_after=settings.alert_after,
                clock=clock,
            ),
            stale_after=settings.stale_after,
        ),
        services.desk,
        webhooks,
        errors,
    )


def run(settings: Settings) -> int:
    """`wati-bridge run`: Socket Mode with an app token, HTTP mode otherwise. Blocks.

    Both modes serve the HTTP listener on HOST:PORT (`/healthz`; `/slack/events` in HTTP
    mode) until SIGTERM. Exit 2 when Slack refuses the app-level token at start.
    """
    bridge = build(settings)
    link: SocketLink | None = None
    try:
        bridge.start_jobs()
        logger.info("bridge started with %d linked number(s)", len(bridge.store.links()))
        if settings.socket_mode:
            assert settings.slack_app_token is not None
            link = SocketLink(bridge.app, settings.slack_app_token)
            if link.open() is not None:
                return 2
            bridge.watch.socket_connected = lambda: link is not None and link.connected
        serve_listener(bridge, settings)
    finally:
        if link is not None:
            link.close()
        bridge.shutdown()
    return 0


def serve_listener(bridge: Bridge, settings: Settings) -> None:
    """Serve the HTTP listener on HOST:PORT until SIGTERM (or Ctrl-C)."""
    import uvicorn

    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again with the
    # handler it found installed: with Python's default one the process died right
    # there, before `bridge.shutdown()` (scheduler jobs cut mid-send, the store not
    # closed). A handler that does nothing lets `run` return and clean up.
    signal.signal(signal.SIGTERM, lambda *_: None)
    dispatch = None if settings.socket_mode else bridge.dispatch
    paths = "GET /healthz, GET /metrics, POST /wati/webhook"
    if dispatch is not None:
        paths = "POST /slack/events, " + paths
    mode = "Socket Mode" if settings.socket_mode else "HTTP mode"
    logger.info("%s; listening on %s:%d (%s)", mode, settings.host, settings.port, paths)
    routes = {METRICS_PATH: metrics_route(bridge.metrics), **bridge.webhooks.routes}
    uvicorn.run(
        make_asgi(bridge.health, dispatch, extra=routes),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
    )
