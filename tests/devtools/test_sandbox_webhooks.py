"""The sandbox sends webhooks like a live tenant: to registered URLs, twins, retries, drops."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from bot.devtools.harness.inproc import ManualClock
from bot.devtools.harness.world import wait_until
from bot.devtools.sandbox import Sandbox
from tests.kit import CHANNEL_A, CHANNEL_B

CUSTOMER = "447700900123"


class Catcher:
    """A webhook receiver on loopback that records bodies and answers the statuses it is given."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.answers: list[int] = []
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                catcher.bodies.append(json.loads(self.rfile.read(length)))
                status = catcher.answers.pop(0) if catcher.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?token=t"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def types(self) -> list[str]:
        return [b["eventType"] for b in self.bodies]


@pytest.fixture
def catcher() -> Iterator[Catcher]:
    found = Catcher()
    yield found
    found.server.shutdown()
    found.server.server_close()


def _register(sandbox: Sandbox, url: str, channel: str = CHANNEL_A) -> httpx.Response:
    types = ["message", "newContactMessageReceived"]
    body = [{"phoneNumber": channel, "url": url, "status": 1, "eventTypes": types}]
    return httpx.post(
        f"{sandbox.api_endpoint}/api/v2/webhookEndpoints",
        json=body,
        headers={"Authorization": f"Bearer {sandbox.token}"},
    )


def test_registration_answers_as_recorded(sandbox: Sandbox, catcher: Catcher) -> None:
    answer = _register(sandbox, catcher.url)
    assert answer.status_code == 200
    (made,) = answer.json()["result"]
    assert made["url"] == catcher.url and made["channelPhoneNumber"] == CHANNEL_A
    assert made["status"] == 1 and answer.json()["ok"] is True
    sandbox.webhooks.cap = 1
    over = _register(sandbox, catcher.url, CHANNEL_B)
    assert over.status_code == 400
    assert over.json() == {
        "ok": False,
        "error": "Number of Webhooks exceed limitation",
        "isOverWebhookLimit": True,
    }


def test_events_go_to_the_numbers_hooks_only(sandbox: Sandbox, catcher: Catcher) -> None:
    _register(sandbox, catcher.url, CHANNEL_B)
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "to the other number")
    wait_until(sandbox.webhooks.idle, 5, "sent")
    assert catcher.bodies == []
    first = sandbox.customer_says(CHANNEL_B, CUSTOMER, "hello", name="Ana")
    wait_until(lambda: len(catcher.bodies) == 1, 5, "the message")
    (message,) = catcher.bodies  # not the contact's first message: no new-contact event
    assert message["eventType"] == "message" and message["id"] == first
    assert message["waId"] == CUSTOMER and message["owner"] is False
    assert message["senderName"] == "Ana" and message["whatsappMessageId"]
    sandbox.customer_says(CHANNEL_B, "4915112345678", "new here", name="Cy")
    wait_until(lambda: len(catcher.bodies) == 3, 5, "message and new contact")
    assert set(catcher.types()[1:]) == {"message", "newContactMessageReceived"}


def test_business_messages_come_as_twins_and_statuses_carry_no_number(
    sandbox: Sandbox, catcher: Catcher, clock: ManualClock
) -> None:
    wanted = ["sessionMessageSent_v2", "sentMessageDELIVERED_v2", "sentMessageREAD_v2"]
    sandbox.webhooks.add(catcher.url, CHANNEL_A, wanted)
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "hi")
    httpx.post(
        f"{sandbox.api_endpoint}/api/v1/sendSessionMessage/{CUSTOMER}",
        params={"messageText": "hello back", "channelPhoneNumber": CHANNEL_A},
        headers={"Authorization": f"Bearer {sandbox.token}"},
    )
    wait_until(lambda: len(catcher.bodies) == 2, 5, "the sent twins")
    assert sorted(catcher.types()) == ["sessionMessageSent", "sessionMessageSent_v2"]
    v2 = next(b for b in catcher.bodies if b["eventType"].endswith("_v2"))
    v1 = next(b for b in catcher.bodies if not b["eventType"].endswith("_v2"))
    assert v2["localMessageId"] and "localMessageId" not in v1 and v1["id"] == v2["id"]
    clock.advance(max(sandbox.status_delays))
    wait_until(lambda: len(catcher.bodies) == 6, 5, "delivered and read, twice each")
    statuses = [b for b in catcher.bodies if b["eventType"].startswith("sentMessage")]
    assert {b["eventType"] for b in statuses} >= {"sentMessageREAD_v2", "sentMessageDELIVERED"}
    assert all("channelPhoneNumber" not in b and "waId" not in b for b in statuses)


def test_a_non_2xx_is_retried_every_retry_period(
    sandbox: Sandbox, catcher: Catcher, clock: ManualClock
) -> None:
    _register(sandbox, catcher.url)
    catcher.answers = [500, 503]
    message = sandbox.customer_says(CHANNEL_A, "4915112345678", "try me")
    wait_until(lambda: len(catcher.bodies) == 2, 5, "first try (and the new contact)")
    # The catcher has the bodies before the sandbox reads its refusals: wait for both.
    wait_until(lambda: sandbox.webhooks.pending() == 2, 5, "both waiting for the next try")
    clock.advance(sandbox.webhooks.retry_seconds)
    wait_until(lambda: len(catcher.bodies) == 4, 5, "the retries")
    tries = [b["id"] for b in catcher.bodies if b["eventType"] == "message"]
    assert tries == [message, message]
    assert sandbox.webhooks.pending() == 0


def test_events_can_be_dropped_on_demand(sandbox: Sandbox, catcher: Catcher) -> None:
    _register(sandbox, catcher.url)
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "first")
    wait_until(lambda: len(catcher.bodies) == 2, 5, "sent (with the new contact)")
    sandbox.webhooks.drop(1)
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "lost")
    third = sandbox.customer_says(CHANNEL_A, CUSTOMER, "third")
    wait_until(lambda: len(catcher.bodies) == 3, 5, "the third")
    # The catcher has the body a moment before the sender counts the call as done.
    wait_until(sandbox.webhooks.idle, 5, "the sender idle")
    assert catcher.bodies[-1]["id"] == third
