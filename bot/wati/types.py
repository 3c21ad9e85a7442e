"""Typed results of Wati calls, and the forgiving parsers that build them from Wati's JSON."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Wati writes up to 7 fractional digits; older Pythons and odd payloads may carry more than 6.
_FRACTION = re.compile(r"(\.\d{6})\d+")
_PLACEHOLDER = re.compile(r"{{\s*([^{}\s]+)\s*}}")
# Unix times above this are milliseconds (1e11 seconds is the year 5138).
_MS_THRESHOLD = 100_000_000_000
_UNIX = re.compile(r"\d+(\.\d+)?")


@dataclass(frozen=True)
class WatiMessage:
    """One history item from getMessages (a chat message, broadcast or ticket event)."""

    id: str
    created: datetime
    event_type: str
    type: str
    text: str | None = field(repr=False)
    data: str | None
    owner: bool
    status: str | None
    operator_name: str | None
    local_message_id: str | None
    failed_detail: str | None
    conversation_id: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False, hash=False)
    # A template or broadcast (sent by the business, whatever `owner` says); its name when
    # Wati gives one (live tenants name it only inside `eventDescription`).
    template: bool = False
    template_name: str | None = None


@dataclass(frozen=True)
class MessagePage:
    """One page of getMessages: parsed items oldest first, plus what was skipped."""

    items: list[WatiMessage]
    malformed: int
    page_number: int
    page_size: int
    raw_count: int

    @property
    def has_more(self) -> bool:
        """True when the page was full, so an older page may exist."""
        return self.raw_count >= self.page_size


@dataclass(frozen=True)
class SendResult:
    """A session message or file that Wati accepted (accepted, not yet delivered)."""

    message_id: str | None
    whatsapp_message_id: str | None
    local_message_id: str | None
    status: str | None


@dataclass(frozen=True)
class TemplateSendResult:
    """A template send that Wati accepted (accepted, not yet delivered)."""

    ok: bool
    whatsapp_number: str
    local_message_id: str | None


@dataclass(frozen=True)
class BulkSendResult:
    """Per-receiver outcome of sendTemplateMessages: accepted numbers and (number, reason)."""

    accepted: list[str]
    failed: list[tuple[str, str]]


@dataclass(frozen=True)
class Template:
    """A message template as listed by getMessageTemplates."""

    name: str
    status: str
    category: str
    language: str
    body: str
    params: list[str] = field(hash=False)


@dataclass(frozen=True)
class Contact:
    """A Wati contact (shared by every channel number of the tenant)."""

    id: str
    wa_id: str
    name: str
    phone: str
    custom_params: dict[str, str] = field(hash=False)
    last_updated: datetime | None
    created_raw: str | None
    # A customer who hides their number (docs/WATI.md#bsuids-and-usernames).
    bsuid: str | None = None
    username: str | None = None


@dataclass(frozen=True)
class ContactPage:
    """One page of getContacts, plus what was skipped."""

    items: list[Contact]
    malformed: int
    raw_count: int
    page_number: int
    page_size: int

    @property
    def has_more(self) -> bool:
        """True when the page was full, so another page may exist."""
        return self.raw_count >= self.page_size


@dataclass(frozen=True)
class Media:
    """A downloaded media file."""

    content: bytes = field(repr=False)
    content_type: str
    filename: str


def opt_str(value: object) -> str | None:
    """Return value if it is a non-empty string (numbers are turned into strings), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value != "":
        return value
    return None


def parse_time(value: object) -> datetime | None:
    """Parse an ISO-8601 string or a unix time (seconds or milliseconds) into aware UTC."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return _from_unix(float(value))
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if _UNIX.fullmatch(text):
        return _from_unix(float(text))
    text = _FRACTION.sub(r"\1", text)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        # Wati's timestamps are all UTC, with or without the suffix.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _from_unix(number: float) -> datetime | None:
    if number > _MS_THRESHOLD:
        number /= 1000
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


_TEMPLATE_NAMED = re.compile(r'"([^"]{1,512})"\s+template')


def _business(item: Mapping[str, Any], event_type: str, kind: str) -> bool:
    """Whether the business (an operator, the bot, the API, a broadcast) sent the item.

    Only an explicit `owner: false` is the customer's. Live tenants send templates and
    broadcasts with no `owner` at all (docs/WATI.md#history-items): taken as the customer's words they
    would be posted as such and open a 24-hour window that does not exist.
    """
    if event_type == "broadcastMessage" or kind == "template":
        return True
    value = item.get("owner")
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0")
    if isinstance(value, bool) or isinstance(value, int):
        return bool(value)
    return True  # missing or null: no clear customer origin


def _template_name(item: Mapping[str, Any]) -> str | None:
    named = opt_str(item.get("templateName"))
    if named is None:
        found = _TEMPLATE_NAMED.search(opt_str(item.get("eventDescription")) or "")
        named = found.group(1) if found else None
    return named


def parse_message(item: object) -> WatiMessage | None:
    """Build a WatiMessage from a history item, or None when it lacks an id or a time."""
    if not isinstance(item, dict):
        return None
    message_id = opt_str(item.get("id"))
    created = parse_time(item.get("created")) or parse_time(item.get("timestamp"))
    if message_id is None or created is None:
        return None
    event_type = opt_str(item.get("eventType")) or "message"
    text = item.get("text")
    if event_type == "broadcastMessage":
        text = item.get("finalText") or text
    status = opt_str(item.get("statusString"))
    kind = opt_str(item.get("type")) or ""
    template = event_type == "broadcastMessage" or kind.lower() == "template"
    return WatiMessage(
        id=message_id,
        created=created,
        event_type=event_type,
        type=kind,
        text=text if isinstance(text, str) else None,
        data=opt_str(item.get("data")),
        owner=_business(item, event_type, kind.lower()),
        status=status.upper() if status else None,
        operator_name=opt_str(item.get("operatorName")),
        local_message_id=opt_str(item.get("localMessageId")),
        failed_detail=opt_str(item.get("failedDetail")),
        conversation_id=opt_str(item.get("conversationId")),
        raw=item,
        template=template,
        template_name=_template_name(item) if template else None,
    )


def parse_template(item: object) -> Template | None:
    """Build a Template from a messageTemplates entry, or None when it has no elementName."""
    if not isinstance(item, dict):
        return None
    name = opt_str(item.get("elementName"))
    if name is None:
        return None
    language = item.get("language")
    if isinstance(language, dict):
        language = language.get("value")
    body = item.get("body")
    body = body if isinstance(body, str) else ""
    params: list[str] = []
    custom = item.get("customParams")
    if isinstance(custom, list):
        for entry in custom:
            param = opt_str(entry.get("paramName")) if isinstance(entry, dict) else None
            if param is not None and param not in params:
                params.append(param)
    if not params:
        for param in _PLACEHOLDER.findall(body):
            if param not in params:
                params.append(param)
    return Template(
        name=name,
        status=opt_str(item.get("status")) or "",
        category=opt_str(item.get("category")) or "",
        language=opt_str(language) or "",
        body=body,
        params=params,
    )


def parse_contact(item: object) -> Contact | None:
    """Build a Contact from a contact object, or None when it has no id."""
    if not isinstance(item, dict):
        return None
    contact_id = opt_str(item.get("id"))
    if contact_id is None:
        return None
    wa_id = opt_str(item.get("wAid")) or opt_str(item.get("waId")) or ""
    custom: dict[str, str] = {}
    params = item.get("customParams")
    if isinstance(params, list):
        for entry in params:
            if not isinstance(entry, dict):
                continue
            key = opt_str(entry.get("name"))
            value = entry.get("value")
            if key is not None:
                custom[key] = value if isinstance(value, str) else (opt_str(value) or "")
    return Contact(
        id=contact_id,
        wa_id=wa_id,
        name=opt_str(item.get("fullName")) or opt_str(item.get("firstName")) or "",
        phone=opt_str(item.get("phone")) or wa_id,
        custom_params=custom,
        last_updated=parse_time(item.get("lastUpdated")),
        created_raw=opt_str(item.get("created")),
        bsuid=opt_str(item.get("bsuid")),
        username=opt_str(item.get("username")),
    )


@dataclass(frozen=True)
class AccountNumber:
    """One WhatsApp number of the Wati account (a "channel"): digits with country code."""

    number: str
    name: str | None = None


@dataclass(frozen=True)
class AccountNumbers:
    """The account's numbers; `complete` is False when the list may leave some out (v3's
    channel list omits the default number)."""

    numbers: list[AccountNumber]
    complete: bool
    source: str


# Wati records none of these shapes (docs/WATI.md#account-numbers): every spelling seen in clients and
# in the v3 spec is tried, for the list and for each entry's fields.
_LIST_KEYS = ("phoneNumbers", "phone_numbers", "channels", "data", "items", "result", "numbers")
_NUMBER_KEYS = (
    "phoneNumber",
    "phone_number",
    "channelPhoneNumber",
    "channel_phone_number",
    "displayPhoneNumber",
    "display_phone_number",
    "phone",
    "number",
    "wa_id",
    "waId",
)
_NUMBER_SEPARATORS = re.compile(r"[\s+\-().]")
_NAME_KEYS = ("channelName", "channel_name", "name", "verifiedName", "verified_name", "displayName")


def parse_account_numbers(body: object) -> list[AccountNumber] | None:
    """The numbers in a phoneNumbers or channels answer; None when no list is found at all."""
    items = body
    if isinstance(body, dict):
        items = next((body[k] for k in _LIST_KEYS if isinstance(body.get(k), list)), None)
        if items is None:
            nested = next((body[k] for k in _LIST_KEYS if isinstance(body.get(k), dict)), None)
            return parse_account_numbers(nested) if nested is not None else None
    if not isinstance(items, list):
        return None
    found: dict[str, AccountNumber] = {}
    for item in items:
        entry = _account_number(item)
        if entry is not None and entry.number not in found:
            found[entry.number] = entry
    return list(found.values())


def _account_number(item: object) -> AccountNumber | None:
    raw: object = item
    name = None
    if isinstance(item, dict):
        raw = next((item[k] for k in _NUMBER_KEYS if item.get(k) not in (None, "")), None)
        name = next((opt_str(item[k]) for k in _NAME_KEYS if opt_str(item.get(k))), None)
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        return None
    digits = _NUMBER_SEPARATORS.sub("", str(raw))
    if not (digits.isascii() and digits.isdigit() and 7 <= len(digits) <= 15):
        return None  # a name, an id or a masked number: nothing that can be linked
    return AccountNumber(digits, name)
