"""Forwarding a Slack message to a customer (the "Send to WhatsApp" message shortcut).

The forward is posted in the customer's thread as a note naming who forwarded it, and that
note is handed to the outbox (`Outbound.receive`, as the teammate's, its text prepared): it reaches the customer exactly like a
typed reply — the same window and budget checks, the same marks, Retry when Wati refuses —
and there is no second way of sending to a customer.
"""

from __future__ import annotations

import logging

from bot.chatops.conversations import (
    OPEN_STATES,
    WINDOW_CLOSED,
    Conversation,
    Conversations,
    Sent,
    label,
)
from bot.chatops.errors import ChatOpsError
from bot.chatops.notes import ThreadNotes
from bot.relay.outbound import QUEUED, Outbound
from bot.text.formatting import quote
from bot.wati.client import MAX_TEXT_LENGTH

logger = logging.getLogger(__name__)


class Forwarding:
    """Queues a Slack message for a customer, shown in their thread."""

    def __init__(
        self, *, outbound: Outbound, notes: ThreadNotes, conversations: Conversations
    ) -> None:
        self.outbound = outbound
        self.notes = notes
        self.conversations = conversations

    def forward(self, conv: Conversation, text: str, user_id: str, source: str | None) -> Sent:
        """Queue `text` (already WhatsApp-formatted) for the customer inside the 24-hour window."""
        thread = conv.thread
        if thread.state not in OPEN_STATES or not thread.thread_ts:
            raise ChatOpsError(
                "That conversation is resolved; reopen it before writing to the customer."
            )
        if not self.conversations.window_open(conv.chat):
            raise ChatOpsError(WINDOW_CLOSED)
        text = text.strip()
        if not text:
            raise ChatOpsError("There is no text to forward.")
        if len(text) > MAX_TEXT_LENGTH:
            raise ChatOpsError(
                f"The message is over {MAX_TEXT_LENGTH:,} characters, more than WhatsApp takes."
            )
        origin = f" from {source}" if source else ""
        note_ts = self.notes.post(
            thread, f":arrow_right_hook: <@{user_id}> forwarded a message{origin}:\n{quote(text)}"
        )
        post = {
            "type": "message",
            "channel": thread.slack_channel_id,
            "user": user_id,
            "text": text,
            "ts": note_ts,
            "thread_ts": thread.thread_ts,
        }
        intake = self.outbound.receive(post, prepared=True)
        if intake.verdict != QUEUED:  # the channel was unlinked meanwhile
            said = intake.tell or "This conversation can no longer be answered from here."
            self.notes.edit(thread, note_ts, f":x: {said}")
            return Sent(False, thread, note_ts, said)
        self.outbound.acknowledge(intake)
        self.outbound.kick()
        logger.info("forward by %s queued as reply %s", user_id, intake.reply_id)
        return Sent(True, thread, note_ts, f"Forwarded to {label(conv.chat)}.")
