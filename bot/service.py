"""Composition root: builds every long-lived object from Settings once, then runs Socket or HTTP mode.

The built objects and their scheduled jobs are `bot.bridge.Bridge`.
"""

from __future__ import annotations

import logging
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App, BoltContext

from bot import listeners
from bot.base.clock import Clock
from bot.bridge import Bridge, linked, run_soon
from bot.chatops import services as chatops
from bot.config import Settings
from bot.insights.spend import Spend
from bot.ops.alerts import Alerts
from bot.ops.consumers import Deliveries
from bot.ops.health import Health
from bot.ops.logs import hide
from bot.ops.metrics import ErrorTally
from bot.ops.watch import Watch
from bot.privacy.cleanup import SlackCleanup
from bot.privacy.erasure import Eraser
from bot.privacy.retention import Retention
from bot.relay.budget import Budget
from bot.relay.delivery import Feedback
from bot.relay.discovery import Discovery
from bot.relay.inbound import Inbound
from bot.relay.media import InboundMedia
from bot.relay.newcomers import Newcomers
from bot.relay.outbound import Outbound
from bot.relay.pieces import Composer
from bot.relay.polling import Poller
from bot.relay.questions import Asker
from bot.relay.sender import Sender
from bot.relay.threads import Threads
from bot.slack.poster import SlackPoster, make_web_client, observed
from bot.slack.quiet import quiet_logger
from bot.slack.reader import SlackNames
from bot.slack.socket_mode import SocketLink
from bot.slack.speaker import Customizing
from bot.store import open_store
from bot.survey.answers import Answers
from bot.wati.client import WatiClient
from bot.wati.limits import Windows
from bot.web import METRICS_PATH, make_asgi, metrics_route
from bot.webhooks.fastpath import build_fastpath, poll_hooks
from bot.webhooks.trust import WebhookTrust

logger = logging.getLogger(__name__)

__all__ = ["Bridge", "build", "run", "serve_listener"]  # Bridge: where callers have found it


def build(
    settings: Settings,
    *,
    wati_transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.time,
    process_before_response: bool = False,
    slack_min_interval: float | None = None,
) -> Bridge:
    """Wire every object from the settings (tests pass loopback URLs and a clock)."""
    the_clock = Clock(clock)  # the one clock: scheduling, Wati pacing and the store's stamps
    health = Health(clock=the_clock, wati_outage=settings.wati_outage)
    deliveries = Deliveries.for_checks(settings.check_seconds, clock=the_clock)
    store = open_store(settings.db_path, writable=True, clock=the_clock, on_write=health.wrote)
    budget = Budget(store=store, monthly_calls=settings.wati_monthly_calls, now=the_clock.now)
    errors = ErrorTally()
    wati = WatiClient(
        settings.wati_api_endpoint,
        settings.wati_access_token,
        transport=wati_transport,
        on_call=budget.record,
        on_error=errors.wati,
        on_answer=health.wati_answered,
        on_sent=Spend(store=store, now=the_clock.now).count,
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
    windows = Windows()
    scheduler = BackgroundScheduler(executors={"default": ThreadPoolExecutor(50)}, timezone="UTC")
    names = SlackNames(web)
    threads = Threads(
        store=store, wati=wati, windows=windows, clock=the_clock, poster=poster, budget=budget
    )
    inbound = Inbound(
        store=store,
        wati=wati,
        windows=windows,
        clock=the_clock,
        poster=poster,
        threads=threads,
        media=InboundMedia(store=store, wati=wati, poster=poster, clock=the_clock),
        customized=Customizing(web),
        is_answer=Answers(store=store, clock=the_clock).take,
    )
    feedback = Feedback(store=store, poster=poster, threads=threads)
    outbound = Outbound(
        store=store,
        sender=Sender(
            store=store,
            wati=wati,
            budget=budget,
            windows=windows,
            composer=Composer(
                names=names,
                agent_prefix=settings.agent_prefix,
                token=web.token or settings.slack_bot_token,
                slack_api_url=settings.slack_api_url,
            ),
            asker=Asker(store=store, wati=wati, clock=the_clock),
            feedback=feedback,
            clock=the_clock,
            wake=lambda channel, customer: store.wake_chat(channel, customer, the_clock(), "slack"),
        ),
        feedback=feedback,
        clock=the_clock,
        note_prefix=settings.note_prefix,
        run_soon=lambda: run_soon(scheduler, "outbound"),
    )
    trust = WebhookTrust(store=store, clock=the_clock, poll_seconds=settings.poll_seconds)
    discovery = Discovery(
        store=store,
        wati=wati,
        windows=windows,
        clock=the_clock,
        budget=budget,
        poll_seconds=settings.poll_seconds,
        covered=trust.covered,
        newcomers=Newcomers(store=store, wati=wati, budget=budget),
    )
    poller = Poller(
        store=store,
        wati=wati,
        windows=windows,
        clock=the_clock,
        inbound=inbound,
        discovery=discovery,
        budget=budget,
        poll_seconds=settings.poll_seconds,
        **poll_hooks(trust, feedback.note_history),
    )
    webhooks = build_fastpath(
        store=store,
        wati=wati,
        poster=poster,
        inbound=inbound,
        poller=poller,
        feedback=feedback,
        trust=trust,
        clock=the_clock,
        public_url=settings.public_url,
        configured_token=settings.webhook_token,
        run_soon=lambda job_id: run_soon(scheduler, job_id),
    )
    hide(webhooks.token)  # a generated one too: Wati may quote the URL back in an error
    app = App(
        client=web,
        signing_secret=settings.slack_signing_secret or "socket-mode",
        process_before_response=process_before_response,
        logger=quiet_logger("bot.bolt"),  # Bolt quotes request bodies: held back
    )
    eraser = Eraser(store=store, cleanup=SlackCleanup(client=web))
    retention = Retention(store=store, eraser=eraser, clock=the_clock, days=settings.retention_days)
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
        on_link=lambda number: linked(poller, scheduler),
        eraser=eraser,
        keeps=retention.describe(),
        run_broadcasts=lambda: run_soon(scheduler, "broadcasts"),
    )
    listeners.register(app, services)
    deliveries.register(app)

    @app.middleware
    def count_slack_errors(context: BoltContext, next: Callable[[], None]) -> None:
        context["client"] = observed(context.client, errors.slack, on_answer=health.slack_answered)
        next()

    @app.error
    def handle_error(error: Exception, body: dict[str, Any]) -> None:
        logger.error("listener failed: %s", type(error).__name__, exc_info=error)

    socket_link = None
    if settings.socket_mode:
        assert settings.slack_app_token is not None
        socket_link = SocketLink(app=app, app_token=settings.slack_app_token)  # not yet open
    alerts = Alerts(
        health=health,
        store=store,
        client=web,
        admins=settings.admins,
        alert_after=settings.alert_after,
        clock=clock,
    )
    return Bridge(
        settings=settings,
        store=store,
        wati=wati,
        budget=budget,
        clock=the_clock,
        windows=windows,
        poster=poster,
        threads=threads,
        poller=poller,
        outbound=outbound,
        app=app,
        services=services,
        scheduler=scheduler,
        watch=Watch(
            health=health,
            store=store,
            client=web,
            alerts=alerts,
            stale_after=settings.stale_after,
            deliveries=deliveries,
            socket_connected=(lambda: socket_link.connected) if socket_link else None,
        ),
        desk=services.desk,
        broadcasts=services.broadcasts,
        webhooks=webhooks,
        eraser=eraser,
        retention=retention,
        socket=socket_link,
        errors=errors,
    )


def run(settings: Settings, listener: socket.socket) -> int:
    """`wati-bridge run`: Socket Mode with an app token, HTTP mode otherwise. Blocks.

    Both modes serve the HTTP listener (`/healthz`; `/slack/events` in HTTP mode) on
    `listener`, the socket `cli` bound to HOST:PORT before anything called Wati or Slack,
    until SIGTERM. Exit 2 when Slack refuses the app-level token at start.
    """
    bridge = build(settings)
    try:
        # Before any job: a refused app token (exit 2) then costs no poll of Wati.
        if bridge.socket is not None and bridge.socket.open() is not None:
            return 2
        bridge.start_jobs()
        logger.info("bridge started with %d linked number(s)", len(bridge.store.links()))
        serve_listener(bridge, settings, listener)
    finally:
        if bridge.socket is not None:
            bridge.socket.close()
        bridge.shutdown()
    return 0


def serve_listener(bridge: Bridge, settings: Settings, listener: socket.socket) -> None:
    """Serve the HTTP listener on the bound socket until SIGTERM (or Ctrl-C)."""
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
    port = listener.getsockname()[1]
    logger.info("%s; listening on %s:%d (%s)", mode, settings.host, port, paths)
    token = settings.metrics_token
    routes = {METRICS_PATH: metrics_route(bridge.metrics, token), **bridge.webhooks.routes}
    asgi = make_asgi(bridge.health, dispatch, extra=routes, token=token)
    config = uvicorn.Config(asgi, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[listener])
