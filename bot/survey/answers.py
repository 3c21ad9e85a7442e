"""The customer's answer to a rating question, taken out of the relay as it is recorded.

Inbound asks `Answers.take` about every new customer message before relaying it. A message that
reads as a rating (see `wording.rating_of`), arriving while the chat's question waits (at most
`ANSWER_HOURS` after it was asked), is recorded as the rating and not relayed: it opens no new
conversation. Everything else the customer writes is relayed as usual. Showing the rating and
solving the chat again in Wati (the answer reopened it there) is `Surveys.settle`'s job, so this
path makes no Slack or Wati call.
"""

from __future__ import annotations

from datetime import timedelta

from bot.base.clock import Clock
from bot.store import Store
from bot.store.chats import Chat
from bot.store.db import iso, parse_iso
from bot.survey.wording import rating_of
from bot.wati.types import WatiMessage

ANSWER_HOURS = 24
# A message written before the question (recorded late) is not its answer; clocks may differ.
CLOCK_SLACK = timedelta(minutes=1)


class Answers:
    """Recognises ratings among a chat's new messages."""

    def __init__(self, *, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def take(self, chat: Chat, item: WatiMessage) -> bool:
        """True when `item` is the answer to the chat's waiting question (now recorded)."""
        if item.owner or item.event_type != "message":
            return False
        if self.store.survey_answered_by(item.id) is not None:
            return True  # recorded before a crash, the message itself not yet
        survey = self.store.awaiting_answer(chat.channel_number, chat.customer_number)
        if survey is None:
            return False
        asked = parse_iso(survey.asked_at)
        now = self.clock.now()
        if asked is None or now - asked > timedelta(hours=ANSWER_HOURS):
            return False
        if item.created < asked - CLOCK_SLACK:
            return False
        rating = rating_of(item.text)
        if rating is None:
            return False
        return self.store.record_rating(survey.thread_id, rating, wati_id=item.id, at=iso(now))
