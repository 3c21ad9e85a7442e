"""Linked channels: which Slack channel serves which WhatsApp number, and how it is doing
(`/wati link`, `unlink`, `status`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from bot.chatops import numbers
from bot.insights import spend
from bot.ops.health import Health
from bot.relay.budget import Budget
from bot.store import Store
from bot.store.links import Link
from bot.text import phone
from bot.wati.client import WatiClient
from bot.wati.types import AccountNumber

logger = logging.getLogger(__name__)


class Channels:
    """Links and unlinks channels, and reports a channel's relay in words."""

    def __init__(
        self,
        *,
        store: Store,
        wati: WatiClient,
        budget: Budget,
        health: Health | None = None,
        on_link: Callable[[str], object] | None = None,
        keeps: str | None = None,
    ) -> None:
        self.store = store
        self.wati = wati
        self.budget = budget
        self.health = health
        # Called with the number after a successful link (the composition root starts its
        # polling and a contacts look at once: the first customer need not wait).
        self.on_link = on_link
        self.keeps = keeps  # what the bridge keeps, and for how long (retention), in words

    def listing(self) -> numbers.Listing:
        """The account's WhatsApp numbers as Wati lists them (never raises)."""
        return numbers.listing(self.wati)

    def unlinked(self, found: numbers.Listing) -> list[AccountNumber]:
        """The listed numbers no channel serves yet."""
        return [n for n in found.numbers or () if self.store.link_for_number(n.number) is None]

    def link(self, number: str, channel_id: str, user_id: str) -> Link:
        """Link a channel to a checked number; `LinkConflict` when either is taken."""
        link = self.store.link(number, channel_id, user_id)
        logger.info("channel %s linked to a number by %s", channel_id, user_id)
        if self.on_link is not None:
            self.on_link(link.channel_number)
        return link

    def unlink(self, channel_id: str, user_id: str) -> Link | None:
        """Stop relaying the channel's number; the link that was, if any."""
        link = self.store.unlink(channel_id)
        if link is not None:
            logger.info("channel %s unlinked by %s", channel_id, user_id)
        return link

    def status(self, channel_id: str) -> str:
        """`/wati status`: the linked number, open conversations, polling, quota and health."""
        link = self.store.link_for_channel(channel_id)
        lines = []
        if link is None:
            lines.append("This channel is not linked. An admin can run `/wati link <number>`.")
        else:
            number = link.channel_number
            lines.append(f"*Linked number:* {phone.display(number)} (since {link.linked_at[:10]})")
            lines.append(f"*Open conversations:* {len(self.store.open_threads(number))}")
            last = self.store.get(f"last_poll_ok:{number}")
            lines.append(f"*Last successful poll:* {_when(last)}")
            lines.append(f"*Waiting to be posted:* {self.store.backlog(number)}")
            usage = spend.this_month(self.store, datetime.now(UTC)).get(number, spend.Usage())
            lines.append(f"*Sent this month:* {usage.line()}")
            errors = self.store.recent_errors(number, limit=3)
            if errors:
                lines.append("*Recent errors:*")
                lines.extend(
                    f"• {e['at'][:19].replace('T', ' ')} UTC — {e['message']}" for e in errors
                )
            else:
                lines.append("*Recent errors:* none")
        lines.append(f"*Wati quota:* {self.budget.summary()}")
        if not self.budget.may_poll():
            lines.append(
                ":warning: Polling is paced out for now to stay inside the monthly quota; "
                "new messages arrive more slowly until the budget recovers."
            )
        if self.keeps:
            lines.append(f"*Kept:* {self.keeps}")
        lines.extend(self._health_lines())
        return "\n".join(lines)

    def _health_lines(self) -> list[str]:
        """The same problems /healthz reports, in words, with what to do."""
        if self.health is None:
            return []
        conditions = self.health.conditions()
        if not conditions:
            return ["*Bridge health:* ok"]
        lines = [":rotating_light: *Bridge health: problems*"]
        for condition in conditions:
            since = _when(datetime.fromtimestamp(condition.since, UTC).isoformat())
            lines.append(
                f"• `{condition.code}` since {since}: {condition.words()}. "
                f"_Fix:_ {condition.fix()}."
            )
        return lines


def _when(iso_text: str | None) -> str:
    return f"{iso_text[:19].replace('T', ' ')} UTC" if iso_text else "never"
