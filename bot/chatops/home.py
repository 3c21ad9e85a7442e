"""The app's Home tab: the queue of every linked number the viewer can see, built when opened.

Built from the store with one query per section (for every number at once) and no Slack or
Wati call per conversation: thread links are made from the workspace's URL (auth.test, asked
once), and which channels the viewer is in comes from a members cache that the desk job keeps
warm. Opening the tab then costs one Slack call, the `views.publish`.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.base.clock import Clock
from bot.base.hours import BusinessHours, waited
from bot.chatops.waiting import duration
from bot.insights import spend
from bot.insights.picture import WeekPicture
from bot.relay.budget import Budget
from bot.slack import blocks, team_views
from bot.slack.reader import SlackNames
from bot.store import Store
from bot.store.db import parse_iso
from bot.store.desk_chats import QueueRow
from bot.store.links import Link
from bot.text import phone

logger = logging.getLogger(__name__)

MEMBERS_TTL = 300.0  # seconds a channel's member list is trusted
MEMBER_PAGES = 10


class Members:
    """Who is in each linked channel, cached; refreshed by the desk job before it is stale."""

    def __init__(
        self,
        *,
        client: WebClient,
        ttl: float = MEMBERS_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.ttl = ttl
        self._clock = clock
        self._members: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def of(self, channel: str) -> frozenset[str]:
        """The channel's members (from the cache while it is fresh)."""
        with self._lock:
            cached = self._members.get(channel)
        if cached and cached[0] > self._clock():
            return cached[1]
        return self.refresh(channel)

    def refresh(self, channel: str) -> frozenset[str]:
        """Ask Slack for the channel's members (an error keeps what was known)."""
        try:
            pages = self.client.conversations_members(channel=channel, limit=1000)
            found = frozenset(
                m
                for page in itertools.islice(pages, MEMBER_PAGES)
                for m in page.get("members") or []
            )
        except SlackApiError as exc:
            logger.warning("members of %s not listed: %s", channel, exc.response.get("error"))
            with self._lock:
                cached = self._members.get(channel)
            return cached[1] if cached else frozenset()
        with self._lock:
            self._members[channel] = (self._clock() + self.ttl, found)
        return found

    def warm(self, channels: Sequence[str]) -> None:
        """Refresh the channels whose list is stale or will be within a minute."""
        for channel in channels:
            with self._lock:
                cached = self._members.get(channel)
            if cached is None or cached[0] - 60 <= self._clock():
                self.refresh(channel)


class Home:
    """Builds a viewer's Home tab."""

    def __init__(
        self,
        *,
        store: Store,
        budget: Budget,
        client: WebClient,
        names: SlackNames,
        clock: Clock,
        hours: BusinessHours | None,
        members: Members,
        picture: WeekPicture | None = None,
    ) -> None:
        self.store = store
        self.budget = budget
        self.client = client
        self.names = names
        self.clock = clock
        self.hours = hours
        self.members = members
        self.picture = picture  # the chart of the last weeks, below the queue
        self._workspace: str | None = None

    def warm(self) -> None:
        """Fill the caches the Home tab reads (the desk job calls this)."""
        channels = [link.slack_channel_id for link in self.store.links()]
        self.members.warm(channels)
        for channel in channels:
            self.names.channel(channel)  # cached an hour: the titles cost no call
        self.workspace_url()
        if self.picture is not None:
            self.picture.refresh()

    def workspace_url(self) -> str:
        """The workspace's base URL (https://team.slack.com/), asked once."""
        if self._workspace is None:
            try:
                url = str(self.client.auth_test().get("url") or "")
            except SlackApiError as exc:
                logger.warning("auth.test failed: %s", exc.response.get("error"))
                return "https://slack.com/"
            self._workspace = url if url.endswith("/") else url + "/"
        return self._workspace

    def view(self, user_id: str) -> dict[str, object]:
        """The Home tab for `user_id`."""
        links = [
            link for link in self.store.links() if user_id in self.members.of(link.slack_channel_id)
        ]
        numbers = [link.channel_number for link in links]
        waiting = _grouped(self.store.queue_waiting(numbers, team_views.HOME_ROWS))
        mine = _grouped(self.store.queue_owned(numbers, user_id, team_views.HOME_ROWS))
        opened = _grouped(self.store.queue_open(numbers, team_views.HOME_ROWS))
        backlogs = self.store.backlogs()
        quota = self.budget.summary()
        sent = spend.this_month(self.store, self.clock.now())
        queues = [
            team_views.NumberQueue(
                title=self._title(link),
                waiting=self._section(waiting.get(link.channel_number, []), self._waited),
                mine=self._section(mine.get(link.channel_number, []), self._waited),
                open=self._section(opened.get(link.channel_number, []), _owner),
                health=self._health(link, backlogs.get(link.channel_number, 0), quota)
                + f"\n:outbox_tray: This month: {sent.get(link.channel_number, spend.Usage()).line()}",
            )
            for link in links
        ]
        note = None
        if not links:
            note = (
                "You are not in any channel linked to a WhatsApp number. Join one to see its "
                "customers here; an admin links a channel with `/wati link <number>`."
            )
        view = team_views.home_view(queues, self.clock.now(), note)
        if self.picture is not None:
            view["blocks"].extend(self.picture.blocks(numbers))
        return view

    def _title(self, link: Link) -> str:
        name = self.names.channel(link.slack_channel_id)
        where = f" · #{name}" if name else ""
        return f"{phone.display(link.channel_number)}{where}"

    def _section(
        self, rows: list[QueueRow], detail: Callable[[QueueRow], str]
    ) -> team_views.Section:
        base = self.workspace_url()
        shown = [
            team_views.Row(
                r.customer_name,
                r.customer_number,
                f"{base}archives/{r.slack_channel_id}/p{r.thread_ts.replace('.', '')}",
                detail(r),
            )
            for r in rows
        ]
        return team_views.Section(shown, rows[0].total if rows else 0)

    def _waited(self, row: QueueRow) -> str:
        since = parse_iso(row.waiting_since)
        if since is None:
            return _owner(row)
        return f" — waiting {duration(waited(self.hours, since, self.clock.now()))}" + _owner(row)

    def _health(self, link: Link, backlog: int, quota: str) -> str:
        last = parse_iso(self.store.get(f"last_poll_ok:{link.channel_number}"))
        polled = blocks.slack_date(last) if last else "never"
        return f":satellite: Last poll: {polled} · Backlog: {backlog:,} · Wati quota: {quota}"


def _owner(row: QueueRow) -> str:
    return f" · <@{row.owner_id}>" if row.owner_id else ""


def _grouped(rows: list[QueueRow]) -> dict[str, list[QueueRow]]:
    found: dict[str, list[QueueRow]] = {}
    for row in rows:
        found.setdefault(row.channel_number, []).append(row)
    return found
