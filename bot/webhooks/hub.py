"""What each recorded webhook event does, once, in the order the events arrived.

- A customer's `message` (or a business-side `sessionMessageSent_v2` / `templateMessageSent_v2`)
  goes through the same record-before-post path as a polled message, under its Wati id, when
  webhook ids are known to be history ids; otherwise it wakes that one chat's poll at once.
  The bridge's own sends are told apart exactly as in a poll (`Inbound._record`).
- `newContactMessageReceived` opens the chat and polls it at once.
- `sentMessageDELIVERED_v2` / `READ_v2` / `FAILED_v2` move the reply's reaction through
  `Feedback.note_history`, as a history page would, without waiting for a poll. A status can
  beat the send's own answer; it waits (a few rounds) for the reply to be on record.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.base.clock import Clock
from bot.customers import identity
from bot.customers.identity import Customer
from bot.relay.delivery import Feedback
from bot.relay.inbound import Inbound
from bot.relay.polling import Poller
from bot.store import Store
from bot.store.db import iso
from bot.store.links import Link
from bot.store.webhooks import WebhookEvent
from bot.wati.errors import WatiError
from bot.webhooks.events import BSUID_SUFFIX, Kind, as_item, kind_of
from bot.webhooks.trust import WebhookTrust

logger = logging.getLogger(__name__)

STATUS_TRIES = 20  # rounds a status waits for its reply to be on record
# Seconds (real time: Wati sends twins back to back, but a busy bridge takes them apart) a
# BSUID-only event waits for its phone-keyed twin. Counted in hub rounds instead, the wait
# ended within one scheduler tick, as every webhook that arrived started a round.
TWIN_WAIT = 5.0
REORDER = 0.4  # seconds a webhook's message waits for an earlier one overtaken on the way
AWAITED = timedelta(minutes=10)  # a sent part without a Wati id may still learn it from a status


class Hub:
    """Processes recorded webhook events (the scheduler's `webhooks` job calls `process`)."""

    def __init__(
        self,
        *,
        store: Store,
        inbound: Inbound,
        poller: Poller,
        feedback: Feedback,
        trust: WebhookTrust,
        clock: Clock,
        poll_now: Callable[[str], None] = lambda number: None,
    ) -> None:
        self.store = store
        self.inbound = inbound
        self.poller = poller
        self.feedback = feedback
        self.trust = trust
        self.clock = clock
        self.poll_now = poll_now  # runs a number's poll job at once
        self._held: dict[str, float] = {}  # event key -> when first recorded (monotonic)
        self._twins: dict[str, float] = {}  # BSUID-only event key -> since when it waits

    def process(self) -> int:
        """Handle every pending event; return how many were settled.

        A message held for the reordering moment goes out as soon as that moment is over,
        in the same run, not a scheduler tick later: within a second of its webhook."""
        settled = self._pass()
        for _ in range(3):  # bounded: a held event settles on the pass after its moment
            if not self._held:
                break
            time.sleep(max(0.0, min(self._held.values()) + REORDER - time.monotonic()))
            settled += self._pass()
        return settled

    def _pass(self) -> int:
        settled = 0
        events = self.store.pending_webhook_events()
        pending = {event.key for event in events}
        # An event settled some other way (a poll) no longer waits here.
        self._held = {key: at for key, at in self._held.items() if key in pending}
        self._twins = {key: at for key, at in self._twins.items() if key in pending}
        # Newcomers first: a message that overtook an earlier one is posted only after the
        # earlier one is on record, so the thread gets both in Wati's order.
        for event in sorted(events, key=lambda event: event.key in self._held):
            try:
                payload = json.loads(event.payload or "{}")
                outcome = self._handle(event, payload)
            except (ValueError, KeyError, TypeError) as exc:
                logger.warning("webhook %s unusable: %s", event.event_type, type(exc).__name__)
                outcome = ("ignored", "unusable")
            if outcome is None:
                continue  # waits for another round
            self.store.finish_webhook_event(event.key, *outcome)
            settled += 1
        return settled

    def _handle(self, event: WebhookEvent, payload: dict[str, Any]) -> tuple[str, str] | None:
        kind = kind_of(event.event_type)
        if kind is Kind.STATUS:
            return self._status(event, payload)
        customer = identity.from_payload(payload)
        if customer.key is None:
            logger.warning("webhook %s names no phone number and no BSUID", event.event_type)
            return ("ignored", "no customer identity")
        key = self.store.customer_key(
            phone=customer.phone, bsuid=customer.bsuid, contact_id=customer.contact_id
        )
        if key is None and customer.phone is None and self._twin_may_come(event):
            # Filed under the BSUID now, the customer's chat would never be the one their
            # phone number names (the contacts list, other numbers' polls, the thread).
            twin = f"{event.event_type.removesuffix(BSUID_SUFFIX)}:{event.wati_id}"
            if self.store.webhook_event(twin) is not None:
                self._twins.pop(event.key, None)
                return ("done", "twin of a phone-keyed event")
            since = self._twins.setdefault(event.key, time.monotonic())
            if time.monotonic() - since < TWIN_WAIT:
                return None  # waits for the twin
            self._twins.pop(event.key, None)  # none came: a customer without a phone number
        key = key or customer.key
        if key != event.customer_number:
            self.store.set_webhook_customer(event.key, key)
            event = replace(event, customer_number=key)
        outcome = self._route(kind, event, key, customer, payload)
        self.store.note_customer(key, customer.columns())  # the chat may be new
        return outcome

    def _route(
        self, kind: Kind, event: WebhookEvent, key: str, customer: Customer, payload: dict[str, Any]
    ) -> tuple[str, str] | None:
        """A customer's event, filed under their chat key: relayed, or a poll woken."""
        links = self._links(event)
        if not links:
            return ("ignored", "number not linked")
        for link in links:
            self.trust.note_event(link.channel_number, event.event_type)
        if kind is Kind.NEW_CONTACT:
            for link in links:
                self._wake(link, key, customer.label)
            return ("done", "new contact polled")
        if len(links) == 1 and self.trust.ids_match():
            return self._relay(links[0], event, payload)
        for link in links:
            self._wake(link, key)
        # One number: a poll will say whether this id is in the history (see WebhookTrust).
        return ("woke", "poll woken") if len(links) == 1 else ("done", "polls woken")

    def holding(self) -> bool:
        """Whether recorded messages wait out the reordering moment (see `_relay`) or for
        their phone-keyed twin."""
        return bool(self._held or self._twins)

    def _twin_may_come(self, event: WebhookEvent) -> bool:
        """Whether a BSUID-only event for a BSUID the bridge does not know may have a
        phone-keyed twin (the same Wati id) saying the phone number the customer is filed
        under. Not for a customer the contacts list showed without a phone: no twin comes."""
        return event.event_type.endswith(BSUID_SUFFIX) and not self.store.contact_seen(
            event.customer_number or ""
        )

    def _links(self, event: WebhookEvent) -> list[Link]:
        """The number the event is for; every linked number when it does not say."""
        if event.channel_number is not None:
            link = self.store.link_for_number(event.channel_number)
            return [link] if link is not None else []
        return self.store.links()

    def _wake(self, link: Link, customer: str, name: str | None = None) -> None:
        chat = self.poller.wake(link.channel_number, customer, origin="webhook")
        if name and not chat.customer_name:
            self.store.update_chat(link.channel_number, customer, customer_name=name)
        self.poll_now(link.channel_number)

    def _relay(
        self, link: Link, event: WebhookEvent, payload: dict[str, Any]
    ) -> tuple[str, str] | None:
        """The message itself, through the record-before-post path, under its Wati id."""
        item = as_item(payload)
        customer = event.customer_number
        assert customer is not None
        if item is None:
            self._wake(link, customer)
            return ("done", "unreadable message: poll woken")
        chat = self.store.chat(link.channel_number, customer)
        if chat is None:
            # A new chat gets one poll soon after, for anything around its first message.
            soon = self.clock() + 4 * self.poller.poll_seconds
            self.store.ensure_chat(
                link.channel_number, customer, origin="webhook", next_poll_at=soon
            )
            self.store.note_customer(customer, identity.from_payload(payload).columns())
            chat = self.store.chat(link.channel_number, customer)
            assert chat is not None
        changes = self.inbound.record_all(link, chat, [item])  # the chat row with it
        # On record now; posted a moment later, so that an earlier message whose webhook
        # comes a little late is posted first (pending messages go out in Wati's order).
        # Real time: it bounds how far webhooks overtake each other on the wire.
        first = self._held.setdefault(event.key, time.monotonic())
        if time.monotonic() - first < REORDER:
            return None
        self._held.pop(event.key, None)
        chat = self.store.chat(link.channel_number, customer) or changes.applied(chat)
        try:
            self.inbound.flush_pending(link, chat, until=iso(item.created))
        except (SlackApiError, WatiError) as exc:
            # The message is on record as pending: the chat's next poll posts it.
            logger.warning("webhook message not posted yet (%s): poll woken", type(exc).__name__)
            self.poller.wake(link.channel_number, customer, origin="webhook")
            return ("done", "recorded; posting left to a poll")
        return ("done", "relayed")

    def _status(self, event: WebhookEvent, payload: dict[str, Any]) -> tuple[str, str] | None:
        """Move a reply's delivery mark, as a history page showing this status would."""
        item = as_item(payload)
        if item is None or event.wati_id is None:
            return ("ignored", "unreadable status")
        local = [item.local_message_id] if item.local_message_id else []
        parts = self.store.parts_matching([event.wati_id], local)
        if not parts:
            # The send's answer may have had no id: the reply knows it from its echo.
            reply = self.store.reply_by_wati_id(event.wati_id)
            found = self.store.reply_parts(reply.id) if reply is not None else []
            if len(found) == 1:
                self.store.set_part_delivery(found[0], found[0].delivery, event.wati_id)
                parts = found
        if not parts:
            recent = iso(self.clock.now() - AWAITED)  # parts' sent_at is on the same clock
            if event.attempts + 1 >= STATUS_TRIES or not self.store.sends_awaiting_ids(recent):
                # Nothing of the bridge's could still be this (a broadcast from Wati's
                # dashboard sends thousands): settled now, never left to block the queue.
                return ("ignored", "not a reply of the bridge")
            self.store.retry_webhook_event(event.key, event.attempts + 1)
            return None
        job = self.store.reply_job(parts[0].reply_id)
        chat = self.store.chat(job.channel_number, job.customer_number) if job else None
        if job is None or chat is None:
            return ("ignored", "reply without a chat")
        self.trust.note_event(job.channel_number, event.event_type)
        self.feedback.note_history(chat, [item])
        return ("done", f"delivery {item.status}")
