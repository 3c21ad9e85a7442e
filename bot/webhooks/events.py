"""What a Wati webhook body says: its kind, its ids, its chat (pure; no I/O).

Wati sends most sent and status events twice, under a v1 name and a `_v2` name; only the `_v2`
twin carries `localMessageId`, so the v1 twins are answered 200 and ignored. Customer traffic
(`message`, `newContactMessageReceived`) comes with a `_bsuid` twin instead: the same Wati id,
keyed on the customer's BSUID, `waId` maybe missing (docs/WATI.md#bsuids-and-usernames). Both are recorded
(a phoneless customer has only the twin); the hub posts the message once. Status events do not always carry a
phone number, and the receiving number is only sometimes in `channelPhoneNumber`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.customers import identity
from bot.store.db import iso
from bot.wati.types import WatiMessage, opt_str, parse_message, parse_time


class Kind(StrEnum):
    """What the bridge does with an event."""

    INBOUND = "inbound"  # a customer's message
    NEW_CONTACT = "new_contact"  # a new customer's first message (no content in the event)
    SENT = "sent"  # a message the business sent (Wati's inbox, the API, a template)
    STATUS = "status"  # delivered / read / failed of a sent message
    IGNORED = "ignored"  # the v1 twin of a `_v2` event, or an event the bridge has no use for


SENT_EVENTS = frozenset({"sessionMessageSent_v2", "templateMessageSent_v2"})
STATUS_EVENTS = {
    "sentMessageDELIVERED_v2": "DELIVERED",
    "sentMessageREAD_v2": "READ",
    "sentMessageFAILED_v2": "FAILED",
}
BSUID_SUFFIX = "_bsuid"  # Wati's BSUID-keyed twin of an event: `waId` may be missing
# What the bridge asks Wati for when it registers a webhook: customer events also as their
# `_bsuid` twins, the only ones Wati sends for a customer who hides their number.
EVENT_TYPES = (
    "message",
    f"message{BSUID_SUFFIX}",
    "newContactMessageReceived",
    f"newContactMessageReceived{BSUID_SUFFIX}",
    *sorted(SENT_EVENTS),
    *STATUS_EVENTS,
)
MAX_FIELD = 200  # ids, numbers and event names are short; anything longer is not Wati's


class Malformed(ValueError):
    """The body is not a Wati event the bridge can use (the reason names no content)."""


@dataclass(frozen=True)
class Event:
    """One webhook event, read."""

    kind: Kind
    event_type: str
    wati_id: str | None
    customer_number: str | None
    channel_number: str | None
    created: str | None

    @property
    def key(self) -> str:
        """Its identity: Wati's duplicates and retries carry the same type and id."""
        return f"{self.event_type}:{self.wati_id}"


def kind_of(event_type: str) -> Kind:
    """The kind of an event name (a `_bsuid` twin is the kind of the event it twins)."""
    event_type = event_type.removesuffix(BSUID_SUFFIX)
    if event_type == "message":
        return Kind.INBOUND
    if event_type == "newContactMessageReceived":
        return Kind.NEW_CONTACT
    if event_type in SENT_EVENTS:
        return Kind.SENT
    if event_type in STATUS_EVENTS:
        return Kind.STATUS
    return Kind.IGNORED


def read_event(body: object, url_channel: str | None) -> Event:
    """Read a webhook body; Malformed when it cannot be a Wati event."""
    if not isinstance(body, dict):
        raise Malformed("the body is not a JSON object")
    event_type = _short(body.get("eventType"), "eventType")
    wati_id = _short(body.get("id"), "id")
    if event_type is None:
        raise Malformed("no eventType")
    kind = kind_of(event_type)
    if kind is Kind.INBOUND and _owner(body):
        # A teammate typing in Wati's inbox: the same message comes as sessionMessageSent_v2,
        # which carries the ids that tell the bridge's own sends apart.
        kind = Kind.IGNORED
    if kind is not Kind.IGNORED and wati_id is None:
        raise Malformed(f"{event_type} without an id")
    created = parse_time(body.get("created")) or parse_time(body.get("timestamp"))
    if kind in (Kind.INBOUND, Kind.SENT) and created is None:
        raise Malformed(f"{event_type} without a time")
    return Event(
        kind=kind,
        event_type=event_type,
        wati_id=wati_id,
        customer_number=identity.from_payload(body).key,
        channel_number=identity.phone_of(body.get("channelPhoneNumber")) or url_channel,
        created=iso(created) if created else None,
    )


def as_item(body: dict[str, Any]) -> WatiMessage | None:
    """A message or sent event as the history item it stands for (the same id and fields)."""
    event_type = body.get("eventType")
    if isinstance(event_type, str):
        event_type = event_type.removesuffix(BSUID_SUFFIX)
    item = {**body, "eventType": event_type}
    if event_type == "templateMessageSent_v2":
        item.update(eventType="broadcastMessage", owner=True)
    elif event_type == "sessionMessageSent_v2":
        item.update(eventType="message", owner=True)
    elif event_type in STATUS_EVENTS:
        item.update(eventType="message", owner=True, statusString=STATUS_EVENTS[event_type])
    return parse_message(item)


def _short(value: object, name: str) -> str | None:
    text = opt_str(value)
    if text is not None and len(text) > MAX_FIELD:
        raise Malformed(f"{name} is too long")
    return text


def _owner(body: dict[str, Any]) -> bool:
    owner = body.get("owner")
    return owner is True or (isinstance(owner, str) and owner.lower() == "true")
