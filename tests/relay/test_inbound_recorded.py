"""Wati → Slack with the history rows live tenants send (docs/WATI.md#history-items), over real HTTP.

Template and broadcast rows come with no `owner` and `templateName: null`: they are the
business's, never the customer's words, and open no 24-hour window. Ticket rows carry an
integer `type`; reactions name their emoji in `reactionMessage`. (The bridge's own template
sends, in the recorded shape, are not echoed: tests/chatops/test_templates.py.)
"""

from __future__ import annotations

from datetime import timedelta

from bot.devtools.harness.inproc import ManualClock
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge
from bot.slack import blocks
from bot.store.db import parse_iso
from tests.kit import CHANNEL_A, SLACK_A
from tests.relay.kit import CUSTOMER, OTHER, job_of, notices, open_chat, say

DAY = 24 * 3600
ORDER = {"name": "Ana", "order_number": "1042"}


def poll(bridge: Bridge, customer: str = CUSTOMER) -> int:
    bridge.poller.wake(CHANNEL_A, customer)
    return bridge.poller.poll_number(CHANNEL_A).relayed


def thread_texts(slack: SlackStandIn, thread_ts: str) -> list[str]:
    return [m.get("text", "") for m in slack.replies(SLACK_A, thread_ts)[1:]]


def send_from_wati(bridge: Bridge, customer: str = CUSTOMER) -> None:
    """A template sent from Wati's dashboard (or another tool): no bridge reply behind it."""
    bridge.wati.send_template_message(
        customer, "order_update", ORDER, channel_number=CHANNEL_A, broadcast_name="dashboard"
    )


def test_template_from_wati_is_shown_as_sent_from_wati_and_opens_no_window(
    linked: Bridge,
    sandbox: Sandbox,
    slack: SlackStandIn,
    driver: SlackDriver,
    clock: ManualClock,
) -> None:
    thread = open_chat(linked, sandbox)
    assert thread.thread_ts is not None
    clock.advance(DAY + 60)  # the customer's window closed
    before = linked.store.chat(CHANNEL_A, CUSTOMER)
    assert before is not None
    send_from_wati(linked)
    assert poll(linked) == 1
    shown = thread_texts(slack, thread.thread_ts)[-1]
    assert shown.startswith(":outbox_tray: _Template sent from Wati_")
    assert "Hi Ana" not in shown and "Hello Ana, your order 1042 has shipped." in shown
    after = linked.store.chat(CHANNEL_A, CUSTOMER)
    assert after is not None and after.last_inbound_at == before.last_inbound_at
    # So a reply still meets the closed window here instead of failing at Wati.
    event = say(linked, slack, driver, thread, "Any questions?")
    linked.outbound.process()
    assert job_of(linked, SLACK_A, event["ts"]).state == "blocked"
    assert sandbox.sent_by_api()[-1]["eventType"] == "broadcastMessage"
    assert "24-hour reply window closed" in notices(slack, thread, blocks.SEND_TEMPLATE)[0]["text"]


def test_broadcast_to_someone_without_a_thread_opens_none(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    send_from_wati(linked, OTHER)
    assert poll(linked, OTHER) == 0
    assert linked.store.current_thread(CHANNEL_A, OTHER) is None
    chat = linked.store.chat(CHANNEL_A, OTHER)
    assert chat is not None and chat.last_inbound_at is None
    assert slack.messages(SLACK_A) == []
    # The customer answers the broadcast: that opens the thread, with their words only.
    sandbox.customer_says(CHANNEL_A, OTHER, "Thanks, when does it arrive?")
    assert poll(linked, OTHER) == 1
    thread = linked.store.current_thread(CHANNEL_A, OTHER)
    assert thread is not None and thread.thread_ts is not None
    assert thread_texts(slack, thread.thread_ts) == ["Thanks, when does it arrive?"]


def test_ticket_rows_are_not_posted_and_reactions_are(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    thread = open_chat(linked, sandbox)
    assert thread.thread_ts is not None
    sandbox.close_chat(CHANNEL_A, CUSTOMER)  # a ticket row with an integer type
    clock.advance(5)
    sandbox.customer_reacts(CHANNEL_A, CUSTOMER, "👍")
    assert poll(linked) == 1
    texts = thread_texts(slack, thread.thread_ts)
    assert texts[-1] == "👍 _reacted to a message_"
    assert not any("solved" in text for text in texts)
    chat = linked.store.chat(CHANNEL_A, CUSTOMER)
    assert chat is not None
    reacted = parse_iso(chat.last_inbound_at)
    assert reacted is not None and linked.clock.now() - reacted < timedelta(seconds=10)
