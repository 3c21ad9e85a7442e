"""The webhook fast path as one piece for the composition root: built once, jobs to schedule."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.base.clock import Clock
from bot.relay.delivery import Feedback
from bot.relay.inbound import Inbound
from bot.relay.polling import Poller
from bot.slack.poster import SlackPoster
from bot.store import Store
from bot.store.chats import Chat
from bot.store.db import iso
from bot.wati.client import WatiClient
from bot.wati.types import WatiMessage
from bot.web import Route
from bot.webhooks.hub import Hub
from bot.webhooks.receiver import WEBHOOK_PATH, Handler, make_receiver
from bot.webhooks.registration import Registrar, webhook_token
from bot.webhooks.trust import WebhookTrust

HistoryHook = Callable[[Chat, list[WatiMessage]], None]

KEEP_EVENTS = timedelta(days=2)  # Wati retries an event for a day: its key is kept longer


@dataclass(kw_only=True)
class FastPath:
    """Receiver, hub, trust and registration of Wati webhooks, wired to the relay."""

    store: Store
    poller: Poller
    trust: WebhookTrust
    hub: Hub
    registrar: Registrar
    token: str
    receiver: Handler

    @property
    def routes(self) -> dict[str, Route]:
        """The listener's route for webhooks (POST only)."""
        return {WEBHOOK_PATH: Route(frozenset({"POST"}), self.receiver)}

    def hint(self) -> None:
        """Discovery's contacts looks on their cadence, unless healthy webhooks stand in."""
        if not self.trust.all_healthy():
            self.poller.discovery.run()

    def reconcile(self) -> None:
        """While webhooks are healthy: a look at the contacts page every few poll intervals."""
        if self.trust.look_due():
            self.poller.discover()

    def tidy(self) -> None:
        """Judge what polls found, and forget old processed events."""
        self.trust.check()
        self.store.prune_webhook_events(iso(self.trust.clock.now() - KEEP_EVENTS))


def poll_hooks(trust: WebhookTrust, on_history: HistoryHook) -> dict[str, Any]:
    """The Poller's keyword arguments through which the trust in webhooks steers polling."""

    def both(chat: Chat, items: list[WatiMessage]) -> None:
        trust.note_history(chat, items)  # before the poll records them: what is new?
        on_history(chat, items)

    return {"on_history": both, "postpone": trust.postpone}


def build_fastpath(
    *,
    store: Store,
    wati: WatiClient,
    poster: SlackPoster,
    inbound: Inbound,
    poller: Poller,
    feedback: Feedback,
    trust: WebhookTrust,
    clock: Clock,
    public_url: str | None,
    configured_token: str | None,
    run_soon: Callable[[str], None],
) -> FastPath:
    """Wire the fast path around the poller built with `trust`'s hooks (see `poll_hooks`);
    `run_soon(job_id)` brings a scheduler job forward."""
    hub = Hub(
        store=store,
        inbound=inbound,
        poller=poller,
        feedback=feedback,
        trust=trust,
        clock=clock,
        poll_now=lambda number: run_soon(f"poll:{number}"),
    )
    token = webhook_token(store, configured_token)
    registrar = Registrar(
        store=store, wati=wati, poster=poster, clock=clock, public_url=public_url, token=token
    )
    receiver = make_receiver(token, store, lambda: run_soon("webhooks"))
    return FastPath(
        store=store,
        poller=poller,
        trust=trust,
        hub=hub,
        registrar=registrar,
        token=token,
        receiver=receiver,
    )
