"""The rating question goes through the outbox: queued before a crash, a lost answer, the
window closed between the queueing and the send, a refusal told once in the question's note."""

from __future__ import annotations

from typing import Any

from bot.config import Settings
from bot.relay.outbound import QUEUED, Intake
from bot.relay.questions import Question
from bot.relay.templated import TemplateSend
from bot.service import Bridge, build
from bot.slack import blocks
from bot.store.chats import Thread
from bot.store.db import iso
from bot.store.outbox import Job
from bot.survey import wording
from bot.survey.asking import PENDING
from tests.chatops.kit import CHANNEL_A, CUSTOMER, SLACK_A, Kit, blocks_text
from tests.kit import AGENT

DAY = 24 * 3600
RATE_US = "Hi {{name}}, how did we do, 1 to 5?"
RATE_US_TEXT = "Hi Ana Lima, how did we do, 1 to 5?"


def _queue(kit: Kit, thread: Thread) -> Job:
    """What a click on "Resolve and ask for a rating" does before the sender sends: the claim,
    the note, the queued row (buttons, numbered text, the rating template), ⏳. The process
    dies right there (nothing was sent)."""
    store = kit.bridge.store
    assert store.claim_survey(
        thread.id,
        channel_number=thread.channel_number,
        customer_number=thread.customer_number,
        by=AGENT,
        at=iso(kit.bridge.clock.now()),
    )
    note_ts = kit.bridge.services.surveys.notes.post(thread, "asking for a rating…")
    question = Question(
        wording.QUESTION,
        wording.BUTTONS,
        wording.NUMBERED,
        TemplateSend("rate_us", {"name": "Ana Lima"}, "rating_test"),
        RATE_US_TEXT,
    )
    reply = store.queue_question(thread, note_ts, AGENT, wording.QUESTION, question.dump())
    kit.bridge.outbound.acknowledge(Intake(QUEUED, reply.id))
    job = store.reply_job(reply.id)
    assert job is not None and job.state == "queued"
    return job


def _restart(kit: Kit, settings: Settings) -> Bridge:
    return build(settings, clock=kit.clock, process_before_response=True, slack_min_interval=0.0)


def _questions(kit: Kit) -> list[dict[str, Any]]:
    return [s for s in kit.sandbox.sent_by_api(CHANNEL_A) if s["customer"] == CUSTOMER]


def _note(kit: Kit, job: Job) -> str:
    thread = kit.thread(job.thread_id)
    assert thread.thread_ts is not None
    [note] = [m for m in kit.slack.replies(SLACK_A, thread.thread_ts) if m["ts"] == job.slack_ts]
    return str(note.get("text", ""))


def _poll(kit: Kit) -> None:
    kit.bridge.poller.wake(CHANNEL_A, CUSTOMER)
    kit.bridge.poller.poll_number(CHANNEL_A)


def test_a_question_queued_before_a_crash_is_asked_once_after_the_restart(
    kit: Kit, settings: Settings
) -> None:
    thread = kit.conversation()
    job = _queue(kit, thread)
    assert _questions(kit) == []

    restarted = _restart(kit, settings)
    try:
        restarted.outbound.process()
        restarted.outbound.process()  # a second round finds nothing more to send
        restarted.services.surveys.settle()  # the scheduler's job takes the outcome in

        [question] = _questions(kit)
        assert question["type"] == "interactive" and question["text"] == wording.QUESTION
        survey = restarted.store.survey(thread.id)
        assert survey is not None and (survey.state, survey.via) == ("asked", "buttons")
        assert kit.sandbox.chat_status(CHANNEL_A, CUSTOMER) == "SOLVED"
        assert kit.thread(thread.id).state == "resolved"
        assert "asked the customer for a rating (WhatsApp buttons)" in _note(kit, job)
        sent = restarted.store.reply_job(job.id)
        assert sent is not None and sent.state == "sent" and sent.attempts == 1

        restarted.services.surveys.settle()
        restarted.outbound.process()
        assert len(_questions(kit)) == 1
    finally:
        restarted.shutdown()


def test_a_lost_answer_is_settled_from_wati_history_and_not_asked_twice(kit: Kit) -> None:
    thread = kit.conversation()
    kit.sandbox.faults.inject("sendInteractiveMessage", "reset_after")  # taken, line dropped

    kit.click(blocks.RESOLVE_RATE, thread, user=AGENT)

    assert kit.told()[-1] == PENDING
    assert len(_questions(kit)) == 1
    survey = kit.bridge.store.survey(thread.id)
    assert survey is not None and survey.state == "sending" and survey.reply_id is not None
    job = kit.bridge.store.reply_job(survey.reply_id)
    assert job is not None and job.state == "unknown"
    # Not resolved before the question is known to have gone (a resend must not meet a
    # solved chat), and its echo is the bridge's own, not mirrored into the thread.
    assert kit.sandbox.chat_status(CHANNEL_A, CUSTOMER) == "OPEN"
    _poll(kit)
    assert not any(wording.QUESTION in t for t in kit.thread_texts(thread))
    # A second click meanwhile sends nothing.
    kit.click(blocks.RESOLVE_RATE, thread, user=AGENT)
    assert kit.told()[-1].startswith("A rating was already asked")

    kit.clock.advance(31)
    kit.bridge.outbound.process()
    kit.bridge.services.surveys.settle()

    assert len(_questions(kit)) == 1
    job = kit.bridge.store.reply_job(job.id)
    assert job is not None and job.state == "sent" and job.resends == 0
    survey = kit.bridge.store.survey(thread.id)
    assert survey is not None and (survey.state, survey.via) == ("asked", "buttons")
    assert kit.sandbox.chat_status(CHANNEL_A, CUSTOMER) == "SOLVED"
    assert "asked the customer for a rating (WhatsApp buttons)" in _note(kit, job)

    # The customer's tap is the rating.
    kit.sandbox.customer_taps(CHANNEL_A, CUSTOMER, wording.BUTTONS[0])
    _poll(kit)
    assert kit.bridge.store.rating_of(thread.id) == 5


def test_a_question_queued_in_the_window_goes_as_the_template_once_it_closed(
    kit: Kit, settings: Settings
) -> None:
    kit.sandbox.add_template("rate_us", RATE_US)
    thread = kit.conversation()
    job = _queue(kit, thread)
    kit.clock.advance(DAY + 60)  # the restart comes after the window closed

    restarted = _restart(kit, settings)
    try:
        restarted.outbound.process()
        restarted.services.surveys.settle()

        [sent] = _questions(kit)
        assert (sent["templateName"], sent["text"]) == ("rate_us", RATE_US_TEXT)
        assert kit.sandbox.calls("sendInteractiveMessage") == 0
        survey = restarted.store.survey(thread.id)
        assert survey is not None and (survey.state, survey.via) == ("asked", "template")
        assert kit.sandbox.chat_status(CHANNEL_A, CUSTOMER) == "SOLVED"
        assert "asked the customer for a rating (template)" in _note(kit, job)
    finally:
        restarted.shutdown()
    _poll(kit)
    assert not any("how did we do" in t for t in kit.thread_texts(thread))


def test_a_refused_question_is_told_once_in_its_note(kit: Kit) -> None:
    thread = kit.conversation()
    kit.sandbox.faults.inject("sendInteractiveMessage", "reject")
    before = len(kit.thread_texts(thread))

    kit.click(blocks.RESOLVE_RATE, thread, user=AGENT)
    kit.clock.advance(600)
    kit.bridge.outbound.process()  # a round that checks shown outcomes tells nothing again
    kit.bridge.services.surveys.settle()

    texts = kit.thread_texts(thread)
    assert len(texts) == before + 1  # the note only: no separate notice
    assert texts[-1].startswith(":x: No rating was asked: Wati refused it")
    survey = kit.bridge.store.survey(thread.id)
    assert survey is not None and survey.state == "failed"
    assert [t for t in kit.told() if t.startswith("No rating was asked")] != []
    assert kit.sandbox.chat_status(CHANNEL_A, CUSTOMER) == "OPEN"


def test_a_claim_cut_before_its_question_was_queued_may_be_asked_again(kit: Kit) -> None:
    thread = kit.conversation()
    # The click claimed the thread's question, then the process died before queueing it.
    assert kit.bridge.store.claim_survey(
        thread.id,
        channel_number=thread.channel_number,
        customer_number=thread.customer_number,
        by=AGENT,
        at=iso(kit.bridge.clock.now()),
    )
    kit.bridge.services.surveys.settle()
    survey = kit.bridge.store.survey(thread.id)
    assert survey is not None and survey.state == "sending"  # maybe a click still at work

    kit.clock.advance(301)
    kit.bridge.services.surveys.settle()
    survey = kit.bridge.store.survey(thread.id)
    assert survey is not None and survey.state == "failed"

    kit.click(blocks.RESOLVE_RATE, thread, user=AGENT)

    [question] = _questions(kit)
    assert question["type"] == "interactive"
    assert kit.sandbox.chat_status(CHANNEL_A, CUSTOMER) == "SOLVED"
    assert kit.told()[-1].startswith("Rating asked with WhatsApp buttons.")


def test_an_answer_before_the_lost_question_was_settled_still_resolves(kit: Kit) -> None:
    thread = kit.conversation()
    kit.sandbox.faults.inject("sendInteractiveMessage", "reset_after")
    kit.click(blocks.RESOLVE_RATE, thread, user=AGENT)
    assert kit.told()[-1] == PENDING

    kit.sandbox.customer_taps(CHANNEL_A, CUSTOMER, wording.BUTTONS[1])
    _poll(kit)
    kit.bridge.services.surveys.settle()  # the question is still being settled: no resolve
    assert kit.bridge.store.rating_of(thread.id) == 3
    assert kit.thread(thread.id).state == "open"

    kit.clock.advance(31)
    kit.bridge.outbound.process()
    kit.bridge.services.surveys.settle()

    assert len(_questions(kit)) == 1
    survey = kit.bridge.store.survey(thread.id)
    assert survey is not None and (survey.state, survey.via) == ("answered", "buttons")
    assert kit.thread(thread.id).state == "resolved"
    assert kit.sandbox.chat_status(CHANNEL_A, CUSTOMER) == "SOLVED"
    assert "Rated 3/5" in blocks_text(kit.parent(thread))
