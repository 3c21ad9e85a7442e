"""Who wrote, as Wati says it (docs/WATI.md#bsuids-and-usernames), and the key the bridge files them under.

Since mid-2026 a WhatsApp customer may hide their number behind a username; Wati then names
them by a business-scoped user id (BSUID, `US.13491208655302741918`) and its contact id. A
chat's key (`chats.customer_number`) is the phone number (digits) when Wati gives one, else the
BSUID. It is never "the digits" of some other identifier: `US.1349…` is not a phone number.
Once filed, a customer keeps their key: a phone number that appears later for a BSUID customer
is stored beside it (`chats.customer_phone`) and the chat stays the same. Every v1 path
parameter accepts a phone number, a BSUID or a contact id, so the key is what Wati is called
with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.text import phone
from bot.wati.types import Contact, opt_str

_BSUID = re.compile(r"^[A-Za-z]{2}\.[0-9]{4,40}$")
_PHONE_CHARS = re.compile(r"^\+?[0-9 ()\-.]+$")
MAX_FIELD = 200


def is_bsuid(text: str | None) -> bool:
    """Letters, a dot, digits: a business-scoped user id."""
    return bool(text) and bool(_BSUID.match(text or ""))


def parse_key(text: str) -> str:
    """A customer as a person or a Slack form gives them: a BSUID as it is, else a phone
    number as digits (`phone.InvalidNumber` when it is neither)."""
    bare = text.strip()
    return bare if is_bsuid(bare) else phone.normalise(bare)


def phone_of(value: object) -> str | None:
    """A phone number as digits (7 to 15), or None: only a value made of number characters
    is a phone number (a BSUID's digits are not)."""
    text = opt_str(value)
    if text is None or len(text) > MAX_FIELD or not _PHONE_CHARS.match(text.strip()):
        return None
    digits = "".join(ch for ch in text if ch.isdigit())
    return digits if 7 <= len(digits) <= 15 else None


def _bsuid_of(value: object) -> str | None:
    text = opt_str(value)
    return text.strip() if text is not None and is_bsuid(text.strip()) else None


def _short(value: object) -> str | None:
    text = opt_str(value)
    return text.strip() if text is not None and 0 < len(text.strip()) <= MAX_FIELD else None


@dataclass(frozen=True)
class Customer:
    """What Wati said about a customer; any field may be missing."""

    phone: str | None = None  # digits with the country code
    bsuid: str | None = None
    username: str | None = None  # without the leading @
    contact_id: str | None = None  # Wati's contact id
    name: str | None = None

    @property
    def key(self) -> str | None:
        """The key of a new chat: the phone number, else the BSUID; None: unidentifiable."""
        return self.phone or self.bsuid

    @property
    def label(self) -> str | None:
        """What the team sees for them: the name, else `@username` (never an identifier)."""
        if self.name:
            return self.name
        return f"@{self.username}" if self.username else None

    def columns(self) -> dict[str, str]:
        """The chat columns this identity fills (only the fields Wati gave)."""
        values = {
            "customer_phone": self.phone,
            "customer_bsuid": self.bsuid,
            "customer_username": self.username,
            "wati_contact_id": self.contact_id,
        }
        return {k: v for k, v in values.items() if v}


def from_contact(contact: Contact) -> Customer:
    """A getContacts entry: `wAid`/`phone` may be empty for a phoneless customer."""
    return Customer(
        phone=phone_of(contact.wa_id) or phone_of(contact.phone),
        bsuid=_bsuid_of(contact.bsuid),
        username=_username(contact.username),
        contact_id=_short(contact.id),
        name=contact.name or None,
    )


def from_payload(body: dict[str, Any]) -> Customer:
    """A webhook body (`waId` may be missing on `_bsuid` events) or a v3 list entry."""
    return Customer(
        phone=phone_of(body.get("waId")) or phone_of(body.get("wa_id")),
        bsuid=_bsuid_of(body.get("bsuid")),
        username=_username(body.get("username")),
        contact_id=_short(body.get("contactId")),
        name=_short(body.get("senderName")) or _short(body.get("name")),
    )


def _username(value: object) -> str | None:
    text = _short(value)
    return text.removeprefix("@") or None if text else None
