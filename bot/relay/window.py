"""WhatsApp's 24-hour customer service window: a session message may reach a customer only
within 24 hours of the customer's last message; after that only a template can."""

from __future__ import annotations

from datetime import datetime, timedelta

WINDOW = timedelta(hours=24)


def closes_at(last_inbound_at: datetime | None) -> datetime | None:
    """When the window closes (None: the customer never wrote, so it never opened)."""
    return last_inbound_at + WINDOW if last_inbound_at else None


def is_open(last_inbound_at: datetime | None, now: datetime) -> bool:
    """Whether a session message may be sent now."""
    closes = closes_at(last_inbound_at)
    return closes is not None and now < closes
