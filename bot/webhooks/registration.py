"""The webhook secret, registering a webhook per linked number, and what `wati-bridge webhooks`
prints.

Wati answers 405 to listing, changing and deleting webhooks, so the bridge registers a number
once (when it is linked, if BRIDGE_PUBLIC_URL is set) and remembers what it registered. The
URL carries the secret; it is shown only by `wati-bridge webhooks`, to be pasted into Wati's
dashboard by hand, and never logged.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import timedelta

from slack_sdk.errors import SlackApiError

from bot.base.clock import Clock
from bot.config import Settings
from bot.slack.poster import SlackPoster
from bot.store import Store, open_store
from bot.store.db import iso, parse_iso
from bot.store.links import Link
from bot.store.webhooks import NumberWebhook
from bot.text import phone
from bot.wati.client import WatiClient
from bot.wati.errors import WatiAuthError, WatiError, WatiRejected
from bot.webhooks.events import EVENT_TYPES
from bot.webhooks.receiver import WEBHOOK_PATH
from bot.webhooks.trust import WebhookTrust

logger = logging.getLogger(__name__)

TOKEN_KEY = "webhook_token"
RETRY_AFTER = timedelta(minutes=10)  # a registration that failed for a passing reason
FOR_GOOD = ("cap", "plan")  # errors only a person can fix: not retried until `--retry`

CAP_TEXT = (
    "Wati refused to add a webhook for {number}: the account already has as many webhooks as "
    "its plan allows. Remove one you no longer use in Wati (Connectors → Webhooks), then run "
    "`wati-bridge webhooks --retry`. Until then the bridge polls this number."
)
PLAN_TEXT = (
    "Wati did not accept a webhook for {number} (HTTP {status}): this Wati plan seems to have "
    "no webhooks (the Growth plan was reported without them). The bridge polls this number; "
    "on a plan with webhooks, paste the URL from `wati-bridge webhooks` into Wati's dashboard."
)


def webhook_token(store: Store, configured: str | None) -> str:
    """WATI_WEBHOOK_TOKEN, or the one generated on first use and kept in the database."""
    if configured:
        return configured
    kept = store.get(TOKEN_KEY)
    if kept:
        return kept
    made = secrets.token_urlsafe(32)
    store.put(TOKEN_KEY, made)
    return made


def webhook_url(base: str, token: str, channel_number: str) -> str:
    """The URL Wati calls for one number (the number rides along for events that lack it)."""
    return f"{base}{WEBHOOK_PATH}?token={token}&channel={channel_number}"


def masked(url: str, token: str) -> str:
    """A URL fit to keep and show: the secret replaced."""
    return url.replace(token, "<token>")


class Registrar:
    """Registers each linked number's webhook once, and says so in its channel."""

    def __init__(
        self,
        *,
        store: Store,
        wati: WatiClient,
        poster: SlackPoster,
        clock: Clock,
        public_url: str | None,
        token: str,
    ) -> None:
        self.store = store
        self.wati = wati
        self.poster = poster
        self.clock = clock
        self.public_url = public_url
        self.token = token

    def sync(self) -> int:
        """Register the linked numbers that have no webhook yet; return how many were added."""
        if self.public_url is None:
            return 0
        added = 0
        for link in self.store.links():
            row = self.store.number_webhook(link.channel_number)
            if row is not None and (row.webhook_id or row.registered_at or self._waits(row)):
                continue
            added += self.register(link)
        return added

    def _waits(self, row: NumberWebhook) -> bool:
        if row.error_kind in FOR_GOOD:
            return True
        tried = parse_iso(row.tried_at)
        return tried is not None and self.clock.now() - tried < RETRY_AFTER

    def register(self, link: Link) -> int:
        """One POST /api/v2/webhookEndpoints for this number; 1 when it was accepted."""
        assert self.public_url is not None
        number = link.channel_number
        url = webhook_url(self.public_url, self.token, number)
        now = iso(self.clock.now())
        try:
            webhook_id = self.wati.register_webhook(number, url, EVENT_TYPES)
        except WatiError as exc:
            # Wati may quote the URL it refused: its token never goes further than here.
            reason = masked(exc.reason, self.token)
            kind, text = explain(exc, number, reason)
            self.store.update_number_webhook(number, error=text, error_kind=kind, tried_at=now)
            logger.warning("webhook for a linked number not registered: %s", reason)
            if kind in FOR_GOOD:
                self._tell(link, text)
            return 0
        self.store.update_number_webhook(
            number,
            webhook_id=webhook_id,
            url=masked(url, self.token),
            event_types=json.dumps(list(EVENT_TYPES)),
            registered_at=now,
            error=None,
            error_kind=None,
            tried_at=now,
        )
        logger.info("webhook registered for a linked number (%d event types)", len(EVENT_TYPES))
        return 1

    def _tell(self, link: Link, text: str) -> None:
        try:
            self.poster.post(link.slack_channel_id, text=f":warning: {text}")
        except SlackApiError as exc:
            logger.warning("webhook notice not posted: %s", exc.response.get("error"))


def explain(exc: WatiError, number: str, reason: str) -> tuple[str, str]:
    """(kind, plain words) for a refused registration: cap, plan or passing (`reason`: Wati's
    words with the webhook token masked)."""
    shown = phone.display(number)
    said = reason
    reason = reason.lower()
    if isinstance(exc, WatiRejected) and ("exceed" in reason or "limitation" in reason):
        return "cap", CAP_TEXT.format(number=shown)
    if exc.status_code in (402, 404, 405) or (
        isinstance(exc, WatiAuthError) and "1010" not in reason
    ):
        return "plan", PLAN_TEXT.format(number=shown, status=exc.status_code)
    return (
        "passing",
        f"Wati did not register the webhook for {shown}: {said}. Tried again later.",
    )


def show(settings: Settings, *, retry: bool = False) -> int:
    """`wati-bridge webhooks`: print the report (and with --retry forget failures)."""
    store = open_store(settings.db_path)
    try:
        if retry:
            print(f"{store.clear_webhook_errors()} failed registration(s) will be tried again.")
        token = webhook_token(store, settings.webhook_token)
        trust = WebhookTrust(store=store, clock=Clock(), poll_seconds=settings.poll_seconds)
        print(report(store, trust, public_url=settings.public_url, token=token))
    finally:
        store.close()
    return 0


def report(store: Store, trust: WebhookTrust, *, public_url: str | None, token: str) -> str:
    """What `wati-bridge webhooks` prints: per linked number, the URL, registration, last event."""
    links = store.links()
    if not links:
        return "No linked numbers yet: link one with /wati link in a Slack channel."
    base = public_url or "https://<your bridge's public address>"
    lines = []
    if public_url is None:
        lines.append(
            "BRIDGE_PUBLIC_URL is not set: the bridge registers nothing itself. Paste each URL "
            "below into Wati (Connectors → Webhooks → Add Webhook), with your bridge's public "
            "address in front."
        )
    ids = store.get("webhook_ids")
    for link in links:
        number = link.channel_number
        row = store.number_webhook(number)
        lines.append("")
        lines.append(f"{phone.display(number)} (Slack channel {link.slack_channel_id})")
        lines.append(f"  URL to paste:  {webhook_url(base, token, number)}")
        lines.append(f"  registered:    {_registered(row)}")
        last = f"{row.last_event_at} ({row.last_event_type})" if row and row.last_event_at else None
        lines.append(f"  last event:    {last or 'none yet'}")
        lines.append(f"  health:        {_health(row, trust.healthy(number))}")
    lines.append("")
    lines.append(
        "Message ids: "
        + {
            "same": "webhook ids are history ids, so messages are relayed from webhooks directly.",
            "differ": "webhook ids differ from history ids; each event polls its chat at once.",
        }.get(ids or "", "not yet compared; each message event polls its chat at once.")
    )
    return "\n".join(lines)


def _registered(row: NumberWebhook | None) -> str:
    if row is None or (row.registered_at is None and row.error is None):
        return "not by the bridge"
    if row.error:
        return f"no. {row.error}"
    return f"yes, {row.registered_at}, id {row.webhook_id or '(none given)'}"


def _health(row: NumberWebhook | None, healthy: bool) -> str:
    if row is None or row.first_event_at is None:
        return "waiting for a first event; polled at the usual pace"
    if healthy:
        return "healthy; polling is only the safety net"
    return (
        f"missed a message at {row.unhealthy_at} ({row.unhealthy_reason}); polled at the usual pace"
    )
