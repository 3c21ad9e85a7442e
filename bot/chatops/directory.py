"""Wati contacts for chat-ops (look up, add, set attributes) and finding a customer's thread.

Contacts are shared by every number of the Wati account, so none of these calls names a
channel number. getContacts and addContact share Wati's 10-calls-per-10-s limit with the
relay's contact discovery, so they take a slot of the same window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.chatops.errors import ChatOpsError, explain
from bot.store import Store
from bot.store.chats import Chat, Thread
from bot.store.links import Link
from bot.text import phone
from bot.wati.client import WatiClient
from bot.wati.errors import WatiError, WatiRateLimited
from bot.wati.limits import RateWindow
from bot.wati.types import Contact

CONTACTS_PAGE = 20
MAX_FOUND = 20
BUSY = "Wati's contact calls are busy (10 per 10 seconds); try again in a few seconds."


@dataclass(frozen=True)
class Found:
    """A conversation found by `/wati find`; `here` when it is on the asking channel's number."""

    thread: Thread
    chat: Chat
    here: bool


class Directory:
    """Contacts in Wati, and conversations in the bridge's store."""

    def __init__(self, *, store: Store, wati: WatiClient, window: RateWindow) -> None:
        self.store = store
        self.wati = wati
        self.window = window

    def find_contact(self, number: str) -> Contact | None:
        """The Wati contact with exactly this number, if any."""
        for contact in self._contacts(name=number):
            if number in (_digits(contact.wa_id), _digits(contact.phone)):
                return contact
        return None

    def search(self, query: str) -> list[Contact]:
        """Contacts matching `query` with Wati's `name` filter (its first page)."""
        return self._contacts(name=query)

    def save(self, number: str, *, name: str, attributes: Mapping[str, str], exists: bool) -> str:
        """Set a contact's attributes, or add the contact; returns what was done."""
        if not self.window.acquire(timeout=5):
            raise ChatOpsError(BUSY)
        try:
            if exists:
                if not attributes:
                    return "Nothing to change."
                self.wati.update_contact_attributes(number, dict(attributes))
                return f"Contact {phone.display(number)} updated ({len(attributes)} attribute(s))."
            self.wati.add_contact(number, name=name, custom_params=dict(attributes))
            return f"Contact {name} ({phone.display(number)}) added to Wati."
        except WatiRateLimited as exc:
            self.window.hold(exc.retry_after or 10.0)
            raise ChatOpsError(f"Nothing was saved: {explain(exc)}.") from exc
        except (WatiError, ValueError) as exc:
            raise ChatOpsError(f"Nothing was saved: {explain(exc)}.") from exc

    def _contacts(self, *, name: str) -> list[Contact]:
        if not self.window.acquire(timeout=5):
            raise ChatOpsError(BUSY)
        try:
            return self.wati.get_contacts(page_size=CONTACTS_PAGE, name=name).items
        except WatiRateLimited as exc:
            self.window.hold(exc.retry_after or 10.0)
            raise ChatOpsError(f"Contacts could not be read: {explain(exc)}.") from exc
        except WatiError as exc:
            raise ChatOpsError(f"Contacts could not be read: {explain(exc)}.") from exc

    def find(self, link: Link, query: str) -> list[Found]:
        """Conversations of a number (on every linked number) or of a name (on this number).

        A name is looked for among this number's customers first, then in Wati's contacts.
        """
        query = query.strip()
        if phone.looks_like_number(query):
            try:
                numbers = [phone.normalise(query)]
            except phone.InvalidNumber as exc:
                raise ChatOpsError(str(exc)) from None
            links = self.store.links()
        else:
            wanted = query.casefold()
            numbers = [
                chat.customer_number
                for chat in self.store.chats(link.channel_number)
                if wanted in (chat.customer_name or "").casefold()
            ]
            if not numbers:
                numbers = [_digits(c.wa_id or c.phone) for c in self.search(query)]
            links = [link]
        found = []
        for number in dict.fromkeys(n for n in numbers if n):
            for other in links:
                thread = self.store.current_thread(other.channel_number, number)
                chat = self.store.chat(other.channel_number, number)
                if thread is None or chat is None or not thread.thread_ts:
                    continue
                if thread.slack_channel_id == other.slack_channel_id:
                    here = other.channel_number == link.channel_number
                    found.append(Found(thread, chat, here=here))
        found.sort(key=lambda f: not f.here)
        return found[:MAX_FOUND]


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())
