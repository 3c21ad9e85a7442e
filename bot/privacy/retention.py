"""BRIDGE_RETENTION_DAYS: conversations quiet for longer are erased like a forgotten customer.

Quiet means no message either way (nor a chat created) since then; the bridge's clock decides,
so tests move time by hand. Off when the setting is unset.
"""

from __future__ import annotations

from datetime import timedelta

from bot.base.clock import Clock
from bot.privacy.erasure import Eraser
from bot.store import Store
from bot.store.db import iso

BATCH = 50  # conversations per erasure: one transaction stays short beside the live bridge


class Retention:
    """Finds quiet conversations and hands them to the eraser, a batch per tick."""

    def __init__(self, *, store: Store, eraser: Eraser, clock: Clock, days: float | None) -> None:
        self.store = store
        self.eraser = eraser
        self.clock = clock
        self.days = days

    def describe(self) -> str:
        """What the bridge keeps, in words (`/wati status`)."""
        if self.days is None:
            return "conversations are kept until erased (`/wati forget`); BRIDGE_RETENTION_DAYS is unset"
        return f"conversations quiet for over {self.days:g} days are erased, here and in Slack"

    def tick(self) -> int:
        """Plan the erasure of the quiet conversations, a batch per transaction; how many."""
        if self.days is None:
            return 0
        before = iso(self.clock.now() - timedelta(days=self.days))
        planned = 0
        while keys := self.store.quiet_chats(before, limit=BATCH):
            self.eraser.expire(keys, days=self.days)
            planned += len(keys)
        return planned
