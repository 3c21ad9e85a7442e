"""Socket Mode: the bridge's WebSocket to Slack, opened with the app-level token.

slack_sdk's built-in client (under Bolt's SocketModeHandler) does the protocol: it answers
`disconnect` and reconnects after a dropped connection by itself. What it does not do is tell
a refused token from a passing failure: `connect()` raises and a bare `run` died with a
traceback. Here a refusal of the token itself (invalid, revoked, wrong kind, no
connections:write) is one clear ERROR line and `open()` reports it so `run` exits 2; anything
else (Slack or the network down) is a WARNING and the connection is retried in the background.
"""

from __future__ import annotations

import logging
import threading

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError

from bot.slack.quiet import quiet_logger

logger = logging.getLogger(__name__)

# apps.connections.open errors that no retry can fix: the token must be replaced.
REFUSALS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "not_allowed_token_type",
        "missing_scope",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "invalid_token",
        "no_permission",
    }
)
RETRY_SECONDS = 5.0

CLIENT_LOGGER = "bot.slack.socket_client"  # the SDK client's lines, details withheld


class _SaidBetter(logging.Filter):
    """Drops the SDK's line about a failed apps.connections.open: `SocketLink` says it, and
    says what to do."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to retrieve WSS URL")


def _client_logger() -> logging.Logger:
    client = quiet_logger(CLIENT_LOGGER)
    if not any(isinstance(f, _SaidBetter) for f in client.filters):
        client.addFilter(_SaidBetter())
    return client


def refusal_hint(error: str) -> str:
    """How to fix a refused app-level token (shared with `doctor`)."""
    if error == "not_allowed_token_type":
        return "SLACK_APP_TOKEN must be an app-level token (xapp-…), not a bot or user token"
    if error == "missing_scope":
        return "the app-level token needs the connections:write scope"
    return (
        "create an app-level token with connections:write (Basic Information → App-Level "
        "Tokens) and put it in SLACK_APP_TOKEN"
    )


class SocketLink:
    """The Socket Mode connection of one running bridge: built with the bridge, opened by
    `run` (slack-sdk's client starts its threads when it is made, so it is made at `open`:
    a command that builds a bridge without running it starts none)."""

    def __init__(self, *, app: App, app_token: str, retry_seconds: float = RETRY_SECONDS) -> None:
        self.app = app
        self.app_token = app_token
        self.handler: SocketModeHandler | None = None
        self.retry_seconds = retry_seconds
        self._closed = threading.Event()
        self._retrier: threading.Thread | None = None

    @property
    def connected(self) -> bool:
        """True while a WebSocket to Slack is open."""
        return self.handler is not None and bool(self.handler.client.is_connected())

    def open(self) -> str | None:
        """Connect. Returns Slack's error code when it refused the token, else None
        (connected, or retrying a passing failure in the background)."""
        self.handler = SocketModeHandler(self.app, self.app_token, logger=_client_logger())
        refused = self._try()
        if refused is None and not self.connected:
            self._retrier = threading.Thread(target=self._retry, name="socket-retry", daemon=True)
            self._retrier.start()
        return refused

    def _try(self) -> str | None:
        assert self.handler is not None
        self.handler.client.wss_uri = None  # a spent URL never opens again: ask for a new one
        try:
            self.handler.connect()  # type: ignore[no-untyped-call]
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "unknown_error")
            if error in REFUSALS:
                logger.error(
                    "Slack refused SLACK_APP_TOKEN (apps.connections.open: %s): %s",
                    error,
                    refusal_hint(error),
                )
                return error
            logger.warning(
                "Socket Mode: apps.connections.open failed (%s); retrying every %.0f s",
                error,
                self.retry_seconds,
            )
        except Exception as exc:  # noqa: BLE001 - network failures come in many types
            logger.warning(
                "Socket Mode: could not connect to Slack (%s); retrying every %.0f s",
                type(exc).__name__,
                self.retry_seconds,
            )
        else:
            logger.info("connected to Slack in Socket Mode")
        return None

    def _retry(self) -> None:
        while not self._closed.wait(self.retry_seconds) and not self.connected:
            self._try()

    def close(self) -> None:
        """Stop retrying and close the connection."""
        self._closed.set()
        if self.handler is not None:
            self.handler.close()  # type: ignore[no-untyped-call]
