"""Chats and contacts: a chat's status and operator, the contact list and its attributes."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence

from bot.wati.errors import WatiBadResponse, check_accepted, json_object
from bot.wati.transport import Params, Transport, customer_ref, observed, page_params, phone_digits
from bot.wati.types import Contact, ContactPage, parse_contact

logger = logging.getLogger(__name__)

CHAT_STATUSES = frozenset({"OPEN", "SOLVED", "PENDING", "BLOCK"})


class ContactCalls(Transport):
    """updateChatStatus, assignOperator, getContacts, addContact and the attribute updates."""

    @observed
    def update_chat_status(self, wa_number: str, status: str, *, channel_number: str) -> None:
        """Set a chat's status (OPEN, SOLVED, PENDING or BLOCK) on one channel number."""
        ticket_status = status.strip().upper()
        if ticket_status not in CHAT_STATUSES:
            raise ValueError(f"status must be one of {', '.join(sorted(CHAT_STATUSES))}")
        payload = {
            "whatsappNumber": customer_ref(wa_number),
            "ticketStatus": ticket_status,
            "channelPhoneNumber": phone_digits(channel_number, "channel_number"),
        }
        self._write("updateChatStatus", self._url("updateChatStatus"), payload)

    @observed
    def assign_operator(self, wa_number: str, email: str | None, *, channel_number: str) -> None:
        """Assign the chat to the operator with this e-mail (None: back to the bot).

        The parameters go in the query (docs/WATI.md#chats-and-contacts). An e-mail that is not
        one of the account's operators is refused with HTTP 200 and `result: false`
        (WatiRejected).
        """
        params: Params = {
            "whatsappNumber": customer_ref(wa_number),
            "channelPhoneNumber": phone_digits(channel_number, "channel_number"),
        }
        if email is not None:
            params["email"] = email
        name = "assignOperator"
        response = self._call(name, "POST", self._url(name), params=params, write=True)
        check_accepted(name, json_object(name, response, write=True, allow_empty=True))

    @observed
    def get_contacts(
        self,
        *,
        page_size: int = 100,
        page_number: int = 1,
        name: str | None = None,
        attribute: list[dict[str, str]] | None = None,
    ) -> ContactPage:
        """Fetch one page of contacts, optionally filtered by name or attribute conditions."""
        params = page_params(page_size, page_number)
        if name:
            params["name"] = name
        if attribute is not None:
            params["attribute"] = json.dumps(attribute, separators=(",", ":"))
        endpoint = "getContacts"
        response = self._call(endpoint, "GET", self._url("getContacts"), params=params)
        body = json_object(endpoint, response)
        check_accepted(endpoint, body)
        items = body.get("contact_list")
        if not isinstance(items, list):
            raise WatiBadResponse("no contact_list list", status_code=200, endpoint=endpoint)
        contacts = [c for c in (parse_contact(item) for item in items) if c is not None]
        malformed = len(items) - len(contacts)
        if malformed:
            logger.warning("getContacts: skipped %d malformed item(s)", malformed)
        return ContactPage(contacts, malformed, len(items), page_number, page_size)

    @observed
    def add_contact(
        self, wa_number: str, *, name: str, custom_params: Mapping[str, str] | None = None
    ) -> Contact | None:
        """Create a contact; returns it when Wati's answer includes it."""
        number = phone_digits(wa_number, "wa_number")
        payload = {"name": name, "customParams": _attributes(custom_params or {})}
        body = self._write("addContact", self._url(f"addContact/{number}"), payload)
        for key in ("contact", "data", "result"):
            contact = parse_contact(body.get(key))
            if contact is not None:
                return contact
        return parse_contact(body) if "wAid" in body else None

    @observed
    def update_contact_attributes(self, wa_number: str, custom_params: Mapping[str, str]) -> None:
        """Set custom attributes on one contact."""
        number = customer_ref(wa_number)
        if not custom_params:
            raise ValueError("no attributes to update")
        payload = {"customParams": _attributes(custom_params)}
        self._write(
            "updateContactAttributes", self._url(f"updateContactAttributes/{number}"), payload
        )

    @observed
    def update_contact_attributes_for_multi_contacts(
        self, contacts: Sequence[tuple[str, Mapping[str, str]]]
    ) -> None:
        """Set custom attributes on several contacts in one call."""
        if not contacts:
            raise ValueError("no contacts to update")
        payload = {
            "contacts": [
                {
                    "whatsappNumber": phone_digits(number, "wa_number"),
                    "customParams": _attributes(p),
                }
                for number, p in contacts
            ]
        }
        name = "updateContactAttributesForMultiContacts"
        self._write(name, self._url(name), payload)


def _attributes(params: Mapping[str, str]) -> list[dict[str, str]]:
    result = []
    for key, value in params.items():
        if not key.strip():
            raise ValueError("a contact attribute has an empty name")
        result.append({"name": key, "value": value})
    return result
