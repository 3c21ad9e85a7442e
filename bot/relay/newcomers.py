"""Which linked number a new customer wrote to, for the fewest getMessages calls.

v1's contacts list does not say (docs/WATI.md#the-v3-conversation-list). Where the tenant serves v3's
conversation list, one call names the number of every recent conversation; a 404 or 403 means
it is not served, remembered, and v1 is used. With v1 the numbers are asked one at a time,
those new customers wrote to most often first (counted per number), and the asking stops at
the number whose history holds the customer's messages.

Searches share Wati's 10 getMessages per 10 s, so the next call goes where it should find the
most (`Search.place`): to the customer with the most news (their contact's stamp moved again:
one read will bring every message they wrote) and the fewest numbers left to ask (the likelier
the next one answers). A contact change during a search moves that search up; it never starts
it again on numbers already found empty.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from bot.customers.identity import Customer
from bot.relay.budget import Budget
from bot.store import Store
from bot.wati.client import WatiClient
from bot.wati.conversations import Conversation
from bot.wati.errors import WatiAuthError, WatiError, WatiRejected

logger = logging.getLogger(__name__)

V3_KEY = "v3_conversations"  # kv: "refused" once the tenant answered 404 or 403
COUNT_KEY = "newcomers:"  # kv, per number: new customers found writing to it
V3_PAGE = 100
# How far one expected customer message (news times the chance the next number answers) moves
# a search's next call ahead of searches begun later: see `Search.place`.
NEWS_SECONDS = 60.0


class Ask(NamedTuple):
    """A number to ask for a new customer, and the call's place in the queue of hinted chats."""

    number: str
    place: float
    again: bool = False  # the search's pending call moved up (it may be under way already)


@dataclass
class Search:
    """One new customer's search: the number being asked, those left, and how much news."""

    asking: str
    untried: list[str]
    since: float  # when the contacts list first showed the customer
    news: int = 1  # times their contact's stamp moved during the search
    listed: bool = False  # the number v3's list named (not counted as a guess that answered)

    def place(self) -> float:
        """Where the next call stands in the queue of hinted chats (earlier goes first): the
        first sighting, brought forward by the messages that call is expected to bring."""
        return self.since - NEWS_SECONDS * self.news / (len(self.untried) + 1)


class Newcomers:
    """Plans which numbers to ask for customers the bridge has never seen in conversation."""

    def __init__(self, *, store: Store, wati: WatiClient, budget: Budget) -> None:
        self.store = store
        self.wati = wati
        self.budget = budget
        self._lock = threading.Lock()
        self._searches: dict[str, Search] = {}  # customer key -> the search under way
        self._listed: dict[str, list[str]] | None = None  # v3: identity -> numbers, per look

    def begin_look(self) -> None:
        """A contacts look starts: v3's list is read at most once for it, when needed."""
        self._listed = None

    def plan(
        self, key: str, customer: Customer, candidates: Sequence[str], now: float
    ) -> list[Ask]:
        """The numbers to ask for a new customer whose contact changed, each with its place in
        the queue: the one(s) v3 names, else the likeliest; during a search, the number being
        asked, moved up for the news."""
        if not candidates:
            return []  # no number was linked by the contact's stamp: nothing to look up
        with self._lock:
            search = self._searches.get(key)
            if search is not None and search.asking in candidates:
                search.news += 1
                return [Ask(search.asking, search.place(), again=True)]
            self._searches.pop(key, None)  # none, or asking a number unlinked since: anew
        listed = self._from_v3(key, customer, candidates)
        if len(listed) > 1:  # written to several numbers: each is asked
            return [Ask(n, now) for n in listed]
        ordered = listed or self._likeliest_first(candidates)
        search = Search(asking=ordered[0], untried=ordered[1:], since=now, listed=bool(listed))
        with self._lock:
            self._searches[key] = search
            return [Ask(search.asking, search.place())]

    def searching(self, key: str) -> bool:
        """Whether a search for this customer is under way (in this process)."""
        with self._lock:
            return key in self._searches

    def resume(self, key: str, left: Sequence[str], now: float) -> Ask | None:
        """A search lost with the process, begun again on the numbers `left` to ask."""
        if not left:
            return None
        ordered = self._likeliest_first(left)
        search = Search(asking=ordered[0], untried=ordered[1:], since=now)
        with self._lock:
            self._searches[key] = search
            return Ask(search.asking, search.place())

    def next_number(self, key: str, asked: str) -> Ask | None:
        """`asked` had nothing: the next number to ask and its place, if any is left."""
        with self._lock:
            search = self._searches.get(key)
            if search is None or search.asking != asked:
                return None  # no search, or a stale call: the search's own call is pending
            if not search.untried:
                del self._searches[key]
                return None
            search.asking = search.untried.pop(0)
            return Ask(search.asking, search.place())

    def found(self, key: str, number: str) -> None:
        """The customer's messages were on `number`: stop asking, and count it."""
        with self._lock:
            search = self._searches.pop(key, None)
        if search is not None and not search.listed:
            self.store.put(f"{COUNT_KEY}{number}", str(self._count(number) + 1))

    def _likeliest_first(self, numbers: Sequence[str]) -> list[str]:
        """Numbers new customers wrote to most often first (ties in the given order)."""
        return sorted(numbers, key=lambda n: (-self._count(n), numbers.index(n)))

    def _count(self, number: str) -> int:
        return int(self.store.get(f"{COUNT_KEY}{number}") or "0")

    def _from_v3(self, key: str, customer: Customer, candidates: Sequence[str]) -> list[str]:
        listed = self._v3_list()
        if not listed:
            return []
        names = [n for n in (key, customer.phone, customer.bsuid, customer.contact_id) if n]
        found = {number for name in names for number in listed.get(name, [])}
        return [n for n in candidates if n in found]

    def _v3_list(self) -> dict[str, list[str]]:
        if self._listed is not None:
            return self._listed
        self._listed = {}
        if self.store.get(V3_KEY) == "refused" or not self.budget.may_poll():
            return self._listed
        try:
            page = self.wati.get_conversations(page_number=1, page_size=V3_PAGE)
        except WatiError as exc:
            if isinstance(exc, WatiRejected | WatiAuthError) and exc.status_code in (403, 404):
                logger.info("Wati's v3 conversation list is not served here: v1 it is")
                self.store.put(V3_KEY, "refused")
            return self._listed
        for conversation in page:
            _index(self._listed, conversation)
        return self._listed


def _index(listed: dict[str, list[str]], conversation: Conversation) -> None:
    if conversation.channel_number is None:
        return
    for name in (conversation.phone, conversation.bsuid, conversation.contact_id):
        if name and conversation.channel_number not in listed.setdefault(name, []):
            listed[name].append(conversation.channel_number)
