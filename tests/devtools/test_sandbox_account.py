"""The sandbox's recorded shapes beyond messages: reactions, the account's numbers, operators.

Over real loopback HTTP, as the bridge meets them (docs/WATI.md#history-items,
#account-numbers and #chats-and-contacts).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.devtools.sandbox import Sandbox

SALES, SUPPORT, BILLING = "15550000001", "15550000002", "15550000003"
ANA = "447700900123"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "wati.db", channels=(SALES, SUPPORT, BILLING)) as sb:
        yield sb


@pytest.fixture
def auth(sandbox: Sandbox) -> dict[str, str]:
    return {"Authorization": f"Bearer {sandbox.token}"}


def _items(sandbox: Sandbox, auth: dict[str, str], channel: str = SALES) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{sandbox.api_endpoint}/api/v1/getMessages/{ANA}",
        params={"channelPhoneNumber": channel},
        headers=auth,
    )
    items: list[dict[str, Any]] = response.json()["messages"]["items"]
    return items


def test_reaction_rows_are_shaped_as_recorded(sandbox: Sandbox, auth: dict[str, str]) -> None:
    sandbox.customer_says(SALES, ANA, "hi")
    sent = httpx.post(
        f"{sandbox.api_endpoint}/api/v1/sendSessionMessage/{ANA}",
        params={"messageText": "Your order shipped", "channelPhoneNumber": SALES},
        headers=auth,
    ).json()
    reaction_id = sandbox.customer_reacts(SALES, ANA, "👍")
    item = _items(sandbox, auth)[0]
    assert item["id"] == reaction_id
    assert (item["eventType"], item["type"], item["owner"], item["text"]) == (
        "message",
        "reaction",
        False,
        None,
    )
    assert item["reactionMessage"] == {
        "text": "👍",
        "key": {"id": sent["message"]["whatsappMessageId"]},
    }
    with pytest.raises(ValueError):
        sandbox.customer_reacts(SUPPORT, ANA, "👍")  # nothing to react to there


def test_control_routes_close_a_chat_and_react(sandbox: Sandbox) -> None:
    sandbox.customer_says(SALES, ANA, "hi")
    with httpx.Client(base_url=f"{sandbox.url}/_sandbox/api") as control:
        said = control.post("/react", json={"channel": SALES, "customer": ANA, "emoji": "❤️"})
        assert (
            said.status_code == 200 and sandbox.messages(SALES, ANA)[-1]["id"] == said.json()["id"]
        )
        closed = control.post("/close", json={"channel": SALES, "customer": ANA})
        assert closed.json() == {"status": "SOLVED"}
        assert sandbox.chat_status(SALES, ANA) == "SOLVED"
        unknown = control.post("/close", json={"channel": SUPPORT, "customer": ANA})
        assert unknown.status_code == 400


def test_phone_numbers_lists_every_number_default_first(
    sandbox: Sandbox, auth: dict[str, str]
) -> None:
    url = f"{sandbox.api_endpoint}/api/v2/whatsapp/phoneNumbers"
    response = httpx.get(url, headers=auth)
    assert response.status_code == 200
    numbers = response.json()
    assert isinstance(numbers, list)
    assert [n["phoneNumber"] for n in numbers] == [SALES, SUPPORT, BILLING]
    assert [n["isDefault"] for n in numbers] == [True, False, False]
    assert {"phoneNumberId", "wabaId", "channelName", "channelType", "bmId"} <= set(numbers[0])
    assert httpx.get(url).status_code == 401
    assert httpx.post(url, headers=auth).status_code == 405
    assert sandbox.calls("phoneNumbers") == 1


def test_v3_channels_leave_out_the_default_and_need_paging(
    sandbox: Sandbox, auth: dict[str, str]
) -> None:
    url = f"{sandbox.url}/api/ext/v3/channels"
    body = httpx.get(url, params={"page_number": 1, "page_size": 100}, headers=auth).json()
    assert [c["name"] for c in body["channels"]] == ["Number 2", "Number 3"]
    assert all(set(c) == {"id", "name", "channel"} for c in body["channels"])
    assert all(c["channel"] == "Whatsapp" for c in body["channels"])
    second = httpx.get(url, params={"page_number": 2, "page_size": 1}, headers=auth).json()
    assert [c["name"] for c in second["channels"]] == ["Number 3"]
    missing = httpx.get(url, params={"page_number": 1}, headers=auth)
    assert missing.status_code == 400 and set(missing.json()) == {"code", "message", "timestamp"}
    under_tenant = f"{sandbox.api_endpoint}/api/ext/v3/channels"
    assert (
        httpx.get(under_tenant, params={"page_number": 1, "page_size": 9}, headers=auth).status_code
        == 404
    )


def test_assign_operator(sandbox: Sandbox, auth: dict[str, str]) -> None:
    url = f"{sandbox.api_endpoint}/api/v1/assignOperator"

    def assign(**query: str) -> Any:
        return httpx.post(url, params=query, headers=auth).json()

    assert assign(whatsappNumber=ANA, email="sam@example.com")["result"] is False  # no chat
    sandbox.customer_says(SUPPORT, ANA, "hi")
    sandbox.add_operator("sam@example.com", "Sam Agent")
    not_operator = assign(whatsappNumber=ANA, email="ghost@example.com", channelPhoneNumber=SUPPORT)
    assert not_operator == {"result": False, "info": "Operator not found"}
    assert sandbox.assignee(SUPPORT, ANA) is None
    ok = assign(whatsappNumber=ANA, email="Sam@Example.com", channelPhoneNumber=SUPPORT)
    assert ok == {"result": True} and sandbox.assignee(SUPPORT, ANA) == "sam@example.com"
    ticket = _items(sandbox, auth, SUPPORT)[0]
    assert ticket["eventType"] == "ticket" and ticket["assignee"] == "sam@example.com"
    assert assign(whatsappNumber=ANA, channelPhoneNumber=SUPPORT) == {"result": True}
    assert sandbox.assignee(SUPPORT, ANA) is None  # back to the bot
    assert (
        assign(whatsappNumber=ANA, email="sam@example.com", channelPhoneNumber="1999")["result"]
        is False
    )
