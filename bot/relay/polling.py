"""Which chat to poll, and when: adaptive per-chat intervals, fair shares of Wati's rolling
window across numbers, the monthly budget, and new customers found through the contacts list.

A chat is polled every `poll_seconds` while active; after ACTIVE_POLLS empty polls the
interval doubles with each further empty poll, up to a cap that grows with the chat's age.
One poll of one chat reads the chat once and writes its state once, at the end.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from slack_sdk.errors import SlackApiError

from bot.base.clock import Clock
from bot.relay.budget import Budget
from bot.relay.discovery import Discovery, is_known
from bot.relay.inbound import Inbound, NoSlot
from bot.slack.poster import SLACK_GIVE_UP
from bot.store import Store
from bot.store.chats import KEEP, Chat, ChatUpdate
from bot.store.db import iso, parse_iso
from bot.store.links import Link
from bot.wati.client import WatiClient
from bot.wati.errors import WatiError, WatiRateLimited
from bot.wati.limits import Windows
from bot.wati.types import WatiMessage

logger = logging.getLogger(__name__)

ACTIVE_POLLS = 3
CAPS = ((timedelta(hours=24), 30 * 60.0), (timedelta(days=14), 6 * 3600.0))
LEASE = 120.0  # seconds a chat being polled stays claimed
# While the contacts page is trusted to announce customer messages, a quiet chat's routine
# poll is only a safety net against a message it missed.
SAFETY_NET = 300.0


@dataclass
class PollReport:
    """What one poll round did."""

    calls: int = 0
    relayed: int = 0
    errors: int = 0


class Poller:
    """Polls Wati for every linked number; one instance shared by the scheduler's jobs."""

    def __init__(
        self,
        *,
        store: Store,
        wati: WatiClient,
        inbound: Inbound,
        discovery: Discovery,
        budget: Budget,
        windows: Windows,
        clock: Clock,
        poll_seconds: float = 10.0,
        on_history: Callable[[Chat, list[WatiMessage]], None] | None = None,
        postpone: Callable[[Chat], float | None] = lambda chat: None,
    ) -> None:
        self.store = store
        self.wati = wati
        self.inbound = inbound
        self.discovery = discovery
        self.budget = budget
        self.windows = windows
        self.clock = clock
        self.poll_seconds = poll_seconds
        # Every fetched history page goes here too (delivery statuses of replies are read from it).
        self.on_history = on_history
        # From the trust in Wati webhooks (bot.webhooks.trust.WebhookTrust): while webhooks
        # stand in for polling a due chat's poll may wait longer.
        self.postpone = postpone
        self._paced_out = False  # logged once when the monthly pacing starts holding polls
        # Numbers whose job is relaying right now (see the fairness rule in poll_number).
        self._busy: set[str] = set()
        self._busy_lock = threading.Lock()

    # -- scheduling --------------------------------------------------------------------------

    def wake(self, channel_number: str, customer_number: str, origin: str = "slack") -> Chat:
        """Poll this chat as soon as the limits allow (a new customer, or a reply just sent)."""
        return self.store.wake_chat(channel_number, customer_number, self.clock(), origin)

    def _next_poll(self, chat: Chat, found_new: bool) -> ChatUpdate:
        empty = 0 if found_new else chat.empty_polls + 1
        last = parse_iso(chat.last_activity_at)
        age = self.clock.now() - last if last else None
        if age is None or age > CAPS[-1][0]:
            # Nothing ever seen, or quiet for weeks: only a contacts hint wakes it again.
            next_at = None if not found_new else self.clock() + self.poll_seconds
        else:
            cap = next(c for limit, c in CAPS if age <= limit)
            interval = self.poll_seconds * 2 ** max(0, empty - ACTIVE_POLLS)
            if self.discovery.trusted():
                interval = max(interval, SAFETY_NET)
            next_at = self.clock() + min(interval, cap)
        return ChatUpdate(
            empty_polls=empty, next_poll_at=next_at, last_polled_at=iso(self.clock.now())
        )

    def release_claims(self) -> int:
        """At start: free the chats a killed process had claimed; return how many.

        A claim pushes `next_poll_at` LEASE seconds ahead; after a crash it would hold the
        chat (and a message cut mid-relay) back for two minutes. Anything due within LEASE
        seconds is due now: at worst a chat is polled a little early, once.
        """
        return self.store.release_claims(self.clock(), LEASE)

    def _set(self, chat: Chat, update: ChatUpdate) -> None:
        self.store.save_poll(chat, update)

    def _backed_off(self, chat: Chat) -> ChatUpdate:
        delay = min(600.0, self.poll_seconds * 2 ** min(chat.failures, 6))
        return ChatUpdate(failures=chat.failures + 1, next_poll_at=self.clock() + delay)

    def _back_off(self, chat: Chat) -> None:
        self._set(chat, self._backed_off(chat))

    # -- polling -----------------------------------------------------------------------------

    def poll_number(self, channel_number: str) -> PollReport:
        """One round for one linked number: its due chats, most overdue first."""
        report = PollReport()
        link = self.store.link_for_number(channel_number)
        if link is None:
            return report
        while due := self.store.due_chats(channel_number, self.clock(), limit=1):
            chat = due[0]
            if (later := self.postpone(chat)) is not None:
                self._set(chat, ChatUpdate(next_poll_at=later))
                continue
            if not self._may_take(chat, channel_number):
                break
            # Claim the chat: it is no longer due while this round works on it (a crash
            # lets the claim lapse after LEASE seconds).
            self._set(chat, ChatUpdate(next_poll_at=self.clock() + LEASE))
            with self._busy_lock:
                self._busy.add(channel_number)
            try:
                if not self._poll_claimed(link, chat, report):
                    break
            finally:
                with self._busy_lock:
                    self._busy.discard(channel_number)
        return report

    def _may_take(self, chat: Chat, channel_number: str) -> bool:
        """Whether the budget and the rolling window let this chat be polled now (takes a slot)."""
        if not self.budget.may_poll():
            if not self._paced_out:
                logger.warning("monthly Wati budget paced out; polling waits")
            self._paced_out = True
            return False
        self._paced_out = False
        # Fairness across numbers: the rolling window's free slots go to the chats that
        # have waited longest anywhere, not to whichever number's job asks first. Numbers
        # busy posting are left out of the count so they cannot hold the others up.
        with self._busy_lock:
            busy = set(self._busy)
        ahead = self.store.due_ahead_of(chat, self.clock(), exclude_numbers=busy)
        if ahead >= self.windows.messages.free_slots():
            return False
        return self.windows.messages.try_acquire()

    def _poll_claimed(self, link: Link, chat: Chat, report: PollReport) -> bool:
        """Poll a claimed chat; False when the rest of the number's round should wait."""
        try:
            report.relayed += self.poll_chat(link, chat, report)
        except NoSlot:
            # A message's re-fetch after a restart found the rate window full (or held
            # after a 429) for long: the chat is due again as soon as a slot frees up.
            self._set(chat, ChatUpdate(next_poll_at=self.clock()))
            return False
        except WatiRateLimited as exc:
            # Only a message's re-fetch after a restart gets here (`poll_chat` handles the
            # poll's own call): the chat waits, and so does polling, as after any 429.
            wait = exc.retry_after or 10.0
            self.windows.messages.hold(wait)
            self._set(chat, ChatUpdate(next_poll_at=self.clock() + wait))
            report.errors += 1
            return False
        except WatiError as exc:
            # Likewise: this chat backs off; the number's other chats still get their turn.
            report.errors += 1
            self.store.add_error(link.channel_number, f"getMessages failed: {exc.reason}")
            self._back_off(chat)
        except SlackApiError as exc:
            report.errors += 1
            error = str(exc.response.get("error", "unknown"))
            self.store.add_error(link.channel_number, f"Slack refused a post: {error}")
            logger.warning(
                "slack error %s on %s; number paused this round", error, link.slack_channel_id
            )
            if error in SLACK_GIVE_UP:
                return False
        return True

    def poll_chat(self, link: Link, chat: Chat, report: PollReport | None = None) -> int:
        """Fetch a chat's new messages and relay them; return how many reached Slack."""
        report = report or PollReport()
        started = self.clock()
        try:
            fetched = self.inbound.fetch_new(chat, self.inbound.cutoff(link))
        except WatiRateLimited as exc:
            report.calls += 1
            self.windows.messages.hold(exc.retry_after or 10.0)
            self._set(chat, ChatUpdate(next_poll_at=self.clock() + 5))
            report.errors += 1
            return 0
        except WatiError as exc:
            report.calls += 1
            report.errors += 1
            self.store.add_error(link.channel_number, f"getMessages failed: {exc.reason}")
            self._back_off(chat)
            return 0
        report.calls += fetched.calls
        self.store.put("last_poll_ok", iso(self.clock.now()))
        self.store.put(f"last_poll_ok:{link.channel_number}", iso(self.clock.now()))
        if self.on_history is not None:
            self.on_history(chat, fetched.history)
        changes = self.inbound.record_all(link, chat, fetched.new)  # on record with them
        # The chat as these messages leave it (a new thread's parent shows the window they
        # open); the next poll time is written after posting, whatever posting does.
        chat = changes.applied(chat)
        try:
            relayed = self.inbound.flush_pending(link, chat)
        except SlackApiError:
            self._back_off(chat)
            raise
        self._learn(chat, fetched.new, changes)
        after = self._next_poll(chat, bool(fetched.new))
        retry = self.inbound.next_media_try(chat)  # a file Wati could not hand over yet
        planned = after.next_poll_at
        if retry is not None and not (isinstance(planned, int | float) and planned <= retry):
            after = after.then(ChatUpdate(next_poll_at=retry))
        if self._hinted_meanwhile(chat, started):
            after = after.then(ChatUpdate(next_poll_at=self.clock()))  # a look announced more
        else:
            after = after.then(ChatUpdate(hinted_at=None))
        self._set(chat, ChatUpdate(failures=0).then(after))  # `changes` are written already
        return relayed

    def _learn(self, chat: Chat, new: list[WatiMessage], changes: ChatUpdate) -> None:
        """What this poll says about the contacts page as a signal (see bot.relay.discovery)."""
        hinted = chat.hinted_at is not None
        inbound_at = changes.last_inbound_at
        newest_inbound = parse_iso(None if inbound_at is KEEP else inbound_at)
        if newest_inbound is not None:
            was_trusted = self.discovery.trusted()
            if not self.discovery.signal.check(newest_inbound, hinted) and was_trusted:
                # Routine polls were slowed to the safety net: back to the normal pace.
                now = self.clock()
                self.store.bring_forward(now + self.poll_seconds, now + SAFETY_NET + 1)
        elif hinted and not new and is_known(chat):
            # The contact changed but nothing is new here: perhaps on another number.
            self.discovery.widen(chat.customer_number, chat.channel_number)
        if hinted and newest_inbound is None and chat.thread_id is None:
            # A new customer not (newly) on this number: the next likeliest one is asked.
            self.discovery.ask_next(chat.customer_number, chat.channel_number)
        if newest_inbound is not None:
            self.discovery.newcomers.found(chat.customer_number, chat.channel_number)

    def _hinted_meanwhile(self, chat: Chat, started: float) -> bool:
        """Whether a contacts look woke the chat after this poll's read began."""
        current = self.store.chat(chat.channel_number, chat.customer_number)
        if current is None or current.hinted_at in (None, chat.hinted_at):
            return False
        return current.hinted_at >= started

    # -- discovery ---------------------------------------------------------------------------

    def discover(self, *, sweep: bool = False) -> int:
        """Look for new or changed contacts now and wake their chats (see `Discovery`)."""
        return self.discovery.discover(sweep=sweep)
