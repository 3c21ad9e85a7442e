"""Whether a number's webhooks can be trusted, and how much polling they save.

A number's webhooks are healthy once an event has come through and no poll has since found
a customer message that no webhook brought. While they are healthy, its chats' scheduled
polls wait STRETCH times longer, a contact whose `lastUpdated` a webhook already explains
is not polled, and the contacts page is looked at every four poll intervals (every five
minutes after a quiet spell) instead of once a minute. A message found by a poll and not by
a webhook (checked GRACE seconds later, as the webhook may simply be slower than the poll)
makes them unhealthy: polling goes back to its usual pace until RECOVER has passed with
events arriving and no further miss.

Whether webhook ids are history ids (so a webhook's message can be relayed without a
getMessages call) is learned, not assumed: until a poll shows a webhook's id in the history
of its chat, every message event is only a wake-up that polls that chat at once.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from bot.base.clock import Clock
from bot.store import Store
from bot.store.chats import Chat
from bot.store.db import iso, parse_iso
from bot.wati.types import WatiMessage

logger = logging.getLogger(__name__)

STRETCH = 8
GRACE = 10.0
RECOVER = 1800.0
RECENT = 600.0  # events within this long: the contacts page is looked at every 4 intervals
IDLE_LOOK = 300.0
NEAR = timedelta(seconds=60)  # a wake-up event and the message it stands for
COVER_SLACK = timedelta(seconds=1)  # lastUpdated may trail the message's own time a little
IDS_KEY = "webhook_ids"  # kv: "same" once proven, "differ" when a poll showed otherwise


class WebhookTrust:
    """Per-number trust in the webhooks; the pacing hooks the poller asks."""

    def __init__(self, *, store: Store, clock: Clock, poll_seconds: float) -> None:
        self.store = store
        self.clock = clock
        self.poll_seconds = poll_seconds
        self._lock = threading.Lock()
        # (number, wati id) -> (customer, created, found at): polled messages to check later
        self._suspects: dict[tuple[str, str], tuple[str, datetime, float]] = {}
        # chat -> the stretched poll time already given, so a chat is stretched once a turn
        self._stretched: dict[tuple[str, str], float] = {}
        self._last_look = 0.0

    # -- state -------------------------------------------------------------------------------

    def healthy(self, channel_number: str) -> bool:
        """Whether the number's webhooks are trusted to bring its messages."""
        row = self.store.number_webhook(channel_number)
        if row is None or row.first_event_at is None:
            return False
        missed = parse_iso(row.unhealthy_at)
        if missed is None:
            return True
        last = parse_iso(row.last_event_at)
        quiet = (self.clock.now() - missed).total_seconds() >= RECOVER
        return quiet and last is not None and last > missed

    def all_healthy(self) -> bool:
        """Whether every linked number's webhooks are healthy (and there is at least one)."""
        links = self.store.links()
        return bool(links) and all(self.healthy(link.channel_number) for link in links)

    def ids_match(self) -> bool:
        """Whether a webhook's message id has been seen to be its history id."""
        return self.store.get(IDS_KEY) == "same"

    def note_event(self, channel_number: str, event_type: str) -> None:
        """An event for this number came through."""
        now = iso(self.clock.now())
        row = self.store.number_webhook(channel_number)
        first = row.first_event_at if row is not None and row.first_event_at else now
        self.store.update_number_webhook(
            channel_number, first_event_at=first, last_event_at=now, last_event_type=event_type
        )

    def mark_missed(self, channel_number: str, reason: str) -> None:
        """Polling found what the webhooks did not bring: back to polling at the usual pace."""
        was = self.healthy(channel_number)
        self.store.update_number_webhook(
            channel_number, unhealthy_at=iso(self.clock.now()), unhealthy_reason=reason
        )
        if was:
            logger.warning("webhooks of a linked number missed a message: polling speeds up")

    # -- what polls show ----------------------------------------------------------------------

    def note_history(self, chat: Chat, items: list[WatiMessage]) -> None:
        """A poll read this chat's history (before recording it): check the webhooks by it."""
        self._settle_ids(chat, items)
        inbound = [i for i in items if not i.owner and i.event_type == "message"]
        row = self.store.number_webhook(chat.channel_number)
        active = parse_iso(row.first_event_at) if row is not None else None
        link = self.store.link_for_number(chat.channel_number)
        if not inbound or active is None or link is None:
            return
        # History from before the link (or the backfill horizon) is never relayed, and no
        # webhook of this link could have brought it (events for an unlinked number are
        # ignored): a first poll finding it is no miss.
        since = self.store.relay_since(link)
        if since is not None:
            active = max(active, since)
        known = self.store.known_ids([i.id for i in inbound])
        now = self.clock()
        with self._lock:
            for item in inbound:
                if item.id not in known and item.created >= active:
                    key = (chat.channel_number, item.id)
                    self._suspects.setdefault(key, (chat.customer_number, item.created, now))

    def _settle_ids(self, chat: Chat, items: list[WatiMessage]) -> None:
        """Events that woke this poll say whether webhook ids are history ids."""
        events = self.store.woke_events(chat.channel_number, chat.customer_number)
        if not events:
            return
        ids = {i.id for i in items}
        newest = max((i.created for i in items), default=None)
        for event in events:
            created = parse_iso(event.created)
            if event.wati_id in ids:
                if self.store.get(IDS_KEY) is None:
                    logger.info("webhook ids are history ids: messages are relayed from webhooks")
                    self.store.put(IDS_KEY, "same")
                self.store.finish_webhook_event(event.key, "done", "id found in history")
            elif created is not None and newest is not None and newest >= created:
                logger.warning("a webhook's id is not in the history: webhooks only wake polls")
                self.store.put(IDS_KEY, "differ")
                self.store.finish_webhook_event(event.key, "done", "id not in history")

    def check(self) -> int:
        """Judge the suspects older than GRACE; return how many were misses."""
        now = self.clock()
        with self._lock:
            ripe = {k: v for k, v in self._suspects.items() if v[2] + GRACE <= now}
            for key in ripe:
                del self._suspects[key]
        missed = 0
        for (number, wati_id), (customer, created, _) in ripe.items():
            if self.store.webhook_ids([wati_id]):
                continue
            if not self.ids_match() and self.store.webhook_events_near(
                customer, iso(created - NEAR), iso(created + NEAR)
            ):
                continue
            missed += 1
            self.mark_missed(number, "a poll found a customer message that no webhook brought")
        return missed

    # -- pacing hooks for the poller ----------------------------------------------------------

    def postpone(self, chat: Chat) -> float | None:
        """A later time for a due chat's scheduled poll while its webhooks are healthy.

        Only scheduled polls wait; a chat woken (by a webhook, a reply, a contacts hint) or
        just found active (empty_polls 0) is polled now.
        """
        if chat.empty_polls == 0 or chat.next_poll_at is None or chat.hinted_at is not None:
            return None
        key = (chat.channel_number, chat.customer_number)
        with self._lock:
            if self._stretched.get(key) == chat.next_poll_at:
                return None
        if not self.healthy(chat.channel_number):
            return None
        last = parse_iso(chat.last_polled_at)
        planned = chat.next_poll_at - last.timestamp() if last is not None else 1800.0
        later = self.clock() + max(planned, self.poll_seconds) * (STRETCH - 1)
        with self._lock:
            self._stretched[key] = later
        return later

    def covered(self, customer_number: str, last_updated: datetime | None) -> bool:
        """Whether a contact's change is explained by a message a webhook already brought."""
        if last_updated is None or not self.all_healthy():
            return False
        newest = parse_iso(self.store.newest_webhook_message(customer_number))
        return newest is not None and newest >= last_updated - COVER_SLACK

    def look_due(self) -> bool:
        """Whether the contacts page should be looked at now (webhooks standing in for hints)."""
        if not self.all_healthy():
            return False
        now = self.clock()
        stamps = [r.last_event_at for r in self.store.number_webhooks() if r.last_event_at]
        newest = parse_iso(max(stamps, default=None))
        recent = newest is not None and (self.clock.now() - newest).total_seconds() < RECENT
        period = 4 * self.poll_seconds if recent else IDLE_LOOK
        if now - self._last_look < period:
            return False
        self._last_look = now
        return True
