"""Chat-ops on a conversation's thread parent: Resolve, Reopen, permissions and idempotency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from bot.slack import blocks
from tests.chatops.kit import CHANNEL_A, CUSTOMER, SLACK_A, SLACK_B, Kit, blocks_text
from tests.kit import ADMIN, AGENT


def _buttons(message: dict[str, object]) -> list[str]:
    found = []
    for block in message.get("blocks") or []:  # type: ignore[attr-defined]
        for element in block.get("elements") or []:
            if element.get("type") == "button":
                found.append(element["action_id"])
    return found


def test_resolve_solves_the_chat_and_the_parent_shows_who(kit: Kit) -> None:
    thread = kit.conversation()
    assert kit.sandbox.chat_status(CHANNEL_A, CUSTOMER) == "OPEN"

    kit.click(blocks.RESOLVE, thread, user=AGENT)

    assert kit.sandbox.chat_status(CHANNEL_A, CUSTOMER) == "SOLVED"
    stored = kit.thread(thread.id)
    assert (stored.state, stored.status_by) == ("resolved", AGENT)
    assert stored.status_at is not None
    parent = kit.parent(thread)
    assert "Resolved" in blocks_text(parent) and f"<@{AGENT}>" in blocks_text(parent)
    assert _buttons(parent)[0] == blocks.REOPEN
    assert any(f"<@{AGENT}> resolved this conversation" in t for t in kit.thread_texts(thread))
    assert kit.told() == []  # the parent and the thread say it; no extra ephemeral


def test_reopen_opens_the_chat_again(kit: Kit) -> None:
    thread = kit.conversation()
    kit.click(blocks.RESOLVE, thread)
    kit.click(blocks.REOPEN, thread, user=AGENT)

    assert kit.sandbox.chat_status(CHANNEL_A, CUSTOMER) == "OPEN"
    stored = kit.thread(thread.id)
    assert (stored.state, stored.status_by) == ("open", AGENT)
    parent = kit.parent(thread)
    assert "Open" in blocks_text(parent) and _buttons(parent)[0] == blocks.RESOLVE
    # The customer writes again: the same thread continues (no new one after a reopen).
    kit.sandbox.customer_says(CHANNEL_A, CUSTOMER, "Thanks!")
    kit.bridge.poller.wake(CHANNEL_A, CUSTOMER)
    kit.bridge.poller.poll_number(CHANNEL_A)
    assert kit.bridge.store.current_thread(CHANNEL_A, CUSTOMER).id == thread.id  # type: ignore[union-attr]
    assert "Thanks!" in kit.thread_texts(thread)


def test_double_click_on_resolve_calls_wati_once_and_says_so(kit: Kit) -> None:
    thread = kit.conversation()
    stale = kit.parent(thread)  # the message as the user saw it, Resolve button and all
    kit.click(blocks.RESOLVE, thread, user=AGENT)
    kit.deliver(
        kit.driver.block_action(blocks.RESOLVE, user_id=ADMIN, channel_id=SLACK_A, message=stale)
    )

    assert kit.sandbox.calls("updateChatStatus") == 1
    assert kit.told(SLACK_A) == [
        f"This conversation was already resolved by <@{AGENT}>; nothing changed."
    ]


def test_simultaneous_clicks_change_the_status_once(kit: Kit) -> None:
    thread = kit.conversation()
    message = kit.parent(thread)
    clicks = [
        kit.driver.block_action(blocks.RESOLVE, user_id=user, channel_id=SLACK_A, message=message)
        for user in (ADMIN, AGENT)
    ]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(kit.deliver, clicks))

    assert kit.sandbox.calls("updateChatStatus") == 1
    assert kit.sandbox.chat_status(CHANNEL_A, CUSTOMER) == "SOLVED"
    assert len(kit.told(SLACK_A)) == 1


def test_reopen_of_an_old_thread_is_refused_when_a_newer_one_exists(kit: Kit) -> None:
    thread = kit.conversation()
    kit.click(blocks.RESOLVE, thread)
    newer = kit.conversation(text="One more question")
    assert newer.id != thread.id

    kit.click(blocks.REOPEN, thread)

    assert kit.thread(thread.id).state == "resolved"
    assert kit.sandbox.calls("updateChatStatus") == 1
    assert "continues in a newer thread" in kit.told(SLACK_A)[-1]


def test_button_replayed_from_another_channel_is_refused(kit: Kit) -> None:
    thread = kit.conversation()  # a conversation of channel A's number

    kit.click(blocks.RESOLVE, thread, channel=SLACK_B)

    assert kit.sandbox.chat_status(CHANNEL_A, CUSTOMER) == "OPEN"
    assert kit.sandbox.calls("updateChatStatus") == 0
    assert kit.thread(thread.id).state == "open"
    told = kit.told(SLACK_B)
    assert len(told) == 1 and "another channel" in told[0]


def test_buttons_in_an_unlinked_channel_are_refused(kit: Kit) -> None:
    thread = kit.conversation()
    kit.slack.add_channel("C0RANDOM", "random", members=[ADMIN, AGENT])

    for action in (blocks.RESOLVE, blocks.SEND_TEMPLATE, blocks.CONTACT):
        kit.click(action, thread, channel="C0RANDOM")

    assert kit.sandbox.calls("updateChatStatus") == 0
    assert kit.slack.views == []
    told = kit.told("C0RANDOM")
    assert len(told) == 3 and all("not linked to a WhatsApp number" in t for t in told)


def test_a_thread_of_a_number_unlinked_since_is_refused(kit: Kit) -> None:
    thread = kit.conversation()
    kit.bridge.store.unlink(SLACK_A)

    kit.click(blocks.RESOLVE, thread)

    assert kit.sandbox.calls("updateChatStatus") == 0
    assert "not linked" in kit.told(SLACK_A)[0]


def test_wati_failure_is_explained_in_plain_words(kit: Kit) -> None:
    thread = kit.conversation()
    kit.sandbox.faults.inject("updateChatStatus", "500")

    kit.click(blocks.RESOLVE, thread)

    assert kit.thread(thread.id).state == "open"
    told = kit.told(SLACK_A)
    assert len(told) == 1
    assert told[0].startswith("The status did not change here: Wati did not confirm it")
    assert "Traceback" not in told[0] and "Error" not in told[0]
    # Once Wati answers again, the same button works.
    kit.click(blocks.RESOLVE, thread)
    assert kit.sandbox.chat_status(CHANNEL_A, CUSTOMER) == "SOLVED"


def test_wati_rate_limit_is_explained_with_the_wait(kit: Kit) -> None:
    thread = kit.conversation()
    kit.sandbox.faults.inject("updateChatStatus", "429", retry_after=7)

    kit.click(blocks.RESOLVE, thread)

    assert "try again in 7 seconds" in kit.told(SLACK_A)[0]
    assert kit.thread(thread.id).state == "open"
