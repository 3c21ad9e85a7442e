"""How a reply's fate shows in Slack: reactions, notices in the thread, the thread parent.

The reaction on a teammate's reply follows it: queued ⏳, sent ✅, delivered ☑️, read 👀,
failed ❌, blocked by the 24-hour window 🔒, internal note 📝. Only one is shown at a time.
Delivery statuses come from Wati's history: the Relay hands every page it fetches to
`note_history`, which moves each sent part forward and posts a notice when WhatsApp failed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from datetime import datetime

from slack_sdk.errors import SlackApiError

from bot.relay import questions, templated, window
from bot.relay.threads import Threads
from bot.slack import blocks
from bot.slack.poster import SLACK_GIVE_UP, SlackPoster
from bot.store import Store
from bot.store.chats import Chat, Thread
from bot.store.db import iso, parse_iso
from bot.store.outbox import Delivery, Job, Reply, ReplyState
from bot.text import phone
from bot.text.formatting import escape
from bot.wati.types import WatiMessage

logger = logging.getLogger(__name__)

QUEUED_MARK = "hourglass_flowing_sand"
NOTE_MARK = "memo"
FAILED_MARK = "x"
BLOCKED_MARK = "lock"
DELIVERY_MARKS: dict[str, str] = {
    Delivery.SENT: "white_check_mark",
    Delivery.DELIVERED: "ballot_box_with_check",
    Delivery.READ: "eyes",
    Delivery.FAILED: FAILED_MARK,
}


# Delivery statuses only move forward; FAILED ends the line.
RANK = {Delivery.SENT: 1, Delivery.DELIVERED: 2, Delivery.READ: 3}


def forward(current: str | None, seen: str | None) -> str | None:
    """The delivery status after seeing `seen`: it only moves forward, FAILED is final.

    A failure only counts before delivery (a read message cannot fail any more).
    """
    if seen is None or current == Delivery.FAILED:
        return current
    if seen == Delivery.FAILED:
        return Delivery.FAILED if current in (None, Delivery.SENT) else current
    if seen not in RANK:
        return current  # PENDING, SENDING and other in-between words
    if current is None or RANK[Delivery(seen)] > RANK[Delivery(current)]:
        return seen
    return current


HARMLESS = {"already_reacted", "no_reaction"}
# Why a reply Wati answered "Ticket has been expired." is blocked (the outbox keeps it as the
# reply's error, which is how a notice shown again knows to offer Reopen and send).
TICKET_CLOSED = "Wati says this conversation is closed (“Ticket has been expired.”)"

_STATE_MARKS: dict[str, str] = {
    ReplyState.NOTE: NOTE_MARK,
    ReplyState.FAILED: FAILED_MARK,
    ReplyState.BLOCKED: BLOCKED_MARK,
}


class Feedback:
    """Reactions and notices for replies, and the window state on thread parents."""

    def __init__(self, *, store: Store, poster: SlackPoster, threads: Threads) -> None:
        self.store = store
        self.poster = poster
        self.threads = threads
        self._lock = threading.Lock()

    # -- reactions ---------------------------------------------------------------------------

    def show(self, reply_id: int, name: str, *, while_state: tuple[str, ...] = ()) -> None:
        """Make `name` the one reaction on the reply (optionally only while in these states)."""
        with self._lock:
            job = self.store.reply_job(reply_id)
            if (
                job is None
                or job.reaction == name
                or (while_state and job.state not in while_state)
            ):
                return
            if job.reaction:
                self._react("reactions_remove", job, job.reaction)
            if self._react("reactions_add", job, name):
                self.store.update_reply(reply_id, reaction=name)

    def _react(self, method: str, reply: Reply, name: str) -> bool:
        try:
            getattr(self.poster.client, method)(
                channel=reply.slack_channel_id, timestamp=reply.slack_ts, name=name
            )
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in HARMLESS:
                return True
            logger.warning("%s on reply %d failed: %s", method, reply.id, error)
            return False
        return True

    def expected_mark(self, job: Job) -> str | None:
        """The mark a reply in its current state should show (None while it is on its way)."""
        if job.state == ReplyState.SENT:
            return DELIVERY_MARKS.get(job.delivery or Delivery.SENT, DELIVERY_MARKS[Delivery.SENT])
        return _STATE_MARKS.get(job.state)

    def reconcile(self, since: str) -> int:
        """Show the outcome of replies whose mark or notice is missing; return how many.

        A reply's state and what Slack shows of it are separate writes, the second one in
        Slack: a crash (or a Slack error) between them leaves the old mark showing, e.g. ⏳ on
        a reply that was sent, a failure without the notice giving its reason, a template's
        note still saying it is on its way. Only replies
        the outbound owns are looked at: their `reaction` is a mark or "" (nothing shown yet);
        chat-ops' rows keep it null.
        """
        fixed = 0
        for job in self.store.marked_since(
            since, ReplyState.SENT, ReplyState.NOTE, ReplyState.FAILED, ReplyState.BLOCKED
        ):
            want = self.expected_mark(job)
            if want is None:
                continue
            stale = want != job.reaction
            if stale:
                self.show(job.id, want)
            unexplained = (
                job.state in (ReplyState.FAILED, ReplyState.BLOCKED) and job.notice_ts is None
            )
            if unexplained:
                reason = job.error or "no reason was recorded"
                if job.state == ReplyState.BLOCKED:
                    self._blocked_notice(job, reason)
                else:
                    link = self.store.link_for_channel(job.slack_channel_id)
                    retry = link is not None and link.channel_number == job.channel_number
                    self._explain_failure(job, reason, retry)
            # A template (or the rating question) sent while its note could not be rewritten
            # still says "sending".
            noted = job.template is not None or job.question is not None
            untold = noted and job.state == ReplyState.SENT and job.notice_ts is None
            if untold:
                self._edit_note(job, self._sent_text(job))
            if stale or unexplained or untold:
                logger.info("reply %d: outcome shown again (%s)", job.id, job.state)
                fixed += 1
        return fixed

    # -- notices -----------------------------------------------------------------------------

    def notice(
        self,
        job: Job,
        text: str,
        *,
        retry: bool = False,
        offer_template: bool = False,
        offer_reopen: bool = False,
    ) -> None:
        """Post a notice about the reply in its thread (best effort: Slack may refuse).

        Refused for good (the bot left the channel, it was archived), the notice is given up
        (notice_ts ""), so `reconcile` does not ask again; refused otherwise, it tries later.
        """
        thread = self.store.thread(job.thread_id)
        if thread is None or not thread.thread_ts:
            return
        message = blocks.notice(
            text,
            retry_reply_id=job.id if retry else None,
            offer_template=job.thread_id if offer_template else None,
            reopen_reply_id=job.id if offer_reopen else None,
        )
        try:
            ts = self.poster.post(job.slack_channel_id, thread_ts=thread.thread_ts, **message)
        except SlackApiError as exc:
            error = exc.response.get("error")
            logger.warning("notice for reply %d not posted: %s", job.id, error)
            self.store.add_error(job.channel_number, f"Slack refused a notice: {error}")
            if error in SLACK_GIVE_UP:
                self.store.update_reply(job.id, notice_ts="")
            return
        self.store.update_reply(job.id, notice_ts=ts)

    def sent(self, job: Job) -> None:
        """A reply Wati took: ✅ (and a template's or the rating question's note says that it
        went)."""
        self.show(job.id, DELIVERY_MARKS[Delivery.SENT])
        if job.template is not None or job.question is not None:
            self._edit_note(job, self._sent_text(job))

    def _sent_text(self, job: Job) -> str:
        if job.question is None:
            return templated.sent_text(job)
        parts = self.store.reply_parts(job.id)
        return questions.sent_text(job, parts[0].kind if parts else "?")

    def failed(self, job: Job, reason: str, *, retry: bool = True) -> None:
        """A reply that did not go: ❌ and a notice with the reason (and a Retry button)."""
        self.show(job.id, FAILED_MARK)
        self._explain_failure(job, reason, retry)

    def _explain_failure(self, job: Job, reason: str, retry: bool) -> None:
        if job.template is not None:
            # A template's own note tells it (one message, not a note and a notice).
            self._edit_note(job, templated.failed_text(job, reason), retry=retry)
        elif job.question is not None:
            # So does the rating question's, without Retry: the button asks again.
            self._edit_note(job, questions.failed_text(job, reason))
        else:
            self.notice(job, self._failed_text(job, reason, retry), retry=retry)

    def _edit_note(self, job: Job, text: str, *, retry: bool = False) -> None:
        """Rewrite a template's thread note (the row's own Slack message) with its outcome;
        the note then counts as the row's notice (`reconcile` asks again while it is not)."""
        message = blocks.notice(text, retry_reply_id=job.id if retry else None)
        try:
            self.poster.update(job.slack_channel_id, job.slack_ts, **message)
        except SlackApiError as exc:
            error = exc.response.get("error")
            logger.warning("note of reply %d not updated: %s", job.id, error)
            if error in SLACK_GIVE_UP:
                self.store.update_reply(job.id, notice_ts="")
            return
        self.store.update_reply(job.id, notice_ts=job.slack_ts)

    def blocked(self, job: Job, reason: str) -> None:
        """A reply Wati will not take as a session message: 🔒 and a notice offering a template
        (and, for a closed ticket inside the 24 hours, Reopen and send)."""
        self.show(job.id, BLOCKED_MARK)
        self._blocked_notice(job, reason)
        thread = self.store.thread(job.thread_id)
        chat = self.store.chat(job.channel_number, job.customer_number)
        if thread is not None and chat is not None:
            self.refresh(thread, chat)

    @staticmethod
    def _failed_text(job: Job, reason: str, retry: bool) -> str:
        text = f":x: <@{job.user_id}> your reply was not sent to WhatsApp: {escape(reason)}."
        return text + (" Press *Retry* to send it again." if retry else "")

    def _blocked_notice(self, job: Job, reason: str) -> None:
        chat = self.store.chat(job.channel_number, job.customer_number)
        last_inbound = parse_iso(chat.last_inbound_at) if chat else None
        # "Ticket has been expired." does not say whether the ticket or the window closed:
        # while the 24 hours by the customer's last message run, reopening may be enough.
        reopen = reason == TICKET_CLOSED and window.is_open(last_inbound, self.threads.clock.now())
        if reopen:
            text = (
                f":lock: <@{job.user_id}> your reply was not sent: {escape(reason)}: the chat "
                "was solved or closed in Wati (its chatbot may have closed it), or the 24-hour "
                "window closed. *Reopen and send* reopens the chat in Wati and sends this "
                "reply; *Send template* sends an approved template instead."
            )
        else:
            text = (
                f":lock: <@{job.user_id}> your reply was not sent: {escape(reason)}. WhatsApp "
                "only lets a business write first with an approved template: use *Send template*."
            )
        self.notice(job, text, offer_template=True, offer_reopen=reopen)

    # -- delivery statuses from Wati's history ------------------------------------------------

    def note_history(self, chat: Chat, items: list[WatiMessage]) -> None:
        """Move sent parts forward with the statuses in a fetched history page."""
        mine = [i for i in items if i.owner and i.event_type == "message"]
        parts = self.store.parts_matching(
            [i.id for i in mine], [i.local_message_id for i in mine if i.local_message_id]
        )
        # A template's send is answered without an id: its part learns it from the echo the
        # inbound relay matched to the row (the row's wati_id), as a status webhook does.
        for item in items:
            if item.template and (part := self.store.unnamed_part(item.id)) is not None:
                self.store.set_part_delivery(part, part.delivery, item.id)
                parts.append(replace(part, wati_id=item.id))
                mine.append(item)
        if parts:
            by_wati = {p.wati_id: p for p in parts if p.wati_id}
            by_local = {p.local_message_id: p for p in parts if p.local_message_id}
            details: dict[int, str | None] = {}
            for item in mine:
                part = by_wati.get(item.id) or by_local.get(item.local_message_id or "")
                if part is None:
                    continue
                status = forward(part.delivery, item.status)
                if status != part.delivery or part.wati_id is None:
                    self.store.set_part_delivery(part, status, item.id)
                    details.setdefault(part.reply_id, item.failed_detail)
            for reply_id, detail in details.items():
                self._settle_delivery(reply_id, detail)
        self._window_reopened(chat, items)

    def _settle_delivery(self, reply_id: int, detail: str | None) -> None:
        job = self.store.reply_job(reply_id)
        if job is None or job.state != ReplyState.SENT:
            return  # still going out: the sender shows the outcome when it is done
        statuses = [p.delivery for p in self.store.reply_parts(reply_id)]
        if Delivery.FAILED in statuses:
            reason = f"WhatsApp could not deliver it ({detail or 'no reason given'})"
            if self.store.move_reply(
                reply_id,
                (ReplyState.SENT,),
                state=ReplyState.FAILED,
                delivery=Delivery.FAILED,
                error=reason,
            ):
                logger.info("reply %d failed after it was sent", reply_id)
                self.failed(job, reason)
            return
        known = [s for s in statuses if s in RANK]
        if not known:
            return
        status = min((Delivery(s) for s in known), key=RANK.__getitem__)
        if status != job.delivery:
            self.store.update_reply(reply_id, delivery=status)
            self.show(reply_id, DELIVERY_MARKS[status], while_state=(ReplyState.SENT,))

    # -- the window state on thread parents ---------------------------------------------------

    def refresh_parents(self) -> int:
        """Update each open thread's parent whose shown window state is out of date."""
        updated = 0
        for thread in self.store.open_threads():
            if thread.state != "open" or not thread.thread_ts:
                continue
            chat = self.store.chat(thread.channel_number, thread.customer_number)
            if chat is not None and self.refresh(thread, chat):
                updated += 1
        return updated

    def refresh(self, thread: Thread, chat: Chat, *, before: Chat | None = None) -> bool:
        """chat.update the parent when its window state changed; True when it was updated.

        `before` is the chat as it was when the parent was last drawn, when `chat` is newer.
        """
        if thread.state != "open" or not thread.thread_ts:
            return False
        current = self.threads.window_state(chat)
        if _shown(thread, before or chat) == current or not self.threads.redraw(thread, chat):
            return False
        logger.info("thread %d parent shows the reply window %s", thread.id, current)
        return True

    def _window_reopened(self, chat: Chat, items: list[WatiMessage]) -> None:
        """A customer wrote after the window closed: show it open again right away."""
        inbound = [i.created for i in items if not i.owner and i.event_type == "message"]
        if not inbound:
            return
        newest = max(inbound)
        before = parse_iso(chat.last_inbound_at)
        if before is not None and newest <= before:
            return
        thread = self.store.current_thread(chat.channel_number, chat.customer_number)
        if thread is not None:
            self.refresh(thread, replace(chat, last_inbound_at=iso(newest)), before=chat)


def _state(last_inbound_at: datetime | None, now: datetime) -> str:
    return "open" if window.is_open(last_inbound_at, now) else "closed"


def _shown(thread: Thread, chat: Chat) -> str:
    """What the parent shows now; before any refresh, what it showed when it was posted."""
    if thread.window_shown:
        return thread.window_shown
    opened = parse_iso(thread.opened_at)
    return _state(parse_iso(chat.last_inbound_at), opened) if opened else "closed"


def window_reason(last_inbound_at: datetime | None, channel_number: str) -> str:
    """Why a session message cannot go now, in plain words."""
    closes = window.closes_at(last_inbound_at)
    if closes is None:
        return f"this customer has not written to {phone.display(channel_number)} yet"
    when = closes.strftime("%d %b %H:%M UTC")
    return f"the 24-hour reply window closed at {when}, a day after the customer's last message"
