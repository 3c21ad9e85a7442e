"""v3 interactive messages in the sandbox, over loopback HTTP and through `WatiClient`: reply
buttons sent from a channel's number (`Channel:Phone`), WhatsApp's limits, the window, a plan
without them, the customer's tap, and the phone page's buttons."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.devtools.sandbox import Sandbox
from bot.wati.client import WatiClient
from bot.wati.errors import WatiRejected, WatiTicketClosed

SALES, SUPPORT = "15550000001", "15550000002"
ANA = "447700900123"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "wati.db", channels=(SALES, SUPPORT)) as sb:
        yield sb


def _send(sandbox: Sandbox, body: dict[str, Any]) -> httpx.Response:
    host = sandbox.api_endpoint.rsplit("/", 1)[0]
    return httpx.post(
        f"{host}/api/ext/v3/conversations/messages/interactive",
        json=body,
        headers={"Authorization": f"Bearer {sandbox.token}"},
    )


def _buttons(target: str, *labels: str, body: str = "Rate us") -> dict[str, Any]:
    buttons = [{"text": label} for label in labels]
    return {
        "target": target,
        "type": "buttons",
        "button_message": {"body": body, "buttons": buttons},
    }


def test_buttons_go_from_the_channel_named_in_the_target(sandbox: Sandbox) -> None:
    sandbox.customer_says(SUPPORT, ANA, "hi")
    answer = _send(sandbox, _buttons(f"{SUPPORT}:{ANA}", "Good", "Bad"))
    assert answer.status_code == 200
    message = answer.json()["message"]
    assert (message["type"], message["text"], message["owner"]) == ("interactive", "Rate us", True)
    [sent] = sandbox.sent_by_api(SUPPORT)
    assert sent["id"] == message["id"] and sandbox.sent_by_api(SALES) == []
    item = sandbox.messages(SUPPORT, ANA)[-1]
    assert item["interactiveButtons"] == ["Good", "Bad"]


@pytest.mark.parametrize(
    "body",
    [
        _buttons(f"{SALES}:{ANA}", "1", "2", "3", "4"),  # WhatsApp takes at most three
        _buttons(f"{SALES}:{ANA}", "x" * 21),
        _buttons(f"{SALES}:{ANA}", "Same", "Same"),
        _buttons(f"{SALES}:{ANA}", "Ok", body=""),
        _buttons(f"19999999999:{ANA}", "Ok"),  # not a number of the account
        {"target": f"{SALES}:{ANA}", "type": "carousel"},
    ],
)
def test_bad_interactive_messages_get_a_v3_400(sandbox: Sandbox, body: dict[str, Any]) -> None:
    sandbox.customer_says(SALES, ANA, "hi")
    answer = _send(sandbox, body)
    assert answer.status_code == 400
    assert set(answer.json()) == {"code", "message", "timestamp"}
    assert sandbox.sent_by_api() == []


def test_the_client_sends_buttons_and_counts_them(sandbox: Sandbox) -> None:
    sandbox.customer_says(SALES, ANA, "hi")
    counted: list[tuple[str, str, int]] = []
    with WatiClient(
        sandbox.api_endpoint, sandbox.token, on_sent=lambda *c: counted.append(c)
    ) as wati:
        sent = wati.send_interactive_buttons(ANA, "Rate us", ["Good", "Bad"], channel_number=SALES)
    assert sent.message_id == sandbox.sent_by_api(SALES)[0]["id"]
    assert counted == [(SALES, "session", 1)]


def test_a_solved_chat_or_a_plan_without_them_is_refused(sandbox: Sandbox) -> None:
    sandbox.customer_says(SALES, ANA, "hi")
    answers: list[tuple[str, object]] = []
    counted: list[object] = []
    with WatiClient(
        sandbox.api_endpoint,
        sandbox.token,
        on_sent=lambda *c: counted.append(c),
        on_answer=lambda name, error, _call: answers.append((name, error)),
    ) as wati:
        sandbox.close_chat(SALES, ANA)
        with pytest.raises(WatiTicketClosed):
            wati.send_interactive_buttons(ANA, "Rate us", ["Good"], channel_number=SALES)
        sandbox.api.interactive = False
        with pytest.raises(WatiRejected) as refused:
            wati.send_interactive_buttons(ANA, "Rate us", ["Good"], channel_number=SALES)
    assert refused.value.status_code == 403
    # A plan without interactive messages says nothing about the token: health is not told.
    assert [name for name, error in answers if error is not None] == []
    assert counted == []


def test_a_tap_comes_back_as_the_buttons_text(sandbox: Sandbox) -> None:
    sandbox.customer_says(SALES, ANA, "hi")
    _send(sandbox, _buttons(f"{SALES}:{ANA}", "Good", "Bad"))
    control = httpx.post(
        f"{sandbox.url}/_sandbox/api/tap", json={"channel": SALES, "customer": ANA, "text": "Bad"}
    )
    assert control.status_code == 200
    item = sandbox.messages(SALES, ANA)[-1]
    assert (item["type"], item["text"], item["owner"]) == ("text", "Bad", False)
    assert item["interactiveButtonReply"] == {"title": "Bad"}
    page = httpx.get(f"{sandbox.url}/").text
    assert "/_sandbox/api/tap" in page and "interactiveButtons" in page
