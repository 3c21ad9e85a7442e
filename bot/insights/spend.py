"""What replies cost: messages Wati accepted per linked number this calendar month (UTC).

Since October 2026 WhatsApp charges for replies inside the 24-hour window too, with the first
1,000 per number and month free (docs/WATI.md#paid-replies). Every send passes `WatiClient`, which
tells `Spend.count` what Wati accepted: session texts, files and buttons as "session", templates
(one per accepted number of a bulk send) as "template". The free allowance is counted against
session replies; templates are charged by their own category.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.store import Store

logger = logging.getLogger(__name__)

FREE_PER_MONTH = 1000


def month_of(moment: datetime) -> str:
    """The calendar month a moment counts in: "2026-12"."""
    return f"{moment:%Y-%m}"


@dataclass(frozen=True)
class Usage:
    """One number's sends this month."""

    session: int = 0
    template: int = 0

    @property
    def free_left(self) -> int:
        return max(0, FREE_PER_MONTH - self.session)

    def line(self) -> str:
        """ "42 session replies · 3 templates · 958 of 1,000 free replies left"."""
        return (
            f"{self.session:,} session repl{'y' if self.session == 1 else 'ies'} · "
            f"{self.template:,} template{'' if self.template == 1 else 's'} · "
            f"{self.free_left:,} of {FREE_PER_MONTH:,} free replies left"
        )


def this_month(store: Store, now: datetime) -> dict[str, Usage]:
    """Every number's sends in `now`'s month (numbers that sent nothing are absent)."""
    return {
        number: Usage(kinds.get("session", 0), kinds.get("template", 0))
        for number, kinds in store.sends_in(month_of(now)).items()
    }


class Spend:
    """Counts what Wati accepted (the WatiClient's `on_sent`)."""

    def __init__(self, *, store: Store, now: Callable[[], datetime]) -> None:
        self.store = store
        self.now = now

    def count(self, channel_number: str, kind: str, count: int) -> None:
        """Add accepted messages; a database failure loses a count, never the send."""
        try:
            self.store.count_send(month_of(self.now()), channel_number, kind, count)
        except sqlite3.Error as exc:
            logger.warning("a send was not counted: %s", exc)
