"""Sending one outbox reply to Wati, part by part, and settling sends whose answer was lost.

Before each HTTP call the reply is marked `sending` with its attempt counted and committed;
after it, each part Wati accepted is recorded (and its Wati id logged as the bridge's own, so
the inbound relay never echoes it). A lost answer (timeout, 5xx, cut connection) makes the
reply `unknown`: `settle` reads the chat's history CHECK_DELAY seconds after the attempt and
finds the part by localMessageId (f"{reply id}.{k}"), else by text; found, the reply goes on;
not found, the part is sent again, once. A template row (`bot.relay.templated`) is one part,
sent with sendTemplateMessage whatever the 24-hour window, and found in the history by its
template name and text. So is the rating question (`bot.relay.questions`), whose way (buttons,
numbered text, template) is picked by the window when it is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from bot.base.clock import Clock
from bot.relay import questions, templated, window
from bot.relay.budget import Budget
from bot.relay.delivery import (
    QUEUED_MARK,
    TICKET_CLOSED,
    Feedback,
    forward,
    window_reason,
)
from bot.relay.pieces import Attachment, Composer, Piece, file_name
from bot.relay.questions import Asker, NotAsked
from bot.slack.reader import DownloadRefused
from bot.store import Store
from bot.store.db import iso, parse_iso
from bot.store.outbox import Delivery, Job, ReplyState
from bot.text import phone
from bot.wati.client import WatiClient
from bot.wati.errors import (
    WatiAuthError,
    WatiBadResponse,
    WatiError,
    WatiRateLimited,
    WatiRejected,
    WatiTicketClosed,
    WatiUnavailable,
    WatiWindowClosed,
    error_kind,
)
from bot.wati.limits import Windows
from bot.wati.types import SendResult, WatiMessage

logger = logging.getLogger(__name__)

CHECK_DELAY = 30.0  # seconds after an unanswered send before Wati's history is trusted
MAX_RESENDS = 1  # sends again after the history showed an unanswered send did not arrive
MAX_ATTEMPTS = 5  # connection failures (nothing sent) before a reply is given up
RETRY_WAIT = 10.0  # times the attempt number, after a connection failure
RATE_WAIT = 30.0  # after a 429 without Retry-After
MATCH_SLACK = 120.0  # a text match must be at most this much older than the attempt
HISTORY_PAGE = 50
QUEUED = ReplyState.QUEUED


class Sender:
    """Sends queued replies and settles unknown ones; `Outbound` decides when."""

    def __init__(
        self,
        *,
        store: Store,
        wati: WatiClient,
        budget: Budget,
        windows: Windows,
        composer: Composer,
        asker: Asker,
        feedback: Feedback,
        clock: Clock,
        wake: Callable[[str, str], object],
    ) -> None:
        self.store = store
        self.wati = wati
        self.budget = budget
        self.windows = windows
        self.composer = composer
        self.feedback = feedback
        self.clock = clock
        self.asker = asker  # sends the rating question the way the window allows
        self.wake = wake  # polls the chat soon, so the reply's statuses come in

    def send(self, job: Job) -> None:
        """Send a queued reply's remaining parts, unless the link, quota or window forbid it."""
        link = self.store.link_for_channel(job.slack_channel_id)
        if link is None or link.channel_number != job.channel_number:
            number = phone.display(job.channel_number)
            return self._fail(
                job, f"this channel is no longer linked to {number}", "unlinked", retry=False
            )
        if not self.budget.may_send():
            return self._fail(
                job, f"the Wati plan's calls are used up ({self.budget.summary()})", "quota"
            )
        chat = self.store.chat(job.channel_number, job.customer_number)
        last_inbound = parse_iso(chat.last_inbound_at) if chat else None
        # A template is what goes outside the window (bot.relay.templated): no check, no reopen;
        # the rating question picks its way by the window itself (bot.relay.questions).
        session = job.template is None and job.question is None
        if session and not window.is_open(last_inbound, self.clock.now()):
            return self._block(job, window_reason(last_inbound, job.channel_number))
        if session and job.reopen and not self._reopen(job):
            return None
        job = self._prepare(job)
        pieces = self.composer.plan(job)
        if not pieces:
            return self._fail(job, "it is empty once formatted for WhatsApp", "empty", retry=False)
        done = {p.part for p in self.store.reply_parts(job.id)}
        attempts = job.attempts
        for k, piece in enumerate(pieces):
            if k in done:
                continue
            attempts += 1
            if not self._send_piece(job, k, piece, attempts):
                return None
        self._finish(job, len(pieces))
        return None

    def _send_piece(self, job: Job, k: int, piece: Piece, attempts: int) -> bool:
        """Send one part; False when the reply stops here (state already set)."""
        attachment = None
        if piece.file is not None:
            try:
                attachment = self.composer.download(piece)
            except DownloadRefused as exc:
                self._fail(
                    job,
                    f"the file {file_name(piece.file)} was not attached: {exc.reason}",
                    "file_refused",
                )
                return False
        local_id = f"{job.local_message_id}.{k}"
        started = self.clock()
        self.store.update_reply(
            job.id,
            state=ReplyState.SENDING,
            attempts=attempts,
            attempted_at=started,
            next_try_at=None,
        )
        try:
            result, kind = call_wati(self.wati, self.asker, job, piece, local_id, attachment)
        except NotAsked as exc:
            self._fail(job, exc.reason, "not_asked", retry=False)
            return False
        except WatiRateLimited as exc:
            wait = exc.retry_after if exc.retry_after is not None else RATE_WAIT
            self.store.update_reply(job.id, state=QUEUED, next_try_at=self.clock() + wait)
            self.feedback.show(job.id, QUEUED_MARK)
            logger.warning("reply %d: Wati rate limit, next try in %.0f s", job.id, wait)
            return False
        except WatiTicketClosed:
            # The chat's ticket closed (solved, or closed by Wati's chatbot) or the window
            # did: the answer does not say which. Inside the 24 hours a reopen may do.
            self._block(job, TICKET_CLOSED)
            return False
        except WatiWindowClosed:
            self._block(job, "Wati says the 24-hour reply window is closed")
            return False
        except WatiAuthError as exc:
            self._fail(job, f"Wati refused the bridge's access token ({exc.reason})", "wati_auth")
            return False
        except WatiRejected as exc:
            self._fail(job, f"Wati refused it: {exc.reason}", "wati_rejected")
            return False
        except (WatiUnavailable, WatiBadResponse) as exc:
            if exc.maybe_sent:
                next_check = started + CHECK_DELAY
                self.store.update_reply(
                    job.id, state=ReplyState.UNKNOWN, next_try_at=next_check, error=exc.reason
                )
                logger.warning("reply %d part %d: fate unknown; Wati's history decides", job.id, k)
            elif attempts >= MAX_ATTEMPTS:
                self._fail(job, f"Wati could not be reached ({exc.reason})", "wati_unreachable")
            else:
                wait = RETRY_WAIT * attempts
                self.store.update_reply(job.id, state=QUEUED, next_try_at=self.clock() + wait)
            return False
        except (WatiError, ValueError) as exc:
            if isinstance(exc, WatiError):
                self._fail(job, exc.reason, f"wati_{error_kind(exc)}")
            else:
                self._fail(job, str(exc), "invalid")
            return False
        wati_local = local_id if kind == "text" else result.local_message_id
        self._record_part(job, k, kind, result.message_id, wati_local, Delivery.SENT)
        if attachment is not None and attachment.note:
            self.feedback.notice(job, attachment.note)  # e.g. a clip that went as a plain file
        return True

    def _reopen(self, job: Job) -> bool:
        """ "Reopen and send": set the chat OPEN in Wati first, once; False when the reply
        stops here (state already set)."""
        try:
            self.wati.update_chat_status(
                job.customer_number, "OPEN", channel_number=job.channel_number
            )
        except WatiRateLimited as exc:
            wait = exc.retry_after if exc.retry_after is not None else RATE_WAIT
            self.store.update_reply(job.id, next_try_at=self.clock() + wait)
            return False
        except (WatiUnavailable, WatiBadResponse) as exc:
            # Setting OPEN twice is harmless, so a lost answer is simply asked again.
            if job.attempts + 1 < MAX_ATTEMPTS:
                wait = RETRY_WAIT * (job.attempts + 1)
                self.store.update_reply(
                    job.id, attempts=job.attempts + 1, next_try_at=self.clock() + wait
                )
                return False
            self.store.update_reply(job.id, reopen=0)
            self._fail(job, f"Wati did not reopen the conversation ({exc.reason})", "reopen_failed")
            return False
        except WatiError as exc:
            self.store.update_reply(job.id, reopen=0)
            self._fail(job, f"Wati did not reopen the conversation ({exc.reason})", "reopen_failed")
            return False
        self.store.update_reply(job.id, reopen=0)
        logger.info("reply %d: conversation reopened in Wati", job.id)
        return True

    def _record_part(
        self,
        job: Job,
        k: int,
        kind: str,
        wati_id: str | None,
        local_id: str | None,
        status: str | None,
    ) -> None:
        self.store.add_part(
            job.id, k, kind=kind, wati_id=wati_id, local_message_id=local_id, delivery=status
        )
        if wati_id:
            # Known to the inbound relay from now on, so the echo is never posted to Slack.
            self.store.record_message(
                wati_id,
                channel_number=job.channel_number,
                customer_number=job.customer_number,
                direction="out",
                created=iso(self.clock.now()),
                state="ours",
                thread_id=job.thread_id,
            )

    def _finish(self, job: Job, count: int) -> None:
        parts = self.store.reply_parts(job.id)
        first = parts[0].wati_id if parts else None
        self.store.update_reply(
            job.id,
            state=ReplyState.SENT,
            wati_id=first or job.wati_id,
            delivery=Delivery.SENT,
            error=None,
            next_try_at=None,
        )
        logger.info("reply %d sent (%d part(s))", job.id, count)
        self.feedback.sent(job)
        self.wake(job.channel_number, job.customer_number)

    def settle(self, job: Job) -> None:
        """An unknown fate: look for the part in Wati's history, then go on or send again."""
        if not self.windows.messages.try_acquire():
            return  # getMessages is limited per tenant; the next round asks again
        try:
            page = self.wati.get_messages(
                job.customer_number, channel_number=job.channel_number, page_size=HISTORY_PAGE
            )
        except WatiRateLimited as exc:
            wait = exc.retry_after or 10.0
            self.windows.messages.hold(wait)
            self.store.update_reply(job.id, next_try_at=self.clock() + wait)
            return
        except WatiError as exc:
            self.store.update_reply(
                job.id, next_try_at=self.clock() + CHECK_DELAY, error=exc.reason
            )
            return
        pieces = self.composer.plan(job)
        done = {p.part for p in self.store.reply_parts(job.id)}
        k = next((i for i in range(len(pieces)) if i not in done), None)
        if k is not None:
            found = self._find(job, pieces, k, page.items)
            if found is not None:
                logger.info("reply %d part %d is in Wati's history: it went", job.id, k)
                status = forward(Delivery.SENT, found.status)
                kind = questions.way_of(found) if job.question else pieces[k].kind
                self._record_part(job, k, kind, found.id, found.local_message_id, status)
            elif job.resends < MAX_RESENDS:
                logger.warning(
                    "reply %d part %d is not in Wati's history: sending again", job.id, k
                )
                self.store.update_reply(job.id, resends=job.resends + 1)
            else:
                reason = (
                    "Wati did not confirm it and it is not in the chat's history, so it was not "
                    "sent again automatically (that could make a duplicate)"
                )
                return self._fail(job, reason, "unconfirmed")
        self.store.update_reply(job.id, state=QUEUED, next_try_at=None)
        fresh = self.store.reply_job(job.id)
        if fresh is not None:
            self.send(fresh)
        return None

    def _find(
        self, job: Job, pieces: list[Piece], k: int, items: list[WatiMessage]
    ) -> WatiMessage | None:
        """The history item that is part k: by localMessageId, else by text (or file caption)."""
        piece = pieces[k]
        since = (job.attempted_at or 0.0) - MATCH_SLACK
        if piece.kind == "template":
            return templated.find(job, items, since, self.store.part_claimed)
        if piece.kind == "question":
            return questions.find(job, items, since, self.store.part_claimed)
        ours = [
            i
            for i in items
            if i.owner and i.event_type == "message" and not self.store.part_claimed(i.id)
        ]
        for item in ours:
            if (item.local_message_id or "").split(".")[0] == job.local_message_id:
                # A part WhatsApp failed earlier (and Retry sends again) keeps its old item.
                if item.status != Delivery.FAILED or item.created.timestamp() >= since:
                    return item
        for item in ours:
            if item.created.timestamp() < since:
                continue
            caption = (item.text or "").strip()
            if piece.file is None and item.type == "text" and caption == piece.text.strip():
                return item
            if piece.file is not None and item.type != "text" and caption == piece.text.strip():
                return item
        return None

    def _prepare(self, job: Job) -> Job:
        """The reply as WhatsApp text, stored once so a retry sends the same words."""
        if job.prepared:
            return job
        text = self.composer.whatsapp_text(job)
        self.store.update_reply(job.id, body=text, prepared=1)
        return replace(job, body=text, prepared=1)

    def _fail(self, job: Job, reason: str, code: str, *, retry: bool = True) -> None:
        """Mark the reply failed; the log gets only the reason's code (the reason may quote
        Wati's words about the message, and the log never holds message content)."""
        self.store.update_reply(job.id, state=ReplyState.FAILED, error=reason, next_try_at=None)
        logger.info("reply %d failed (reason: %s)", job.id, code)
        self.store.add_error(job.channel_number, f"reply {job.id} not sent: {reason}")
        self.feedback.failed(job, reason, retry=retry)

    def _block(self, job: Job, reason: str) -> None:
        if job.template is not None or job.question is not None:  # no window to wait for
            return self._fail(job, reason, "template_refused")
        self.store.update_reply(job.id, state=ReplyState.BLOCKED, error=reason, next_try_at=None)
        logger.info("reply %d blocked (reason: window_closed or ticket_closed)", job.id)
        self.feedback.blocked(job, reason)


def call_wati(
    wati: WatiClient,
    asker: Asker,
    job: Job,
    piece: Piece,
    local_id: str,
    attachment: Attachment | None,
) -> tuple[SendResult, str]:
    """Send one piece: text as a session message, a file under its name as the caption (as
    a voice note when it is one); a template row's one piece as that template, the rating
    question's the way the window allows now. Returns Wati's answer and the part's kind."""
    if piece.kind == "template":
        return templated.send(wati, job), piece.kind
    if piece.kind == "question":
        return asker.send(job, local_id)
    if attachment is None:
        sent = wati.send_session_message(
            job.customer_number,
            piece.text,
            channel_number=job.channel_number,
            local_message_id=local_id,
        )
        return sent, piece.kind
    sent = wati.send_session_file(
        job.customer_number,
        filename=attachment.filename,
        content=attachment.content,
        content_type=attachment.content_type,
        channel_number=job.channel_number,
        caption=piece.text or None,
        voice=attachment.voice,
    )
    return sent, piece.kind
