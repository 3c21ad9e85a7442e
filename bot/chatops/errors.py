"""What went wrong in a chat-op, in words a Slack user can act on (never a stack trace)."""

from __future__ import annotations

import math

from bot.wati.errors import (
    WatiAuthError,
    WatiBadResponse,
    WatiBlocked,
    WatiError,
    WatiRateLimited,
    WatiRejected,
    WatiTicketClosed,
    WatiUnavailable,
    WatiWindowClosed,
)


class ChatOpsError(Exception):
    """A chat-op was refused or failed; `message` is plain words to show the user as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def explain(exc: Exception) -> str:
    """A Wati failure (or a refused value) as one sentence without a full stop."""
    if isinstance(exc, WatiAuthError):
        return (
            "Wati refused the bridge's access token or its permissions; an admin should run "
            "`wati-bridge doctor` and check WATI_ACCESS_TOKEN"
        )
    if isinstance(exc, WatiBlocked):
        return (
            "Wati's firewall (Cloudflare) refused the bridge's connection, before Wati looked at "
            "the token; an admin should run `wati-bridge doctor`"
        )
    if isinstance(exc, WatiRateLimited):
        wait = f"in {math.ceil(exc.retry_after)} seconds" if exc.retry_after else "in a minute"
        return f"Wati is rate-limiting the bridge right now (or the monthly quota is spent); try again {wait}"
    if isinstance(exc, WatiTicketClosed):
        return (
            "Wati says this conversation is closed (“Ticket has been expired.”): the chat was "
            "solved or closed in Wati, or the 24-hour window closed; reopen it, or send an "
            "approved template"
        )
    if isinstance(exc, WatiWindowClosed):
        return (
            "the customer's 24-hour reply window is closed, so WhatsApp only accepts an "
            "approved template now"
        )
    if isinstance(exc, WatiRejected):
        return f"Wati refused it: {exc.reason}"
    if isinstance(exc, WatiUnavailable | WatiBadResponse):
        if exc.maybe_sent:
            return (
                f"Wati did not confirm it ({exc.reason}); it may have gone through anyway, "
                "so check before trying again"
            )
        return f"Wati could not be reached ({exc.reason}); nothing was changed, try again shortly"
    if isinstance(exc, WatiError):
        return f"Wati failed: {exc.reason}"
    if isinstance(exc, ValueError):
        return str(exc)
    return f"something unexpected went wrong ({type(exc).__name__})"
