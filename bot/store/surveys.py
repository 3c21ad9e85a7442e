"""Ratings asked when a conversation is resolved (`surveys`, one row per thread) and the
messages Wati accepted per number and month (`sends`), which WhatsApp charges for."""

from __future__ import annotations

from dataclasses import dataclass

from bot.store.db import Db


@dataclass(frozen=True)
class Survey:
    """A rating asked in one thread; `rating` is set once the customer answered."""

    thread_id: int
    channel_number: str
    customer_number: str
    asked_by: str | None
    asked_at: str
    via: str | None
    state: str
    error: str | None = None
    rating: int | None = None
    answered_at: str | None = None
    answer_wati_id: str | None = None
    settled: int = 1
    reply_id: int | None = None


class SurveyTable(Db):
    """The `surveys` and `sends` tables."""

    def claim_survey(
        self, thread_id: int, *, channel_number: str, customer_number: str, by: str, at: str
    ) -> bool:
        """Claim the thread's one question; False when it was claimed before (a double click)."""
        with self.write() as db:
            # A question that certainly did not go out ('failed') may be asked again.
            cursor = db.execute(
                "insert into surveys "
                "(thread_id, channel_number, customer_number, asked_by, asked_at, state) "
                "values (?, ?, ?, ?, ?, 'sending') on conflict (thread_id) do update set "
                "state = 'sending', asked_by = excluded.asked_by, asked_at = excluded.asked_at, "
                "error = null where surveys.state = 'failed'",
                [thread_id, channel_number, customer_number, by, at],
            )
            return cursor.rowcount > 0

    def survey(self, thread_id: int) -> Survey | None:
        """The thread's survey row."""
        return self._one(Survey, "select * from surveys where thread_id = ?", [thread_id])

    def rating_of(self, thread_id: int) -> int | None:
        """The rating the thread's customer gave, if any."""
        found = self.survey(thread_id)
        return found.rating if found is not None else None

    def update_survey(self, thread_id: int, **values: object) -> None:
        """Set some columns of a survey row."""
        with self.write() as db:
            db.table("surveys").update(thread_id, values)

    def surveys_sending(self) -> list[Survey]:
        """Questions claimed whose fate the survey has not taken in yet (`reply_id`: the
        outbox row, once queued)."""
        return self._all(Survey, "select * from surveys where state = 'sending' order by asked_at")

    def survey_sent(
        self, thread_id: int, *, state: str, via: str | None, error: str | None
    ) -> bool:
        """Move a question from 'sending' to `state` ('asked' or 'failed'); False when it was
        not 'sending' (the other of the click and the settle job took it in first)."""
        with self.write() as db:
            cursor = db.execute(
                "update surveys set state = ?, via = ?, error = ? "
                "where thread_id = ? and state = 'sending'",
                [state, via, error, thread_id],
            )
            return cursor.rowcount > 0

    def awaiting_answer(self, channel_number: str, customer_number: str) -> Survey | None:
        """The chat's latest question still waiting for its answer ('sending' too: a crash may
        have come after Wati took it and before it was marked asked)."""
        return self._one(
            Survey,
            "select * from surveys where channel_number = ? and customer_number = ? "
            "and state in ('sending', 'asked') order by asked_at desc limit 1",
            [channel_number, customer_number],
        )

    def record_rating(self, thread_id: int, rating: int, *, wati_id: str, at: str) -> bool:
        """The customer's answer, once: False when the question was answered already."""
        with self.write() as db:
            cursor = db.execute(
                "update surveys set state = 'answered', rating = ?, answer_wati_id = ?, "
                "answered_at = ?, settled = 0 where thread_id = ? "
                "and state in ('sending', 'asked')",
                [rating, wati_id, at, thread_id],
            )
            return cursor.rowcount > 0

    def survey_answered_by(self, wati_id: str) -> Survey | None:
        """The survey this customer message answered."""
        return self._one(Survey, "select * from surveys where answer_wati_id = ?", [wati_id])

    def unsettled_surveys(self) -> list[Survey]:
        """Answers not yet shown on their parent nor resolved again in Wati."""
        return self._all(Survey, "select * from surveys where settled = 0 order by answered_at")

    # -- sends --------------------------------------------------------------------------------

    def count_send(self, month: str, channel_number: str, kind: str, count: int = 1) -> None:
        """Add `count` messages Wati accepted from `channel_number` in `month` (YYYY-MM)."""
        with self.write() as db:
            db.execute(
                "insert into sends (month, channel_number, kind, count) values (?, ?, ?, ?) "
                "on conflict (month, channel_number, kind) do update set count = count + ?",
                [month, channel_number, kind, count, count],
            )

    def sends_in(self, month: str) -> dict[str, dict[str, int]]:
        """Number → kind → messages accepted in `month`."""
        found: dict[str, dict[str, int]] = {}
        for row in self.query("select * from sends where month = ?", [month]):
            found.setdefault(row["channel_number"], {})[row["kind"]] = int(row["count"])
        return found
