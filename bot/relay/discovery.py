"""New and changed customers, from Wati's contacts list: one call looks at many chats at once.

getContacts lists the most recently updated contacts first (as the sandbox does; Wati does not
document the order), with a `lastUpdated` stamp. Its first page, read on the poll cadence, is
the hint: a contact whose stamp moved wakes its chats ahead of routine polls. Wati does not
document when `lastUpdated` moves either, so the hint is trusted only as far as it proves
itself (`Signal`): while it announces every customer message, routine polls of quiet chats
slow to a safety net; one message it missed and routine polling is back at full pace.

A contact is shared by every number of the account and the page does not say which number the
customer wrote to: a known customer's change wakes the chats they are in that have not read it
yet; only when that poll finds nothing new are the account's other linked numbers asked
(`widen`). A contact never seen in conversation is looked for one number at a time
(`Newcomers`). The page shows only the newest change: a known customer who writes to a number
they never used and, within one look, again where they are known (read before the look) has
moved the stamp once, for a message already read, so the other number is asked only at their
next change (webhooks, where registered, bring it at once).

A contact is filed under Wati's identity of the customer (`bot.customers.identity`): the phone
number, else the BSUID. One with neither is a logged warning and a health reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.base.clock import Clock
from bot.customers import identity
from bot.customers.identity import Customer
from bot.relay.budget import Budget
from bot.relay.newcomers import Ask, Newcomers
from bot.store import Store
from bot.store.chats import Chat
from bot.store.customers import UNIDENTIFIED_KEY
from bot.store.db import iso, parse_iso
from bot.store.links import Link
from bot.wati.client import WatiClient
from bot.wati.errors import WatiError, WatiRateLimited
from bot.wati.limits import Windows
from bot.wati.types import Contact

logger = logging.getLogger(__name__)

CONTACTS_PAGE = 100
HINT_PAGES = 3  # pages read in one look while every contact on them changed since the last
HINT_SHARE = 0.25  # of the month's even polling pace, once the saved-up calls run low
SWEEP_SECONDS = 300.0  # one further contacts page, so every contact is looked at over time
SWEEP_SHARE = 0.05
KEEP_SLOTS = 2  # getContacts slots left free for name look-ups and the sweep
CONFIRMATIONS = 3  # hinted polls that found a customer message before the hint is trusted
GRACE = 5.0  # seconds a new message may take to move its contact's stamp
# A contact seen for the first time whose stamp is this much older than the bridge's last
# read of each chat it is known in points at nothing new (the margin covers a read that
# began well before the chat's poll was stamped).
READ_MARGIN = timedelta(minutes=5)


class Signal:
    """How far the contacts page can be trusted to announce customer messages."""

    def __init__(self) -> None:
        self.confirmed = 0
        self.covered_at: float | None = (
            None  # the last look that saw every change since the one before
        )

    @property
    def trusted(self) -> bool:
        return self.confirmed >= CONFIRMATIONS and self.covered_at is not None

    def confirm(self) -> None:
        """A hinted poll found the customer's message the hint announced."""
        self.confirmed += 1

    def check(self, oldest_new: datetime, hinted: bool) -> bool:
        """A poll found customer messages, the oldest created at `oldest_new`; False when the
        hint missed them (a complete look after they were written did not announce them)."""
        if hinted:
            self.confirm()
            return True
        if self.covered_at is not None and oldest_new.timestamp() < self.covered_at - GRACE:
            if self.trusted:
                logger.info("contacts page missed a customer message; routine polling resumes")
            self.confirmed = 0
            return False
        return True


class Discovery:
    """Reads the contacts list on the poll cadence and wakes the chats it points at."""

    def __init__(
        self,
        *,
        store: Store,
        wati: WatiClient,
        budget: Budget,
        windows: Windows,
        clock: Clock,
        poll_seconds: float,
        covered: Callable[[str, datetime | None], bool] = lambda number, updated: False,
        newcomers: Newcomers,
    ) -> None:
        self.store = store
        self.wati = wati
        self.budget = budget
        self.windows = windows
        self.clock = clock
        self.poll_seconds = poll_seconds
        # Whether a webhook already brought the message that moved this contact's stamp.
        self.covered = covered
        self.signal = Signal()
        self._hint_at = 0.0  # when the next look is due (the first one at once)
        self._sweep_at = clock() + SWEEP_SECONDS
        self._widened: dict[str, float] = {}  # customer → when their other numbers were asked
        self._unidentified: set[str] = set()  # Wati contact ids with no phone and no BSUID
        self.newcomers = newcomers  # which number a new customer wrote to
        self._began = clock()  # searches hinted before this belong to an earlier process

    def trusted(self) -> bool:
        """Whether the hint is trusted and still being read (a stalled look ends the trust)."""
        covered = self.signal.covered_at
        recent = covered is not None and covered > self.clock() - max(60.0, 3 * self.interval())
        return self.signal.trusted and recent

    def _hint(self, channel_number: str, customer_number: str, at: float | None = None) -> None:
        """A contacts-page change points at this chat: poll it before routine polls (hinted
        chats go in the order of `at`, now unless a new customer's search says otherwise)."""
        at = self.clock() if at is None else at
        self.store.wake_chat(channel_number, customer_number, at, "contacts", hinted=True)

    def _ask(self, customer_number: str, ask: Ask) -> None:
        if ask.again:  # moved up only while it waits: a call under way reads the news anyway
            self.store.move_hint(ask.number, customer_number, ask.place, self.clock())
        else:
            self._hint(ask.number, customer_number, ask.place)

    def soon(self) -> None:
        """Look at once (a number was just linked)."""
        self._hint_at = 0.0

    def soon_pending(self) -> bool:
        """Whether a look is due at once (none has run since `soon` or the start)."""
        return self._hint_at == 0.0

    def interval(self) -> float:
        """Seconds between looks: the poll interval while the month's budget has room."""
        return self.budget.pace(self.poll_seconds, HINT_SHARE)

    def run(self) -> int:
        """The scheduler's job: a look when one is due, a sweep page when that is due."""
        woken = 0
        now = self.clock()
        if now >= self._hint_at and self.windows.contacts.free_slots() > KEEP_SLOTS:
            self._hint_at = now + self.interval()
            woken += self.discover()
        if now >= self._sweep_at:
            self._sweep_at = now + self.budget.pace(SWEEP_SECONDS, SWEEP_SHARE)
            woken += self.discover(sweep=True)
        return woken

    def discover(self, *, sweep: bool = False) -> int:
        """Look for new or changed contacts; wake their chats. Returns how many were woken.

        A look reads the first page, and the next ones while every contact on a page changed
        (more changes than one page holds); a sweep walks one further page per call, so over
        time every contact is looked at.
        """
        links = self.store.links()
        if not links:
            return 0
        first = int(self.store.get("sweep_page") or "1") if sweep else 1
        self.newcomers.begin_look()
        woken = 0
        for page_number in range(first, first + (1 if sweep else HINT_PAGES)):
            read_at = self.clock()
            if not self.budget.may_poll() or not self.windows.contacts.try_acquire():
                return woken
            try:
                page = self.wati.get_contacts(page_size=CONTACTS_PAGE, page_number=page_number)
            except WatiRateLimited as exc:
                self.windows.contacts.hold(exc.retry_after or 10.0)
                return woken
            except WatiError as exc:
                self.store.add_error("contacts", f"getContacts failed: {exc.reason}")
                return woken
            changed = [n for n in (self._note(c) for c in page.items) if n]
            for number, stamp, customer, first, name in changed:
                old = first and self._already_read(number, parse_iso(stamp))
                if not old and not self.covered(number, parse_iso(stamp)):
                    woken += self._wake(number, links, stamp, customer)
                self.store.note_customer(number, customer.columns())
                # Saved once its chats are woken: a bridge killed in between finds the change
                # again at its next look (a stamp saved first would hide it for good).
                self.store.save_contact(number, name, stamp)
            self._count_unidentified()
            if sweep:
                self.store.put("sweep_page", str(page_number + 1 if page.has_more else 1))
                return woken
            if len(changed) < len(page.items) or not page.has_more:
                # The page reached contacts seen before unchanged: no change was left unread.
                self.signal.covered_at = read_at
                return woken
        self.signal.covered_at = None  # more changes than the pages read: trust waits
        return woken

    def _note(self, contact: Contact) -> tuple[str, str | None, Customer, bool, str | None] | None:
        """(key, stamp, identity, first time seen, name) when a contact is new or its stamp
        moved, for the caller to save once it has acted on it; a new name alone is saved."""
        customer = identity.from_contact(contact)
        number = (
            self.store.customer_key(
                phone=customer.phone, bsuid=customer.bsuid, contact_id=customer.contact_id
            )
            or customer.key
        )
        if number is None:
            self._unidentifiable(contact)
            return None
        self._unidentified.discard(contact.id)
        seen = self.store.contact_seen(number)
        stamp = iso(contact.last_updated) if contact.last_updated else None
        changed = seen is None or (stamp is not None and stamp != seen.get("last_updated"))
        renamed = seen is not None and seen.get("name") != contact.name
        if not (changed or renamed):
            return None
        if seen is not None and not changed:  # renamed only
            self.store.save_contact(number, contact.name, seen.get("last_updated"))
        if contact.name:
            for chat in self.store.chats_of_customer(number):
                if chat.customer_name != contact.name:
                    self.store.update_chat(chat.channel_number, number, customer_name=contact.name)
        return (number, stamp, customer, seen is None, contact.name) if changed else None

    def _already_read(self, number: str, stamp: datetime | None) -> bool:
        """Whether every chat the customer is known in was read well after `stamp`: a first
        sighting of an old contact (the first looks and sweeps meet every contact once) then
        wakes nothing, instead of restarting each quiet chat's polling from the fastest pace."""
        if stamp is None:
            return False
        chats = [c for c in self.store.chats_of_customer(number) if is_known(c)]
        if not chats:
            return False
        for chat in chats:
            read = [parse_iso(chat.last_polled_at), parse_iso(chat.last_activity_at)]
            newest = max((r for r in read if r is not None), default=None)
            if newest is None or newest < stamp + READ_MARGIN:
                return False
        return True

    def _unidentifiable(self, contact: Contact) -> None:
        """A contact with neither a phone number nor a BSUID: its messages cannot be asked
        for. Counted (logged without any identifier, and kept as a health reason)."""
        self._unidentified.add(contact.id)

    def _count_unidentified(self) -> None:
        """After a page: said once each time the number of such contacts changes."""
        count = str(len(self._unidentified))
        if self.store.get(UNIDENTIFIED_KEY) == count:
            return
        self.store.put(UNIDENTIFIED_KEY, count)
        if self._unidentified:
            logger.warning(
                "%s Wati contact(s) have no phone number and no BSUID: their messages "
                "cannot be fetched",
                count,
            )

    def _wake(self, number: str, links: list[Link], stamp: str | None, customer: Customer) -> int:
        """Wake the chats a changed contact points at: those the customer is known to be in,
        else, for a new customer, the number v3's list names or the likeliest of the numbers
        linked before the change (`Newcomers`; the next is asked when that poll finds nothing).
        (A contact seen for the first time, as every contact is by the first looks and the
        first sweep, can only have written to a number linked before its stamp.)"""
        linked = {link.channel_number: link for link in links}
        known = [
            c
            for c in self.store.chats_of_customer(number)
            if c.channel_number in linked and is_known(c)
        ]
        if known:
            # A poll that began after the change (a search's call, a routine poll) has read
            # it already: a hint would find nothing, and then ask every other number.
            unread = [c.channel_number for c in known if not _read_since(c, stamp)]
            for channel_number in unread:
                self._hint(channel_number, number)
            return len(unread)
        candidates = [n for n, link in linked.items() if stamp is None or stamp >= link.linked_at]
        asks = self.newcomers.plan(number, customer, candidates, self.clock())
        for ask in asks:
            self._ask(number, ask)
        return len(asks)

    def ask_next(self, customer_number: str, asked: str) -> bool:
        """A new customer's number `asked` had nothing: ask the next one, if any is left."""
        if not self.newcomers.searching(customer_number):
            return self._resume(customer_number, asked)
        ask = self.newcomers.next_number(customer_number, asked)
        linked = {link.channel_number for link in self.store.links()}
        while ask is not None and ask.number not in linked:  # unlinked since: skipped
            ask = self.newcomers.next_number(customer_number, ask.number)
        if ask is not None:
            self._ask(customer_number, ask)
        return ask is not None

    def _resume(self, customer_number: str, asked: str) -> bool:
        """A search the process lost (a restart between two of its calls; searches live in
        memory): the linked numbers not read since the contact's change are asked, unless the
        customer is known somewhere by now or another of their calls still waits."""
        chats = {c.channel_number: c for c in self.store.chats_of_customer(customer_number)}
        hinted = chats[asked].hinted_at if asked in chats else None
        if hinted is None or hinted >= self._began:
            return False  # this process's own search ended (or v3 named every number to ask)
        if any(is_known(c) for c in chats.values()):
            return False  # a known customer's other numbers are `widen`'s
        if any(c.hinted_at is not None for n, c in chats.items() if n != asked):
            return False
        stamp = (self.store.contact_seen(customer_number) or {}).get("last_updated")
        left = [
            link.channel_number
            for link in self.store.links()
            if link.channel_number != asked
            and (stamp is None or stamp >= link.linked_at)
            and not _polled_since(chats.get(link.channel_number), stamp)
        ]
        ask = self.newcomers.resume(customer_number, left, self.clock())
        if ask is not None:
            self._ask(customer_number, ask)
        return ask is not None

    def widen(self, customer_number: str, asked: str) -> int:
        """A hinted poll of a known chat found nothing new: the change may be the customer
        writing to another linked number. Ask those, at most once per cool-down."""
        now = self.clock()
        cooldown = max(60.0, 6 * self.poll_seconds)
        if now - self._widened.get(customer_number, -1e18) < cooldown:
            return 0
        self._widened[customer_number] = now
        others = [
            link.channel_number for link in self.store.links() if link.channel_number != asked
        ]
        for channel_number in others:
            self._hint(channel_number, customer_number)
        return len(others)


def _polled_since(chat: Chat | None, stamp: str | None) -> bool:
    """Whether the chat was polled after the contact's change at `stamp`."""
    polled, changed = parse_iso(chat.last_polled_at if chat else None), parse_iso(stamp)
    return polled is not None and changed is not None and polled >= changed


def _read_since(chat: Chat, stamp: str | None) -> bool:
    """Whether the chat's newest customer message read so far is no older than `stamp`."""
    read, changed = parse_iso(chat.last_inbound_at), parse_iso(stamp)
    return read is not None and changed is not None and read >= changed


def is_known(chat: Chat) -> bool:
    """Whether the customer is known to be in conversation on this chat's number: it has a
    thread or messages, or the team opened it from Slack (not a speculative contacts wake)."""
    return chat.thread_id is not None or bool(chat.last_activity_at) or chat.origin != "contacts"
