"""The message shortcut: forward a Slack message to a customer's WhatsApp conversation."""

from __future__ import annotations

from typing import Any

from bot.listeners import forwarding
from bot.slack import modals
from tests.chatops.kit import (
    CHANNEL_A,
    CHANNEL_B,
    CUSTOMER,
    OTHER,
    SLACK_A,
    Kit,
    answer,
    blocks_text,
    select,
)
from tests.kit import ADMIN, AGENT

TEXT = "Good news: your refund was approved *today* & is on its way"


def _shortcut(
    kit: Kit, text: str, *, channel: str = SLACK_A, user: str = AGENT, **extra: Any
) -> None:
    """Someone posts `text` in `channel`, then uses "Send to WhatsApp" on it."""
    event = kit.driver.message(channel=channel, user=user, text=text, **extra)
    kit.slack.add_message(event)
    kit.deliver(
        kit.driver.message_action(
            forwarding.FORWARD_SHORTCUT, user_id=user, channel_id=channel, message=event
        )
    )


def test_forward_sends_the_message_from_the_conversations_number(kit: Kit) -> None:
    thread = kit.conversation()
    kit.conversation(customer=OTHER, channel=CHANNEL_B)

    _shortcut(kit, "Good news: your refund was approved *today* &amp; is on its way")

    view = kit.view(modals.FORWARD_VIEW)
    [conversation] = [b for b in view["blocks"] if b.get("block_id") == modals.CONVERSATION]
    groups = conversation["element"]["option_groups"]
    assert [g["label"]["text"] for g in groups] == [
        "+1 555-000-0001 · #support",
        "+1 555-000-0002 · #sales",
    ]
    [text_block] = [b for b in view["blocks"] if b.get("block_id") == modals.TEXT]
    assert text_block["element"]["initial_value"] == TEXT  # as WhatsApp will show it

    kit.submit(view, {modals.CONVERSATION: select(str(thread.id)), modals.TEXT: TEXT}, user=AGENT)
    # Queued in the outbox like a typed reply, so nothing is sent before its round.
    assert kit.sandbox.sent_by_api() == []
    kit.bridge.outbound.process()

    [sent] = kit.sandbox.sent_by_api(CHANNEL_A)
    assert (sent["customer"], sent["text"]) == (CUSTOMER, TEXT)
    assert kit.sandbox.sent_by_api(CHANNEL_B) == []
    texts = kit.thread_texts(thread)
    assert f":arrow_right_hook: <@{AGENT}> forwarded a message from <#{SLACK_A}>:" in texts[-1]
    assert "&amp; is on its way" in texts[-1]  # escaped in Slack, plain in WhatsApp
    [reply] = kit.bridge.store.replies_in_state("sent")
    assert sent["localMessageId"] == f"{reply.local_message_id}.0"  # its first (only) part
    assert reply.body == TEXT and reply.user_id == AGENT
    # No echo of the forwarded text on the next poll.
    kit.bridge.poller.wake(CHANNEL_A, CUSTOMER)
    kit.bridge.poller.poll_number(CHANNEL_A)
    assert kit.thread_texts(thread) == texts
    assert "Forwarded to Ana Lima" in kit.told(SLACK_A)[-1]


def test_forward_preselects_the_thread_the_message_is_in(kit: Kit) -> None:
    thread = kit.conversation()

    _shortcut(kit, "Internal: ok to refund", thread_ts=thread.thread_ts)

    view = kit.view(modals.FORWARD_VIEW)
    [conversation] = [b for b in view["blocks"] if b.get("block_id") == modals.CONVERSATION]
    assert conversation["element"]["initial_option"]["value"] == str(thread.id)


def test_forward_is_blocked_when_the_window_is_closed(kit: Kit) -> None:
    thread = kit.conversation()
    kit.clock.advance(25 * 3600)

    _shortcut(kit, "Are you still there?")
    response = kit.submit(
        kit.view(modals.FORWARD_VIEW),
        {modals.CONVERSATION: select(str(thread.id)), modals.TEXT: "Are you still there?"},
    )

    errors = answer(response)["errors"]
    assert errors[modals.CONVERSATION].startswith(
        "The customer's 24-hour reply window is closed, so WhatsApp only accepts an approved template"
    )
    assert kit.sandbox.sent_by_api() == []


def test_forward_submission_checks_the_conversation_and_membership(kit: Kit) -> None:
    thread = kit.conversation()
    kit.slack.add_channel("C0LOUNGE", "lounge", members=[ADMIN, "U0GUEST"])
    kit.slack.add_user("U0GUEST", name="gus")
    _shortcut(kit, "Hello from the lounge", channel="C0LOUNGE", user="U0GUEST")
    view = kit.view(modals.FORWARD_VIEW)

    stranger = kit.submit(
        view, {modals.CONVERSATION: select(str(thread.id)), modals.TEXT: "hi"}, user="U0GUEST"
    )
    unknown = kit.submit(
        view, {modals.CONVERSATION: select("9999"), modals.TEXT: "hi"}, user="U0GUEST"
    )
    kit.click("wati_resolve", thread)
    resolved = kit.submit(
        view, {modals.CONVERSATION: select(str(thread.id)), modals.TEXT: "hi"}, user=ADMIN
    )

    assert "not in that conversation's channel" in answer(stranger)["errors"][modals.CONVERSATION]
    assert answer(unknown)["errors"][modals.CONVERSATION] == "Choose one of the open conversations."
    assert "resolved" in answer(resolved)["errors"][modals.CONVERSATION]
    assert kit.sandbox.sent_by_api() == []


def test_forward_without_text_or_conversations_says_so(kit: Kit) -> None:
    _shortcut(kit, "Nobody to send this to")
    _shortcut(kit, "")

    first, second = (blocks_text(v) for v in kit.slack.views)
    assert "There is no open WhatsApp conversation to forward to." in first
    assert "That message has no text to forward" in second
    assert all(v.get("submit") is None for v in kit.slack.views)


def test_a_replayed_forward_sends_once(kit: Kit) -> None:
    thread = kit.conversation()
    _shortcut(kit, "Once only")
    prepared = kit.submission(
        kit.view(modals.FORWARD_VIEW),
        {modals.CONVERSATION: select(str(thread.id)), modals.TEXT: "Once only"},
    )

    kit.deliver(prepared)
    kit.deliver(prepared)
    kit.bridge.outbound.process()
    kit.bridge.outbound.process()

    assert [s["text"] for s in kit.sandbox.sent_by_api()] == ["Once only"]
