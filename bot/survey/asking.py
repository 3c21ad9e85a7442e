"""Resolve and ask for a rating: one question to the customer, then the chat resolved.

Ask first, then resolve: Wati refuses session messages to a solved chat. The question goes
through the outbox like every send to a customer (`bot.relay.questions`): queued, keyed by the
thread note that shows it, with everything that may be sent (reply buttons, the numbered text,
the rating template named by `BRIDGE_RATING_TEMPLATE`), then sent by the outbox's sender at once,
which picks the way by the 24-hour window then and rewrites the note with the outcome. Outside
the window without a template the user is told why nothing can be asked. Once per thread: the
`surveys` row is claimed before anything is queued, so a double click or Slack's retry finds it
and sends nothing again. A question the sender could not finish at once (a lost answer, a crash,
a busy outbox) is taken in by `settle`, which marks the survey asked and resolves the chat once
the outbox says it went.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from slack_sdk.errors import SlackApiError

from bot.base.clock import Clock
from bot.chatops.conversations import Conversation
from bot.chatops.errors import ChatOpsError
from bot.chatops.notes import ThreadNotes
from bot.relay import window
from bot.relay.outbound import QUEUED, UNSETTLED, Intake, Outbound
from bot.relay.questions import WAYS, Question
from bot.relay.templated import TemplateSend
from bot.relay.threads import Threads
from bot.store import Store
from bot.store.chats import Chat, Thread
from bot.store.db import iso, parse_iso
from bot.store.outbox import Job, ReplyState
from bot.store.surveys import Survey
from bot.survey import wording
from bot.text.templates import render
from bot.wati.client import WatiClient
from bot.wati.errors import WatiError, WatiRejected
from bot.wati.types import Template

logger = logging.getLogger(__name__)

NO_TEMPLATE = (
    "The customer's 24-hour reply window is closed, so WhatsApp only takes an approved template, "
    "and no rating template is set: an admin can name one in `BRIDGE_RATING_TEMPLATE`. Nothing "
    "was asked and the conversation is still open; use *Resolve* to resolve it without a rating."
)
# A claim with no question queued this long after is a click cut by a crash: asked again.
UNQUEUED_SECONDS = 300.0
NAME_PARAMS = ("name", "1")  # template parameters the bridge fills with the customer's name
PENDING = (
    "Wati has not confirmed the rating question yet; the bridge checks the chat's history in "
    "Wati and asks again only if it did not go. The conversation is resolved once it went; "
    "the thread shows how it went."
)


class Surveys:
    """Asks for ratings and shows the answers (`settle`, a scheduler job)."""

    def __init__(
        self,
        *,
        store: Store,
        wati: WatiClient,
        notes: ThreadNotes,
        threads: Threads,
        outbound: Outbound,
        clock: Clock,
        resolve: Callable[[Conversation, str], tuple[bool, str]],
        find_template: Callable[[str], Template | None],
        template_name: str | None,
    ) -> None:
        self.store = store
        self.wati = wati
        self.notes = notes
        self.threads = threads
        self.outbound = outbound
        self.clock = clock
        self.resolve = resolve
        self.find_template = find_template
        self.template_name = template_name

    # -- asking ------------------------------------------------------------------------------

    def ask_and_resolve(self, conv: Conversation, user_id: str) -> str:
        """Ask the customer once, then resolve; returns what to tell the user."""
        thread = self.store.thread(conv.thread.id) or conv.thread
        if thread.state == "resolved" or not thread.thread_ts:
            raise ChatOpsError("This conversation is resolved already; no rating was asked.")
        chat = self.store.chat(thread.channel_number, thread.customer_number) or conv.chat
        in_window = window.is_open(parse_iso(chat.last_inbound_at), self.clock.now())
        if not in_window and not self.template_name:
            raise ChatOpsError(NO_TEMPLATE)
        claimed = self.store.claim_survey(
            thread.id,
            channel_number=thread.channel_number,
            customer_number=thread.customer_number,
            by=user_id,
            at=iso(self.clock.now()),
        )
        if not claimed:
            found = self.store.survey(thread.id)
            by = f" by <@{found.asked_by}>" if found and found.asked_by else ""
            said = f"A rating was already asked in this conversation{by}; nothing was sent again."
            if found is not None and found.state == "asked":
                # Asked, but the resolve after it failed (Wati was away): resolve now. While the
                # first click is still asking ('sending'), resolving would go before the question.
                changed, resolved = self.resolve(conv, user_id)
                said += f" {resolved}" if changed else ""
            return said
        via = self._ask(conv, thread, user_id, in_window)
        if via is None:
            logger.info("rating question in thread %d not confirmed yet", thread.id)
            return PENDING
        changed, said = self.resolve(conv, user_id)
        logger.info("rating asked in thread %d via %s", thread.id, via)
        return f"Rating asked with {WAYS[via]}. {said}" if changed else said

    def _ask(self, conv: Conversation, thread: Thread, user_id: str, in_window: bool) -> str | None:
        """Queue the question and have the sender send it; returns how it went (None: not
        known yet). ChatOpsError when nothing went out."""
        assert thread.thread_ts is not None
        try:
            note_ts = self.notes.post(
                thread, f":star: <@{user_id}> is asking the customer for a rating…"
            )
        except SlackApiError as exc:
            # Nothing went out: the question may be asked again.
            error = exc.response.get("error")
            self.store.update_survey(thread.id, state="failed", error=f"Slack: {error}")
            raise ChatOpsError(
                f"Slack refused the thread note (`{error}`), so no rating was asked."
            ) from exc
        try:
            question = self._question(conv.chat, in_window)
        except ChatOpsError as exc:
            reason = exc.message.rstrip(".")
            self.store.update_survey(thread.id, state="failed", error=reason)
            self.notes.edit(thread, note_ts, f":x: No rating was asked: {reason}.")
            raise ChatOpsError(
                f"No rating was asked and the conversation is still open: {reason}."
            ) from None
        reply = self.store.queue_question(thread, note_ts, user_id, question.text, question.dump())
        self.outbound.acknowledge(Intake(QUEUED, reply.id))
        job = self.outbound.send_now(reply.id)
        if job is not None and job.state == ReplyState.FAILED:
            reason = (job.error or "no reason was given").rstrip(".")
            self.store.survey_sent(thread.id, state="failed", via=None, error=reason)
            raise ChatOpsError(f"No rating was asked and the conversation is still open: {reason}.")
        if job is None or job.state != ReplyState.SENT:
            return None
        via = self._way(job)
        self.store.survey_sent(thread.id, state="asked", via=via, error=None)
        return via

    def _question(self, chat: Chat, in_window: bool) -> Question:
        """What may be sent: the buttons and the numbered text, and the rating template (needed
        outside the window: ChatOpsError when it cannot be used; inside it, a fallback)."""
        template, text, why = None, None, NO_TEMPLATE
        if self.template_name:
            try:
                found = self._template()
            except ChatOpsError as exc:
                if not in_window:
                    raise
                why = exc.message
            else:
                params = self._params(found, chat)
                name = f"rating_{uuid.uuid4().hex[:8]}"
                template = TemplateSend(found.name, params, name)
                text = render(found.body, params)
        return Question(wording.QUESTION, wording.BUTTONS, wording.NUMBERED, template, text, why)

    def _way(self, job: Job) -> str:
        parts = self.store.reply_parts(job.id)
        return parts[0].kind if parts and parts[0].kind in WAYS else "unknown"

    def _template(self) -> Template:
        assert self.template_name is not None
        try:
            template = self.find_template(self.template_name)
        except ChatOpsError:
            template = None
        if template is None:
            raise ChatOpsError(
                f"The rating template *{self.template_name}* (BRIDGE_RATING_TEMPLATE) is not an "
                "approved template in Wati"
            )
        unknown = [p for p in template.params if p not in NAME_PARAMS]
        if unknown:
            raise ChatOpsError(
                f"The rating template *{template.name}* needs {{{{{unknown[0]}}}}}, which the "
                "bridge cannot fill; choose a template with no parameters but the name"
            )
        return template

    @staticmethod
    def _params(template: Template, chat: Chat) -> dict[str, str]:
        name = (chat.customer_name or "").strip() or "there"
        return {p: name for p in template.params}

    def _follow(self, survey: Survey) -> None:
        """A question the click could not see through (a lost answer, a crash, a busy outbox):
        once the outbox says it went, the survey is asked and the chat resolved; failed, the
        button may ask again (the note told why)."""
        if survey.reply_id is None:
            # Claimed, never queued: the click was cut (a crash) before the question was.
            asked = parse_iso(survey.asked_at)
            if asked is None or (self.clock.now() - asked).total_seconds() > UNQUEUED_SECONDS:
                error = "the bridge stopped before the question was queued"
                self.store.survey_sent(survey.thread_id, state="failed", via=None, error=error)
            return
        job = self.store.reply_job(survey.reply_id)
        if job is not None and job.question is None:
            return  # recorded before questions went through the outbox: left as it was
        if job is None or job.state == ReplyState.FAILED:
            error = (job.error if job else None) or "the question was not sent"
            self.store.survey_sent(survey.thread_id, state="failed", via=None, error=error)
            return
        if job.state != ReplyState.SENT:
            return
        via = self._way(job)
        if not self.store.survey_sent(survey.thread_id, state="asked", via=via, error=None):
            return  # the click took it in
        logger.info("rating asked in thread %d via %s", survey.thread_id, via)
        self._resolve_after(survey, job)

    def _answered_first(self, survey: Survey) -> bool:
        """An answer that came while its question was still settling (a lost answer): the
        question went, so the chat is resolved now. False while the outbox still settles it."""
        assert survey.reply_id is not None
        job = self.store.reply_job(survey.reply_id)
        if job is not None and job.question is None:
            return True  # recorded before questions went through the outbox
        if job is not None and job.state in UNSETTLED:
            return False
        if job is not None and job.state == ReplyState.SENT:
            self._resolve_after(survey, job)
        self.store.update_survey(survey.thread_id, via=self._way(job) if job else "unknown")
        return True

    def _resolve_after(self, survey: Survey, job: Job) -> None:
        """Resolve the question's conversation, unless it is resolved or continues elsewhere."""
        thread = self.store.thread(survey.thread_id)
        if thread is None or thread.state == "resolved":
            return
        link = self.store.link_for_channel(thread.slack_channel_id)
        chat = self.store.chat(thread.channel_number, thread.customer_number)
        current = self.store.current_thread(thread.channel_number, thread.customer_number)
        if link is None or chat is None or current is None or current.id != thread.id:
            return
        self.resolve(Conversation(link, thread, chat), survey.asked_by or job.user_id)

    # -- answers -----------------------------------------------------------------------------

    def settle(self) -> None:
        """Take in questions the outbox sent since (`_follow`); show each new rating on its
        parent and solve the chat again in Wati (the answer reopened it there), unless a
        teammate reopened the conversation meanwhile."""
        for asked in self.store.surveys_sending():
            try:
                self._follow(asked)
            except (ChatOpsError, WatiError) as exc:  # resolved by the next run or a click
                logger.warning(
                    "thread %d not resolved after its rating question: %s",
                    asked.thread_id,
                    type(exc).__name__,
                )
        for survey in self.store.unsettled_surveys():
            if survey.via is None and survey.reply_id is not None:
                try:
                    if not self._answered_first(survey):
                        continue
                except (ChatOpsError, WatiError):
                    continue  # the next run tries again
            thread = self.store.thread(survey.thread_id)
            if thread is None:
                self.store.update_survey(survey.thread_id, settled=1)
                continue
            if thread.state == "resolved":
                try:
                    self.wati.update_chat_status(
                        thread.customer_number, "SOLVED", channel_number=thread.channel_number
                    )
                except WatiRejected as exc:
                    logger.warning("thread %d not solved again: %s", thread.id, exc.reason)
                except WatiError:
                    continue  # Wati is away: the next run tries again
            if self.threads.redraw(thread):
                self.store.update_survey(survey.thread_id, settled=1)
