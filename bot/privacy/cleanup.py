"""Removing the bridge's own posts of an erased conversation from Slack.

A thread is read back from Slack (its parent, the relayed messages and files, the bridge's
notices, teammates' replies), with the bridge's channel-level notices that link to it (a
waiting customer's nudge), and each message is handled by who wrote it: the bridge's own are
deleted (`chat.delete`, files with `files.delete`), or, where Slack refuses the delete (a
workspace that keeps messages, an admin setting), overwritten with a neutral text; teammates'
replies cannot be deleted with a bot token, so their links are reported instead. Reading the
thread again is what makes a second run safe: what is already gone is simply not there.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

logger = logging.getLogger(__name__)

NEUTRAL = "_This message was removed: the customer's data was erased._"
ERASED_EVENT = "wati_erased"
# The thread or channel is out of the bot's reach: nothing left to clean here (reported).
UNREACHABLE = {"thread_not_found", "channel_not_found", "not_in_channel", "is_archived"}
# Slack will not delete this message for the bot: overwrite it instead.
DELETE_REFUSED = {"cant_delete_message", "compliance_exports_prevent_deletion", "restricted_action"}
GONE = {"message_not_found", "file_not_found", "file_deleted"}


class SlackCleanup:
    """Cleans one thread at a time; `clean` returns what it did, for the erasure's report."""

    def __init__(self, *, client: WebClient) -> None:
        self.client = client
        self._me: tuple[str, str] | None = None

    def _identity(self) -> tuple[str, str]:
        """The bot's user id and bot id (auth.test, once)."""
        if self._me is None:
            answer = self.client.auth_test()
            self._me = (str(answer.get("user_id") or ""), str(answer.get("bot_id") or ""))
        return self._me

    def _ours(self, message: dict[str, Any]) -> bool:
        user, bot = self._identity()
        return bool(
            (bot and message.get("bot_id") == bot) or (user and message.get("user") == user)
        )

    def clean(self, channel: str, thread_ts: str) -> dict[str, Any]:
        """Delete the bridge's messages of one thread, replies first, then its parent."""
        outcome: dict[str, Any] = {"deleted": 0, "neutralised": 0, "kept": []}
        try:
            messages = self._thread(channel, thread_ts)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "error")
            if error not in UNREACHABLE and error not in GONE:
                raise
            outcome["unreachable"] = error
            return outcome
        replies = [m for m in messages if m.get("ts") != thread_ts]
        parents = [m for m in messages if m.get("ts") == thread_ts]
        for message in self._notices(channel, thread_ts):
            outcome[self._remove(channel, message)] += 1
        for message in [*reversed(replies), *parents]:
            if message.get("subtype") == "tombstone":
                continue  # an earlier delete left Slack's "This message was deleted."
            if self._ours(message):
                outcome[self._remove(channel, message)] += 1
            else:
                outcome["kept"].append(self._permalink(channel, str(message["ts"])))
        return outcome

    def _notices(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The bridge's channel-level notices about the thread since it opened (a waiting
        customer's nudge names them and links the thread: the link carries its ts)."""
        mark = f"p{thread_ts.replace('.', '')}"
        found: list[dict[str, Any]] = []
        for page in self.client.conversations_history(
            channel=channel, oldest=thread_ts, inclusive=False, limit=200
        ):
            for message in page.get("messages", []):
                top_level = message.get("thread_ts") in (None, message.get("ts"))
                if top_level and self._ours(message) and mark in str(message.get("text", "")):
                    found.append(message)
        return found

    def _thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in self.client.conversations_replies(channel=channel, ts=thread_ts, limit=200):
            found.extend(page.get("messages", []))
        return found

    def _remove(self, channel: str, message: dict[str, Any]) -> str:
        """Delete one of the bridge's messages (and its files); 'deleted' or 'neutralised'."""
        for file in message.get("files") or []:
            try:
                self.client.files_delete(file=str(file.get("id")))
            except SlackApiError as exc:
                if str(exc.response.get("error")) not in GONE | {"cant_delete_file"}:
                    raise
        ts = str(message["ts"])
        try:
            self.client.chat_delete(channel=channel, ts=ts)
            return "deleted"
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            if error in GONE:
                return "deleted"
            if error not in DELETE_REFUSED:
                raise
        logger.info("Slack refused a delete in %s (%s): overwritten instead", channel, error)
        self.client.chat_update(
            channel=channel,
            ts=ts,
            text=NEUTRAL,
            blocks=[],
            attachments=[],
            metadata={"event_type": ERASED_EVENT, "event_payload": {}},
        )
        return "neutralised"

    def _permalink(self, channel: str, ts: str) -> str:
        try:
            link = self.client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
        except SlackApiError:
            link = None
        return str(link or f"{channel}/{ts}")
