"""Posting into Slack at Slack's pace, and finding the bridge's own posts again after a crash."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.base import calls
from bot.slack import uploads

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
    # A file the workspace will not take, however often it is sent.
    "file_uploads_disabled",
    "file_uploads_except_images_disabled",
    "file_too_large",
}


# Told how a Web API call ended: (method, its channel argument, Slack's error or None, the
# call's number in the order calls started: `bot.base.calls`).
OnAnswer = Callable[[str, str | None, str | None, int], None]


class ObservedWebClient(WebClient):
    """A WebClient that reports how its calls end: `on_error` (method, error kind) for each
    failed one (metrics), `on_answer` (method, channel, Slack's error or None) for each one
    Slack answered (health watches for refused tokens and channels).

    Every Web API method of slack_sdk, Bolt's included, goes through `api_call`.
    """

    def __init__(
        self,
        *args: Any,
        on_error: Callable[[str, str], None] | None = None,
        on_answer: OnAnswer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.on_error = on_error
        self.on_answer = on_answer

    def api_call(self, api_method: str, **kwargs: Any) -> Any:
        args = kwargs.get("json") or kwargs.get("data") or kwargs.get("params") or {}
        channel = args.get("channel") if isinstance(args, dict) else None
        channel = channel if isinstance(channel, str) else None
        number = calls.next_number()
        try:
            response = super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "error")
            if self.on_error is not None:
                self.on_error(api_method, error)
            if self.on_answer is not None:
                self.on_answer(api_method, channel, error, number)
            raise
        except Exception as exc:  # noqa: BLE001 - connection failures come in many types
            if self.on_error is not None:
                self.on_error(api_method, f"connection:{type(exc).__name__}")
            raise
        if self.on_answer is not None:
            self.on_answer(api_method, channel, None, number)
        return response


def make_web_client(
    token: str,
    base_url: str,
    on_error: Callable[[str, str], None] | None = None,
    *,
    on_answer: OnAnswer | None = None,
) -> WebClient:
    """A WebClient that waits out 429s (Retry-After), which Slack sends before doing anything.

    Server errors and dropped connections are not retried here: either may come after Slack
    applied a post, so the callers check Slack for the message's metadata before posting again.
    """
    client = WebClient(token=token, base_url=base_url, timeout=15)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=5))
    if on_error is None and on_answer is None:
        return client
    return observed(client, on_error, on_answer=on_answer)


def observed(
    client: WebClient,
    on_error: Callable[[str, str], None] | None,
    *,
    on_answer: OnAnswer | None = None,
) -> WebClient:
    """The same client (token, URL, retries…), reporting how its calls end.

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
        on_answer=on_answer,
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
        file: IO[bytes],
        size: int,
        filename: str,
        title: str,
        comment: str | None,
        reserved: Callable[[str], None],
    ) -> None:
        """Upload a file from disk into a thread, streamed (`bot.slack.uploads`).

        `reserved` is told the Slack file id before the file is shared, so that after a
        crash the caller can ask Slack whether the share happened.
        """
        with self._pace(channel):
            self._wait_turn(channel)
            try:
                file_id, url = uploads.reserve(self.client, filename=filename, size=size)
                uploads.send_bytes(url, file, size)
                reserved(file_id)
                uploads.share(
                    self.client,
                    file_id=file_id,
                    title=title,
                    channel=channel,
                    thread_ts=thread_ts,
                    comment=comment,
                )
            finally:
                self._last[channel] = self._clock()

    def file_shared(self, file_id: str, channel: str) -> bool:
        """Whether an uploaded file is shared in the channel (see `upload`'s `reserved`)."""
        return uploads.shared_in(self.client, file_id, channel)

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
