"""How Wati answers: the error tree, and reading whether a response means success.

Error tree (catch at the level you care about):

    WatiError
    ├── WatiAuthError        401/403: bad token or missing permission
    ├── WatiRateLimited      429: rate limit or monthly quota (retry_after when Wati says); also
    │                        a 200 refusal that means "slow down" (the spam limit)
    ├── WatiRejected         Wati refused the call (HTTP 200 with a failure body, or another 4xx)
    │   └── WatiWindowClosed a session send outside the 24-hour window, where it can be told
    │       └── WatiTicketClosed  "Ticket has been expired.": the window closed or the chat was
    │                        closed or solved (also inside 24 h); the answer does not say which
    ├── WatiUnavailable      5xx, timeout or connection error (maybe_sent for writes)
    │   └── WatiBlocked      Cloudflare, in front of Wati, refused the request (403, not the token)
    └── WatiBadResponse      malformed JSON or an unexpected shape

A successful send means Wati *accepted* the message, never that it was delivered: delivery is
reported later (webhooks or the message's status in getMessages).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from bot.wati.types import opt_str

# What Wati or Meta say when a session send falls outside the 24-hour window.
_WINDOW_HINTS = (
    "24 hour",
    "24-hour",
    "24h",
    "session window",
    "re-engagement",
    "reengagement",
    "131047",
    "invalid conversation",
)
# A 200 refusal meaning "slow down" (live tenants: a spam limit above ~30 messages a minute).
_SLOW_DOWN_HINTS = ("spam", "too many", "slow down", "rate limit")
_TICKET_EXPIRED = "ticket has been expired"


class WatiError(Exception):
    """A Wati call failed; reason is short and safe to show (no token, no message text)."""

    def __init__(self, reason: str, *, status_code: int | None = None, endpoint: str = "") -> None:
        super().__init__(f"{endpoint}: {reason}" if endpoint else reason)
        self.reason = reason
        self.status_code = status_code
        self.endpoint = endpoint


class WatiAuthError(WatiError):
    """Wati answered 401 or 403: the token is wrong, expired or lacks a permission."""


class WatiRateLimited(WatiError):
    """Wati answered 429 (rate limit or monthly quota); retry_after is in seconds when given."""

    def __init__(
        self,
        reason: str,
        *,
        retry_after: float | None = None,
        status_code: int | None = 429,
        endpoint: str = "",
    ) -> None:
        super().__init__(reason, status_code=status_code, endpoint=endpoint)
        self.retry_after = retry_after


class WatiRejected(WatiError):
    """Wati refused the call: a failure body on HTTP 200, or a 4xx other than 401/403/429."""


class WatiWindowClosed(WatiRejected):
    """A session send was refused because the customer's 24-hour window is closed."""


class WatiTicketClosed(WatiWindowClosed):
    """Wati's "Ticket has been expired.": a template is needed, or the chat reopened when the
    24 hours by the customer's last message still run (Wati's chatbot may have closed it)."""

    def __init__(
        self, reason: str, *, ticket_status: str | None, status_code: int | None, endpoint: str
    ) -> None:
        super().__init__(reason, status_code=status_code, endpoint=endpoint)
        self.ticket_status = ticket_status


class _MaybeSent(WatiError):
    """A failure after which a write may or may not have happened (`maybe_sent`)."""

    def __init__(
        self,
        reason: str,
        *,
        maybe_sent: bool = False,
        status_code: int | None = None,
        endpoint: str = "",
    ) -> None:
        super().__init__(reason, status_code=status_code, endpoint=endpoint)
        self.maybe_sent = maybe_sent


class WatiUnavailable(_MaybeSent):
    """Wati could not be reached or failed (5xx, timeout); maybe_sent: a write may have happened."""


class WatiBlocked(WatiUnavailable):
    """Cloudflare's firewall in front of Wati answered 403 with its own page: the request never
    reached Wati, so the token was not even looked at (and nothing was sent)."""


class WatiBadResponse(_MaybeSent):
    """Wati answered 2xx with a body that is not the expected JSON; maybe_sent for writes."""


def error_kind(exc: WatiError) -> str:
    """A short, stable name for the kind of failure (metrics labels, log reason codes)."""
    for cls, kind in (
        (WatiBlocked, "firewall"),
        (WatiAuthError, "auth"),
        (WatiRateLimited, "rate_limited"),
        (WatiTicketClosed, "ticket_closed"),
        (WatiWindowClosed, "window_closed"),
        (WatiRejected, "rejected"),
        (WatiUnavailable, "unavailable"),
        (WatiBadResponse, "bad_response"),
    ):
        if isinstance(exc, cls):
            return kind
    return "error"


def raise_for_status(
    name: str, response: httpx.Response, *, write: bool = False, session: bool = False
) -> None:
    """Raise the error that the response's HTTP status means; return quietly on 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    detail = _error_detail(response)
    if status == 401:
        raise WatiAuthError(
            _join("access token rejected (HTTP 401)", detail), status_code=status, endpoint=name
        )
    if status == 403 and _is_firewall_page(response):
        raise WatiBlocked(
            "Wati's firewall (Cloudflare) refused the request (HTTP 403, "
            f"{_firewall_code(response)}); this is not a token problem",
            status_code=status,
            endpoint=name,
        )
    if status == 403:
        raise WatiAuthError(
            _join("permission denied (HTTP 403)", detail), status_code=status, endpoint=name
        )
    if status == 429:
        raise WatiRateLimited(
            _join("rate limit or monthly quota reached", detail),
            retry_after=_retry_after(response.headers.get("Retry-After")),
            status_code=status,
            endpoint=name,
        )
    if status >= 500:
        raise WatiUnavailable(
            _join(f"server error (HTTP {status})", detail),
            maybe_sent=write,
            status_code=status,
            endpoint=name,
        )
    if 400 <= status < 500:
        raise _rejection(detail or f"HTTP {status}", status, name, session)
    raise WatiBadResponse(f"unexpected HTTP {status}", status_code=status, endpoint=name)


def json_object(
    name: str,
    response: httpx.Response,
    *,
    write: bool = False,
    allow_empty: bool = False,
) -> dict[str, Any]:
    """The body as a JSON object; anything else on a 2xx is a bad response (maybe_sent if write)."""
    if allow_empty and not response.content.strip():
        return {}
    try:
        body = response.json()
    except ValueError:
        raise WatiBadResponse(
            "response is not JSON",
            maybe_sent=write,
            status_code=response.status_code,
            endpoint=name,
        ) from None
    if not isinstance(body, dict):
        raise WatiBadResponse(
            "response is not a JSON object",
            maybe_sent=write,
            status_code=response.status_code,
            endpoint=name,
        )
    return body


def check_accepted(
    name: str,
    body: dict[str, Any],
    *,
    session: bool = False,
    require_flag: bool = False,
) -> None:
    """Raise unless the body says Wati accepted the call (HTTP 200 does not mean success)."""
    message = body.get("message")
    message = message if isinstance(message, dict) else {}
    status_string = opt_str(message.get("statusString")) or ""
    failed = (
        body.get("ok") is False or body.get("result") is False or status_string.upper() == "FAILED"
    )
    if failed:
        errors = body.get("errors")
        reason = (
            opt_str(message.get("failedDetail"))
            or opt_str(body.get("info"))
            or opt_str(body.get("message"))
            or error_text(body.get("error"))
            or (error_text(errors.get("error")) if isinstance(errors, dict) else "")
            or "rejected by Wati"
        )
        if session and (_TICKET_EXPIRED in reason.lower() or "ticketStatus" in body):
            raise WatiTicketClosed(
                reason,
                ticket_status=opt_str(body.get("ticketStatus")),
                status_code=200,
                endpoint=name,
            )
        if any(word in reason.lower() for word in _SLOW_DOWN_HINTS):
            # Nothing was done: like a 429, the caller waits and tries again.
            raise WatiRateLimited(reason, retry_after=None, status_code=200, endpoint=name)
        code = opt_str(message.get("failedCode")) or opt_str(body.get("failedCode"))
        hint = f"{reason} {code}" if code else reason
        raise _rejection(reason, 200, name, session, hint=hint)
    if require_flag and not any(key in body for key in ("ok", "result", "message")):
        raise WatiBadResponse(
            "response has no result", maybe_sent=True, status_code=200, endpoint=name
        )


def error_text(value: object) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        for key in ("message", "info", "description", "detail", "title"):
            if isinstance(value.get(key), str):
                return str(value[key]).strip()
    return ""


def _rejection(
    reason: str, status: int, name: str, session: bool, *, hint: str | None = None
) -> WatiRejected:
    text = (hint or reason).lower()
    if session and any(word in text for word in _WINDOW_HINTS):
        return WatiWindowClosed(reason, status_code=status, endpoint=name)
    return WatiRejected(reason, status_code=status, endpoint=name)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP-date)."""
    if not value or not value.strip():
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _error_detail(response: httpx.Response) -> str:
    """A short reason from an error body: JSON message/info/error, or plain text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "info", "error", "title", "detail", "failedDetail"):
            text = error_text(body.get(key))
            if text:
                return _short(text)
        return ""
    text = response.text.strip() if body is None else ""
    if text.startswith("<"):
        return ""  # an HTML error page says nothing useful
    return _short(text)


def _is_firewall_page(response: httpx.Response) -> bool:
    """Cloudflare's refusal: "error code: 1010" as plain text, or its HTML block page."""
    # Every Wati answer passes Cloudflare (cf-ray headers everywhere), so only the body tells:
    # Wati's own 403 (a missing permission) is JSON or empty.
    text = response.text[:4000].lower().strip()
    if text.startswith(("{", "[")):
        return False
    return text.startswith("error code:") or "cloudflare" in text


def _firewall_code(response: httpx.Response) -> str:
    found = re.search(r"error code:?\s*(\d+)", response.text[:4000], re.IGNORECASE)
    return f"error code {found.group(1)}" if found else "a firewall page"


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _join(summary: str, detail: str) -> str:
    return f"{summary}: {detail}" if detail else summary
