"""The bridge's own notes in a conversation's thread: what a teammate did, and how it went."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.slack import blocks
from bot.slack.poster import SlackPoster
from bot.store.chats import Thread

logger = logging.getLogger(__name__)


class ThreadNotes:
    """Posts a notice into a thread, and edits it when the outcome is known."""

    def __init__(self, *, poster: SlackPoster) -> None:
        self.poster = poster

    def post(self, thread: Thread, text: str) -> str:
        """Post a notice in the thread; its ts."""
        assert thread.thread_ts is not None
        return self.poster.post(
            thread.slack_channel_id, thread_ts=thread.thread_ts, **blocks.notice(text)
        )

    def edit(self, thread: Thread, ts: str, text: str) -> None:
        """Replace a notice's text (best effort: the thread's marks still tell the outcome)."""
        try:
            self.poster.update(thread.slack_channel_id, ts, **blocks.notice(text))
        except SlackApiError as exc:
            logger.warning(
                "note in thread %d not updated: %s", thread.id, exc.response.get("error")
            )
