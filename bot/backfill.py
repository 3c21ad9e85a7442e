"""`wati-bridge backfill`: relay recent history of the linked numbers into Slack, with progress."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from bot.config import Settings
from bot.relay.discovery import CONTACTS_PAGE
from bot.relay.polling import Poller, PollReport
from bot.service import build
from bot.store.db import iso
from bot.wati.errors import WatiError


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
    customers: set[str] = {
        c.customer_number for link in links for c in store.chats(link.channel_number)
    }
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
    report = PollReport()
    total = len(customers) * len(links)
    done = 0
    for link in links:
        store.put(f"relay_since:{link.channel_number}", iso(since))
        try:
            for number in sorted(customers):
                chat = poller.wake(link.channel_number, number, origin="backfill")
                if not poller.windows.messages.acquire(timeout=60):
                    echo("Wati kept us waiting too long for getMessages; stopping here.")
                    return report
                report.relayed += poller.poll_chat(link, chat, report)
                done += 1
                echo(
                    f"[{done}/{total}] {report.relayed} message(s) relayed, {report.errors} error(s)"
                )
        finally:
            store.forget(f"relay_since:{link.channel_number}")
    echo(f"backfill done: {report.relayed} message(s) relayed with {report.calls} Wati call(s)")
    return report


def backfill(settings: Settings, *, days: float) -> int:
    """CLI entry: build the bridge, backfill, exit 0 when no errors."""
    bridge = build(settings)
    try:
        report = run_backfill(bridge.poller, days=days)
    finally:
        bridge.shutdown()
    return 0 if report.errors == 0 else 1
