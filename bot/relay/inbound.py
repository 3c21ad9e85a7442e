"""Wati → Slack for one chat: read its new messages and relay each into its thread, once.

Exactly once, across crashes: a message is recorded (`pending`, with an attempt count) before
it is posted, and marked `posted` with its Slack ts after. A pending message that was already
attempted is first looked for in its thread, by the Wati id carried in the post's metadata,
and only posted when it is not there. Thread parents work the same way (`bot.relay.threads`).

Order: a chat's messages are posted oldest first; when one cannot be posted the rest of that
chat waits for the next poll, so the thread never shows them out of order. The one exception is
a file Wati cannot hand over for now (`bot.relay.media`): it waits for its next try while the
messages after it go on, and is posted marked as late.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.base.clock import Clock
from bot.relay.media import InboundMedia
from bot.relay.threads import Threads
from bot.relay.unshown import post_unshown
from bot.slack import blocks, speaker
from bot.slack.poster import SlackPoster, metadata_of, refusal_of
from bot.slack.speaker import Speaker
from bot.store import Store
from bot.store.chats import Chat, ChatUpdate, Thread
from bot.store.db import iso, parse_iso
from bot.store.links import Link
from bot.store.messages import LoggedMessage
from bot.store.outbox import ReplyState
from bot.text.rendering import render_item
from bot.wati.client import WatiClient
from bot.wati.errors import WatiBadResponse
from bot.wati.limits import Windows
from bot.wati.types import WatiMessage

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
MAX_PAGES = 200  # a safety net against a history that never ends (10,000 messages)
ANSWER = "answer"  # what `_record` says of a rating answer: recorded, not relayed


class NoSlot(Exception):
    """No getMessages slot is free right now (the rolling window is full)."""


@dataclass
class Fetched:
    """One chat's read of Wati: the messages not yet recorded (oldest first), everything read,
    and how many calls it took."""

    new: list[WatiMessage]
    history: list[WatiMessage]
    calls: int


class Inbound:
    """Reads a chat's history and posts what is new; the poller decides which chat and when."""

    def __init__(
        self,
        *,
        store: Store,
        wati: WatiClient,
        poster: SlackPoster,
        threads: Threads,
        windows: Windows,
        clock: Clock,
        media: InboundMedia,
        customized: Callable[[], bool],
        is_answer: Callable[[Chat, WatiMessage], bool] | None = None,
    ) -> None:
        self.media = media
        self.store, self.customized = store, customized  # customized: names and icons allowed
        # Asked about each new customer message: True when it answered a question the bridge
        # asked (a rating, bot.survey) and is recorded there instead of relayed.
        self.is_answer = is_answer
        self.wati = wati
        self.poster = poster
        self.threads = threads
        self.windows = windows
        self.clock = clock
        # Items fetched but not yet posted, so a retry need not fetch them again.
        self._items: dict[str, WatiMessage] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_lock = threading.Lock()

    # -- reading -----------------------------------------------------------------------------

    def fetch_new(self, chat: Chat, cutoff: datetime | None = None, past: bool = False) -> Fetched:
        """Page back to a known message (unless `past`: backfill), `cutoff` or the history's end.

        However many pages it takes: a chat never seen before may have a long history (a
        chatbot flow, an outage). Either every page needed is read, or nothing is taken
        (NoSlot when the rate window stays full): a partial read would lose the older part.
        """
        pages: list[list[WatiMessage]] = []  # the new items of each page read, newest page first
        history: list[WatiMessage] = []
        calls = 0
        for page_number in range(1, MAX_PAGES + 1):
            if page_number > 1 and not self.windows.messages.acquire(timeout=15):
                raise NoSlot
            page = self.wati.get_messages(
                chat.customer_number,
                channel_number=chat.channel_number,
                page_size=PAGE_SIZE,
                page_number=page_number,
            )
            calls += 1
            if page.malformed:
                self.store.add_error(
                    chat.channel_number, f"{page.malformed} malformed Wati item(s) skipped"
                )
            history.extend(page.items)
            known = self.store.known_ids([m.id for m in page.items])
            pages.append([item for item in page.items if item.id not in known])
            oldest = page.items[0].created if page.items else None
            if (known and not past) or not page.has_more or (cutoff and oldest and oldest < cutoff):
                break
        else:
            self.store.add_error(
                chat.channel_number,
                f"history of more than {MAX_PAGES * PAGE_SIZE} new messages: older ones skipped",
            )
        # Oldest page first; within a page Wati's order (oldest first) is kept for messages
        # created in the same millisecond: the sort below is stable.
        new = [item for page_items in reversed(pages) for item in page_items]
        new.sort(key=lambda m: m.created)
        return Fetched(new, history, calls)

    # -- recording ---------------------------------------------------------------------------

    def cutoff(self, link: Link) -> datetime | None:
        """Messages older than this are not relayed: the link time, or the backfill horizon."""
        return self.store.relay_since(link)

    def record_all(self, link: Link, chat: Chat, items: list[WatiMessage]) -> ChatUpdate:
        """Record each new item (pending when it goes to Slack, else skipped or ours) and the
        chat's columns that move with them (the customer's last message opens the reply
        window), in one transaction; return those columns.

        Together, or a crash between the two (posting comes in between) would leave the
        messages on record, never new again, and the chat without them: its window closed.
        """
        cutoff = self.cutoff(link)
        last_inbound = parse_iso(chat.last_inbound_at)
        changes = ChatUpdate()
        erased = self.store.is_forgotten(item.id for item in items)  # a webhook's late copy
        with self.store.write():
            for item in (item for item in items if item.id not in erased):
                try:
                    direction = self._record(link, chat, item, cutoff)
                except (KeyError, TypeError, ValueError) as exc:
                    logger.warning("unusable Wati item %s skipped: %s", item.id, type(exc).__name__)
                    self.store.add_error(
                        link.channel_number, f"unusable Wati item {item.id} skipped"
                    )
                    continue
                if direction is None:
                    continue
                if direction != ANSWER:  # a rating answer starts no conversation...
                    changes = changes.then(ChatUpdate(last_activity_at=iso(self.clock.now())))
                # ...but, like any customer message, it opens the 24-hour window
                newer = last_inbound is None or item.created > last_inbound
                if direction in ("in", ANSWER) and newer:
                    last_inbound = item.created
                    changes = changes.then(ChatUpdate(last_inbound_at=iso(item.created)))
            self.store.save_poll(chat, changes)
        return changes

    def _record(
        self, link: Link, chat: Chat, item: WatiMessage, cutoff: datetime | None
    ) -> str | None:
        """Record one item; return its direction when it is part of the conversation
        (`ANSWER` for a customer's answer to the rating question, which is not relayed)."""

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
            return None
        if item.owner and is_ours(self.store, chat, item):
            log("out", "ours")
            return None
        if item.template and not self.threads.opened(link, chat):
            # A broadcast or a template sent from Wati to someone with no conversation here
            # yet: not the customer's words, and not worth a thread of its own.
            log("mirror", "skipped")
            return None
        # Business-side items (operators, bots, templates: see `parse_message`) are mirrored
        # and never move the customer's 24-hour window.
        direction = "mirror" if item.owner else "in"
        if cutoff is not None and item.created < cutoff:
            # History from before the link (or before the backfill horizon) is not relayed.
            log(direction, "skipped")
        elif direction == "in" and self.is_answer is not None and self.is_answer(chat, item):
            log(direction, "skipped")  # not relayed, and no new conversation for it
            return ANSWER
        else:
            log(direction, "pending")
            self._items[item.id] = item
        return direction

    # -- posting -----------------------------------------------------------------------------

    def flush_pending(self, link: Link, chat: Chat, *, until: str | None = None) -> int:
        """Post the chat's pending messages in order; stop at the first that cannot go now
        (a SlackApiError leaves it and the rest pending, in order), or that was created after
        `until` (a webhook's later messages still wait for earlier ones on their way)."""
        posted = 0
        # A poll and a webhook may flush one chat at once: one at a time, or both would post.
        with self._flush_lock(chat):
            # Files waiting for Wati come back when their next try is due (`bot.relay.media`).
            due = self.store.pending_messages(
                chat.channel_number, chat.customer_number, self.clock()
            )
            for logged in due:
                if until is not None and logged.created > until:
                    break
                if self.store.logged(logged.wati_id) is None:
                    break  # the conversation was erased meanwhile (bot.privacy): post nothing
                thread = self.threads.ensure(link, chat)
                named = self.store.chat(chat.channel_number, chat.customer_number) or chat
                self._post(link, thread, logged, speaker.customer_of(named))
                self._items.pop(logged.wati_id, None)
                posted += 1
        if (retry := self.next_media_try(chat)) is not None:
            self.store.poll_by(chat.channel_number, chat.customer_number, retry)
        return posted

    def next_media_try(self, chat: Chat) -> float | None:
        """When a file of this chat that Wati could not hand over is due to be tried again."""
        return self.store.next_media_try(chat.channel_number, chat.customer_number)

    def _flush_lock(self, chat: Chat) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(
                (chat.channel_number, chat.customer_number), threading.Lock()
            )

    def _post(self, link: Link, thread: Thread, logged: LoggedMessage, who: Speaker) -> None:
        """Post one pending message (in one or more parts), once, as the one who wrote it."""
        assert thread.thread_ts is not None
        done = posted_parts(self.poster, link, thread, logged.wati_id) if logged.attempts else {}
        self.store.update_message(logged.wati_id, attempts=logged.attempts + 1, thread_id=thread.id)
        item = self._items.get(logged.wati_id) or self._refetch(logged)
        if item is None and not done:
            self.store.update_message(logged.wati_id, state="skipped", error="no longer in Wati")
            return
        ts, error = done.get(1), None
        if item is not None:
            rendered = render_item(item.raw)
            by = (item.operator_name or "a teammate") if logged.direction == "mirror" else None
            who = who if logged.direction == "in" else speaker.teammate(item.operator_name)
            if rendered.media_path:
                if not done:
                    message = blocks.relayed_message(
                        logged.wati_id, rendered.text, mirrored_by=by, template=item.template
                    )
                    message = speaker.decorate(message, who, customized=False)  # see speaker
                    relayed = self.media.relay(
                        channel=link.slack_channel_id,
                        thread_ts=thread.thread_ts,
                        logged=logged,
                        item=item,
                        rendered=rendered,
                        comment=str(message["text"]),
                    )
                    if relayed.waiting:
                        return  # tried again later; the chat's next messages go on
                    if relayed.code is not None:
                        error = relayed.code
                        what = f"{rendered.kind.capitalize()} file"
                        ts = post_unshown(
                            self.poster,
                            self.store,
                            link,
                            thread,
                            logged,
                            1,
                            error,
                            why=relayed.why,
                            file=(what, message),
                        )
                ts = ts or "file"
            else:
                parts = blocks.relayed_parts(
                    logged.wati_id, rendered.text, mirrored_by=by, template=item.template
                )
                for k, message in enumerate(parts, start=1):
                    if k in done:
                        continue
                    message = speaker.decorate(message, who, customized=self.customized())
                    posted, refused = self._post_part(link, thread, logged, k, message)
                    ts, error = ts or posted, error or refused
        self.store.update_message(logged.wati_id, state="posted", slack_ts=ts, error=error)

    def _post_part(
        self, link: Link, thread: Thread, logged: LoggedMessage, part: int, message: dict[str, Any]
    ) -> tuple[str, str | None]:
        """Post one part; a part Slack refuses for good is replaced by a notice saying so,
        so this customer's later messages are not held up behind it. Returns (ts, refusal)."""
        assert thread.thread_ts is not None
        try:
            return self.poster.post(
                link.slack_channel_id, thread_ts=thread.thread_ts, **message
            ), None
        except SlackApiError as exc:
            if (error := refusal_of(exc)) is None:
                raise
        return post_unshown(self.poster, self.store, link, thread, logged, part, error), error

    def _refetch(self, logged: LoggedMessage) -> WatiMessage | None:
        """A pending message's content after a restart (only ids are kept in the store).

        None only when the history was read to its end without the message. An empty first
        page proves nothing: Wati's HTTP 200 `result: false` reads as an empty history, and
        taking it at its word marked messages gone for good. Each page takes a slot of the
        rate window like any other getMessages call; errors leave the message pending.
        """
        for page_number in range(1, MAX_PAGES + 1):
            if not self.windows.messages.acquire(timeout=15):
                raise NoSlot
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
            if logged.wati_id in self._items or not page.has_more:
                break
        return self._items.get(logged.wati_id)


def is_ours(store: Store, chat: Chat, item: WatiMessage) -> bool:
    """Whether a business-side message was sent by the bridge (so it is not echoed)."""
    reply = None
    if item.local_message_id:
        # Outbound sends chunk k of a reply as "<outbox local id>.<k>".
        reply = store.reply_by_local_id(item.local_message_id.split(".")[0])
    if reply is None:
        reply = store.reply_by_wati_id(item.id)
    if reply is None and item.text:
        # Sends whose answer was lost (a crash or timeout mid-send) are matched by text.
        for candidate in store.replies_in_state(
            ReplyState.SENDING,
            ReplyState.UNKNOWN,
            ReplyState.SENT,
            customer=(chat.channel_number, chat.customer_number),
        ):
            if candidate.wati_id is None and candidate.body.strip() == item.text.strip():
                reply = candidate
                break
    if reply is None:
        return False
    if reply.wati_id is None:
        store.update_reply(reply.id, wati_id=item.id)
    return True


def posted_parts(poster: SlackPoster, link: Link, thread: Thread, wati_id: str) -> dict[int, str]:
    """The parts of a message already in its thread (a crash came between post and mark):
    part number → ts."""
    assert thread.thread_ts is not None
    found: dict[int, str] = {}
    for message in poster.thread_messages(link.slack_channel_id, thread.thread_ts):
        payload = metadata_of(message, blocks.MESSAGE_EVENT)
        if payload and payload.get("wati_id") == wati_id:
            found.setdefault(blocks.part_of(payload), str(message["ts"]))
        for file in message.get("files") or []:
            if str(file.get("name", "")).startswith(wati_id):
                found.setdefault(1, str(message["ts"]))
    return found
