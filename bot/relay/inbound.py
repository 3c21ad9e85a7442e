"""Wati → Slack: poll each linked number's chats and relay every message into its thread, once.

Exactly once, across crashes: a message is recorded (`pending`, with an attempt count) before
it is posted, and marked `posted` with its Slack ts after. A pending message that was already
attempted is first looked for in its thread, by the Wati id carried in the post's metadata,
and only posted when it is not there. Thread parents work the same way with the thread id.

Order: a chat's messages are posted oldest first; when one cannot be posted the rest of that
chat waits for the next poll, so the thread never shows them out of order.
"""

from __future__ import annotations

import logging
import mimetypes
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.slack import blocks
from bot.slack.poster import SlackPoster, metadata_of
from bot.store.db import Chat, Link, LoggedMessage, Store, Thread, iso, parse_iso
from bot.text.rendering import render_item
from bot.wati.client import WatiClient
from bot.wati.errors import WatiBadResponse, WatiError, WatiRateLimited
from bot.wati.limits import Budget, RateWindow
from bot.wati.types import WatiMessage

logger = logging.getLogger(__name__)

# A chat is polled every `poll_seconds` while active; after this many empty polls the interval
# doubles with each further empty poll, up to a cap that grows with the chat's age.
ACTIVE_POLLS = 3
CAPS = ((timedelta(hours=24), 30 * 60.0), (timedelta(days=14), 6 * 3600.0))
PAGE_SIZE = 50
LEASE = 120.0  # seconds a chat being polled stays claimed
MAX_PAGES = 10  # at most 500 messages caught up per chat per poll
CONTACTS_PAGE = 100
SLACK_GIVE_UP = {"not_in_channel", "channel_not_found", "is_archived", "invalid_auth"}


class _NoSlot(Exception):
    """No getMessages slot is free right now (the rolling window is full)."""


@dataclass
class PollReport:
    """What one poll round did."""

    calls: int = 0
    relayed: int = 0
    errors: int = 0


class Relay:
    """Polls Wati and relays into Slack; one instance shared by the scheduler's jobs."""

    def __init__(
        self,
        store: Store,
        wati: WatiClient,
        poster: SlackPoster,
        budget: Budget,
        *,
        poll_seconds: float = 10.0,
        messages_window: RateWindow | None = None,
        contacts_window: RateWindow | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.wati = wati
        self.poster = poster
        self.budget = budget
        self.poll_seconds = poll_seconds
        self.messages_window = messages_window or RateWindow()
        self.contacts_window = contacts_window or RateWindow()
        self.clock = clock
        self._paced_out = False  # logged once when the monthly pacing starts holding polls
        # Numbers whose job is relaying right now (see the fairness rule in poll_number).
        self._busy: set[str] = set()
        self._busy_lock = threading.Lock()
        # Items fetched but not yet posted, so a retry need not fetch them again.
        self._items: dict[str, WatiMessage] = {}
        # Called with every fetched history page (outbound reads delivery statuses from it).
        self.on_history: Callable[[Chat, list[WatiMessage]], None] | None = None

    def now(self) -> datetime:
        """The relay's clock as an aware datetime."""
        return datetime.fromtimestamp(self.clock(), UTC)

    # -- scheduling --------------------------------------------------------------------------

    def wake(self, channel_number: str, customer_number: str, origin: str = "slack") -> Chat:
        """Poll this chat as soon as the limits allow (a new customer, or a reply just sent)."""
        chat = self.store.ensure_chat(
            channel_number, customer_number, origin=origin, next_poll_at=self.clock()
        )
        self.store.update_chat(
            channel_number, customer_number, next_poll_at=self.clock(), empty_polls=0
        )
        return chat

    def _reschedule(self, chat: Chat, found_new: bool) -> None:
        empty = 0 if found_new else chat.empty_polls + 1
        last = parse_iso(chat.last_activity_at)
        age = self.now() - last if last else None
        if age is None or age > CAPS[-1][0]:
            # Nothing ever seen, or quiet for weeks: only a contacts hint wakes it again.
            next_at = None if not found_new else self.clock() + self.poll_seconds
        else:
            cap = next(c for limit, c in CAPS if age <= limit)
            interval = self.poll_seconds * 2 ** max(0, empty - ACTIVE_POLLS)
            next_at = self.clock() + min(interval, cap)
        self.store.update_chat(
            chat.channel_number,
            chat.customer_number,
            empty_polls=empty,
            next_poll_at=next_at,
            last_polled_at=iso(self.now()),
        )

    def release_claims(self) -> int:
        """At start: free the chats a killed process had claimed; return how many.

        A claim pushes `next_poll_at` LEASE seconds ahead; after a crash it would hold the
        chat (and a message cut mid-relay) back for two minutes. Anything due within LEASE
        seconds is due now: at worst a chat is polled a little early, once.
        """
        now = self.clock()
        with self.store.write() as db:
            cursor = db.execute(
                "update chats set next_poll_at = ? where next_poll_at > ? and next_poll_at <= ?",
                [now, now, now + LEASE],
            )
            return int(cursor.rowcount)

    # -- polling -----------------------------------------------------------------------------

    def poll_number(self, channel_number: str) -> PollReport:
        """One round for one linked number: its due chats, most overdue first."""
        report = PollReport()
        link = self.store.link_for_number(channel_number)
        if link is None:
            return report
        while due := self.store.due_chats(channel_number, self.clock(), limit=1):
            chat = due[0]
            if not self.budget.may_poll():
                if not self._paced_out:
                    logger.warning("monthly Wati budget paced out; polling waits")
                self._paced_out = True
                break
            self._paced_out = False
            # Fairness across numbers: the rolling window's free slots go to the chats that
            # have waited longest anywhere, not to whichever number's job asks first. Numbers
            # busy posting are left out of the count so they cannot hold the others up.
            with self._busy_lock:
                busy = set(self._busy)
            ahead = self.store.due_ahead_of(chat, self.clock(), exclude_numbers=busy)
            if ahead >= self.messages_window.free_slots():
                break
            if not self.messages_window.try_acquire():
                break
            # Claim the chat: it is no longer due while this round works on it (a crash
            # lets the claim lapse after LEASE seconds).
            self.store.update_chat(
                chat.channel_number, chat.customer_number, next_poll_at=self.clock() + LEASE
            )
            with self._busy_lock:
                self._busy.add(channel_number)
            try:
                report.relayed += self.poll_chat(link, chat, report)
            except _NoSlot:
                # A message's re-fetch after a restart found the rate window full (or held
                # after a 429) for long: the chat is due again as soon as a slot frees up.
                self.store.update_chat(
                    chat.channel_number, chat.customer_number, next_poll_at=self.clock()
                )
                break
            except WatiRateLimited as exc:
                # Only a message's re-fetch after a restart gets here (`poll_chat` handles the
                # poll's own call): the chat waits, and so does polling, as after any 429.
                wait = exc.retry_after or 10.0
                self.messages_window.hold(wait)
                self.store.update_chat(
                    chat.channel_number, chat.customer_number, next_poll_at=self.clock() + wait
                )
                report.errors += 1
                break
            except WatiError as exc:
                # Likewise: this chat backs off; the number's other chats still get their turn.
                report.errors += 1
                self.store.add_error(channel_number, f"getMessages failed: {exc.reason}")
                self._back_off(chat)
            except SlackApiError as exc:
                report.errors += 1
                error = str(exc.response.get("error", "unknown"))
                self.store.add_error(channel_number, f"Slack refused a post: {error}")
                logger.warning(
                    "slack error %s on %s; number paused this round", error, link.slack_channel_id
                )
                if error in SLACK_GIVE_UP:
                    break
            finally:
                with self._busy_lock:
                    self._busy.discard(channel_number)
        return report

    def poll_chat(self, link: Link, chat: Chat, report: PollReport | None = None) -> int:
        """Fetch a chat's new messages and relay them; return how many reached Slack."""
        report = report or PollReport()
        try:
            items, history = self._fetch_new(chat, report)
        except WatiRateLimited as exc:
            self.messages_window.hold(exc.retry_after or 10.0)
            self.store.update_chat(
                chat.channel_number, chat.customer_number, next_poll_at=self.clock() + 5
            )
            report.errors += 1
            return 0
        except WatiError as exc:
            report.errors += 1
            self.store.add_error(link.channel_number, f"getMessages failed: {exc.reason}")
            self._back_off(chat)
            return 0
        self.store.put("last_poll_ok", iso(self.now()))
        self.store.put(f"last_poll_ok:{link.channel_number}", iso(self.now()))
        if self.on_history is not None:
            self.on_history(chat, history)
        try:
            self._record_all(link, chat, items)
            relayed = self._flush_pending(link, chat)
        except SlackApiError:
            self._back_off(chat)
            raise
        fresh = self.store.chat(chat.channel_number, chat.customer_number) or chat
        if fresh.failures:
            self.store.update_chat(chat.channel_number, chat.customer_number, failures=0)
        self._reschedule(fresh, found_new=bool(items))
        return relayed

    def _back_off(self, chat: Chat) -> None:
        delay = min(600.0, self.poll_seconds * 2 ** min(chat.failures, 6))
        self.store.update_chat(
            chat.channel_number,
            chat.customer_number,
            failures=chat.failures + 1,
            next_poll_at=self.clock() + delay,
        )

    def _fetch_new(
        self, chat: Chat, report: PollReport
    ) -> tuple[list[WatiMessage], list[WatiMessage]]:
        """Messages not yet recorded (oldest first) and everything fetched.

        Pages back while a whole page is new, until a known message shows up.
        """
        new: dict[str, WatiMessage] = {}
        history: list[WatiMessage] = []
        seen_any = bool(
            self.store.query(
                "select 1 from messages where channel_number = ? and customer_number = ? limit 1",
                [chat.channel_number, chat.customer_number],
            )
        )
        for page_number in range(1, MAX_PAGES + 1):
            if page_number > 1 and not self.messages_window.acquire(timeout=15):
                break
            page = self.wati.get_messages(
                chat.customer_number,
                channel_number=chat.channel_number,
                page_size=PAGE_SIZE,
                page_number=page_number,
            )
            report.calls += 1
            if page.malformed:
                self.store.add_error(
                    chat.channel_number, f"{page.malformed} malformed Wati item(s) skipped"
                )
            history.extend(page.items)
            known = self.store.known_ids([m.id for m in page.items])
            for item in page.items:
                if item.id not in known:
                    new[item.id] = item
            # A full page of unknown messages means older unknown ones may sit on the next page.
            if known or not seen_any or page.raw_count < page.page_size:
                break
        return sorted(new.values(), key=lambda m: (m.created, m.id)), history

    # -- relaying ----------------------------------------------------------------------------

    def _record_all(self, link: Link, chat: Chat, items: list[WatiMessage]) -> None:
        """Record each new item: pending when it goes to Slack, else skipped or ours."""
        cutoff = parse_iso(self.store.get(f"relay_since:{link.channel_number}") or link.linked_at)
        for item in items:
            try:
                self._record(link, chat, item, cutoff)
            except (KeyError, TypeError, ValueError) as exc:
                logger.warning("unusable Wati item %s skipped: %s", item.id, type(exc).__name__)
                self.store.add_error(link.channel_number, f"unusable Wati item {item.id} skipped")

    def _record(self, link: Link, chat: Chat, item: WatiMessage, cutoff: datetime | None) -> None:
        def log(direction: str, state: str) -> None:
            self.store.record_message(
                item.id,
                channel_number=chat.channel_number,
                customer_number=chat.customer_number,
                created=iso(item.created),
                direction=direction,
                state=state,
            )

        if item.event_type not in ("message", "broadcastMessage"):
            log("event", "skipped")
            return
        if item.owner and self._is_ours(chat, item):
            log("out", "ours")
            return
        if item.template and not self._has_thread(link, chat):
            # A broadcast or a template sent from Wati to someone with no conversation here
            # yet: not the customer's words, and not worth a thread of its own.
            log("mirror", "skipped")
            return
        # Business-side items (operators, bots, templates: see `parse_message`) are mirrored
        # and never move the customer's 24-hour window.
        direction = "mirror" if item.owner else "in"
        if not item.owner:
            last = parse_iso(chat.last_inbound_at)
            if last is None or item.created > last:
                self.store.update_chat(
                    chat.channel_number, chat.customer_number, last_inbound_at=iso(item.created)
                )
                chat = self.store.chat(chat.channel_number, chat.customer_number) or chat
        self.store.update_chat(
            chat.channel_number, chat.customer_number, last_activity_at=iso(self.now())
        )
        if cutoff is not None and item.created < cutoff:
            # History from before the link (or before the backfill horizon) is not relayed.
            log(direction, "skipped")
            return
        log(direction, "pending")
        self._items[item.id] = item

    def _has_thread(self, link: Link, chat: Chat) -> bool:
        thread = self.store.current_thread(chat.channel_number, chat.customer_number)
        return bool(
            thread and thread.slack_channel_id == link.slack_channel_id and thread.thread_ts
        )

    def _is_ours(self, chat: Chat, item: WatiMessage) -> bool:
        """Whether a business-side message was sent by the bridge (so it is not echoed)."""
        reply = None
        if item.local_message_id:
            # Outbound sends chunk k of a reply as "<outbox local id>.<k>".
            reply = self.store.reply_by_local_id(item.local_message_id.split(".")[0])
        if reply is None:
            reply = self.store.reply_by_wati_id(item.id)
        if reply is None and item.text:
            # Sends whose answer was lost (a crash or timeout mid-send) are matched by text.
            for candidate in self.store.replies_in_state(
                "sending", "unknown", "sent", customer=(chat.channel_number, chat.customer_number)
            ):
                if candidate.wati_id is None and candidate.body.strip() == item.text.strip():
                    reply = candidate
                    break
        if reply is None:
            return False
        if reply.wati_id is None:
            self.store.update_reply(reply.id, wati_id=item.id)
        return True

    def _flush_pending(self, link: Link, chat: Chat) -> int:
        """Post the chat's pending messages in order; stop at the first that cannot go now."""
        posted = 0
        for logged in self.store.pending_messages(chat.channel_number, chat.customer_number):
            thread = self._ensure_thread(link, chat)
            self._post(link, thread, logged)
            self._items.pop(logged.wati_id, None)
            posted += 1
        return posted

    def ensure_thread(self, link: Link, chat: Chat) -> Thread:
        """The chat's open thread in the link's channel, opened (parent posted) when it has none."""
        return self._ensure_thread(link, chat)

    def _ensure_thread(self, link: Link, chat: Chat) -> Thread:
        thread = self.store.current_thread(chat.channel_number, chat.customer_number)
        if thread and thread.slack_channel_id == link.slack_channel_id:
            if thread.state == "open" and thread.thread_ts:
                return thread
            if thread.state == "opening":
                return self._open_parent(link, chat, thread)
        previous = thread.id if thread and thread.thread_ts else None
        fresh = self.store.create_thread(
            chat.channel_number, chat.customer_number, link.slack_channel_id, previous
        )
        return self._open_parent(link, chat, fresh)

    def _open_parent(self, link: Link, chat: Chat, thread: Thread) -> Thread:
        """Post (or find, after a crash) the thread's parent message."""
        opened = parse_iso(thread.opened_at)
        assert opened is not None
        for message in self.poster.channel_messages(link.slack_channel_id, opened.timestamp() - 60):
            payload = metadata_of(message, blocks.THREAD_EVENT)
            if payload and payload.get("thread_id") == thread.id:
                self.store.update_thread(thread.id, thread_ts=message["ts"], state="open")
                return self.store.thread(thread.id) or thread
        fresh = self.store.chat(chat.channel_number, chat.customer_number) or chat
        if not fresh.customer_name:
            name = self._look_up_name(fresh.customer_number)
            if name:
                self.store.update_chat(
                    fresh.channel_number, fresh.customer_number, customer_name=name
                )
                fresh = self.store.chat(chat.channel_number, chat.customer_number) or fresh
        ts = self.poster.post(link.slack_channel_id, **self.parent_message(thread, fresh))
        self.store.update_thread(thread.id, thread_ts=ts, state="open")
        return self.store.thread(thread.id) or thread

    def _look_up_name(self, number: str) -> str | None:
        """The customer's name in Wati's contacts (known already, or one getContacts call)."""
        seen = self.store.contact_seen(number)
        if seen and seen.get("name"):
            return str(seen["name"])
        if not self.budget.may_poll() or not self.contacts_window.try_acquire():
            return None
        try:
            page = self.wati.get_contacts(name=number, page_size=5)
        except WatiError:
            return None
        for contact in page.items:
            if number in (contact.wa_id, contact.phone) and contact.name:
                stamp = iso(contact.last_updated) if contact.last_updated else None
                self.store.save_contact(number, contact.name, stamp)
                return contact.name
        return None

    def parent_message(self, thread: Thread, chat: Chat) -> dict[str, Any]:
        """The thread parent's current content (also used to refresh it)."""
        previous_link = None
        if thread.previous_thread_id:
            previous = self.store.thread(thread.previous_thread_id)
            if previous and previous.thread_ts:
                try:
                    previous_link = self.poster.client.chat_getPermalink(
                        channel=previous.slack_channel_id, message_ts=previous.thread_ts
                    ).get("permalink")
                except SlackApiError:
                    previous_link = None
        return blocks.thread_parent(
            thread_id=thread.id,
            channel_number=thread.channel_number,
            customer_number=thread.customer_number,
            customer_name=chat.customer_name,
            state="resolved" if thread.state == "resolved" else "open",
            status_by=thread.status_by,
            last_inbound_at=parse_iso(chat.last_inbound_at),
            now=self.now(),
            previous_link=previous_link,
        )

    def _post(self, link: Link, thread: Thread, logged: LoggedMessage) -> None:
        """Post one pending message, once (SlackApiError leaves it pending, in order)."""
        assert thread.thread_ts is not None
        if logged.attempts > 0:
            found = self._find_in_thread(link, thread, logged.wati_id)
            if found:
                self.store.update_message(
                    logged.wati_id, state="posted", slack_ts=found, thread_id=thread.id
                )
                return
        self.store.update_message(logged.wati_id, attempts=logged.attempts + 1, thread_id=thread.id)
        item = self._items.get(logged.wati_id)
        if item is None:
            item = self._refetch(logged)
        if item is None:
            self.store.update_message(logged.wati_id, state="skipped", error="no longer in Wati")
            return
        rendered = render_item(item.raw)
        mirrored_by = (item.operator_name or "a teammate") if logged.direction == "mirror" else None
        message = blocks.relayed_message(
            logged.wati_id, rendered.text, mirrored_by=mirrored_by, template=item.template
        )
        if rendered.media_path:
            self._post_media(link, thread, logged, rendered.media_path, message)
            ts = "file"
        else:
            ts = self.poster.post(link.slack_channel_id, thread_ts=thread.thread_ts, **message)
        self.store.update_message(logged.wati_id, state="posted", slack_ts=ts, error=None)

    def _post_media(
        self,
        link: Link,
        thread: Thread,
        logged: LoggedMessage,
        path: str,
        message: dict[str, object],
    ) -> None:
        assert thread.thread_ts is not None
        try:
            media = self.wati.get_media(path)
        except WatiError as exc:
            note = (
                f"{message['text']}\n_(attachment could not be downloaded from Wati: {exc.reason})_"
            )
            self.poster.post(
                link.slack_channel_id, thread_ts=thread.thread_ts, **{**message, "text": note}
            )
            return
        ext = mimetypes.guess_extension(media.content_type or "") or ""
        if "." in media.filename:
            ext = "." + media.filename.rsplit(".", 1)[1]
        # The file name carries the Wati id: uploads have no metadata, so this is what a
        # recovery looks for in the thread.
        self.poster.upload(
            link.slack_channel_id,
            thread_ts=thread.thread_ts,
            content=media.content,
            filename=f"{logged.wati_id}{ext}",
            title=media.filename or f"attachment{ext}",
            comment=str(message["text"]).strip() or None,
        )

    def _find_in_thread(self, link: Link, thread: Thread, wati_id: str) -> str | None:
        assert thread.thread_ts is not None
        for message in self.poster.thread_messages(link.slack_channel_id, thread.thread_ts):
            payload = metadata_of(message, blocks.MESSAGE_EVENT)
            if payload and payload.get("wati_id") == wati_id:
                return str(message["ts"])
            for file in message.get("files") or []:
                if str(file.get("name", "")).startswith(wati_id):
                    return str(message["ts"])
        return None

    def _refetch(self, logged: LoggedMessage) -> WatiMessage | None:
        """A pending message's content after a restart (only ids are kept in the store).

        None only when the history was read to its end without the message. An empty first
        page proves nothing: Wati's HTTP 200 `result: false` reads as an empty history, and
        taking it at its word marked messages gone for good. Each page takes a slot of the
        rate window like any other getMessages call; errors leave the message pending.
        """
        for page_number in range(1, MAX_PAGES + 1):
            if not self.messages_window.acquire(timeout=15):
                raise _NoSlot
            page = self.wati.get_messages(
                logged.customer_number,
                channel_number=logged.channel_number,
                page_size=PAGE_SIZE,
                page_number=page_number,
            )
            if page_number == 1 and page.raw_count == 0:
                raise WatiBadResponse(
                    "an empty history for a chat with messages", endpoint="getMessages"
                )
            for item in page.items:
                self._items[item.id] = item
            if logged.wati_id in self._items or page.raw_count < page.page_size:
                break
        return self._items.get(logged.wati_id)

    # -- discovery ---------------------------------------------------------------------------

    def discover(self, *, sweep: bool = False) -> int:
        """Look for new or changed contacts; wake their chats on every linked number.

        The first page is a cheap hint (recently updated contacts tend to show there); a sweep
        walks one further page per call, so over time every contact is looked at.
        """
        links = self.store.links()
        if not links or not self.budget.may_poll() or not self.contacts_window.try_acquire():
            return 0
        page_number = 1
        if sweep:
            page_number = int(self.store.get("sweep_page") or "1")
        try:
            page = self.wati.get_contacts(page_size=CONTACTS_PAGE, page_number=page_number)
        except WatiRateLimited as exc:
            self.contacts_window.hold(exc.retry_after or 10.0)
            return 0
        except WatiError as exc:
            self.store.add_error("contacts", f"getContacts failed: {exc.reason}")
            return 0
        if sweep:
            more = page.raw_count >= page.page_size
            self.store.put("sweep_page", str(page_number + 1 if more else 1))
        first_link = min(link.linked_at for link in links)
        woken = 0
        for contact in page.items:
            number = "".join(ch for ch in (contact.wa_id or contact.phone or "") if ch.isdigit())
            if not number:
                continue
            seen = self.store.contact_seen(number)
            stamp = iso(contact.last_updated) if contact.last_updated else None
            changed = seen is None or (stamp is not None and stamp != seen.get("last_updated"))
            # A contact seen for the first time (the first looks and the first sweep see
            # every contact so) can only have written to a linked number if it was updated
            # after the first link; older ones are remembered, not polled.
            if changed and (seen is not None or stamp is None or stamp >= first_link):
                for link in links:
                    self.wake(link.channel_number, number, origin="contacts")
                    woken += 1
            if changed or (seen and seen.get("name") != contact.name):
                self.store.save_contact(number, contact.name, stamp)
            for link in links:
                if contact.name and (chat := self.store.chat(link.channel_number, number)):
                    if chat.customer_name != contact.name:
                        self.store.update_chat(
                            link.channel_number, number, customer_name=contact.name
                        )
        return woken
