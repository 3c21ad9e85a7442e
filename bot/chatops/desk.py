"""The support desk: ownership, waiting customers and nudges, saved replies, the Home tab."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.chatops.home import Home
from bot.chatops.marks import ParentMarks
from bot.chatops.owners import Owners
from bot.chatops.saved import SavedReplies
from bot.chatops.waiting import WaitingClock

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Desk:
    """Every part of the desk (built by `chatops.services.build`)."""

    owners: Owners
    saved: SavedReplies
    waiting: WaitingClock
    home: Home
    marks: ParentMarks

    def tick(self) -> None:
        """The scheduler's desk job: waits and nudges, half-done saved replies, Home caches.
        One part failing never stops the others."""
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("waiting", self.waiting.run),
            ("saved replies", self.saved.recover),
            ("home caches", self.home.warm),
        ]
        for name, step in steps:
            try:
                step()
            except Exception as exc:  # the next tick tries again
                logger.warning("desk job: %s failed: %s", name, type(exc).__name__)
                logger.debug("desk job failure", exc_info=exc)
