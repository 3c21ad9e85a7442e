"""The sandbox's webhooks, sent the way live tenants send them (docs/WATI.md#webhooks).

- Registered only with `POST /{tenant}/api/v2/webhookEndpoints` (a list body); GET, PUT and
  DELETE answer 405; over `cap` webhooks the recorded 400 "Number of Webhooks exceed
  limitation"; `enabled = False` plays a plan without webhooks (403; that answer is not
  recorded, the words are a guess). `add()` is a webhook pasted into the dashboard by hand.
- Sent for the registration's number: `message` for a customer's message (plus
  `newContactMessageReceived` for a contact's very first), each with its `_bsuid` twin (the
  same id, `bsuid` and no `waId`; a customer who hides their number gets only the twin, which
  a webhook receives only when registered for it by name), and for business-side messages,
  templates and their delivery statuses a v1 twin beside each `_v2` event, in random order;
  only `_v2` carries `localMessageId`. Status events never carry a phone number, and
  `channelPhoneNumber` is in message events only with probability `channel_in_payload`.
- Any non-2xx (or no answer) is retried every `retry_seconds` of sandbox time (Wati: 10
  minutes), up to 144 tries; after 100 failures in a row the webhook turns defective (status 2).
- `drop(n)` loses the next n events (Wati misses some; a message and its `_bsuid` twin count
  as one); `jitter` seconds of random delay per
  event lets them overtake each other, `phone_twin_lag` holds a phone-keyed event back that
  long behind its `_bsuid` twin; `fail_next()` makes WhatsApp fail the next business
  message (its history item and `sentMessageFAILED_v2` say why).
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
import threading
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import render, shapes
from .base import Reply, Request, json_reply
from .state import State

PATH = "webhookEndpoints"
CAP_ERROR = {
    "ok": False,
    "error": "Number of Webhooks exceed limitation",
    "isOverWebhookLimit": True,
}
PLAN_ERROR = {"ok": False, "error": "Webhooks are not available on your current plan"}
MAX_TRIES = 144
DEFECTIVE_AFTER = 100
TWINS = {
    "sessionMessageSent_v2": "sessionMessageSent",
    "templateMessageSent_v2": "templateMessageSent",
    "sentMessageDELIVERED_v2": "sentMessageDELIVERED",
    "sentMessageREAD_v2": "sentMessageREAD",
    "sentMessageFAILED_v2": "sentMessageFAILED",
}


@dataclass
class Hook:
    """One registered webhook."""

    id: str
    channel: str
    url: str
    event_types: list[str]
    status: int = 1  # 0 disabled, 1 enabled, 2 defective
    failures: int = 0  # in a row

    def wants(self, event_type: str) -> bool:
        names = set(self.event_types)
        twin = {v: k for k, v in TWINS.items()}.get(event_type) or TWINS.get(event_type)
        return self.status == 1 and (event_type in names or twin in names)

    def as_json(self, tenant_id: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "eventTypes": self.event_types,
            "channelPhoneNumber": self.channel,
            "channelId": None,
            "status": self.status,
            "tenantId": tenant_id,
            "failedIterationCount": self.failures,
        }


@dataclass(order=True)
class Delivery:
    """One event on its way to one webhook."""

    due: float
    seq: int
    hook: Hook = field(compare=False)
    payload: dict[str, Any] = field(compare=False)
    tries: int = field(default=0, compare=False)


class Webhooks:
    """Registrations and the sending thread (started and stopped with the sandbox)."""

    def __init__(
        self, state: Callable[[], State], now: Callable[[], float], tenant_id: str
    ) -> None:
        self._state = state
        self.now = now
        self.tenant_id = tenant_id
        self.hooks: list[Hook] = []
        self.cap = 5
        self.enabled = True
        self.retry_seconds = 600.0
        self.jitter = 0.0
        self.channel_in_payload = 0.5
        # Seconds the phone-keyed event waits after its `_bsuid` twin (None: random order).
        self.phone_twin_lag: float | None = None
        # A stored file's showFile URL: webhook bodies carry that, not the data/ path.
        self.file_url: Callable[[str], str] | None = None
        self.rng = random.Random(13)
        # What was sent: (event type, message id, HTTP status or 0, try number)
        self.log: list[tuple[str, str, int, int]] = []
        self._drops = 0
        self._fail_next: str | None = None
        self._echo_refusals = 0
        self._queue: list[Delivery] = []
        self._inflight = 0
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the API ----------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        """POST creates; everything else answers 405, as on live tenants."""
        if request.method != "POST":
            return Reply(405, b"", "text/plain")
        if not self.enabled:
            return json_reply(PLAN_ERROR, 403)
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            return json_reply({"ok": False, "error": "Invalid body"}, 400)
        entries = body if isinstance(body, list) else [body]
        made = []
        for entry in entries:
            if not isinstance(entry, dict) or not entry.get("url") or not entry.get("phoneNumber"):
                return json_reply({"ok": False, "error": "url and phoneNumber are required"}, 400)
            if len(self.hooks) >= self.cap:
                return json_reply(CAP_ERROR, 400)
            if self._echo_refusals > 0:
                self._echo_refusals -= 1
                # An error that quotes the caller's URL, secret and all (a leak test's fault).
                refusal = f"Webhook url {entry['url']} did not answer the verification request"
                return json_reply({"ok": False, "error": refusal}, 400)
            types = entry.get("eventTypes") or ["message"]
            made.append(self.add(str(entry["url"]), str(entry["phoneNumber"]), list(types)))
        return json_reply({"ok": True, "result": [h.as_json(self.tenant_id) for h in made]})

    def add(self, url: str, channel: str, event_types: list[str]) -> Hook:
        """A webhook, as if created in the dashboard."""
        hook = Hook(shapes.new_id(self.now()), shapes.normalise(channel), url, event_types)
        with self._cond:
            self.hooks.append(hook)
        return hook

    def refuse_echoing_url(self, count: int = 1) -> None:
        """Refuse the next `count` registrations with an error quoting the URL (a fault for
        leak tests: a bridge must not log or show the URL's secret even then)."""
        with self._cond:
            self._echo_refusals += count

    def drop(self, count: int = 1) -> None:
        """Lose the next `count` events (whatever their type)."""
        with self._cond:
            self._drops += count

    def fail_next(self, detail: str = "Message undeliverable") -> None:
        """WhatsApp fails the next business message instead of delivering it."""
        self._fail_next = detail

    # -- events -----------------------------------------------------------------------------

    def inserted(self, row: Mapping[str, Any]) -> None:
        """A history row was added (State calls this): queue the events it makes."""
        if not self.hooks or row["event_type"] == "ticket":
            return
        row = defaultdict(lambda: None, row)  # columns the insert left to their default
        source = row["source"]
        if source == "customer":
            self._customer_twins(row["channel"], self._message(row, "message"))
            if self._first_from(row["customer"]):
                self._customer_twins(row["channel"], self._new_contact(row))
            return
        if source == "operator":
            self._send(row["channel"], self._message(row, "message"))
        kind = "templateMessageSent_v2" if row["event_type"] == "broadcastMessage" else None
        self._twins(row["channel"], self._message(row, kind or "sessionMessageSent_v2"))
        detail, self._fail_next = self._fail_next, None
        if detail is not None:
            self._mark_failed(row["id"], detail)
            failed = {"failedDetail": detail, "failedCode": 131026}
            self._twins(row["channel"], self._status(row, "FAILED", failed), at=row["clock"])
            return
        delivered, read = self._state().status_delays
        self._twins(row["channel"], self._status(row, "DELIVERED"), at=row["clock"] + delivered)
        self._twins(row["channel"], self._status(row, "READ"), at=row["clock"] + read)

    def _who(self, customer: str) -> dict[str, Any]:
        """The customer's identity fields of a 2026 payload (`waId` None when hidden)."""
        contact = self._state().contact_row(customer)
        if contact is None:
            return {"waId": customer, "bsuid": None, "username": None}
        return {
            "waId": contact["phone"],
            "bsuid": contact["bsuid"],
            "username": contact["username"],
        }

    def _message(self, row: Mapping[str, Any], event_type: str) -> dict[str, Any]:
        item = render.item_json(row, "SENT")  # type: ignore[arg-type]
        contact = self._state().contact_row(row["customer"])
        item.update(
            eventType=event_type,
            **self._who(row["customer"]),
            senderName=contact["name"] if contact is not None and not row["owner"] else None,
            whatsappMessageId=row["whatsapp_message_id"] or f"wamid.{row['id']}",
            channelId=None,
        )
        if row["owner"] or self.rng.random() < self.channel_in_payload:
            item["channelPhoneNumber"] = row["channel"]
        if row["event_type"] == "broadcastMessage":
            item.update(text=row["text"], templateName=row["template_name"])
        if row["data"] and self.file_url is not None:
            item["data"] = self.file_url(str(row["data"]))
        return item

    def _new_contact(self, row: Mapping[str, Any]) -> dict[str, Any]:
        contact = self._state().contact_row(row["customer"])
        return {
            "eventType": "newContactMessageReceived",
            "id": row["id"],
            "created": shapes.iso(row["created"]),
            **self._who(row["customer"]),
            "senderName": contact["name"] if contact is not None else None,
            "sourceId": None,
            "sourceUrl": None,
            "sourceType": 0,
        }

    def _status(
        self, row: Mapping[str, Any], status: str, more: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        # No phone number of either side: status events are matched by their ids.
        return {
            "eventType": f"sentMessage{status}_v2",
            "statusString": status.capitalize(),
            "localMessageId": row["local_message_id"],
            "id": row["id"],
            "whatsappMessageId": row["whatsapp_message_id"] or f"wamid.{row['id']}",
            "conversationId": row["conversation_id"],
            "ticketId": row["ticket_id"],
            "text": row["text"],
            "type": row["type"],
            "timestamp": str(int(row["created"])),
            **(more or {}),
        }

    def _first_from(self, customer: str) -> bool:
        with self._state()._tx() as db:
            (count,) = db.execute(
                "SELECT COUNT(*) FROM messages WHERE customer = ? AND source = 'customer'",
                (customer,),
            ).fetchone()
        return int(count) == 1

    def _mark_failed(self, message_id: str, detail: str) -> None:
        # `extra` overrides the history item's fields: getMessages shows the failure too.
        extra = {"statusString": "FAILED", "failedDetail": detail, "failedCode": 131026}
        with self._state()._tx() as db:
            db.execute(
                "UPDATE messages SET extra = ? WHERE id = ?", (json.dumps(extra), message_id)
            )

    def _customer_twins(self, channel: str, payload: dict[str, Any]) -> None:
        """A customer event keyed on the phone (when there is one) and its `_bsuid` twin
        without `waId`, the same Wati id, in random order (docs/WATI.md#bsuids-and-usernames)."""
        pair = []
        if payload.get("waId"):
            pair.append(payload)
        if payload.get("bsuid"):
            twin = {k: v for k, v in payload.items() if k != "waId"}
            twin["eventType"] = f"{payload['eventType']}_bsuid"
            pair.append(twin)
        self.rng.shuffle(pair)
        if any(self._wanted(channel, one) for one in pair) and self._take_drop(pair[0]):
            return  # Wati missed the message: neither twin comes
        lag = self.phone_twin_lag
        for one in pair:
            held = lag is not None and "waId" in one and len(pair) == 2
            self._send(channel, one, self.now() + (lag or 0.0) if held else None, droppable=False)

    def _twins(self, channel: str, payload: dict[str, Any], at: float | None = None) -> None:
        v1 = {k: v for k, v in payload.items() if k != "localMessageId"}
        v1["eventType"] = TWINS[payload["eventType"]]
        pair = [payload, v1]
        self.rng.shuffle(pair)
        for one in pair:
            self._send(channel, one, at)

    def _wanted(self, channel: str, payload: dict[str, Any]) -> list[Hook]:
        with self._cond:
            return [h for h in self.hooks if h.channel == channel and h.wants(payload["eventType"])]

    def _take_drop(self, payload: dict[str, Any]) -> bool:
        """Whether this event is one of those `drop` asked to lose (counted once)."""
        with self._cond:
            if self._drops <= 0:
                return False
            self._drops -= 1
            self.log.append((payload["eventType"], str(payload.get("id")), -1, 0))
            return True

    def _send(
        self,
        channel: str,
        payload: dict[str, Any],
        at: float | None = None,
        *,
        droppable: bool = True,
    ) -> None:
        with self._cond:
            hooks = self._wanted(channel, payload)
            if not hooks:
                return  # nobody asked for it: neither sent nor dropped
            if droppable and self._take_drop(payload):
                return
            due = (at if at is not None else self.now()) + self.rng.random() * self.jitter
            for hook in hooks:
                heapq.heappush(self._queue, Delivery(due, next(self._seq), hook, payload))
            self._cond.notify()

    # -- the sending thread ---------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def pending(self) -> int:
        """Deliveries not yet made (waiting for their time or a retry)."""
        with self._cond:
            return len(self._queue)

    def idle(self) -> bool:
        """Nothing due is waiting and nothing is being sent right now."""
        with self._cond:
            due = any(d.due <= self.now() for d in self._queue)
            return not due and self._inflight == 0

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                ready = self._queue and self._queue[0].due <= self.now()
                delivery = heapq.heappop(self._queue) if ready else None
                if delivery is None:
                    self._cond.wait(0.02)  # the sandbox clock may be moved by hand: look again
                    continue
                self._inflight += 1
            try:
                self._deliver(delivery)
            finally:
                with self._cond:
                    self._inflight -= 1

    def _deliver(self, delivery: Delivery) -> None:
        hook, payload = delivery.hook, delivery.payload
        if hook.status != 1:
            return
        delivery.tries += 1
        status = _post(hook.url, payload)
        with self._cond:
            self.log.append((payload["eventType"], str(payload.get("id")), status, delivery.tries))
            if 200 <= status < 300:
                hook.failures = 0
                return
            hook.failures += 1
            if hook.failures > DEFECTIVE_AFTER:
                hook.status = 2
            if delivery.tries < MAX_TRIES and hook.status == 1:
                delivery.due = self.now() + self.retry_seconds
                delivery.seq = next(self._seq)
                heapq.heappush(self._queue, delivery)


def _post(url: str, payload: dict[str, Any]) -> int:
    """POST one event; its HTTP status, 0 when nothing answered."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "wati-sandbox-webhooks"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return 0
