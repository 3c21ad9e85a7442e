"""The periodic health check: what no traffic would show, then the admins' DMs.

A quiet bridge makes few calls, so some conditions would start or end unseen: every
`check_seconds` this asks Slack whether the bot token works (auth.test) and whether the bot can
still post in each linked channel (conversations.info), writes a heartbeat (a database that
takes no writes shows at once, and shows when it takes them again), measures the oldest
waiting message, reads the Socket Mode connection's state, and looks for teammates' replies
Slack gave to another connection (`bot.ops.consumers`). Then `Alerts` tells whom it must.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.ops.alerts import Alerts
from bot.ops.consumers import Deliveries
from bot.ops.health import CHANNEL_ERRORS, Code, Health
from bot.store import Store
from bot.store.customers import UNIDENTIFIED_KEY
from bot.store.links import Link

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "health_checked_at"
UNKNOWN = "unknown"  # Slack gave no answer about a channel (rate limited, down)


class Watch:
    """One health check round; the scheduler runs `check` every `check_seconds`."""

    def __init__(
        self,
        *,
        health: Health,
        store: Store,
        client: WebClient,
        alerts: Alerts,
        stale_after: float,
        socket_connected: Callable[[], bool] | None = None,
        deliveries: Deliveries | None = None,
    ) -> None:
        self.health = health
        self.store = store
        self.client = client
        self.alerts = alerts
        self.stale_after = stale_after
        self.socket_connected = socket_connected  # None in HTTP mode
        self.deliveries = deliveries
        self._links: list[Link] = []

    def check(self) -> None:
        """Look at everything once; never raises (the next round tries again)."""
        steps = (self._database, self._slack, self._backlog, self._socket, self._customers)
        for step in (*steps, self._elsewhere):
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - one failed look must not stop the rest
                logger.warning("health check: %s failed: %s", step.__name__, type(exc).__name__)
        try:
            self.alerts.run(self._links)
        except Exception as exc:  # noqa: BLE001 - admins are told on the next round
            logger.warning("health check: alerts failed: %s", type(exc).__name__)

    def _database(self) -> None:
        try:
            self._links = self.store.links()
            self.health.linked(link.slack_channel_id for link in self._links)
            # The store tells health how the write went (bot.store.db.Db.on_write).
            self.store.put(
                HEARTBEAT_KEY,
                datetime.fromtimestamp(self.health.clock(), UTC).isoformat(timespec="seconds"),
            )
        except sqlite3.Error:
            pass

    def _customers(self) -> None:
        # Discovery counts the contacts it cannot follow (bot.relay.discovery).
        self.health.unidentified(int(self.store.get(UNIDENTIFIED_KEY) or "0"))

    def _slack(self) -> None:
        try:
            self.client.auth_test()  # the client tells health how Slack answered
        except SlackApiError:
            return  # a refused token makes every other question moot
        for link in self._links:
            problem = self._channel_problem(link)
            if problem != UNKNOWN:
                self.health.channel(link.slack_channel_id, problem)

    def _channel_problem(self, link: Link) -> str | None:
        """Why the bot cannot post in the channel, None if it can, UNKNOWN if Slack did not say."""
        try:
            info = self.client.conversations_info(channel=link.slack_channel_id)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            return error if error in CHANNEL_ERRORS else UNKNOWN
        channel = info.get("channel") or {}
        if channel.get("is_archived"):
            return "is_archived"
        if not channel.get("is_member", True):
            return "not_in_channel"
        return None

    def _backlog(self) -> None:
        self.health.backlog(self.store.oldest_waiting(), self.stale_after)
        self.health.wati_outage_check()  # polls are spaced out while Wati fails

    def _elsewhere(self) -> None:
        if self.deliveries is None:
            return
        if self.socket_connected is not None and not self.socket_connected():
            self.deliveries.listening_from(self.health.clock())
        missed = self.deliveries.missed(
            self.client, [link.slack_channel_id for link in self._links]
        )
        if missed:
            minutes = self.deliveries.window / 60
            self.health.set(Code.ELSEWHERE, "", f"{missed} in the last {minutes:.0f} min")
        else:
            self.health.clear(Code.ELSEWHERE)

    def _socket(self) -> None:
        if self.socket_connected is not None:
            self.health.socket(self.socket_connected())
