"""Which customer the user means: a phone number as people type it, a BSUID or a username.

One function, `find_chats`, maps what was typed onto the customer identity columns the store
has, so a new identity column (a BSUID or username column) is one more line here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.store import Store
from bot.store.privacy import ChatKey
from bot.text import phone

BSUID = re.compile(r"^[A-Za-z]{2}\.[0-9]{6,40}$")  # US.13491208655302741918
USERNAME = re.compile(r"^@[A-Za-z0-9._]{1,64}$")  # @bob_rivers


class UnknownCustomer(ValueError):
    """What was typed is no phone number, BSUID or username; the message says what is."""


@dataclass(frozen=True)
class Customer:
    """What the user typed, read: kind is phone, bsuid or username; value as stored."""

    kind: str
    value: str

    def shown(self) -> str:
        """How the customer is named back to the person who asked (never logged)."""
        return phone.display(self.value) if self.kind == "phone" else self.value


def read_customer(text: str) -> Customer:
    """Read CUSTOMER; UnknownCustomer with an example when it is none of the three."""
    typed = text.strip()
    if BSUID.match(typed):
        return Customer("bsuid", typed.upper()[:2] + typed[2:])
    if USERNAME.match(typed):
        return Customer("username", typed.lower())
    if phone.looks_like_number(typed):
        try:
            return Customer("phone", phone.normalise(typed))
        except phone.InvalidNumber as exc:
            raise UnknownCustomer(str(exc)) from exc
    raise UnknownCustomer(
        "Give the customer as a phone number with its country code (+44 7700 900123), "
        "a BSUID (US.13491208655302741918) or a username (@bob_rivers)."
    )


# Which identity columns each kind of CUSTOMER is looked up in (the store ignores a column
# its schema does not have yet): the one place that maps what was typed onto the schema.
LOOKUPS = {
    "phone": ("customer_number", "customer_phone"),
    "bsuid": ("customer_number", "customer_bsuid"),
    "username": ("customer_username",),
}


def find_chats(store: Store, customer: Customer) -> list[ChatKey]:
    """Every chat of this customer, on every number, over the identity columns there are.

    `customer_number` holds the phone number, or for a customer with no phone the BSUID Wati
    named them by; a phone, BSUID or username recorded beside it finds the chat too.
    """
    value = customer.value.lstrip("@") if customer.kind == "username" else customer.value
    keys: set[ChatKey] = set()
    for column in LOOKUPS[customer.kind]:
        keys.update(store.chats_of(column, value))
    return sorted(key for key in keys if key[0])  # '' marks webhook events with no number
