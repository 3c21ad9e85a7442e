"""Who is speaking in a thread: a customer's posts carry the customer's name and an avatar, a
send from Wati's own inbox the teammate's name, so a thread reads like a conversation; the
bridge's notices and the thread parent stay the app's own (its name and icon).

Slack shows a post's `username` and `icon_emoji` only when the app holds `chat:write.customize`
(manifest.yml asks for it) and ignores them otherwise, silently. Without the scope each post
says who spoke in its first line instead. Whether the workspace granted it is read from
auth.test's scope header, once an hour (`Customizing`).

A file upload cannot carry a username, so its comment always names the speaker. Every path
that posts a message on someone's behalf (text, media, whatever comes next) calls
`decorate` on the message before posting it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from slack_sdk import WebClient

from bot.slack import limits
from bot.text import phone
from bot.text.formatting import escape

SCOPE = "chat:write.customize"
RECHECK_SECONDS = 3600.0  # a scope added and the app reinstalled shows within the hour
CUSTOMER_ICON = ":bust_in_silhouette:"
TEAMMATE_ICON = ":outbox_tray:"
USERNAME_MAX = 80  # Slack cuts display names longer than this


@dataclass(frozen=True)
class Speaker:
    """Who a post speaks for: a name to show and the emoji standing for their picture."""

    name: str
    icon: str


def customer(name: str | None, number: str) -> Speaker:
    """The customer: the name Wati knows, else the number as people write it."""
    shown = (name or "").strip() or phone.display(number)
    return Speaker(f"{shown} (WhatsApp)", CUSTOMER_ICON)


class Named(Protocol):
    """What `customer_of` reads: a chat, as the store has it."""

    @property
    def customer_name(self) -> str | None: ...

    @property
    def customer_number(self) -> str: ...


def customer_of(chat: Named) -> Speaker:
    """The customer of a chat."""
    return customer(chat.customer_name, chat.customer_number)


def teammate(name: str | None) -> Speaker:
    """Somebody who wrote from Wati's own inbox (or a template sent from there)."""
    return Speaker(f"{(name or '').strip() or 'Wati'} via Wati", TEAMMATE_ICON)


def decorate(message: dict[str, Any], speaker: Speaker, *, customized: bool) -> dict[str, Any]:
    """The message as `speaker` says it: Slack's username and icon, or a first line naming them."""
    name = limits.cut(speaker.name, USERNAME_MAX)
    if customized:
        return {**message, "username": name, "icon_emoji": speaker.icon}
    text = str(message.get("text") or "")
    return {
        **message,
        "text": limits.cut(f"{speaker.icon} *{escape(name)}*\n{text}", limits.MESSAGE_TEXT),
    }


class Customizing:
    """Whether the workspace lets the app post under other names (chat:write.customize)."""

    def __init__(self, client: WebClient, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.clock = clock
        self._lock = threading.Lock()
        self._known: tuple[float, bool] | None = None

    def __call__(self) -> bool:
        with self._lock:
            if self._known is not None and self.clock() - self._known[0] < RECHECK_SECONDS:
                return self._known[1]
        granted = self._ask()
        if granted is None:  # Slack did not say: keep what was known (or assume not)
            return self._known[1] if self._known is not None else False
        with self._lock:
            self._known = (self.clock(), granted)
        return granted

    def _ask(self) -> bool | None:
        try:
            response = self.client.auth_test()
        except Exception:  # noqa: BLE001 - any failure: ask again on the next post
            return None
        header = response.headers.get("x-oauth-scopes") or response.headers.get("X-OAuth-Scopes")
        if header is None:
            return None
        return SCOPE in {scope.strip() for scope in str(header).split(",")}
