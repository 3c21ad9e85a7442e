"""The sandbox models 2026 customers (docs/WATI.md#bsuids-and-usernames, #status-events, #the-v3-conversation-list): phoneless customers
known by a BSUID, `_bsuid` webhook twins, a phone appearing later, the v3 conversation list."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bot.devtools.harness.inproc import ManualClock
from bot.devtools.harness.world import wait_until
from bot.devtools.sandbox import Sandbox
from tests.devtools.test_sandbox_webhooks import Catcher, catcher  # noqa: F401 - fixture
from tests.kit import CHANNEL_A, CHANNEL_B

PHONE = "447700900123"


def _get(sandbox: Sandbox, path: str, root: bool = False, **params: Any) -> httpx.Response:
    base = sandbox.url if root else sandbox.api_endpoint
    return httpx.get(
        f"{base}{path}", params=params, headers={"Authorization": f"Bearer {sandbox.token}"}
    )


def _post(sandbox: Sandbox, path: str, **params: Any) -> httpx.Response:
    return httpx.post(
        f"{sandbox.api_endpoint}{path}",
        params=params,
        headers={"Authorization": f"Bearer {sandbox.token}"},
    )


def test_a_phoneless_customer_is_listed_read_and_answered_by_bsuid(sandbox: Sandbox) -> None:
    bsuid = sandbox.phoneless("bob_rivers", name="Bob")
    assert bsuid.startswith("US.") and bsuid[3:].isdigit()
    first = sandbox.customer_says(CHANNEL_A, bsuid, "hello, no number here")
    (listed,) = _get(sandbox, "/api/v1/getContacts").json()["contact_list"]
    assert listed["wAid"] == "" and listed["phone"] is None
    assert listed["bsuid"] == bsuid and listed["username"] == "bob_rivers" and listed["id"]
    by_bsuid = _get(sandbox, f"/api/v1/getMessages/{bsuid}", channelPhoneNumber=CHANNEL_A)
    by_id = _get(sandbox, f"/api/v1/getMessages/{listed['id']}", channelPhoneNumber=CHANNEL_A)
    for answer in (by_bsuid, by_id):
        items = answer.json()["messages"]["items"]
        assert first in [i["id"] for i in items]
    sent = _post(
        sandbox,
        f"/api/v1/sendSessionMessage/{bsuid}",
        messageText="hi Bob",
        channelPhoneNumber=CHANNEL_A,
    )
    assert sent.json()["result"] == "success"
    assert sandbox.sent_by_api()[0]["customer"] == bsuid
    # The digits of a BSUID are not a phone number: nobody is there.
    digits = bsuid.split(".")[1][:15]
    none = _get(sandbox, f"/api/v1/getMessages/{digits}", channelPhoneNumber=CHANNEL_A)
    assert none.json()["result"] is False


def test_a_phone_that_appears_later_names_the_same_customer(sandbox: Sandbox) -> None:
    bsuid = sandbox.phoneless("ana_p")
    sandbox.customer_says(CHANNEL_A, bsuid, "one")
    sandbox.reveal_phone(bsuid, PHONE)
    sandbox.customer_says(CHANNEL_A, PHONE, "two")
    (listed,) = _get(sandbox, "/api/v1/getContacts").json()["contact_list"]
    assert listed["wAid"] == PHONE and listed["bsuid"] == bsuid
    items = _get(sandbox, f"/api/v1/getMessages/{PHONE}", channelPhoneNumber=CHANNEL_A).json()
    texts = [i.get("text") for i in items["messages"]["items"]]
    assert "one" in texts and "two" in texts


def test_customer_messages_come_with_bsuid_twins(sandbox: Sandbox, catcher: Catcher) -> None:  # noqa: F811
    sandbox.webhooks.add(
        catcher.url, CHANNEL_A, ["message", "message_bsuid", "newContactMessageReceived"]
    )
    sandbox.customer_says(CHANNEL_A, PHONE, "seed")  # first message: new-contact event too
    wait_until(lambda: len(catcher.bodies) == 3, 5, "message, its twin, new contact")
    catcher.bodies.clear()
    said = sandbox.customer_says(CHANNEL_A, PHONE, "with a phone")
    wait_until(lambda: len(catcher.bodies) == 2, 5, "both twins")
    by_type = {b["eventType"]: b for b in catcher.bodies}
    assert by_type["message"]["waId"] == PHONE and by_type["message"]["bsuid"]
    twin = by_type["message_bsuid"]
    assert "waId" not in twin and twin["id"] == said == by_type["message"]["id"]
    catcher.bodies.clear()
    bsuid = sandbox.phoneless("cy")
    hidden = sandbox.customer_says(CHANNEL_A, bsuid, "no phone")
    wait_until(lambda: len(catcher.bodies) == 1, 5, "only the twin")
    (only,) = catcher.bodies
    assert only["eventType"] == "message_bsuid" and only["id"] == hidden
    assert only["bsuid"] == bsuid and only["username"] == "cy" and "waId" not in only


def test_v3_conversation_list_newest_first_with_the_channel(
    sandbox: Sandbox, clock: ManualClock
) -> None:
    bsuid = sandbox.phoneless("dee")
    sandbox.customer_says(CHANNEL_A, PHONE, "older")
    clock.advance(1)
    sandbox.customer_says(CHANNEL_B, bsuid, "newer")
    answer = _get(
        sandbox, "/api/ext/v3/conversations", root=True, page_number=1, page_size=10
    ).json()
    first, second = answer["conversations"]
    assert first["channel_phone_number"] == CHANNEL_B and first["contact"]["bsuid"] == bsuid
    assert first["contact"]["wa_id"] is None
    assert second["channel_phone_number"] == CHANNEL_A and second["contact"]["wa_id"] == PHONE
    one = _get(
        sandbox,
        "/api/ext/v3/conversations",
        root=True,
        page_number=1,
        page_size=10,
        channel=CHANNEL_A,
    ).json()
    assert [c["contact"]["wa_id"] for c in one["conversations"]] == [PHONE]
    bad = _get(sandbox, "/api/ext/v3/conversations", root=True, page_number=0, page_size=10)
    assert bad.status_code == 400


@pytest.mark.parametrize("status", [404, 403])
def test_v3_conversation_list_can_be_refused(sandbox: Sandbox, status: int) -> None:
    sandbox.api.v3_conversations = status
    answer = _get(sandbox, "/api/ext/v3/conversations", root=True, page_number=1, page_size=5)
    assert answer.status_code == status
