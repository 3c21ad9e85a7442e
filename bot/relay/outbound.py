"""Slack → Wati: a teammate's thread reply is recorded once, sent at most once, its fate shown.

At most once, across crashes and Slack's retries: `receive` records the reply in the outbox
(unique on its Slack channel and ts) before anything is sent; `process` marks it `sending`,
with the attempt counted, before each HTTP call and `sent` after. A send whose answer was lost
(timeout, 5xx, a crash mid-call) becomes `unknown`; it is sent again only after Wati's history,
read at least CHECK_DELAY seconds after the attempt, shows it did not arrive, and only once.

Each reply gets its own localMessageId; part k of a reply (4,096-character chunks, files) goes
with f"{id}.{k}", which is how the inbound relay recognises the echo of the bridge's own sends.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.base.clock import Clock
from bot.relay.delivery import NOTE_MARK, QUEUED_MARK, Feedback
from bot.relay.sender import CHECK_DELAY, Sender
from bot.store import Store
from bot.store.chats import Chat, Thread
from bot.store.db import iso
from bot.store.outbox import Job, ReplyState
from bot.text import phone
from bot.text.formatting import internal_note
from bot.wati.types import WatiMessage

logger = logging.getLogger(__name__)

ALLOWED_SUBTYPES = (None, "file_share", "thread_broadcast")
RECONCILE_SECONDS = 300.0  # how often replies' marks are checked against their state
RECONCILE_LOOKBACK = 2 * 86400.0  # only replies changed in this time are checked
SEND_NOW_WAIT = 20.0  # how long `send_now` waits for a round that holds the outbox
UNSETTLED = (ReplyState.QUEUED, ReplyState.UNKNOWN, ReplyState.SENDING)
# What `receive` made of an event.
QUEUED, NOTE, DUPLICATE = "queued", "note", "duplicate"
IGNORED, EDITED, DELETED = "ignored", "edited", "deleted"


@dataclass(frozen=True)
class Intake:
    """What `receive` made of a message event, and what to tell its author (ephemeral)."""

    verdict: str
    reply_id: int | None = None
    tell: str | None = None
    user: str | None = None
    thread_ts: str | None = None


class Outbound:
    """The outbox: intake from Slack's message events, sends to Wati, outcomes back in Slack."""

    def __init__(
        self,
        *,
        store: Store,
        sender: Sender,
        feedback: Feedback,
        clock: Clock,
        note_prefix: str,
        run_soon: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.sender = sender
        self.feedback = feedback
        self.clock = clock
        self.note_prefix = note_prefix  # a reply starting with it stays in Slack as a note
        # Brings the scheduler's outbound job forward (tests that drive `process` pass nothing).
        self._run_soon = run_soon
        self._lock = threading.Lock()
        self._again = threading.Event()
        self._next_reconcile = 0.0  # the first round after a start looks for stale marks
        self._recover()

    def _recover(self) -> None:
        """Replies left `sending` by a crash: their fate is unknown until the history says."""
        for job in self.store.reply_jobs(ReplyState.SENDING):
            self._orphaned(job)

    def _orphaned(self, job: Job) -> None:
        started = job.attempted_at or self.clock()
        self.store.update_reply(job.id, state=ReplyState.UNKNOWN, next_try_at=started + CHECK_DELAY)
        logger.warning("reply %d was left mid-send; Wati's history decides its fate", job.id)

    # -- intake (called by the Bolt listener; fast, sends nothing) ------------------------------

    def receive(
        self, event: Mapping[str, Any], *, event_id: str | None = None, prepared: bool = False
    ) -> Intake:
        """Record a thread reply for sending (or as a note); everything else is ignored.

        Only database work: the listener calls this before Slack is answered (a reply Slack
        got 200 for is never delivered again, so it must be on record by then). `prepared`:
        the text is WhatsApp's already and never a note (a forward the bridge posted).
        """
        subtype = event.get("subtype")
        if subtype in ("message_changed", "message_deleted"):
            return _changed(self.store, event, event_id)
        channel, user = str(event.get("channel") or ""), event.get("user")
        ts, thread_ts = event.get("ts"), event.get("thread_ts")
        if subtype not in ALLOWED_SUBTYPES or event.get("bot_id") or not user or not ts:
            return Intake(IGNORED)
        if not thread_ts or thread_ts == ts:
            return Intake(IGNORED)  # top-level messages are the team's own talk
        thread = self.store.thread_by_ts(channel, str(thread_ts))
        if thread is None:
            return Intake(IGNORED)
        link = self.store.link_for_channel(channel)
        if link is None or link.channel_number != thread.channel_number:
            if event_id and not self.store.first_sighting(event_id):
                return Intake(DUPLICATE)
            tell = (
                f"Not sent: this conversation is on WhatsApp number "
                f"{phone.display(thread.channel_number)}, which is no longer linked here."
            )
            return Intake(IGNORED, tell=tell, user=str(user), thread_ts=str(thread_ts))
        text = str(event.get("text") or "")
        shared = event.get("files")
        shared = shared if isinstance(shared, list) else []
        files = [_file_ref(f) for f in shared if isinstance(f, Mapping)]
        note = None if prepared else internal_note(text, self.note_prefix)
        if note is None and not text.strip() and not files:
            return Intake(IGNORED)
        reply, created = self.store.enqueue_reply(
            slack_channel_id=channel,
            slack_ts=str(ts),
            event_id=event_id,
            thread_id=thread.id,
            channel_number=thread.channel_number,
            customer_number=thread.customer_number,
            user_id=str(user),
            body=text,
            files=json.dumps(files) if files and note is None else None,
            local_message_id=uuid.uuid4().hex,
            state=ReplyState.NOTE if note is not None else ReplyState.QUEUED,
            prepared=int(prepared),
            # "" = no mark shown yet: rows the outbound owns have a non-null `reaction`, so
            # `Feedback.reconcile` can show their outcome even if every reaction call failed.
            reaction="",
        )
        if event_id:
            self.store.first_sighting(event_id)
        if not created:
            logger.info("reply %d delivered again by Slack; recorded once", reply.id)
            return Intake(DUPLICATE, reply.id)
        if note is not None:
            logger.info("reply %d is an internal note; kept in Slack", reply.id)
            return Intake(NOTE, reply.id)
        logger.info("reply %d queued in thread %d", reply.id, thread.id)
        return Intake(QUEUED, reply.id)

    def acknowledge(self, intake: Intake) -> None:
        """Show a new reply's first mark (📝 note, ⏳ queued).

        Kept out of `receive`, which runs before Slack gets its answer and so makes no calls
        that could make Slack wait.
        """
        if intake.reply_id is None:
            return
        if intake.verdict == NOTE:
            self.feedback.show(intake.reply_id, NOTE_MARK)
        elif intake.verdict == QUEUED:
            self.feedback.show(intake.reply_id, QUEUED_MARK, while_state=(ReplyState.QUEUED,))

    # -- processing ------------------------------------------------------------------------------

    def kick(self) -> None:
        """Have the outbox processed soon, by the scheduler's job (the listener must not wait).

        A round already running sees `_again` and goes round once more.
        """
        self._again.set()
        self._run_soon()

    def send_now(self, reply_id: int, *, wait: float = SEND_NOW_WAIT) -> Job | None:
        """Send one queued row at once (a template from a form, whose sender learns in the same
        request how it went); return the row as it is after.

        Left to the outbox's round (kicked) when a round holds the outbox longer than `wait`
        seconds or an earlier reply of the same chat is still on its way (order is kept).
        """
        if not self._lock.acquire(timeout=wait):
            self.kick()
            return self.store.reply_job(reply_id)
        try:
            job = self.store.reply_job(reply_id)
            if job is None or job.state != ReplyState.QUEUED:
                return job
            chat = (job.channel_number, job.customer_number)
            if any(r.id < job.id for r in self.store.replies_in_state(*UNSETTLED, customer=chat)):
                self.kick()
                return job
            try:
                self.sender.send(job)
            except Exception as exc:  # as in a round: the row is left for the next one
                self._crashed(job, exc)
        finally:
            self._lock.release()
        return self.store.reply_job(reply_id)

    def process(self) -> int:
        """Send what is due and settle unknown fates; return how many replies were worked on."""
        worked = 0
        with self._lock:
            self._reconcile_marks()
            while True:
                self._again.clear()
                worked += self._round()
                if not self._again.is_set():
                    return worked

    def _reconcile_marks(self) -> None:
        now = self.clock()
        if now < self._next_reconcile:
            return
        self._next_reconcile = now + RECONCILE_SECONDS
        since = iso(self.clock.now() - timedelta(seconds=RECONCILE_LOOKBACK))
        try:
            self.feedback.reconcile(since)
        except Exception as exc:  # marks can wait for the next pass
            logger.warning("stale marks not checked: %s", type(exc).__name__)

    def _round(self) -> int:
        now = self.clock()
        waiting: set[tuple[str, str]] = set()  # chats whose earlier reply is still on its way
        worked = 0
        for job in self.store.reply_jobs(*UNSETTLED):
            if job.state == ReplyState.SENDING:
                # Sends only happen inside a round, under the lock this round holds: a reply
                # still `sending` now was left by a send that could not record its end (the
                # database refused the write), so it is settled like one cut by a crash.
                self._orphaned(job)
                job = self.store.reply_job(job.id) or job
            chat = (job.channel_number, job.customer_number)
            if chat in waiting:
                continue  # replies reach the customer in the order they were written
            if job.next_try_at is not None and job.next_try_at > now:
                waiting.add(chat)
                continue
            worked += 1
            try:
                if job.state == ReplyState.QUEUED:
                    self.sender.send(job)
                else:
                    self.sender.settle(job)
            except Exception as exc:  # one bad reply never blocks the others
                self._crashed(job, exc)
            after = self.store.reply_job(job.id)
            if after is not None and after.state in UNSETTLED:
                waiting.add(chat)
        return worked

    def _crashed(self, job: Job, exc: Exception) -> None:
        logger.warning("reply %d: unexpected %s", job.id, type(exc).__name__)
        logger.debug("reply %d failure", job.id, exc_info=exc)
        self.store.add_error(job.channel_number, f"reply {job.id}: unexpected {type(exc).__name__}")
        fresh = self.store.reply_job(job.id)
        if fresh is not None and fresh.state == ReplyState.SENDING:
            self.store.update_reply(
                job.id, state=ReplyState.UNKNOWN, next_try_at=self.clock() + CHECK_DELAY
            )
        elif fresh is not None and fresh.state in (ReplyState.QUEUED, ReplyState.UNKNOWN):
            self.store.update_reply(job.id, next_try_at=self.clock() + 60)

    # -- actions ---------------------------------------------------------------------------------

    def retry(self, reply_id: int, *, slack_channel_id: str) -> bool:
        """Queue a failed reply again (Retry button); False unless it was `failed` just now.

        Only from the reply's own channel: the button's value is just an id, and a click
        replayed (or forged) from another channel must not send someone else's reply.
        """
        job = self.store.reply_job(reply_id)
        if job is None or job.slack_channel_id != slack_channel_id:
            logger.warning("Retry of reply %d refused: not pressed in its channel", reply_id)
            return False
        if job.question is not None:
            return False  # the rating question is asked again with its own button
        fields = {"state": ReplyState.QUEUED, "error": None, "delivery": None, "next_try_at": None}
        if job.template is not None:
            fields["wati_id"] = None  # a template's new echo is known by its text (no local id)
        # notice_ts cleared: the outcome of this new try has yet to be shown.
        if not self.store.move_reply(
            reply_id, (ReplyState.FAILED,), **fields, resends=0, attempts=0, notice_ts=None
        ):
            return False
        self.store.drop_failed_parts(reply_id)
        logger.info("reply %d queued again (Retry)", reply_id)
        self.feedback.show(reply_id, QUEUED_MARK, while_state=(ReplyState.QUEUED,))
        return True

    def reopen_and_send(self, reply_id: int, *, slack_channel_id: str) -> bool:
        """Queue a blocked reply to go after the chat is reopened in Wati ("Reopen and send").

        One statement moves it from `blocked`, so a double click or Slack's retry of the
        action queues it once; the sender reopens (updateChatStatus OPEN) and sends it in the
        outbox's own round, like any reply. Only from the reply's own channel, as Retry.
        """
        job = self.store.reply_job(reply_id)
        if job is None or job.slack_channel_id != slack_channel_id:
            logger.warning("Reopen of reply %d refused: not pressed in its channel", reply_id)
            return False
        fields = {"state": ReplyState.QUEUED, "error": None, "next_try_at": None, "reopen": 1}
        if not self.store.move_reply(reply_id, (ReplyState.BLOCKED,), **fields, attempts=0):
            return False
        logger.info("reply %d queued to go after a reopen", reply_id)
        self.feedback.show(reply_id, QUEUED_MARK, while_state=(ReplyState.QUEUED,))
        return True

    # -- statuses and thread parents (the Relay and the scheduler call these) ---------------------

    def note_history(self, chat: Chat, items: list[WatiMessage]) -> None:
        """Delivery statuses of sent replies from a fetched history page (Relay hook).

        Never raises: the Relay calls it in the middle of a poll, which must go on.
        """
        try:
            self.feedback.note_history(chat, items)
        except Exception as exc:  # statuses can wait for the next poll
            logger.warning("delivery statuses not updated: %s", type(exc).__name__)
            logger.debug("note_history failure", exc_info=exc)

    def refresh_parents(self) -> int:
        """Show the current reply-window state on every open thread's parent."""
        return self.feedback.refresh_parents()

    def refresh_parent(self, thread: Thread) -> bool:
        """Bring one thread's parent up to date."""
        chat = self.store.chat(thread.channel_number, thread.customer_number)
        return chat is not None and self.feedback.refresh(thread, chat)


def _changed(store: Store, event: Mapping[str, Any], event_id: str | None) -> Intake:
    """An edit or delete of a reply: WhatsApp cannot follow, so tell the author."""
    channel = str(event.get("channel") or "")
    if event.get("subtype") == "message_changed":
        message = _mapping(event.get("message"))
        previous = _mapping(event.get("previous_message"))
        if not message.get("edited") or message.get("text") == previous.get("text"):
            return Intake(IGNORED)  # unfurls and reply counts change messages too
        verdict = EDITED
    else:
        message = _mapping(event.get("previous_message"))
        verdict = DELETED
    user, ts, thread_ts = message.get("user"), message.get("ts"), message.get("thread_ts")
    if message.get("bot_id") or not user or not ts or not thread_ts or thread_ts == ts:
        return Intake(IGNORED)
    reply = store.reply_by_ts(channel, str(ts))
    if reply is None or reply.state == ReplyState.NOTE:
        return Intake(IGNORED)
    if event_id and not store.first_sighting(event_id):
        return Intake(DUPLICATE)
    unsent = (ReplyState.QUEUED, ReplyState.BLOCKED, ReplyState.FAILED)
    if verdict == DELETED and store.move_reply(reply.id, unsent, state=ReplyState.CANCELLED):
        logger.info("reply %d deleted in Slack before it was sent; cancelled", reply.id)
        tell = "You deleted this reply before it reached WhatsApp, so it will not be sent."
    elif reply.state in (*unsent, ReplyState.CANCELLED):
        tell = "This reply was not sent to WhatsApp, and edits never are: post a new reply."
    elif verdict == DELETED:
        tell = (
            "Deleting a reply in Slack does not remove it from WhatsApp: "
            "the customer still has the message."
        )
    else:
        tell = (
            "WhatsApp cannot change a message once it is sent: the customer has the original "
            "text. Post a new reply in the thread to correct it."
        )
    return Intake(verdict, reply.id, tell, str(user), str(thread_ts))


def _mapping(value: object) -> Mapping[str, Any]:
    """A nested part of an event, or an empty one when it is not an object (bad input)."""
    return value if isinstance(value, Mapping) else {}


def _file_ref(file: Mapping[str, Any]) -> dict[str, Any]:
    """What is kept of a shared file until it is sent (never its content)."""
    return {
        "id": file.get("id"),
        "name": file.get("name") or file.get("title") or "file",
        "mimetype": file.get("mimetype"),
        "size": file.get("size"),
        "url": file.get("url_private_download") or file.get("url_private"),
        # Slack's own audio clips (recorded in the composer) go out as voice notes.
        "clip": file.get("subtype") == "slack_audio",
    }
