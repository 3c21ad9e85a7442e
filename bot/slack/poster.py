"""Posting into Slack at Slack's pace, and finding the bridge's own posts again after a crash."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

# Slack allows about one message per second per channel (chat.postMessage's special limit).
MIN_POST_INTERVAL = 1.0
# Errors after which posting to the channel is pointless for now (the channel or token is gone).
SLACK_GIVE_UP = {"not_in_channel", "channel_not_found", "is_archived", "invalid_auth"}
# Errors that say this one post can never go as it is (too long, blocks Slack will not take):
# posting it again would fail the same way and hold up everything queued behind it.
SLACK_REFUSED = {
    "msg_too_long",
    "msg_blocks_too_long",
    "invalid_blocks",
    "invalid_blocks_format",
    "no_text",
    "invalid_attachments",
    "too_many_attachments",
    "invalid_metadata_format",
    "invalid_metadata_schema",
    "metadata_too_large",
}


class ObservedWebClient(WebClient):
    """A WebClient that reports each failed call (method, error kind) before raising it.

    Every Web API method of slack_sdk, Bolt's included, goes through `api_call`.
    """

    def __init__(self, *args: Any, on_error: Callable[[str, str], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_error = on_error

    def api_call(self, api_method: str, **kwargs: Any) -> Any:
        try:
            return super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            self._on_error(api_method, str(exc.response.get("error") or "error"))
            raise
        except Exception as exc:  # noqa: BLE001 - connection failures come in many types
            self._on_error(api_method, f"connection:{type(exc).__name__}")
            raise


def make_web_client(
    token: str, base_url: str, on_error: Callable[[str, str], None] | None = None
) -> WebClient:
    """A WebClient that waits out 429s (Retry-After), which Slack sends before doing anything.

    Server errors and dropped connections are not retried here: either may come after Slack
    applied a post, so the callers check Slack for the message's metadata before posting again.
    """
    client = WebClient(token=token, base_url=base_url, timeout=15)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=5))
    return client if on_error is None else observed(client, on_error)


def observed(client: WebClient, on_error: Callable[[str, str], None]) -> WebClient:
    """The same client (token, URL, retries…), reporting its failed calls to `on_error`.

    Bolt builds a fresh WebClient for each request from the app's; a middleware swaps it for
    this one, so listeners' calls are seen too.
    """
    copy = ObservedWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        ssl=client.ssl,
        proxy=client.proxy,
        headers=client.headers,
        logger=client.logger,
        retry_handlers=list(client.retry_handlers),
        on_error=on_error,
    )
    copy.default_params.update(client.default_params)  # Bolt's team_id, when it set one
    return copy


class SlackPoster:
    """chat.postMessage / chat.update / file uploads, at most one post per second per channel."""

    def __init__(
        self,
        client: WebClient,
        *,
        min_interval: float = MIN_POST_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.min_interval = min_interval
        self._clock = clock
        self._sleep = sleep
        self._last: dict[str, float] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _pace(self, channel: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(channel, threading.Lock())

    def _wait_turn(self, channel: str) -> None:
        wait = self._last.get(channel, -1e9) + self.min_interval - self._clock()
        if wait > 0:
            self._sleep(wait)

    def post(self, channel: str, *, thread_ts: str | None = None, **kwargs: Any) -> str:
        """Post a message (in a thread when thread_ts is given); return its ts."""
        with self._pace(channel):
            self._wait_turn(channel)
            try:
                response = self.client.chat_postMessage(
                    channel=channel, thread_ts=thread_ts, **kwargs
                )
            finally:
                self._last[channel] = self._clock()
        return str(response["ts"])

    def update(self, channel: str, ts: str, **kwargs: Any) -> None:
        """Edit one of the bridge's messages."""
        self.client.chat_update(channel=channel, ts=ts, **kwargs)

    def upload(
        self,
        channel: str,
        *,
        thread_ts: str,
        content: bytes,
        filename: str,
        title: str,
        comment: str | None,
    ) -> None:
        """Upload a file into a thread."""
        with self._pace(channel):
            self._wait_turn(channel)
            try:
                self.client.files_upload_v2(
                    channel=channel,
                    thread_ts=thread_ts,
                    content=content,
                    filename=filename,
                    title=title,
                    initial_comment=comment,
                )
            finally:
                self._last[channel] = self._clock()

    def thread_messages(self, channel: str, thread_ts: str) -> Iterator[dict[str, Any]]:
        """Every message of a thread, with metadata, oldest first."""
        # Iterating a SlackResponse fetches the next cursor's page until there is none.
        for page in self.client.conversations_replies(
            channel=channel, ts=thread_ts, include_all_metadata=True, limit=200
        ):
            yield from page.get("messages", [])

    def channel_messages(self, channel: str, oldest: float) -> Iterator[dict[str, Any]]:
        """Top-level messages of a channel since `oldest` (epoch seconds), with metadata."""
        for page in self.client.conversations_history(
            channel=channel, oldest=f"{oldest:.6f}", include_all_metadata=True, limit=200
        ):
            yield from page.get("messages", [])


def refusal_of(exc: SlackApiError) -> str | None:
    """The error code when Slack refused a post for good (see SLACK_REFUSED), else None."""
    error = str(exc.response.get("error", ""))
    return error if error in SLACK_REFUSED else None


def metadata_of(message: dict[str, Any], event_type: str) -> dict[str, Any] | None:
    """The event payload of a message's metadata, when it is of this type."""
    meta = message.get("metadata") or {}
    if meta.get("event_type") != event_type:
        return None
    payload = meta.get("event_payload")
    return payload if isinstance(payload, dict) else None
