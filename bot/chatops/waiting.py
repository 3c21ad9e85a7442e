"""Customers waiting for an answer: the wait shown on thread parents, and nudges in the channel.

A customer waits from their first message that no answer followed (a reply from Slack, a
template, a teammate writing in Wati's inbox). A scheduler job reads every open conversation's
wait in one query; a parent is redrawn only when its wait changed (started, or answered), not
as time passes: Slack shows the moment, each reader sees it in their own time zone.

With BRIDGE_REPLY_TARGET_MINUTES set, a wait that reaches the target gets one nudge in the
channel (mentioning the owner, never @here or @channel), and one more at twice the target;
then nothing until the customer is answered. BRIDGE_BUSINESS_HOURS stops the clock outside
those hours, and no nudge is posted then.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.base.clock import Clock
from bot.base.hours import BusinessHours, waited
from bot.relay.threads import Threads
from bot.slack import blocks
from bot.slack.poster import SlackPoster
from bot.store import Store
from bot.store.db import parse_iso
from bot.store.desk_chats import Waiting
from bot.text.formatting import escape

logger = logging.getLogger(__name__)


def duration(seconds: float) -> str:
    """“45 minutes”, “1 hour 5 minutes”, “2 days 3 hours”."""
    minutes = int((seconds + 30) // 60)  # to the nearest minute
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    shown = [f"{n} {word}{'s' if n != 1 else ''}" for n, word in parts if n][:2]
    return " ".join(shown) or "less than a minute"


class WaitingClock:
    """Keeps each conversation's wait up to date on its parent, and nudges when it is long."""

    def __init__(
        self,
        *,
        store: Store,
        threads: Threads,
        poster: SlackPoster,
        clock: Clock,
        target_minutes: int,
        hours: BusinessHours | None,
    ) -> None:
        self.store = store
        self.threads = threads
        self.poster = poster
        self.clock = clock
        self.target = target_minutes * 60.0
        self.hours = hours

    def run(self) -> int:
        """One pass over every open conversation; return how many nudges were posted."""
        linked = {link.channel_number: link.slack_channel_id for link in self.store.links()}
        nudged = 0
        for row in self.store.waiting_work():
            nudges = row.nudges
            if row.waiting_now != row.waiting_since:
                self.store.set_waiting(row.channel_number, row.customer_number, row.waiting_now)
                nudges = 0
            shown = row.waiting_now or ""
            if shown != (row.waiting_shown or ""):
                thread = self.store.thread(row.thread_id)
                if thread is None or not self.threads.redraw(thread):
                    # Slack refused (the parent was deleted, the channel archived): not asked
                    # again every pass; the next change of this wait tries again.
                    self.store.set_waiting_shown(row.channel_number, row.customer_number, shown)
            if row.waiting_now and linked.get(row.channel_number) == row.slack_channel_id:
                nudged += self._nudge(row, row.waiting_now, nudges)
        return nudged

    def _nudge(self, row: Waiting, since_text: str, nudges: int) -> int:
        """Nudge when the wait crossed the target (1) or twice the target (2); once each."""
        now = self.clock.now()
        since = parse_iso(since_text)
        if self.target <= 0 or since is None:
            return 0
        if self.hours is not None and not self.hours.is_open(now):
            return 0
        seconds = waited(self.hours, since, now)
        level = 2 if seconds >= 2 * self.target else 1 if seconds >= self.target else 0
        if level <= nudges:
            return 0
        # Counted before it is posted: two runs at once, or a crash after the post, can
        # never nudge twice for one wait (a failed post is not repeated either).
        if not self.store.count_nudge(row.channel_number, row.customer_number, since_text, level):
            return 0
        try:
            self.poster.post(row.slack_channel_id, **self._message(row, seconds, level))
        except SlackApiError as exc:
            logger.warning(
                "nudge in %s not posted: %s", row.slack_channel_id, exc.response.get("error")
            )
            return 0
        logger.info("thread %d: nudge %d posted", row.thread_id, level)
        return 1

    def _message(self, row: Waiting, seconds: float, level: int) -> dict[str, Any]:
        chat = self.store.chat(row.channel_number, row.customer_number)
        who = escape(
            blocks.customer_label(chat.customer_name if chat else None, row.customer_number)
        )
        target = duration(self.target)
        limit = f"twice the target of {target}" if level == 2 else f"target: {target}"
        text = f":alarm_clock: *{who}* has waited {duration(seconds)} for an answer ({limit})."
        thread = self.store.thread(row.thread_id)
        link = self.threads.permalink(thread) if thread else None
        if link:
            text += f" <{link}|Open the conversation>"
        # The owner only: a nudge never pings the whole channel.
        text += f" <@{row.owner_id}>" if row.owner_id else " Nobody owns it yet."
        return {"text": text, "unfurl_links": False, "unfurl_media": False}
