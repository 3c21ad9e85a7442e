"""`wati-bridge forget CUSTOMER`: erase one customer, beside a running bridge or without one.

The rows go at once (one transaction: safe beside a running bridge, which shares the file).
The Slack clean-up is done by whoever holds the database's lock: this command when no bridge
runs (it takes the lock for the clean-up), else the running bridge's privacy job, which this
command waits for. A run killed midway leaves a journal; the next run, or the live bridge,
finishes it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.privacy.cleanup import SlackCleanup
from bot.privacy.erasure import Eraser
from bot.privacy.identify import UnknownCustomer, find_chats, read_customer
from bot.slack.poster import make_web_client
from bot.store import Store, lock, open_store

WAIT_FOR_BRIDGE = 120.0  # seconds the command waits for a running bridge's clean-up


def forget(
    settings: Settings,
    text: str,
    *,
    yes: bool,
    ask: Callable[[str], str] | None = None,
) -> int:
    """The command; returns the exit status (0 done, 1 Slack unreachable, 2 a usage problem)."""
    try:
        customer = read_customer(text)
    except UnknownCustomer as exc:
        print(f"wati-bridge forget: {exc}", file=sys.stderr)
        return 2
    store = open_store(settings.db_path, writable=True)
    try:
        web = make_web_client(settings.slack_bot_token, settings.slack_api_url)
        eraser = Eraser(store=store, cleanup=SlackCleanup(client=web))
        keys = find_chats(store, customer)
        left = [e.id for e in store.unfinished_erasures()]
        if not keys and not left:
            print(f"The bridge holds nothing about {customer.shown()}: nothing to erase.")
            return 0
        if keys and not yes:
            question = (
                f"Erase {customer.shown()} ({len(keys)} conversation(s) on "
                f"{len({k[0] for k in keys})} number(s)) from the bridge and its Slack posts? [y/N] "
            )
            if ask is None or not ask(question).strip().lower().startswith("y"):
                print("Nothing erased (confirm with --yes, or answer y).", file=sys.stderr)
                return 2
        planned = eraser.forget(customer, by="cli")
        ids = sorted({*left, *([planned] if planned is not None else [])})
        status = _finish(settings, store, eraser)
        for erasure_id in ids:
            print("\n".join(eraser.report(erasure_id).lines()))
        return status
    finally:
        store.close()


def _finish(settings: Settings, store: Store, eraser: Eraser) -> int:
    """Clean Slack here when no bridge runs; else wait for the running bridge to do it."""
    try:
        held = lock.acquire(settings.db_path)
    except lock.DatabaseLocked:
        return _wait(store)
    try:
        eraser.finish()
    except (OSError, SlackApiError) as exc:
        # Slack unreachable or refusing for now (slack_sdk raises URLError, an OSError).
        why = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
        print(
            f"wati-bridge forget: Slack could not be reached ({why}); the rows are erased, "
            "run the command again to finish the Slack clean-up",
            file=sys.stderr,
        )
        return 1
    finally:
        held.release()
    return 0


def _wait(store: Store) -> int:
    deadline = time.monotonic() + WAIT_FOR_BRIDGE
    print("A bridge runs on this database: it cleans Slack; waiting for it…", file=sys.stderr)
    while store.unfinished_erasures():
        if time.monotonic() > deadline:
            print(
                "wati-bridge forget: the running bridge has not finished the Slack clean-up "
                "yet; it goes on in the background",
                file=sys.stderr,
            )
            return 1
        time.sleep(0.5)
    return 0
