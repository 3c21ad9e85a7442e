"""v3's conversation list (docs/WATI.md#the-v3-conversation-list): newest first, with each conversation's
channel, so a new customer's number is found in one call instead of one getMessages per
linked number. Its item fields are not recorded: read defensively; a tenant that does not
serve it answers 404 or 403 (WatiRejected / WatiAuthError)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.wati.errors import json_object
from bot.wati.transport import Transport, observed, phone_digits_or_none
from bot.wati.types import opt_str, parse_time

MAX_PAGE = 100  # Wati: page_size 1 to 100


@dataclass(frozen=True)
class Conversation:
    """One v3 conversation: whose it is (any of phone, BSUID, contact id) and on which number."""

    channel_number: str | None
    phone: str | None
    bsuid: str | None
    contact_id: str | None
    name: str | None
    username: str | None
    last_message_at: str | None


class ConversationCalls(Transport):
    """GET /api/ext/v3/conversations."""

    @observed
    def get_conversations(self, *, page_number: int = 1, page_size: int = 50) -> list[Conversation]:
        """One page of the tenant's conversations, newest first."""
        if page_number < 1 or not 1 <= page_size <= MAX_PAGE:
            raise ValueError(f"page_number must be 1 or more and page_size 1 to {MAX_PAGE}")
        name = "getConversations"
        scheme, host, port = self._origin
        response = self._call(
            name,
            "GET",
            f"{scheme}://{host}:{port}/api/ext/v3/conversations",
            params={"page_number": page_number, "page_size": page_size},
        )
        body = json_object(name, response)
        items = body.get("conversations") or body.get("items") or body.get("data") or []
        return [c for c in map(_conversation, items if isinstance(items, list) else []) if c]


def _conversation(item: object) -> Conversation | None:
    if not isinstance(item, dict):
        return None
    found = item.get("contact")
    contact: dict[str, Any] = found if isinstance(found, dict) else {}
    channel = item.get("channel_phone_number") or item.get("channelPhoneNumber")
    when = parse_time(item.get("last_message_at") or item.get("lastMessageAt"))
    return Conversation(
        channel_number=phone_digits_or_none(channel),
        phone=phone_digits_or_none(contact.get("wa_id") or contact.get("phone")),
        bsuid=opt_str(contact.get("bsuid")),
        contact_id=opt_str(contact.get("id")),
        name=opt_str(contact.get("name")),
        username=opt_str(contact.get("username")),
        last_message_at=when.isoformat() if when else None,
    )
