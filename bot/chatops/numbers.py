"""The Wati account's own WhatsApp numbers, for `/wati link`'s picker and its check."""

from __future__ import annotations

from dataclasses import dataclass

from bot.wati.client import WatiClient
from bot.wati.errors import WatiError
from bot.wati.types import AccountNumber


@dataclass(frozen=True)
class Listing:
    """What Wati said about the account's numbers.

    `numbers` is None when Wati would not list them (`problem` says why): a typed number is
    then accepted unchecked, as before the bridge could ask. `complete` is False when the
    list may leave one out (v3 omits the default number), so a number missing from it is not
    proof of a typo.
    """

    numbers: list[AccountNumber] | None
    complete: bool = False
    problem: str = ""

    def has(self, number: str) -> bool:
        return any(n.number == number for n in self.numbers or ())


def listing(wati: WatiClient) -> Listing:
    """Ask Wati once; never raises."""
    try:
        found = wati.get_account_numbers()
    except WatiError as exc:
        return Listing(None, problem=exc.reason)
    return Listing(found.numbers, complete=found.complete)
