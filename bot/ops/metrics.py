"""`GET /metrics`: the bridge's state in Prometheus's text format.

Counts of messages, replies, backlog and poll times are read from the store at each scrape by
a custom collector, so they survive restarts and need no counter beside the code that does the
work. Only errors, which leave no row behind, are tallied in memory (`ErrorTally`), at the one
place each side's calls pass through: the Wati client and the Slack WebClient.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.insights import spend
from bot.relay.budget import Budget
from bot.store import Store, stats

OUTBOX_STATES = ("queued", "sending", "unknown", "sent", "failed", "blocked")


class ErrorTally:
    """Errors since the process started, by side ("wati", "slack"), kind and call."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()

    def wati(self, endpoint: str, kind: str) -> None:
        self._add("wati", kind, endpoint)

    def slack(self, method: str, kind: str) -> None:
        self._add("slack", kind, method)

    def _add(self, side: str, kind: str, call: str) -> None:
        with self._lock:
            self._counts[(side, kind, call)] += 1

    def counts(self) -> dict[tuple[str, str, str], int]:
        with self._lock:
            return dict(self._counts)


class BridgeCollector(Collector):
    """Builds every metric family from the store, the Wati budget and the error tally."""

    def __init__(
        self,
        *,
        store: Store,
        budget: Budget,
        errors: ErrorTally,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.budget = budget
        self.errors = errors
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        per_number = stats.snapshot(self.store)
        labels = ["number", "slack_channel"]

        links = GaugeMetricFamily("wati_bridge_links", "WhatsApp numbers linked to a channel")
        links.add_metric([], len(per_number))
        yield links

        relayed = CounterMetricFamily(
            "wati_bridge_messages_relayed",
            "WhatsApp messages posted to Slack (direction in: from the customer; mirror: sent "
            "by the business outside the bridge)",
            labels=[*labels, "direction"],
        )
        backlog = GaugeMetricFamily(
            "wati_bridge_backlog",
            "Messages recorded from Wati, waiting to be posted",
            labels=labels,
        )
        backlog_age = GaugeMetricFamily(
            "wati_bridge_backlog_oldest_seconds",
            "Age of the oldest message waiting to be posted (0 when none waits)",
            labels=labels,
        )
        lag = GaugeMetricFamily(
            "wati_bridge_poll_lag_seconds",
            "Seconds since the number's last successful poll (absent before the first)",
            labels=labels,
        )
        threads = GaugeMetricFamily(
            "wati_bridge_open_conversations", "Open conversation threads", labels=labels
        )
        outbox = GaugeMetricFamily(
            "wati_bridge_outbox",
            "Thread replies by state (queued, sending, unknown, sent, failed, blocked)",
            labels=[*labels, "state"],
        )
        sent = CounterMetricFamily(
            "wati_bridge_replies_sent", "Replies Wati accepted", labels=labels
        )
        failed = CounterMetricFamily(
            "wati_bridge_replies_failed",
            "Replies that failed (blocked ones, outside the 24-hour window, not included)",
            labels=labels,
        )
        for number, found in per_number.items():
            key = [number, found.slack_channel_id]
            for direction in ("in", "mirror"):
                relayed.add_metric([*key, direction], found.relayed.get(direction, 0))
            backlog.add_metric(key, found.backlog)
            age = now - found.oldest_pending_at if found.oldest_pending_at is not None else 0.0
            backlog_age.add_metric(key, max(0.0, age))
            if found.last_poll_ok_at is not None:
                lag.add_metric(key, max(0.0, now - found.last_poll_ok_at))
            threads.add_metric(key, found.open_threads)
            for state in sorted({*OUTBOX_STATES, *found.outbox}):
                outbox.add_metric([*key, state], found.outbox.get(state, 0))
            sent.add_metric(key, found.outbox.get("sent", 0))
            failed.add_metric(key, found.outbox.get("failed", 0))
        yield from (relayed, backlog, backlog_age, lag, threads, outbox, sent, failed)
        yield from self._wati_quota()
        yield from self._sends(list(per_number))
        yield self._errors()

    def _sends(self, numbers: list[str]) -> Iterator[Metric]:
        """What WhatsApp charges for, per linked number this calendar month (UTC)."""
        usage = spend.this_month(self.store, datetime.fromtimestamp(self.clock(), UTC))
        sent = GaugeMetricFamily(
            "wati_bridge_sent_this_month",
            "Messages Wati accepted this calendar month (kind: session or template)",
            labels=["number", "kind"],
        )
        free = GaugeMetricFamily(
            "wati_bridge_free_replies_left",
            f"Of the {spend.FREE_PER_MONTH:,} free session replies per number and month",
            labels=["number"],
        )
        for number in numbers:
            found = usage.get(number, spend.Usage())
            sent.add_metric([number, "session"], found.session)
            sent.add_metric([number, "template"], found.template)
            free.add_metric([number], found.free_left)
        yield from (sent, free)

    def _wati_quota(self) -> Iterator[Metric]:
        used = self.budget.used()
        calls = GaugeMetricFamily(
            "wati_bridge_wati_calls_this_month",
            "Wati API calls the bridge made this calendar month (UTC), by endpoint",
            labels=["endpoint"],
        )
        for endpoint, count in sorted(used.items()):
            calls.add_metric([endpoint], count)
        yield calls
        quota = GaugeMetricFamily(
            "wati_bridge_wati_monthly_quota",
            "The bridge's share of the Wati plan's monthly calls (BRIDGE_WATI_MONTHLY_CALLS)",
        )
        quota.add_metric([], self.budget.monthly_calls)
        yield quota
        ratio = GaugeMetricFamily(
            "wati_bridge_wati_quota_used_ratio", "Share of the monthly quota used so far"
        )
        ratio.add_metric([], sum(used.values()) / max(1, self.budget.monthly_calls))
        yield ratio
        paced = GaugeMetricFamily(
            "wati_bridge_wati_polling_paced",
            "1 while polling waits to stay inside the monthly quota, else 0",
        )
        paced.add_metric([], 0 if self.budget.may_poll() else 1)
        yield paced

    def _errors(self) -> Metric:
        family = CounterMetricFamily(
            "wati_bridge_errors",
            "Failed Wati and Slack calls since the bridge started, by side, kind and call",
            labels=["side", "kind", "call"],
        )
        for (side, kind, call), count in sorted(self.errors.counts().items()):
            family.add_metric([side, kind, call], count)
        return family


def exposition(collector: Collector) -> bytes:
    """The text Prometheus scrapes."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)
