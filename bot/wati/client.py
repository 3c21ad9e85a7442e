"""Wati's REST client: every call family over one shared transport.

Each family module holds its calls and the reading of their answers; `bot.wati.transport` the
httpx.Client, the token, the callbacks and the error mapping; `bot.wati.errors` the error tree
and `bot.wati.types` the typed results. A new Wati call goes in its family's module and is on
`WatiClient` from there.
"""

from __future__ import annotations

from bot.wati.account import AccountCalls
from bot.wati.contacts import ContactCalls
from bot.wati.conversations import ConversationCalls
from bot.wati.messages import MessageCalls
from bot.wati.sending import MAX_TEXT_LENGTH, SendingCalls
from bot.wati.templates import TemplateCalls

__all__ = ["MAX_TEXT_LENGTH", "WatiClient"]


class WatiClient(
    MessageCalls, SendingCalls, TemplateCalls, ContactCalls, ConversationCalls, AccountCalls
):
    """Synchronous client for Wati's API; thread-safe, like the httpx.Client it wraps.

    Built as `WatiClient(endpoint, token, *, transport, timeout, on_call, on_error,
    on_answer, on_sent)` (see `bot.wati.transport.Transport`).
    """
