"""A busy support queue in the store, for the Home tab's tests and benchmark: thousands of
open conversations, some waiting, some owned, made with the store's own methods in one
transaction (no Wati, no Slack)."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.store import Store
from bot.store.db import iso


def seed_queue(
    store: Store,
    channel_number: str,
    slack_channel_id: str,
    count: int,
    *,
    now: datetime,
    owner: str | None = None,
    first_customer: int = 440_000_000_000,
) -> None:
    """`count` open conversations on one linked number: every third customer waits (for
    i minutes), every fifth is owned by `owner`."""
    with store.write():
        for i in range(count):
            customer = str(first_customer + i)
            created = now - timedelta(minutes=i + 1)
            store.ensure_chat(
                channel_number, customer, origin="seed", next_poll_at=None, name=f"Customer {i}"
            )
            store.update_chat(channel_number, customer, last_activity_at=iso(created))
            thread = store.create_thread(channel_number, customer, slack_channel_id, None)
            ts = f"{1_700_000_000 + i}.{i % 1_000_000:06d}"
            store.update_thread(thread.id, thread_ts=ts, state="open")
            store.record_message(
                f"seed-{channel_number}-{i}",
                channel_number=channel_number,
                customer_number=customer,
                direction="in",
                created=iso(created),
                state="posted",
                thread_id=thread.id,
            )
            if i % 3 == 0:  # waiting, and its parent shows it (a steady queue)
                store.set_waiting(channel_number, customer, iso(created))
                store.set_waiting_shown(channel_number, customer, iso(created))
            else:  # answered a few seconds later
                store.record_message(
                    f"seed-{channel_number}-{i}-answer",
                    channel_number=channel_number,
                    customer_number=customer,
                    direction="out",
                    created=iso(created + timedelta(seconds=5)),
                    state="ours",
                    thread_id=thread.id,
                )
            if owner is not None and i % 5 == 0:
                store.set_owner(
                    channel_number, customer, owner, in_wati=True, by=owner, at=iso(now)
                )
