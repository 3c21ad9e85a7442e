"""The Wati sandbox's v1 API over real loopback HTTP: shapes, channels, the 24-hour rule."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.devtools.sandbox import Sandbox

SALES, SUPPORT = "15550000001", "15550000002"
ANA, BO = "447700900123", "5511987654321"
HEX24 = re.compile(r"^[0-9a-f]{24}$")
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
MESSAGE_FIELDS = {
    "id",
    "created",
    "timestamp",
    "conversationId",
    "ticketId",
    "eventType",
    "type",
    "text",
    "data",
    "owner",
    "statusString",
    "operatorName",
    "localMessageId",
    "failedDetail",
    "replyContextId",
    "whatsappMessageId",
}


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "wati.db") as sb:
        yield sb


@pytest.fixture
def wati(sandbox: Sandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {sandbox.token}"}
    with httpx.Client(base_url=f"{sandbox.api_endpoint}/api/v1", headers=headers) as client:
        yield client


def history(wati: httpx.Client, number: str, channel: str = SALES, **params: Any) -> Any:
    response = wati.get(f"/getMessages/{number}", params={"channelPhoneNumber": channel, **params})
    assert response.status_code == 200
    return response.json()


def say(wati: httpx.Client, number: str, text: str, channel: str = SALES) -> Any:
    params = {"messageText": text, "channelPhoneNumber": channel}
    response = wati.post(f"/sendSessionMessage/{number}", params=params)
    assert response.status_code == 200
    return response.json()


def template(wati: httpx.Client, number: str, body: dict[str, Any]) -> httpx.Response:
    return wati.post("/sendTemplateMessage", params={"whatsappNumber": number}, json=body)


ORDER_UPDATE = {
    "template_name": "order_update",
    "broadcast_name": "slackbridge_1",
    "parameters": [{"name": "name", "value": "Bo"}, {"name": "order_number", "value": "1001"}],
}


# -- auth and routing -----------------------------------------------------------------------


def test_every_api_call_needs_the_bearer_token(sandbox: Sandbox) -> None:
    url = f"{sandbox.api_endpoint}/api/v1/getMessageTemplates"
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": sandbox.token},
        {"Authorization": f"Bearer Bearer {sandbox.token}"},
    ):
        response = httpx.get(url, headers=headers)
        assert response.status_code == 401
        assert response.content == b""
    ok = httpx.get(url, headers={"Authorization": f"Bearer {sandbox.token}"})
    assert ok.status_code == 200
    assert sandbox.calls() == 1  # refused calls are not counted


def test_wrong_paths_give_404_and_wrong_methods_405(sandbox: Sandbox) -> None:
    auth = {"Authorization": f"Bearer {sandbox.token}"}
    root = sandbox.url
    for path in (
        f"/{sandbox.tenant_id}//api/v1/getMessageTemplates",
        "/999999/api/v1/getMessageTemplates",
        "/api/ext/v3/contacts",
        f"/{sandbox.tenant_id}/api/v1/noSuchThing",
        f"/{sandbox.tenant_id}/api/v1/getMessages",  # the number is missing
        f"/{sandbox.tenant_id}/api/v1/getMessages/{ANA}/more",
        f"/{sandbox.tenant_id}/api/v1/phoneNumbers",  # v2 and v3 calls only on their own paths
        f"/{sandbox.tenant_id}/api/v1/channels",
        f"/{sandbox.tenant_id}/api/v1/webhookEndpoints",
    ):
        assert httpx.get(root + path, headers=auth).status_code == 404, path
    url = f"{sandbox.api_endpoint}/api/v1/sendSessionMessage/{ANA}"
    assert httpx.get(url, headers=auth).status_code == 405


# -- getMessages ----------------------------------------------------------------------------


def test_get_messages_items_have_watis_shape(sandbox: Sandbox, wati: httpx.Client) -> None:
    message_id = sandbox.customer_says(SALES, ANA, "Hi, is my order shipped?", name="Ana Lima")
    body = history(wati, ANA)
    assert body["result"] == "success"
    assert body["messages"]["grandTotal"] == 2 and body["messages"]["total"] == 1
    assert {"pageNumber", "pageSize", "lastId", "sortBy"} <= set(body["messages"])
    assert set(body["link"]) >= {"pageNumber", "pageSize", "total"}
    item, ticket = body["messages"]["items"]
    assert MESSAGE_FIELDS <= set(item)
    assert item["id"] == message_id
    assert HEX24.match(item["id"]) and HEX24.match(item["conversationId"])
    assert HEX24.match(item["ticketId"])
    assert ISO_Z.match(item["created"])
    assert item["timestamp"].isdigit()
    assert abs(int(item["timestamp"]) - sandbox.now()) < 5
    assert item["eventType"] == "message" and item["type"] == "text"
    assert item["text"] == "Hi, is my order shipped?"
    assert item["owner"] is False and item["statusString"] == "SENT"  # as live tenants say
    assert item["whatsappMessageId"] is None  # history carries no wamid
    assert ticket["eventType"] == "ticket" and "Ana Lima" in ticket["eventDescription"]
    assert ticket["type"] == 0 and "owner" not in ticket and "text" not in ticket
    assert {"actor", "assignee", "topicname"} <= set(ticket)
    assert ticket["conversationId"] == item["conversationId"]


def test_extra_fields_and_types_from_the_customer(sandbox: Sandbox, wati: httpx.Client) -> None:
    sandbox.customer_says(
        SALES, ANA, "Yes", type="button", extra={"buttonReply": {"text": "Yes", "payload": "y"}}
    )
    item = history(wati, ANA)["messages"]["items"][0]
    assert item["type"] == "button"
    assert item["buttonReply"] == {"text": "Yes", "payload": "y"}


def test_no_conversation_is_result_false(sandbox: Sandbox, wati: httpx.Client) -> None:
    body = history(wati, ANA)
    assert body["result"] is False and body["info"]
    sandbox.customer_says(SALES, ANA, "hello")
    assert history(wati, ANA, channel=SUPPORT)["result"] is False
    assert history(wati, ANA, channel="19999999999")["result"] is False


def test_conversations_are_per_channel_number(sandbox: Sandbox, wati: httpx.Client) -> None:
    sandbox.customer_says(SALES, ANA, "to sales")
    sandbox.customer_says(SUPPORT, ANA, "to support")
    sales = [i.get("text") for i in history(wati, ANA)["messages"]["items"]]
    support = [i.get("text") for i in history(wati, ANA, channel=SUPPORT)["messages"]["items"]]
    assert "to sales" in sales and "to support" not in sales
    assert "to support" in support and "to sales" not in support
    assert say(wati, ANA, "from support", channel=SUPPORT)["ok"] is True
    assert [m["channel"] for m in sandbox.sent_by_api()] == [SUPPORT]
    assert sandbox.messages(SALES, ANA)[-1]["text"] == "to sales"
    # no channelPhoneNumber: the default (first) number
    default = wati.get(f"/getMessages/{ANA}").json()
    assert [i["id"] for i in default["messages"]["items"]] == [
        i["id"] for i in history(wati, ANA)["messages"]["items"]
    ]


def test_pages_are_newest_first_and_one_based(sandbox: Sandbox, wati: httpx.Client) -> None:
    ids = [sandbox.customer_says(SALES, ANA, f"message {n}") for n in range(25)]
    seen: list[str] = []
    for page in (1, 2, 3):
        body = history(wati, ANA, pageSize=10, pageNumber=page)
        assert body["messages"]["grandTotal"] == 26  # 25 messages and the opening ticket row
        assert body["link"]["pageNumber"] == page
        seen += [item["id"] for item in body["messages"]["items"]]
    assert len(seen) == 26
    assert seen[:25] == list(reversed(ids))
    assert history(wati, ANA, pageSize=10, pageNumber=4)["messages"]["items"] == []
    assert wati.get(f"/getMessages/{ANA}", params={"pageSize": "x"}).status_code == 400


# -- sendSessionMessage and the 24-hour window ------------------------------------------------


def test_session_message_success_shape_and_history(sandbox: Sandbox, wati: httpx.Client) -> None:
    sandbox.customer_says(SALES, ANA, "hi")
    body = say(wati, ANA, "Thanks, checking now\nline two")
    assert body["ok"] is True and body["result"] == "success"
    message = body["message"]
    assert message["whatsappMessageId"].startswith("wamid.")
    assert HEX24.match(message["id"]) and message["localMessageId"]
    assert message["owner"] is True and message["type"] == "text"
    assert message["status"] == 1 and message["statusString"] == "SENT"
    assert ISO_Z.match(message["created"])
    newest = history(wati, ANA)["messages"]["items"][0]
    assert newest["id"] == message["id"] and newest["owner"] is True
    assert newest["text"] == "Thanks, checking now\nline two"
    assert newest["conversationId"] == message["conversationId"]
    assert newest["localMessageId"] == message["localMessageId"]
    [sent] = sandbox.sent_by_api(SALES)
    assert (
        sent["customer"] == ANA and sent["text"].startswith("Thanks") and sent["status"] == "SENT"
    )


def test_session_message_channel_and_local_id_from_caller(
    sandbox: Sandbox, wati: httpx.Client
) -> None:
    sandbox.customer_says(SUPPORT, ANA, "hi")
    response = wati.post(
        f"/sendSessionMessage/{ANA}",
        params={"messageText": "hello", "localMessageId": "mine-1"},
        json={"channelPhoneNumber": SUPPORT},
    )
    assert response.json()["ok"] is True
    assert response.json()["message"]["localMessageId"] == "mine-1"
    assert sandbox.sent_by_api()[0]["channel"] == SUPPORT


def test_session_message_refusals(sandbox: Sandbox, wati: httpx.Client) -> None:
    sandbox.customer_says(SALES, ANA, "hi")
    in_body = wati.post(f"/sendSessionMessage/{ANA}", json={"messageText": "hello"})
    assert in_body.json() == {"result": False, "info": "message text can not be empty"}
    too_long = say(wati, ANA, "x" * 4097)
    assert too_long["result"] is False and "4096" in too_long["info"]
    assert say(wati, ANA, "x" * 4096)["ok"] is True
    assert say(wati, ANA, "hi", channel="19999999999")["result"] is False
    assert say(wati, "+44-7700", "hi")["result"] is False
    assert len(sandbox.sent_by_api()) == 1


EXPIRED = {"result": False, "message": "Ticket has been expired.", "ticketStatus": "CLOSED"}


def test_the_24_hour_window(sandbox: Sandbox, wati: httpx.Client) -> None:
    assert say(wati, BO, "hello?") == {"result": False, "info": "Invalid Conversation"}
    sandbox.customer_says(SALES, ANA, "hi")
    sandbox.advance(24 * 3600 - 1)
    assert say(wati, ANA, "still open")["ok"] is True
    sandbox.advance(2)
    assert say(wati, ANA, "too late") == EXPIRED  # HTTP 200, as live tenants answer
    assert [m["text"] for m in sandbox.sent_by_api()] == ["still open"]
    assert "too late" not in [i.get("text") for i in sandbox.messages(SALES, ANA)]
    sandbox.customer_says(SALES, ANA, "back again")
    assert say(wati, ANA, "welcome back")["ok"] is True


def test_a_solved_or_bot_closed_chat_refuses_inside_the_24_hours(
    sandbox: Sandbox, wati: httpx.Client
) -> None:
    sandbox.customer_says(SALES, ANA, "hi")
    sandbox.close_chat(SALES, ANA)  # Wati's chatbot closes it a minute later
    assert say(wati, ANA, "are you there?") == EXPIRED
    assert sandbox.window_open(SALES, ANA) and sandbox.chat_status(SALES, ANA) == "SOLVED"
    [closed] = [i for i in history(wati, ANA)["messages"]["items"] if i["eventType"] == "ticket"][
        :1
    ]
    assert closed["type"] == 1 and closed["actor"] == "Bot"
    assert closed["eventDescription"] == "The chat has been solved"
    files = {"file": ("a.jpg", b"bytes", "image/jpeg")}
    assert wati.post(f"/sendSessionFile/{ANA}", files=files).json() == EXPIRED
    reopen = {"whatsappNumber": ANA, "ticketStatus": "OPEN", "channelPhoneNumber": SALES}
    assert wati.post("/updateChatStatus", json=reopen).json() == {"result": True}
    assert say(wati, ANA, "back to you")["ok"] is True
    # Solved through the API (Slack's Resolve button), the same answer.
    wati.post("/updateChatStatus", json={**reopen, "ticketStatus": "SOLVED"})
    assert say(wati, ANA, "one more") == EXPIRED
    assert [m["text"] for m in sandbox.sent_by_api()] == ["back to you"]


def test_a_chat_opened_by_a_template_answers_broadcast(
    sandbox: Sandbox, wati: httpx.Client
) -> None:
    assert template(wati, BO, ORDER_UPDATE).json()["result"] is True
    assert say(wati, BO, "free text") == {**EXPIRED, "ticketStatus": "BROADCAST"}


def test_spam_limit_refuses_in_a_200_body(sandbox: Sandbox, wati: httpx.Client) -> None:
    sandbox.spam_limit = 3
    sandbox.customer_says(SALES, ANA, "hi")
    assert all(say(wati, ANA, f"n{n}")["ok"] for n in range(3))
    refused = say(wati, ANA, "n3")
    assert refused["result"] is False and "spam" in refused["info"].lower()
    assert say(wati, ANA, "other number", channel=SUPPORT)["result"] is False  # no chat there
    sandbox.advance(61)
    assert say(wati, ANA, "later")["ok"] is True
    assert len(sandbox.sent_by_api()) == 4


def test_status_moves_sent_delivered_read(sandbox: Sandbox, wati: httpx.Client) -> None:
    sandbox.customer_says(SALES, ANA, "hi")
    message_id = say(wati, ANA, "hello")["message"]["id"]

    def status() -> str:
        items = history(wati, ANA)["messages"]["items"]
        found = [i["statusString"] for i in items if i["id"] == message_id]
        assert found[0] == sandbox.sent_by_api()[0]["status"]
        return found[0]

    assert status() == "SENT"
    sandbox.advance(2)
    assert status() == "DELIVERED"
    sandbox.advance(2)
    assert status() == "READ"


def test_external_clock_drives_everything(tmp_path: Path) -> None:
    now = [1_780_000_000.0]
    with Sandbox(tmp_path / "w.db", clock=lambda: now[0], status_delays=(1, 5)) as sandbox:
        sandbox.customer_says(SALES, ANA, "hi")
        item = sandbox.messages(SALES, ANA)[-1]
        assert item["timestamp"] == "1780000000"
        assert item["created"] == "2026-05-28T20:26:40.001Z"  # the ticket row has .000
        sandbox.customer_says(SALES, ANA, "again")
        created = [i["created"] for i in sandbox.messages(SALES, ANA)]
        assert created == sorted(set(created))  # distinct even though the clock stood still
        with pytest.raises(RuntimeError):
            sandbox.advance(1)
        auth = {"Authorization": f"Bearer {sandbox.token}"}
        url = f"{sandbox.api_endpoint}/api/v1/sendSessionMessage/{ANA}"
        assert httpx.post(url, params={"messageText": "a"}, headers=auth).json()["ok"]
        now[0] += 1
        assert sandbox.sent_by_api()[0]["status"] == "DELIVERED"
        now[0] += 24 * 3600
        assert sandbox.sent_by_api()[0]["status"] == "READ"
        late = httpx.post(url, params={"messageText": "b"}, headers=auth).json()
        assert late["result"] is False and late["message"] == "Ticket has been expired."


def test_operator_messages_are_owner_true_but_not_api(sandbox: Sandbox, wati: httpx.Client) -> None:
    sandbox.customer_says(SALES, ANA, "hi")
    message_id = sandbox.operator_says(SALES, ANA, "typed in Wati")
    item = history(wati, ANA)["messages"]["items"][0]
    assert item["id"] == message_id and item["owner"] is True
    assert item["operatorName"] and item["eventType"] == "message"
    assert sandbox.sent_by_api() == []


# -- files and media ------------------------------------------------------------------------


def test_session_file_round_trips_through_get_media(sandbox: Sandbox, wati: httpx.Client) -> None:
    sandbox.customer_says(SALES, ANA, "send me the invoice")
    pdf = b"%PDF-1.4 fake invoice \x00\x01\x02"
    response = wati.post(
        f"/sendSessionFile/{ANA}",
        params={"caption": "Your invoice", "channelPhoneNumber": SALES},
        files={"file": ("invoice.pdf", pdf, "application/pdf")},
    )
    message_id = response.json()["result"]
    assert HEX24.match(message_id)
    item = history(wati, ANA)["messages"]["items"][0]
    assert item["id"] == message_id and item["type"] == "document" and item["owner"] is True
    assert re.match(r"^data/documents/[0-9a-f-]{36}\.pdf$", item["data"])
    assert item["text"] == "Your invoice"
    media = wati.get("/getMedia", params={"fileName": item["data"]})
    assert media.status_code == 200 and media.content == pdf
    assert media.headers["content-type"] == "application/pdf"
    anonymous = httpx.get(
        f"{sandbox.api_endpoint}/api/v1/getMedia", params={"fileName": item["data"]}
    )
    assert anonymous.status_code == 401
    assert wati.get("/getMedia", params={"fileName": "data/images/nope.jpg"}).status_code == 404
    show = httpx.get(
        f"{sandbox.api_endpoint}/api/file/showFile",
        params={"fileName": item["data"]},
        headers=wati.headers,
    )
    assert show.content == pdf


def test_session_file_kinds_and_window(sandbox: Sandbox, wati: httpx.Client) -> None:
    def send(number: str, name: str, mime: str) -> Any:
        files = {"file": (name, b"bytes", mime)}
        return wati.post(f"/sendSessionFile/{number}", files=files).json()

    assert send(ANA, "a.jpg", "image/jpeg") == {"result": False, "info": "Invalid Conversation"}
    sandbox.customer_says(SALES, ANA, "hi")
    for name, mime, kind in (
        ("a.jpg", "image/jpeg", "image"),
        ("v.mp4", "video/mp4", "video"),
        ("voice.ogg", "audio/ogg", "audio"),
    ):
        send(ANA, name, mime)
        item = history(wati, ANA)["messages"]["items"][0]
        assert item["type"] == kind and item["data"].startswith(f"data/{kind}s/")
    assert wati.post(f"/sendSessionFile/{ANA}").json()["result"] is False


def test_customer_media_is_servable(sandbox: Sandbox, wati: httpx.Client) -> None:
    path = sandbox.add_media("photo.jpg", b"\xff\xd8\xff jpeg", "image/jpeg")
    assert re.match(r"^data/images/[0-9a-f-]{36}\.jpg$", path)
    sandbox.customer_says(SALES, ANA, "look", type="image", data=path)
    item = history(wati, ANA)["messages"]["items"][0]
    assert (item["type"], item["data"], item["text"]) == ("image", path, "look")
    assert wati.get("/getMedia", params={"fileName": path}).content == b"\xff\xd8\xff jpeg"
    exact = sandbox.add_media("data/images/fixed.png", b"png", "image/png")
    assert exact == "data/images/fixed.png"
    assert wati.get("/getMedia", params={"fileName": exact}).headers["content-type"] == "image/png"


# -- templates ------------------------------------------------------------------------------


def test_template_works_outside_the_window(sandbox: Sandbox, wati: httpx.Client) -> None:
    response = template(wati, BO, {**ORDER_UPDATE, "channelNumber": SUPPORT})
    body = response.json()
    assert response.status_code == 200
    assert body["result"] is True and body["validWhatsAppNumber"] is True
    assert body["phone_number"] == BO and body["template_name"] == "order_update"
    assert body["parameteres"] == ORDER_UPDATE["parameters"]
    assert body["contact"]["wAid"] == BO and body["contact"]["contactStatus"] == "VALID"
    assert sandbox.contact(BO) is not None
    item = history(wati, BO, channel=SUPPORT)["messages"]["items"][0]
    # As on live tenants: no owner, no templateName; the name only in eventDescription.
    assert item["eventType"] == "broadcastMessage" and "owner" not in item
    assert item["templateName"] is None and '"order_update"' in item["eventDescription"]
    assert item["finalText"] == "Hello Bo, your order 1001 has shipped."
    assert item["id"] == body["model"]["ids"][0] and item["statusString"] == "SENT"
    [sent] = sandbox.sent_by_api()
    assert (sent["channel"], sent["templateName"]) == (SUPPORT, "order_update")
    assert say(wati, BO, "free text", channel=SUPPORT)["result"] is False  # still no window
    # the window closed long ago: templates still go out
    sandbox.customer_says(SALES, ANA, "hi")
    sandbox.advance(3 * 24 * 3600)
    assert template(wati, ANA, {**ORDER_UPDATE, "channel_number": SALES}).json()["result"] is True
    sandbox.advance(5)
    assert sandbox.sent_by_api(SALES)[0]["status"] == "READ"


def test_template_refusals(sandbox: Sandbox, wati: httpx.Client) -> None:
    unknown = template(wati, BO, {**ORDER_UPDATE, "template_name": "nope"})
    assert unknown.status_code == 200 and unknown.json()["result"] is False
    pending = template(wati, BO, {**ORDER_UPDATE, "template_name": "spring_sale"})
    assert pending.json()["result"] is False and "approved" in pending.json()["info"]
    wrong_channel = template(wati, BO, {**ORDER_UPDATE, "channel_number": "19999999999"})
    assert wrong_channel.json()["result"] is False
    missing = template(wati, BO, {**ORDER_UPDATE, "parameters": [{"name": "name", "value": "B"}]})
    assert missing.status_code == 400 and "order_number" in str(missing.json()["errors"])
    empty_value = [{"name": "name", "value": "B"}, {"name": "order_number", "value": ""}]
    assert template(wati, BO, {**ORDER_UPDATE, "parameters": empty_value}).status_code == 400
    no_broadcast = {k: v for k, v in ORDER_UPDATE.items() if k != "broadcast_name"}
    assert template(wati, BO, no_broadcast).status_code == 400
    bad_number = template(wati, "+1 555", ORDER_UPDATE).json()
    assert bad_number["result"] is False and bad_number["validWhatsAppNumber"] is False
    assert sandbox.sent_by_api() == [] and sandbox.contact(BO) is None


def test_template_default_channel_and_custom_templates(
    sandbox: Sandbox, wati: httpx.Client
) -> None:
    sandbox.add_template("ping", "Ping {{1}} at {{2}}")
    params = [{"name": "1", "value": "Ana"}, {"name": "2", "value": "noon"}]
    body = {"template_name": "ping", "broadcast_name": "b", "parameters": params}
    assert template(wati, ANA, body).json()["result"] is True
    assert sandbox.sent_by_api()[0]["channel"] == SALES
    assert sandbox.sent_by_api()[0]["text"] == "Ping Ana at noon"


def test_bulk_template_send(sandbox: Sandbox, wati: httpx.Client) -> None:
    good = [{"name": "name", "value": "Ana"}, {"name": "order_number", "value": "7"}]
    request = {
        "template_name": "order_update",
        "broadcast_name": "bulk_1",
        "channel_number": SUPPORT,
        "receivers": [
            {"whatsappNumber": ANA, "customParams": good},
            {"whatsappNumber": "12-34", "customParams": good},
            {"whatsappNumber": BO, "customParams": good[:1]},
        ],
    }
    response = wati.post("/sendTemplateMessages", json=request)
    # The recorded v1 answer: no receivers, the refused numbers under errors.
    assert response.status_code == 200
    assert response.json() == {
        "result": True,
        "errors": {
            "error": None,
            "invalidWhatsappNumbers": ["12-34"],
            "invalidCustomParameters": [BO],
        },
    }
    assert [(m["customer"], m["channel"]) for m in sandbox.sent_by_api()] == [(ANA, SUPPORT)]
    unknown = wati.post("/sendTemplateMessages", json={**request, "template_name": "nope"})
    assert unknown.json()["result"] is False and "nope" in unknown.json()["errors"]["error"]
    no_receivers = wati.post("/sendTemplateMessages", json={"template_name": "order_update"})
    assert no_receivers.status_code == 400


def test_get_message_templates(sandbox: Sandbox, wati: httpx.Client) -> None:
    body = wati.get("/getMessageTemplates", params={"pageSize": 2, "pageNumber": 1}).json()
    assert body["result"] == "success" and body["link"]["total"] == 3
    assert len(body["messageTemplates"]) == 2
    everything = wati.get("/getMessageTemplates").json()["messageTemplates"]
    by_name = {t["elementName"]: t for t in everything}
    assert by_name["hello_again"]["status"] == "APPROVED"
    assert by_name["spring_sale"]["status"] == "PENDING"
    order = by_name["order_update"]
    assert HEX24.match(order["id"]) and order["category"] == "UTILITY"
    assert order["language"] == {"key": "English (US)", "value": "en_US", "text": "English (US)"}
    assert [p["paramName"] for p in order["customParams"]] == ["name", "order_number"]
    assert "{{order_number}}" in order["body"] and "{{2}}" in order["bodyOriginal"]


# -- chat status ----------------------------------------------------------------------------


def test_update_chat_status(sandbox: Sandbox, wati: httpx.Client) -> None:
    def update(status: str, number: str = ANA, channel: str = SALES) -> Any:
        body = {"whatsappNumber": number, "ticketStatus": status, "channelPhoneNumber": channel}
        return wati.post("/updateChatStatus", json=body).json()

    assert update("SOLVED")["result"] is False  # no conversation yet
    sandbox.customer_says(SALES, ANA, "hi")
    sandbox.customer_says(SUPPORT, ANA, "hi")
    assert sandbox.chat_status(SALES, ANA) == "OPEN"
    assert update("SOLVED") == {"result": True}
    assert sandbox.chat_status(SALES, ANA) == "SOLVED"
    assert sandbox.chat_status(SUPPORT, ANA) == "OPEN"
    assert history(wati, ANA)["messages"]["items"][0]["eventType"] == "ticket"
    assert update("CLOSED")["result"] is False
    assert update("SOLVED", channel="19999999999")["result"] is False
    sandbox.customer_says(SALES, ANA, "one more thing")
    assert sandbox.chat_status(SALES, ANA) == "OPEN"
    assert update("PENDING")["result"] is True and update("BLOCK")["result"] is True
    with pytest.raises(KeyError):
        sandbox.chat_status(SALES, BO)


# -- contacts -------------------------------------------------------------------------------


def test_get_contacts_shape_and_filters(sandbox: Sandbox, wati: httpx.Client) -> None:
    sandbox.customer_says(SALES, ANA, "hi", name="Ana Lima")
    sandbox.customer_says(SUPPORT, BO, "oi", name="Bo Silva")
    auth_params = {"customParams": [{"name": "city", "value": "Pune"}]}
    assert wati.post(f"/updateContactAttributes/{ANA}", json=auth_params).json() == {"result": True}
    body = wati.get("/getContacts").json()
    assert body["result"] == "success" and "link" in body
    ana = next(c for c in body["contact_list"] if c["wAid"] == ANA)
    assert ana["fullName"] == "Ana Lima" and ana["firstName"] == "Ana" and ana["phone"] == ANA
    assert re.match(r"^[A-Z][a-z]{2}-\d\d-\d{4}$", ana["created"])
    assert ISO_Z.match(ana["lastUpdated"])
    assert ana["customParams"] == [{"name": "city", "value": "Pune"}]
    assert {"contactStatus", "optedIn", "isDeleted", "allowBroadcast", "teamIds"} <= set(ana)

    def names(**params: str) -> list[str]:
        return [
            c["fullName"] for c in wati.get("/getContacts", params=params).json()["contact_list"]
        ]

    assert names(name="ana") == ["Ana Lima"]
    assert names(name="55119") == ["Bo Silva"]
    assert names(attribute='[{"name":"city","operator":"contain","value":"pun"}]') == ["Ana Lima"]
    assert names(attribute='[{"name":"city","operator":"==","value":"Pune"}]') == ["Ana Lima"]
    assert names(attribute='[{"name":"city","operator":"==","value":"pune"}]') == []
    assert names(attribute='[{"name":"city","operator":"notExist"}]') == ["Bo Silva"]
    assert wati.get("/getContacts", params={"attribute": "not json"}).status_code == 400
    assert len(wati.get("/getContacts", params={"pageSize": 1}).json()["contact_list"]) == 1


def test_add_and_update_contacts(sandbox: Sandbox, wati: httpx.Client) -> None:
    added = wati.post(
        f"/addContact/{ANA}",
        json={"name": "Ana Lima", "customParams": [{"name": "tier", "value": "gold"}]},
    ).json()
    assert added["result"] is True and added["contact"]["wAid"] == ANA
    assert added["contact"]["customParams"] == [{"name": "tier", "value": "gold"}]
    again = wati.post(f"/addContact/{ANA}", json={"name": "Ana"}).json()
    assert again == {"result": False, "info": "Contact already exists"}
    unknown = wati.post(f"/updateContactAttributes/{BO}", json={"customParams": []}).json()
    assert unknown["result"] is False
    multi = wati.post(
        "/updateContactAttributesForMultiContacts",
        json={
            "contacts": [
                {"whatsappNumber": ANA, "customParams": [{"name": "tier", "value": "platinum"}]},
                {"whatsappNumber": BO, "customParams": [{"name": "tier", "value": "x"}]},
            ]
        },
    ).json()
    assert multi["result"] is True and multi["errors"][0]["whatsappNumber"] == BO
    contact = sandbox.contact(ANA)
    assert contact is not None
    assert contact["customParams"] == [{"name": "tier", "value": "platinum"}]
    assert sandbox.contact(BO) is None


def test_control_routes_answer_from_their_table(sandbox: Sandbox) -> None:
    control = sandbox.url + "/_sandbox/api"
    assert httpx.get(sandbox.url + "/").headers["Content-Type"].startswith("text/html")
    assert httpx.get(control + "/state/").status_code == 200  # a trailing slash is the same
    for unknown in (httpx.get(control + "/nothing"), httpx.get(control + "/say")):
        assert (unknown.status_code, unknown.json()) == (404, {"error": "no such route"})
    missing = httpx.post(control + "/say", json={"customer": ANA, "text": "hi"})
    assert (missing.status_code, missing.json()) == (400, {"error": "channel"})
    not_json = httpx.post(control + "/say", content=b"[1]")
    assert not_json.status_code == 400 and "JSON object" in not_json.json()["error"]
