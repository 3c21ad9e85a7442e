"""Customer and teammate traffic with Slack's retrying event delivery, and the checks behind
"nothing lost, nothing twice": what reached Slack, what reached Wati, what is still missing.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bot.devtools.harness.world import (
    AGENT,
    CHATS,
    FAILED_MARKS,
    SENT_MARKS,
    SLACK_OF,
    World,
    wait_until,
)
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_driver.prepared import Prepared
from bot.devtools.slack_standin.server import SlackStandIn
from bot.slack import blocks

# -- Slack's side: signed deliveries with Slack's retries -----------------------------------------


def post(world: World, prepared: Prepared, timeout: float = 5.0) -> httpx.Response | None:
    """Deliver a Slack request to the bridge in the world's mode; None when no answer came."""
    return world.post(prepared, timeout)


@dataclass
class Pending:
    """An Events API delivery that did not get a 2xx yet."""

    prepared: Prepared
    tries: int = 1


@dataclass
class ReplySent:
    """A teammate's thread reply as the test wrote it."""

    channel: str
    ts: str
    thread_ts: str
    number: str
    customer: str
    text: str
    delivered: bool = False
    at: float = field(default_factory=time.time)


Send = Callable[[Prepared], bool]  # deliver a signed request; True when it got a 2xx


class Traffic:
    """Customers writing on WhatsApp and teammates replying in the threads.

    Event deliveries that get no 2xx are retried the way Slack does (X-Slack-Retry-Num, up to
    three retries) when `flush` is called, i.e. once the bridge is up again.
    """

    def __init__(
        self,
        sandbox: Sandbox,
        slack: SlackStandIn,
        driver: SlackDriver,
        rng: random.Random,
        send: Send,
        chats: tuple[tuple[str, str], ...] = CHATS,
    ) -> None:
        self.sandbox = sandbox
        self.slack = slack
        self.driver = driver
        self.rng = rng
        self.send = send
        self.chats = chats
        self.said: dict[str, tuple[str, str, str]] = {}  # wati id -> number, customer, text
        self.said_at: dict[str, float] = {}  # wati id -> when the customer wrote (epoch s)
        self.replies: dict[str, ReplySent] = {}  # Slack ts -> reply
        self.pending: list[Pending] = []
        self.given_up = 0
        self.retries = 0
        self.counter = 0

    def customer_says(self, chat: tuple[str, str] | None = None, text: str | None = None) -> str:
        number, customer = chat or self.rng.choice(self.chats)
        self.counter += 1
        text = text or f"c{self.counter}-{customer[-3:]}-to-{number[-1]}"
        wati_id = self.sandbox.customer_says(number, customer, text, name=f"Cust {customer}")
        self.said[wati_id] = (number, customer, text)
        self.said_at[wati_id] = time.time()
        return wati_id

    def greet(self) -> None:
        """Every customer writes once (before the bridge starts, so no chat is found empty).

        A chat polled while it has no message at all waits for a contacts hint (once a minute)
        before it is polled again, as it should: real chats come from such hints.
        """
        for chat in self.chats:
            self.customer_says(chat)

    def open_threads(self) -> list[tuple[str, str, str, str]]:
        """(slack channel, parent ts, number, customer) of the threads a teammate would answer:
        those showing a customer's message (a parent alone may not be on the bridge's record
        yet: a reply in the millisecond between its post and its record is not relayed)."""
        found = []
        for number, channel in SLACK_OF.items():
            for message in thread_parents(self.slack, channel):
                payload = message["metadata"].get("event_payload") or {}
                replies = self.slack.replies(channel, str(message["ts"]))[1:]
                if any(
                    (r.get("metadata") or {}).get("event_type") == blocks.MESSAGE_EVENT
                    for r in replies
                ):
                    customer = str(payload["customer_number"])
                    found.append((channel, str(message["ts"]), number, customer))
        return found

    def reply(
        self, thread: tuple[str, str, str, str] | None = None, text: str | None = None
    ) -> ReplySent | None:
        """A teammate answers in a thread (None while no thread exists yet)."""
        if thread is None:
            threads = self.open_threads()
            if not threads:
                return None
            thread = self.rng.choice(threads)
        channel, parent, number, customer = thread
        self.counter += 1
        text = text or f"r{self.counter}-for-{customer[-3:]}-via-{number[-1]}"
        event = self.driver.message(channel=channel, user=AGENT, text=text, thread_ts=parent)
        self.slack.add_message(event)
        sent = ReplySent(channel, str(event["ts"]), parent, number, customer, text)
        self.replies[sent.ts] = sent
        self.deliver(self.driver.event(event))
        return sent

    def deliver(self, prepared: Prepared) -> bool:
        if self.send(prepared):
            self._mark_delivered(prepared)
            return True
        self.pending.append(Pending(prepared))
        return False

    def _mark_delivered(self, prepared: Prepared) -> None:
        event = prepared.payload.get("event") or {}
        sent = self.replies.get(str(event.get("ts")))
        if sent is not None:
            sent.delivered = True

    def flush(self) -> None:
        """Slack's retries of deliveries that failed (call when the bridge is up again)."""
        waiting, self.pending = self.pending, []
        for item in waiting:
            if item.tries > 3:
                self.given_up += 1  # Slack stops after three retries
                continue
            again = self.driver.redeliver(
                item.prepared, retry_num=item.tries, retry_reason="http_error"
            )
            self.retries += 1
            if self.send(again):
                self._mark_delivered(item.prepared)
            else:
                self.pending.append(Pending(item.prepared, item.tries + 1))

    def step(self, reply_share: float = 0.4) -> None:
        """One human action: mostly customers writing, sometimes a teammate replying."""
        if self.rng.random() < reply_share and self.reply() is not None:
            return
        self.customer_says()


def http_sender(world: World) -> Send:
    """Deliver to the running bridge as Slack does (a 2xx or an ack within 3 s counts)."""

    def send(prepared: Prepared) -> bool:
        response = post(world, prepared, timeout=3.0)
        return response is not None and 200 <= response.status_code < 300

    return send


# -- what Slack and Wati show ---------------------------------------------------------------------


def thread_parents(slack: SlackStandIn, channel: str) -> list[dict[str, Any]]:
    return [
        m
        for m in slack.messages(channel)
        if (m.get("metadata") or {}).get("event_type") == blocks.THREAD_EVENT
    ]


def relayed(slack: SlackStandIn, channel: str) -> list[tuple[str, str, str]]:
    """(wati id, text, customer of the thread) of every customer message posted in a channel."""
    found = []
    for parent in thread_parents(slack, channel):
        customer = str((parent["metadata"].get("event_payload") or {}).get("customer_number"))
        for message in slack.replies(channel, parent["ts"])[1:]:
            meta = message.get("metadata") or {}
            if meta.get("event_type") == blocks.MESSAGE_EVENT:
                wati_id = str((meta.get("event_payload") or {}).get("wati_id"))
                found.append((wati_id, str(message.get("text", "")), customer))
    return found


def problems(traffic: Traffic) -> list[str]:
    """Every broken promise, in plain words (empty when all is well)."""
    slack, sandbox = traffic.slack, traffic.sandbox
    found: list[str] = []
    # Nothing lost, nothing twice, in the right channel: by Wati id and by text.
    posted: dict[str, Counter[str]] = {}
    texts: dict[str, Counter[tuple[str, str]]] = {}
    for channel in SLACK_OF.values():
        entries = relayed(slack, channel)
        posted[channel] = Counter(wati_id for wati_id, _, _ in entries)
        texts[channel] = Counter((text, customer) for _, text, customer in entries)
    for wati_id, (number, customer, text) in traffic.said.items():
        channel = SLACK_OF[number]
        if posted[channel][wati_id] != 1:
            found.append(f"customer message {wati_id} is in Slack {posted[channel][wati_id]}x")
        if texts[channel][(text, customer)] != 1:
            found.append(f"{text!r} is in {customer}'s thread {texts[channel][(text, customer)]}x")
    for channel, counts in posted.items():
        for wati_id in counts:
            if wati_id not in traffic.said:
                found.append(f"{channel} shows {wati_id}, which no customer wrote")
    # In order: each thread shows its customer's messages in the order they were written.
    order = {wati_id: n for n, wati_id in enumerate(traffic.said)}
    for channel in SLACK_OF.values():
        for parent in thread_parents(slack, channel):
            ids = [
                str(((m.get("metadata") or {}).get("event_payload") or {}).get("wati_id"))
                for m in slack.replies(channel, parent["ts"])[1:]
            ]
            seq = [order[i] for i in ids if i in order]
            if seq != sorted(seq):
                found.append(f"a thread in {channel} shows messages out of order")
    # One thread per chat.
    for channel in SLACK_OF.values():
        parents = Counter(
            str((p["metadata"]["event_payload"] or {}).get("customer_number"))
            for p in thread_parents(slack, channel)
        )
        found.extend(
            f"{channel} has {n} threads for {customer}" for customer, n in parents.items() if n > 1
        )
    # Replies: at most once, from the thread's number, outcome shown.
    sent = sandbox.sent_by_api()
    by_text = Counter(m["text"] for m in sent)
    for m in sent:
        reply = next((r for r in traffic.replies.values() if r.text == m["text"]), None)
        if reply is None:
            found.append(f"Wati sent {m['text']!r}, which nobody wrote")
        elif (m["channel"], m["customer"]) != (reply.number, reply.customer):
            found.append(f"{m['text']!r} left from {m['channel']} to {m['customer']}")
    for reply in traffic.replies.values():
        count = by_text[reply.text]
        marks = set(slack.reactions(reply.channel, reply.ts))
        if count > 1:
            found.append(f"reply {reply.text!r} was sent {count}x")
        if not reply.delivered:
            continue  # Slack never got an answer and gave up: the bridge never saw it
        if marks & SENT_MARKS and count != 1:
            found.append(f"reply {reply.text!r} shows sent but Wati has it {count}x")
        elif marks & FAILED_MARKS and count != 0:
            found.append(f"reply {reply.text!r} shows failed but Wati has it {count}x")
        elif not marks & (SENT_MARKS | FAILED_MARKS):
            found.append(f"reply {reply.text!r} shows no outcome (marks {sorted(marks)})")
    return found


def settle(traffic: Traffic, timeout: float = 60.0) -> None:
    """Wait until every promise holds (everything relayed, every reply's outcome shown)."""
    seen: list[str] = []

    def done() -> bool:
        seen[:] = problems(traffic)
        return not seen

    wait_until(done, timeout, lambda: f"{len(seen)} problem(s): {seen[:8]}", 0.1)


@contextlib.contextmanager
def write_lock(db_path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's connection holding the database's write lock until the block ends."""
    db = sqlite3.connect(db_path, timeout=10, isolation_level=None)
    try:
        db.execute("begin immediate")
        yield db
        db.execute("rollback")
    finally:
        db.close()
