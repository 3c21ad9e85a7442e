"""Counts for /metrics, read from the store when Prometheus scrapes (nothing counted on the side).

A few grouped queries over indexed columns; at the scrape interval (15-60 s) they cost far less
than a poll round.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.store import Store
from bot.store.db import parse_iso


@dataclass
class NumberStats:
    """One linked number's counts."""

    slack_channel_id: str
    # Messages posted to Slack by direction: "in" from the customer, "mirror" sent by the
    # business elsewhere (the Wati dashboard, another integration).
    relayed: dict[str, int] = field(default_factory=dict)
    backlog: int = 0  # recorded, waiting to be posted
    oldest_pending_at: float | None = None  # Unix time the oldest waiting message was recorded
    last_poll_ok_at: float | None = None
    outbox: dict[str, int] = field(default_factory=dict)  # replies by state
    open_threads: int = 0


def snapshot(store: Store) -> dict[str, NumberStats]:
    """Counts per linked number (numbers no longer linked are left out)."""
    found = {link.channel_number: NumberStats(link.slack_channel_id) for link in store.links()}
    for row in store.query(
        "select channel_number as n, direction, state, count(*) as c, min(recorded_at) as oldest "
        "from messages where state in ('posted', 'pending') "
        "group by channel_number, direction, state"
    ):
        stats = found.get(row["n"])
        if stats is None:
            continue
        if row["state"] == "posted":
            stats.relayed[str(row["direction"])] = int(row["c"])
        else:
            stats.backlog += int(row["c"])
            oldest = _unix(row["oldest"])
            if oldest is not None and (stats.oldest_pending_at or oldest) >= oldest:
                stats.oldest_pending_at = oldest
    for row in store.query(
        "select channel_number as n, state, count(*) as c from outbox group by channel_number, state"
    ):
        if row["n"] in found:
            found[row["n"]].outbox[str(row["state"])] = int(row["c"])
    for row in store.query(
        "select channel_number as n, count(*) as c from threads "
        "where state = 'open' group by channel_number"
    ):
        if row["n"] in found:
            found[row["n"]].open_threads = int(row["c"])
    for number, stats in found.items():
        stats.last_poll_ok_at = _unix(store.get(f"last_poll_ok:{number}"))
    return found


def _unix(text: str | None) -> float | None:
    moment = parse_iso(text)
    return moment.timestamp() if moment is not None else None
