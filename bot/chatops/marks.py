"""Marks a teammate puts on a conversation from its thread parent, kept on the chat's desk
row (`store.desk_chats.DeskChat`) and shown by the parent (`slack.blocks.thread_parent`)."""

from __future__ import annotations

import logging
from typing import Any

from bot.chatops.conversations import Conversation
from bot.relay.threads import Threads
from bot.store import Store

logger = logging.getLogger(__name__)


class ParentMarks:
    """Sets a conversation's desk columns and redraws its parent, so it shows them at once.

    A parent button that only flips a mark (say "Mark urgent") needs no service of its own:
    its handler calls `set(conv, urgent=1)`.
    """

    def __init__(self, *, store: Store, threads: Threads) -> None:
        self.store = store
        self.threads = threads

    def set(self, conv: Conversation, **columns: Any) -> None:
        """Store the marks on the conversation's desk row, then redraw its parent."""
        chat = conv.chat
        self.store.update_desk(chat.channel_number, chat.customer_number, **columns)
        logger.info("thread %d marked: %s", conv.thread.id, ", ".join(sorted(columns)))
        self.threads.redraw(conv.thread, chat)
