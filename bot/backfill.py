"""`wati-bridge backfill`: relay recent history of the linked numbers into Slack, with progress.

Every conversation is reached back to the horizon whatever its state: one the running bridge
already polled (so its newest messages are on record and polling stops there) is read again
back to the horizon, and what was left out then for predating the link is relayed now, after
what its thread already shows. The report is per number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import Settings
from bot.relay.discovery import CONTACTS_PAGE
from bot.relay.inbound import NoSlot
from bot.relay.polling import Poller, PollReport
from bot.service import build
from bot.store.chats import Chat
from bot.store.db import iso
from bot.store.links import Link
from bot.text import phone
from bot.wati.errors import WatiError


@dataclass
class NumberReport:
    """What backfill did for one linked number."""

    customers: int = 0
    relayed: int = 0
    earlier: int = 0  # of `relayed`: history from before what the thread already showed
    errors: int = 0


def run_backfill(poller: Poller, *, days: float, echo: Callable[[str], None] = print) -> PollReport:
    """Find the customers active in the last `days` and relay their messages since then.

    Customers come from the chats the bridge already knows and from every page of Wati's
    contacts whose lastUpdated falls inside the period. Wati's limits are respected: each
    call waits for a free slot in the rolling window.
    """
    store = poller.store
    links = store.links()
    if not links:
        echo("No linked numbers: link a channel with /wati link <number> first.")
        return PollReport()
    since = poller.clock.now() - timedelta(days=days)
    customers = _customers(poller, links, since, echo)
    report = PollReport()
    total = len(customers) * len(links)
    done = 0
    per_number: dict[str, NumberReport] = {}
    for link in links:
        mine = per_number[link.channel_number] = NumberReport(customers=len(customers))
        store.put(f"relay_since:{link.channel_number}", iso(since))
        try:
            for number in sorted(customers):
                chat = poller.wake(link.channel_number, number, origin="backfill")
                if not poller.windows.messages.acquire(timeout=60):
                    echo("Wati kept us waiting too long for getMessages; stopping here.")
                    _summary(links, per_number, echo)
                    report.errors += 1
                    return report
                before = report.errors
                mine.relayed += poller.poll_chat(link, chat, report)
                try:
                    earlier = _reach_back(poller, link, chat, since, report)
                except (NoSlot, WatiError) as exc:
                    reason = exc.reason if isinstance(exc, WatiError) else "rate window full"
                    echo(f"  one conversation's earlier history not read: {reason}")
                    report.errors += 1
                    earlier = 0
                mine.relayed += earlier
                mine.earlier += earlier
                mine.errors += report.errors - before
                done += 1
                echo(f"[{done}/{total}] {mine.relayed} message(s) relayed on {link.channel_number}")
        finally:
            store.forget(f"relay_since:{link.channel_number}")
    report.relayed = sum(r.relayed for r in per_number.values())
    _summary(links, per_number, echo)
    echo(f"backfill done: {report.relayed} message(s) relayed with {report.calls} Wati call(s)")
    return report


def _customers(
    poller: Poller, links: list[Link], since: datetime, echo: Callable[[str], None]
) -> set[str]:
    store = poller.store
    customers = {c.customer_number for link in links for c in store.chats(link.channel_number)}
    page_number = 1
    while True:
        if not poller.windows.contacts.acquire(timeout=60):
            echo("Wati kept us waiting too long for getContacts; continuing with what we have.")
            break
        try:
            page = poller.wati.get_contacts(page_size=CONTACTS_PAGE, page_number=page_number)
        except WatiError as exc:
            echo(f"getContacts failed on page {page_number}: {exc.reason}; continuing.")
            break
        for contact in page.items:
            number = "".join(ch for ch in (contact.wa_id or contact.phone or "") if ch.isdigit())
            if number and (contact.last_updated is None or contact.last_updated >= since):
                customers.add(number)
        echo(f"contacts page {page_number}: {len(customers)} customer(s) to look at")
        if not page.has_more:
            break
        page_number += 1
    return customers


def _reach_back(poller: Poller, link: Link, chat: Chat, since: datetime, report: PollReport) -> int:
    """Read the chat back to `since` past what is on record; relay what was left out."""
    inbound, store = poller.inbound, poller.store
    fetched = inbound.fetch_new(chat, since, past=True)
    report.calls += fetched.calls
    history = sorted((m for m in fetched.history if m.created >= since), key=lambda m: m.created)
    inbound.record_all(link, chat, [m for m in history if store.logged(m.id) is None])
    for item in history:
        logged = store.logged(item.id)
        # Left out for predating the link (or an earlier horizon), not for another reason.
        if (
            logged is not None
            and logged.state == "skipped"
            and logged.error is None
            and logged.direction in ("in", "mirror")
        ):
            store.update_message(item.id, state="pending")
    return inbound.flush_pending(link, chat)


def _summary(
    links: list[Link], per_number: dict[str, NumberReport], echo: Callable[[str], None]
) -> None:
    for link in links:
        found = per_number.get(link.channel_number)
        if found is None:
            echo(f"{phone.display(link.channel_number)}: not reached (stopped before it)")
            continue
        earlier = f", {found.earlier} of them from before the thread" if found.earlier else ""
        errors = f", {found.errors} error(s)" if found.errors else ""
        echo(
            f"{phone.display(link.channel_number)}: {found.customers} conversation(s) read, "
            f"{found.relayed} message(s) relayed{earlier}{errors}"
        )


def backfill(settings: Settings, *, days: float) -> int:
    """CLI entry: build the bridge, backfill, exit 0 when no errors."""
    bridge = build(settings)
    try:
        report = run_backfill(bridge.poller, days=days)
    finally:
        bridge.shutdown()
    return 0 if report.errors == 0 else 1
