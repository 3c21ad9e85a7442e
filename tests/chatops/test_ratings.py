"""Resolve and ask for a rating, in process (the bridge's clock and the sandbox's are one test
clock): the window as the bridge sees it, the missing template, refusals, the answer's time
limit, and solving the chat again once Wati is back."""

from __future__ import annotations

import pytest

from bot.slack import blocks
from bot.survey import wording
from bot.survey.asking import NO_TEMPLATE
from tests.chatops.kit import CHANNEL_A, CUSTOMER, Kit, blocks_text
from tests.kit import AGENT, SLACK_A
from tests.relay.kit import click, notices, say

DAY = 24 * 3600


def _poll(kit: Kit) -> None:
    kit.bridge.poller.wake(CHANNEL_A, CUSTOMER)
    kit.bridge.poller.poll_number(CHANNEL_A)


def test_outside_the_window_the_rating_template_goes_without_trying_buttons(kit: Kit) -> None:
    kit.sandbox.add_template("rate_us", "Hi {{name}}, how did we do, 1 to 5?")
    kit.bridge.services.surveys.template_name = "rate_us"
    thread = kit.conversation()
    kit.clock.advance(DAY + 60)

    kit.click(blocks.RESOLVE_RATE, thread, user=AGENT)

    [sent] = kit.sandbox.sent_by_api(CHANNEL_A)
    assert (sent["templateName"], sent["text"]) == (
        "rate_us",
        "Hi Ana Lima, how did we do, 1 to 5?",
    )
    assert kit.sandbox.calls("sendInteractiveMessage") == 0
    assert kit.sandbox.chat_status(CHANNEL_A, CUSTOMER) == "SOLVED"
    assert any("Rating asked with template" in t for t in kit.told())
    # Its echo in Wati's history is recognised, not mirrored into the thread.
    _poll(kit)
    assert not any("how did we do" in t for t in kit.thread_texts(thread))


def test_without_a_template_the_button_says_why_and_nothing_happens(kit: Kit) -> None:
    thread = kit.conversation()
    kit.clock.advance(DAY + 60)

    kit.click(blocks.RESOLVE_RATE, thread, user=AGENT)

    assert kit.told() == [NO_TEMPLATE]
    assert kit.sandbox.sent_by_api() == []
    assert kit.sandbox.chat_status(CHANNEL_A, CUSTOMER) == "OPEN"
    assert kit.bridge.store.survey(thread.id) is None


def test_a_refused_question_leaves_the_chat_open_and_may_be_asked_again(kit: Kit) -> None:
    thread = kit.conversation()
    kit.sandbox.faults.inject("sendInteractiveMessage", "reject")

    kit.click(blocks.RESOLVE_RATE, thread, user=AGENT)

    assert any(t.startswith("No rating was asked") for t in kit.told())
    assert kit.sandbox.chat_status(CHANNEL_A, CUSTOMER) == "OPEN"
    assert any(":x: No rating was asked" in t for t in kit.thread_texts(thread))

    kit.click(blocks.RESOLVE_RATE, thread, user=AGENT)

    [question] = kit.sandbox.sent_by_api(CHANNEL_A)
    assert question["type"] == "interactive"
    assert kit.sandbox.chat_status(CHANNEL_A, CUSTOMER) == "SOLVED"


def test_an_answer_after_the_time_limit_is_relayed_as_a_message(kit: Kit) -> None:
    thread = kit.conversation()
    kit.click(blocks.RESOLVE_RATE, thread, user=AGENT)
    kit.clock.advance(DAY + 60)

    kit.sandbox.customer_says(CHANNEL_A, CUSTOMER, "5")
    _poll(kit)

    newer = kit.bridge.store.current_thread(CHANNEL_A, CUSTOMER)
    assert newer is not None and newer.id != thread.id
    assert "5" in kit.thread_texts(newer)
    assert kit.bridge.store.survey(thread.id).rating is None  # type: ignore[union-attr]


def test_the_chat_is_solved_again_once_wati_answers(kit: Kit) -> None:
    thread = kit.conversation()
    kit.click(blocks.RESOLVE_RATE, thread, user=AGENT)
    kit.sandbox.customer_taps(CHANNEL_A, CUSTOMER, wording.BUTTONS[1])
    _poll(kit)
    assert kit.sandbox.chat_status(CHANNEL_A, CUSTOMER) == "OPEN"  # the tap reopened it
    kit.sandbox.faults.inject("updateChatStatus", "500")

    kit.bridge.services.surveys.settle()
    assert kit.sandbox.chat_status(CHANNEL_A, CUSTOMER) == "OPEN"
    kit.bridge.services.surveys.settle()

    assert kit.sandbox.chat_status(CHANNEL_A, CUSTOMER) == "SOLVED"
    assert "Rated 3/5" in blocks_text(kit.parent(thread))
    assert kit.bridge.store.current_thread(CHANNEL_A, CUSTOMER).id == thread.id  # type: ignore[union-attr]
    assert kit.bridge.store.unsettled_surveys() == []


def test_a_resolved_conversation_offers_no_rating_button(kit: Kit) -> None:
    thread = kit.conversation()
    kit.click(blocks.RESOLVE, thread, user=AGENT)
    parent = kit.parent(thread)
    actions = [e.get("action_id") for b in parent["blocks"] for e in b.get("elements") or []]
    assert blocks.RESOLVE_RATE not in actions


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("4", 4),
        ("⭐⭐⭐⭐", 4),
        ("four", 4),
        ("Four stars", 4),
        ("4/5", 4),
        ("4 out of 5!", 4),
        ("4️⃣", 4),
        (wording.BUTTONS[0], 5),
        (wording.BUTTONS[2], 1),
        ("6", None),
        ("4 pizzas please", None),
        ("⭐⭐⭐⭐⭐⭐", None),
        ("ok", None),
        ("", None),
    ],
)
def test_what_reads_as_a_rating(text: str, rating: int | None) -> None:
    assert wording.rating_of(text) == rating


def test_a_resolve_that_failed_after_the_question_is_done_by_the_next_click(kit: Kit) -> None:
    thread = kit.conversation()
    kit.sandbox.faults.inject("updateChatStatus", "500")

    kit.click(blocks.RESOLVE_RATE, thread, user=AGENT)

    assert any(t.startswith("The status did not change here") for t in kit.told())
    assert kit.sandbox.chat_status(CHANNEL_A, CUSTOMER) == "OPEN"

    kit.click(blocks.RESOLVE_RATE, thread, user=AGENT)

    assert len(kit.sandbox.sent_by_api(CHANNEL_A)) == 1  # asked once
    assert kit.sandbox.chat_status(CHANNEL_A, CUSTOMER) == "SOLVED"
    assert any(t.startswith("A rating was already asked") and "resolved" in t for t in kit.told())


def test_a_rating_answer_opens_the_window_like_any_customer_message(kit: Kit) -> None:
    """Asked by template after a day's silence, the customer taps an answer: WhatsApp's 24-hour
    window is open again, and the bridge knows it (a teammate's reply goes as a session
    message), although the answer itself is not relayed."""
    kit.sandbox.add_template("rate_us", "Hi {{name}}, how did we do, 1 to 5?")
    kit.bridge.services.surveys.template_name = "rate_us"
    thread = kit.conversation()
    kit.clock.advance(DAY + 60)
    kit.click(blocks.RESOLVE_RATE, thread, user=AGENT)

    kit.sandbox.customer_says(CHANNEL_A, CUSTOMER, "4")
    _poll(kit)
    kit.bridge.services.surveys.settle()
    assert "Rated 4/5" in blocks_text(kit.parent(thread))

    # The chat is solved in Wati: the reply is refused, with Reopen and send on offer (a
    # closed window would offer only a template)...
    say(kit.bridge, kit.slack, kit.driver, thread, "Thanks for the four stars!")
    kit.bridge.outbound.process()
    [notice] = notices(kit.slack, thread, blocks.REOPEN_SEND)
    # ...which reopens the chat and sends it as a session message.
    click(kit.bridge, kit.driver, notice, SLACK_A, action_id=blocks.REOPEN_SEND)
    kit.bridge.outbound.process()
    sent = [s for s in kit.sandbox.sent_by_api(CHANNEL_A) if s["type"] == "text"]
    assert [s["text"] for s in sent] == ["Thanks for the four stars!"], kit.thread_texts(thread)
