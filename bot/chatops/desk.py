"""The support desk: ownership, waiting customers and nudges, saved replies, the Home tab."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.base.clock import Clock
from bot.chatops.home import Home
from bot.chatops.operations import ChatOps
from bot.chatops.owners import Owners
from bot.chatops.saved import SavedReplies
from bot.chatops.waiting import WaitingClock
from bot.config import Settings
from bot.relay.budget import Budget
from bot.relay.outbound import Outbound
from bot.slack.reader import SlackNames

logger = logging.getLogger(__name__)


@dataclass
class Desk:
    """Every part of the desk, built once by the composition root."""

    owners: Owners
    saved: SavedReplies
    waiting: WaitingClock
    home: Home

    @classmethod
    def build(
        cls,
        ops: ChatOps,
        outbound: Outbound,
        names: SlackNames,
        budget: Budget,
        settings: Settings,
        clock: Clock,
    ) -> Desk:
        """The desk over the chat-ops core's store, Wati client, threads and poster."""
        owners = Owners(
            ops.store,
            ops.wati,
            ops.threads,
            ops.poster,
            names,
            clock,
            assign_on_reply=settings.assign_on_reply,
        )
        saved = SavedReplies(
            ops.store, outbound, owners, ops.poster, clock, ops.contacts.find_contact
        )
        waiting = WaitingClock(
            ops.store,
            ops.threads,
            ops.poster,
            clock,
            target_minutes=settings.reply_target_minutes,
            hours=settings.business_hours,
        )
        home = Home(
            ops.store, budget, ops.poster.client, names, clock, hours=settings.business_hours
        )
        return cls(owners, saved, waiting, home)

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
