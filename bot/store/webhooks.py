"""Wati webhooks: the events as they arrived, and per number what was registered and seen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.store.db import Db, iso


@dataclass(frozen=True)
class WebhookEvent:
    """One recorded webhook event. state: pending, woke (a poll decides), done, ignored."""

    key: str
    event_type: str
    channel_number: str | None
    customer_number: str | None
    wati_id: str | None
    created: str | None
    received_at: str
    state: str
    attempts: int
    payload: str | None
    note: str | None


@dataclass(frozen=True)
class NumberWebhook:
    """What the bridge registered for one number and what it has seen from Wati since."""

    channel_number: str
    webhook_id: str | None
    url: str | None
    event_types: str | None
    registered_at: str | None
    error: str | None
    error_kind: str | None
    tried_at: str | None
    first_event_at: str | None
    last_event_at: str | None
    last_event_type: str | None
    unhealthy_at: str | None
    unhealthy_reason: str | None


class WebhookTable(Db):
    """The `webhook_events` and `webhooks` tables."""

    def record_webhook_event(
        self,
        key: str,
        *,
        event_type: str,
        channel_number: str | None,
        customer_number: str | None,
        wati_id: str | None,
        created: str | None,
        payload: str,
    ) -> bool:
        """Record an event once (pending); False when its key was already recorded."""
        with self.write() as db:
            before = db.conn.total_changes
            db.table("webhook_events").insert(
                {
                    "key": key,
                    "event_type": event_type,
                    "channel_number": channel_number,
                    "customer_number": customer_number,
                    "wati_id": wati_id,
                    "created": created,
                    "received_at": iso(self.clock.now()),
                    "state": "pending",
                    "attempts": 0,
                    "payload": payload,
                },
                ignore=True,
            )
            return db.conn.total_changes > before

    def pending_webhook_events(self, limit: int = 200) -> list[WebhookEvent]:
        """Events not yet processed: customers' and sent messages before delivery statuses
        (a burst of receipts never holds a customer's message back), each in arrival order."""
        return self._all(
            WebhookEvent,
            "select * from webhook_events where state = 'pending' "
            "order by event_type like 'sentMessage%', received_at, rowid limit ?",
            [limit],
        )

    def webhook_event(self, key: str) -> WebhookEvent | None:
        """One recorded event by its key."""
        return self._one(WebhookEvent, "select * from webhook_events where key = ?", [key])

    def set_webhook_customer(self, key: str, customer_number: str) -> None:
        """File an event under the chat key its customer has (a BSUID chat's phone event)."""
        with self.write() as db:
            db.table("webhook_events").update(key, {"customer_number": customer_number})

    def finish_webhook_event(self, key: str, state: str, note: str | None = None) -> None:
        """An event is processed: its outcome is kept, its payload (message text) is not."""
        with self.write() as db:
            db.table("webhook_events").update(key, {"state": state, "note": note, "payload": None})

    def retry_webhook_event(self, key: str, attempts: int) -> None:
        """Count one more try of an event that waits for something (a send's answer)."""
        with self.write() as db:
            db.table("webhook_events").update(key, {"attempts": attempts})

    def woke_events(self, channel_number: str, customer_number: str) -> list[WebhookEvent]:
        """Events of a chat that woke a poll and wait for it to say whether the ids match."""
        return self._all(
            WebhookEvent,
            "select * from webhook_events where state = 'woke' and channel_number = ? "
            "and customer_number = ? order by received_at",
            [channel_number, customer_number],
        )

    def webhook_ids(self, wati_ids: list[str]) -> set[str]:
        """Which of these Wati message ids some webhook event carried."""
        if not wati_ids:
            return set()
        marks = ",".join("?" * len(wati_ids))
        rows = self.query(
            f"select distinct wati_id from webhook_events where wati_id in ({marks})", wati_ids
        )
        return {r["wati_id"] for r in rows}

    def webhook_events_near(self, customer_number: str, start: str, end: str) -> int:
        """How many message events of this customer were created between two times."""
        rows = self.query(
            "select count(*) as n from webhook_events where customer_number = ? "
            "and created >= ? and created <= ?",
            [customer_number, start, end],
        )
        return int(rows[0]["n"])

    def newest_webhook_message(self, customer_number: str) -> str | None:
        """When the newest message that a webhook brought from or to this customer was created."""
        rows = self.query(
            # only events already handled: a pending one has brought nothing yet
            "select max(created) as newest from webhook_events where customer_number = ? "
            "and state != 'pending' and event_type in ('message', 'message_bsuid', 'sessionMessageSent_v2', "
            "'templateMessageSent_v2')",
            [customer_number],
        )
        return rows[0]["newest"] if rows else None

    def prune_webhook_events(self, before: str) -> int:
        """Forget processed events received before `before` (Wati retries for a day at most)."""
        with self.write() as db:
            cursor = db.execute(
                "delete from webhook_events where state in ('done', 'ignored', 'woke') "
                "and received_at < ?",
                [before],
            )
            return int(cursor.rowcount)

    # -- per number ----------------------------------------------------------------------------

    def number_webhook(self, channel_number: str) -> NumberWebhook | None:
        """A number's webhook record."""
        return self._one(
            NumberWebhook, "select * from webhooks where channel_number = ?", [channel_number]
        )

    def number_webhooks(self) -> list[NumberWebhook]:
        """Every number's webhook record."""
        return self._all(NumberWebhook, "select * from webhooks order by channel_number")

    def update_number_webhook(self, channel_number: str, **values: Any) -> None:
        """Set some columns of a number's webhook record, creating it when missing."""
        with self.write() as db:
            db.table("webhooks").insert({"channel_number": channel_number}, ignore=True)
            db.table("webhooks").update(channel_number, values)

    def clear_webhook_errors(self) -> int:
        """Forget registration errors, so the running bridge tries again; return how many."""
        with self.write() as db:
            cursor = db.execute(
                "update webhooks set error = null, error_kind = null, tried_at = null "
                "where error is not null"
            )
            return int(cursor.rowcount)
