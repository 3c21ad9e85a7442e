"""What outbound reads back from Slack: people's and channels' names, and shared files."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 16 * 1024 * 1024  # WhatsApp's cap for video and audio; documents go to 100 MB
NAME_TTL = 3600.0


class SlackNames:
    """users.info / conversations.info names, cached for an hour; lookups never raise."""

    def __init__(
        self,
        client: WebClient,
        *,
        ttl: float = NAME_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.ttl = ttl
        self._clock = clock
        self._users: dict[str, tuple[float, str | None, str | None, str | None]] = {}
        self._channels: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def _user(self, user_id: str) -> tuple[str | None, str | None, str | None]:
        with self._lock:
            cached = self._users.get(user_id)
        if cached and cached[0] > self._clock():
            return cached[1], cached[2], cached[3]
        try:
            user = self.client.users_info(user=user_id).get("user") or {}
        except SlackApiError as exc:
            logger.warning("users.info %s failed: %s", user_id, exc.response.get("error"))
            return None, None, None
        profile = user.get("profile") or {}
        real = profile.get("real_name") or user.get("real_name") or user.get("name") or None
        display = profile.get("display_name") or real
        # Only with the users:read.email scope; bots and guests may have none.
        email = str(profile.get("email") or "").strip() or None
        with self._lock:
            self._users[user_id] = (self._clock() + self.ttl, display, real, email)
        return display, real, email

    def user(self, user_id: str) -> str | None:
        """How Slack shows a person in a mention: display name, else real name."""
        return self._user(user_id)[0]

    def person(self, user_id: str) -> str | None:
        """A person's real name (for the agent prefix customers see), else display name."""
        display, real, _ = self._user(user_id)
        return real or display

    def email(self, user_id: str) -> str | None:
        """A person's e-mail address in Slack (None when Slack shows none)."""
        return self._user(user_id)[2]

    def channel(self, channel_id: str) -> str | None:
        """A channel's name."""
        with self._lock:
            cached = self._channels.get(channel_id)
        if cached and cached[0] > self._clock():
            return cached[1]
        try:
            info = self.client.conversations_info(channel=channel_id).get("channel") or {}
        except SlackApiError as exc:
            logger.warning(
                "conversations.info %s failed: %s", channel_id, exc.response.get("error")
            )
            return None
        name = info.get("name") or None
        with self._lock:
            self._channels[channel_id] = (self._clock() + self.ttl, name)
        return name


class DownloadRefused(Exception):
    """A shared file could not be fetched from Slack; reason is plain words for the thread."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def download_file(
    url: str,
    token: str,
    *,
    api_host: str | None = None,
    limit: int = MAX_FILE_BYTES,
    timeout: float = 30.0,
    transport: httpx.BaseTransport | None = None,
) -> tuple[bytes, str]:
    """GET a file's `url_private_download` with the bot token; return (content, content type).

    The token is only sent to Slack's hosts (or the configured API host, for a stand-in).
    Slack answers a request it does not accept with its HTML sign-in page and HTTP 200, so an
    HTML answer is refused rather than forwarded as the customer's attachment.
    """
    host = (urlsplit(url).hostname or "").lower()
    if urlsplit(url).scheme not in ("https", "http") or not (
        host == "slack.com" or host.endswith(".slack.com") or (api_host and host == api_host)
    ):
        raise DownloadRefused("the file is not stored on Slack, so the bridge cannot fetch it")
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, transport=transport) as http:
            with http.stream("GET", url, headers=headers) as response:
                if response.status_code != 200:
                    raise DownloadRefused(
                        f"Slack answered HTTP {response.status_code} for the file"
                    )
                content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
                if content_type.lower() == "text/html":
                    raise DownloadRefused(
                        "Slack sent its sign-in page instead of the file: the app needs the "
                        "files:read scope (reinstall it after adding the scope)"
                    )
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise DownloadRefused(_too_big(limit))
                content = bytearray()
                for chunk in response.iter_bytes():
                    content.extend(chunk)
                    if len(content) > limit:
                        raise DownloadRefused(_too_big(limit))
    except httpx.HTTPError as exc:
        raise DownloadRefused(
            f"the file could not be fetched from Slack ({type(exc).__name__})"
        ) from exc
    if not content:
        raise DownloadRefused("Slack sent an empty file")
    return bytes(content), content_type or "application/octet-stream"


def _too_big(limit: int) -> str:
    return f"the file is larger than {limit // (1024 * 1024)} MB, more than WhatsApp takes"
