"""WatiClient against httpx.MockTransport: request shapes, parsing and every failure path."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from bot.wati.client import WatiClient
from bot.wati.errors import (
    WatiAuthError,
    WatiBadResponse,
    WatiError,
    WatiRateLimited,
    WatiRejected,
    WatiUnavailable,
    WatiWindowClosed,
)
from bot.wati.types import Contact

ENDPOINT = "https://live-mt-server.wati.io/123456"
TOKEN = "tok-SECRET-abc123"
CUSTOMER = "85264318721"
CHANNEL = "15551234567"

Handler = Callable[[httpx.Request], httpx.Response]


def reply(
    body: Any = None,
    *,
    status: int = 200,
    text: str | None = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Handler:
    """A handler answering every request with the same response."""

    def handler(request: httpx.Request) -> httpx.Response:
        if content is not None:
            return httpx.Response(status, content=content, headers=headers)
        if text is not None:
            return httpx.Response(status, text=text, headers=headers)
        if body is None:
            return httpx.Response(status, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler


def raising(exc_type: type[httpx.TransportError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("boom", request=request)

    return handler


class Wati:
    """A WatiClient on a MockTransport, with the requests and on_call names it saw."""

    def __init__(self, handler: Handler, *, endpoint: str = ENDPOINT, token: str = TOKEN) -> None:
        self.requests: list[httpx.Request] = []
        self.calls: list[str] = []
        self.handler = handler

        def record(request: httpx.Request) -> httpx.Response:
            request.read()
            self.requests.append(request)
            return self.handler(request)

        self.client = WatiClient(
            endpoint, token, transport=httpx.MockTransport(record), on_call=self.calls.append
        )

    @property
    def request(self) -> httpx.Request:
        assert len(self.requests) == 1
        return self.requests[0]


@pytest.fixture
def make() -> Iterator[Callable[..., Wati]]:
    made: list[Wati] = []

    def factory(handler: Handler, **kwargs: Any) -> Wati:
        wati = Wati(handler, **kwargs)
        made.append(wati)
        return wati

    yield factory
    for wati in made:
        wati.client.close()


def query(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params)


def payload(request: httpx.Request) -> Any:
    assert request.headers["Content-Type"] == "application/json"
    return json.loads(request.content)


def assert_common(wati: Wati, method: str, path: str, name: str) -> httpx.Request:
    request = wati.request
    assert request.method == method
    assert request.url.scheme == "https"
    assert request.url.host == "live-mt-server.wati.io"
    assert request.url.path == "/123456/api/v1/" + path
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert wati.calls == [name]
    return request


SENT_OK = {
    "ok": True,
    "result": "success",
    "message": {
        "whatsappMessageId": "wamid.HBgLOTE5ODc2",
        "localMessageId": "local-1",
        "id": "65f0c1a2b3c4d5e6f7a8b9c2",
        "statusString": "Sent",
        "created": "2026-06-02T18:30:00.000Z",
    },
}


# -- one entry per public call, for the failure-shape tests ------------------------------------

CallFn = Callable[[WatiClient], object]

CALLS: list[tuple[str, bool, CallFn]] = [
    ("getMessages", False, lambda c: c.get_messages(CUSTOMER, channel_number=CHANNEL)),
    (
        "sendSessionMessage",
        True,
        lambda c: c.send_session_message(CUSTOMER, "hi", channel_number=CHANNEL),
    ),
    (
        "sendSessionFile",
        True,
        lambda c: c.send_session_file(
            CUSTOMER,
            filename="a.pdf",
            content=b"%PDF",
            content_type="application/pdf",
            channel_number=CHANNEL,
        ),
    ),
    (
        "sendTemplateMessage",
        True,
        lambda c: c.send_template_message(
            CUSTOMER, "hello", {"name": "Ana"}, channel_number=CHANNEL, broadcast_name="b"
        ),
    ),
    (
        "sendTemplateMessages",
        True,
        lambda c: c.send_template_messages(
            "hello", [(CUSTOMER, {"name": "Ana"})], channel_number=CHANNEL, broadcast_name="b"
        ),
    ),
    ("getMessageTemplates", False, lambda c: c.get_message_templates()),
    (
        "updateChatStatus",
        True,
        lambda c: c.update_chat_status(CUSTOMER, "SOLVED", channel_number=CHANNEL),
    ),
    ("getContacts", False, lambda c: c.get_contacts()),
    ("addContact", True, lambda c: c.add_contact(CUSTOMER, name="Ana")),
    (
        "updateContactAttributes",
        True,
        lambda c: c.update_contact_attributes(CUSTOMER, {"city": "Pune"}),
    ),
    (
        "updateContactAttributesForMultiContacts",
        True,
        lambda c: c.update_contact_attributes_for_multi_contacts([(CUSTOMER, {"city": "Pune"})]),
    ),
    ("getMedia", False, lambda c: c.get_media("data/images/x.jpg")),
]
CALL_IDS = [name for name, _, _ in CALLS]
JSON_CALLS = [call for call in CALLS if call[0] != "getMedia"]
JSON_IDS = [name for name, _, _ in JSON_CALLS]


@pytest.mark.parametrize(("name", "write", "call"), CALLS, ids=CALL_IDS)
def test_401_with_empty_body_is_auth_error(make, name, write, call):
    wati = make(reply(status=401))
    with pytest.raises(WatiAuthError) as info:
        call(wati.client)
    assert info.value.status_code == 401
    assert info.value.endpoint == name
    assert "401" in info.value.reason
    assert wati.calls == [name]
    assert wati.request.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(("name", "write", "call"), CALLS, ids=CALL_IDS)
def test_401_with_plain_text_body_is_auth_error(make, name, write, call):
    wati = make(reply(status=401, text="Unauthorized: token expired"))
    with pytest.raises(WatiAuthError) as info:
        call(wati.client)
    assert "token expired" in info.value.reason
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize(("name", "write", "call"), CALLS, ids=CALL_IDS)
def test_403_is_auth_error(make, name, write, call):
    wati = make(reply({"message": "Missing scope conversations:write"}, status=403))
    with pytest.raises(WatiAuthError) as info:
        call(wati.client)
    assert info.value.status_code == 403
    assert "conversations:write" in info.value.reason


@pytest.mark.parametrize(("name", "write", "call"), CALLS, ids=CALL_IDS)
def test_429_with_retry_after_seconds(make, name, write, call):
    wati = make(reply(status=429, text="Too Many Requests", headers={"Retry-After": "7"}))
    with pytest.raises(WatiRateLimited) as info:
        call(wati.client)
    assert info.value.retry_after == 7.0
    assert info.value.status_code == 429
    assert info.value.endpoint == name


@pytest.mark.parametrize(("name", "write", "call"), CALLS, ids=CALL_IDS)
def test_429_without_retry_after(make, name, write, call):
    wati = make(reply(status=429))
    with pytest.raises(WatiRateLimited) as info:
        call(wati.client)
    assert info.value.retry_after is None


@pytest.mark.parametrize(("name", "write", "call"), CALLS, ids=CALL_IDS)
def test_500_is_unavailable_and_maybe_sent_for_writes(make, name, write, call):
    wati = make(reply(status=500, text="Internal Server Error"))
    with pytest.raises(WatiUnavailable) as info:
        call(wati.client)
    assert info.value.status_code == 500
    assert info.value.maybe_sent is write


@pytest.mark.parametrize(("name", "write", "call"), CALLS, ids=CALL_IDS)
def test_timeout_is_unavailable_and_maybe_sent_for_writes(make, name, write, call):
    wati = make(raising(httpx.ReadTimeout))
    with pytest.raises(WatiUnavailable) as info:
        call(wati.client)
    assert info.value.status_code is None
    assert info.value.maybe_sent is write
    assert info.value.endpoint == name


@pytest.mark.parametrize(("name", "write", "call"), CALLS, ids=CALL_IDS)
def test_connection_reset_is_unavailable_and_maybe_sent_for_writes(make, name, write, call):
    wati = make(raising(httpx.ReadError))
    with pytest.raises(WatiUnavailable) as info:
        call(wati.client)
    assert info.value.maybe_sent is write


@pytest.mark.parametrize(("name", "write", "call"), CALLS, ids=CALL_IDS)
def test_connect_error_is_unavailable_and_certainly_not_sent(make, name, write, call):
    # A failed connect means the request never left, so even a write can be retried safely.
    for exc_type in (httpx.ConnectError, httpx.ConnectTimeout):
        wati = make(raising(exc_type))
        with pytest.raises(WatiUnavailable) as info:
            call(wati.client)
        assert info.value.maybe_sent is False


@pytest.mark.parametrize(("name", "write", "call"), JSON_CALLS, ids=JSON_IDS)
def test_malformed_json_is_bad_response(make, name, write, call):
    wati = make(reply(content=b'{"result": tru', headers={"Content-Type": "application/json"}))
    with pytest.raises(WatiBadResponse) as info:
        call(wati.client)
    assert info.value.endpoint == name
    assert info.value.maybe_sent is write


@pytest.mark.parametrize(("name", "write", "call"), JSON_CALLS, ids=JSON_IDS)
def test_json_that_is_not_an_object_is_bad_response(make, name, write, call):
    wati = make(reply(["not", "an", "object"]))
    with pytest.raises(WatiBadResponse):
        call(wati.client)


@pytest.mark.parametrize(("name", "write", "call"), CALLS, ids=CALL_IDS)
def test_other_4xx_is_rejected_with_the_body_reason(make, name, write, call):
    wati = make(reply({"info": "Template parameter missing"}, status=400))
    with pytest.raises(WatiRejected) as info:
        call(wati.client)
    assert info.value.reason == "Template parameter missing"
    assert info.value.status_code == 400
    assert not isinstance(info.value, WatiWindowClosed)


@pytest.mark.parametrize(("name", "write", "call"), CALLS, ids=CALL_IDS)
def test_404_without_body_is_rejected(make, name, write, call):
    wati = make(reply(status=404))
    with pytest.raises(WatiRejected) as info:
        call(wati.client)
    assert info.value.status_code == 404
    assert "404" in info.value.reason


@pytest.mark.parametrize(("name", "write", "call"), CALLS, ids=CALL_IDS)
def test_on_call_runs_once_before_each_request(make, name, write, call):
    seen_at_request: list[list[str]] = []
    wati = make(reply(status=500))

    def handler(request: httpx.Request) -> httpx.Response:
        seen_at_request.append(list(wati.calls))
        return httpx.Response(500)

    wati.handler = handler
    with pytest.raises(WatiUnavailable):
        call(wati.client)
    assert wati.calls == [name]
    assert seen_at_request == [[name]]


@pytest.mark.parametrize(("name", "write", "call"), CALLS, ids=CALL_IDS)
def test_on_call_exceptions_propagate_and_stop_the_request(name, write, call):
    sent: list[httpx.Request] = []

    class Budget(Exception):
        pass

    def on_call(endpoint: str) -> None:
        raise Budget(endpoint)

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    with WatiClient(
        ENDPOINT, TOKEN, transport=httpx.MockTransport(handler), on_call=on_call
    ) as client:
        with pytest.raises(Budget, match=name):
            call(client)
    assert sent == []


def test_error_str_names_the_endpoint_and_is_a_wati_error(make):
    wati = make(reply({"result": False, "info": "Invalid Conversation"}))
    with pytest.raises(WatiError) as info:
        wati.client.send_session_message(CUSTOMER, "hello", channel_number=CHANNEL)
    assert str(info.value) == "sendSessionMessage: Invalid Conversation"


# -- construction --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token", ["tok-SECRET-abc123", "Bearer tok-SECRET-abc123", "  bearer   tok-SECRET-abc123\n"]
)
def test_token_is_normalised(make, token):
    wati = make(reply(status=404), token=token)
    with pytest.raises(WatiRejected):
        wati.client.get_message_templates()
    assert wati.request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_bearer_xyz_token_sends_a_single_bearer(make):
    wati = make(reply({"messageTemplates": []}), token="Bearer xyz")
    wati.client.get_message_templates()
    assert wati.request.headers["Authorization"] == "Bearer xyz"


@pytest.mark.parametrize("endpoint", [ENDPOINT + "/", ENDPOINT + "//", " " + ENDPOINT + "/ "])
def test_trailing_slashes_never_give_a_double_slash(make, endpoint):
    wati = make(reply({"messageTemplates": []}), endpoint=endpoint)
    wati.client.get_message_templates()
    assert str(wati.request.url).startswith(ENDPOINT + "/api/v1/getMessageTemplates?")
    assert "//api" not in str(wati.request.url)


@pytest.mark.parametrize(
    "endpoint", ["", "live-mt-server.wati.io/123", "ftp://x/1", "https://", "https://host:abc/1"]
)
def test_bad_endpoint_is_refused(endpoint):
    with pytest.raises(ValueError):
        WatiClient(endpoint, TOKEN)


@pytest.mark.parametrize("token", ["", "   ", "Bearer ", "bearer  "])
def test_empty_token_is_refused(token):
    with pytest.raises(ValueError):
        WatiClient(ENDPOINT, token)


def test_timeout_is_applied_to_every_request(make):
    wati = make(reply({"messageTemplates": []}))
    wati.client.get_message_templates()
    assert wati.request.extensions["timeout"] == httpx.Timeout(15.0).as_dict()


def test_context_manager_closes_the_client():
    with WatiClient(ENDPOINT, TOKEN, transport=httpx.MockTransport(reply({}))) as client:
        pass
    with pytest.raises(RuntimeError):
        client.get_message_templates()


# -- phone numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number", ["+1 415-555-0100", "14155550100", "+1 (415) 555 0100", "1.415.555.0100"]
)
def test_numbers_are_normalised_to_digits(make, number):
    wati = make(reply({"result": False, "info": "no conversation"}))
    wati.client.get_messages(number, channel_number="+1 (555) 123-4567")
    assert wati.request.url.path.endswith("/getMessages/14155550100")
    assert query(wati.request)["channelPhoneNumber"] == "15551234567"


def test_numbers_are_normalised_in_bodies(make):
    wati = make(reply({"result": True}))
    wati.client.update_chat_status("+1 415-555-0100", "OPEN", channel_number="+1 555 123 4567")
    assert payload(wati.request) == {
        "whatsappNumber": "14155550100",
        "ticketStatus": "OPEN",
        "channelPhoneNumber": "15551234567",
    }


@pytest.mark.parametrize("number", ["", "  ", "+", "(-)", "abc", "41a5", "1234567890123456"])
@pytest.mark.parametrize(("name", "write", "call"), CALLS[:5], ids=CALL_IDS[:5])
def test_bad_numbers_are_refused_before_any_call(make, number, name, write, call):
    wati = make(reply({}))
    with pytest.raises(ValueError):
        call_with_number(wati.client, name, number)
    assert wati.requests == []
    assert wati.calls == []


def call_with_number(client: WatiClient, name: str, number: str) -> object:
    if name == "getMessages":
        return client.get_messages(number, channel_number=CHANNEL)
    if name == "sendSessionMessage":
        return client.send_session_message(CUSTOMER, "hi", channel_number=number)
    if name == "sendSessionFile":
        return client.send_session_file(
            number, filename="a", content=b"x", content_type="text/plain", channel_number=CHANNEL
        )
    if name == "sendTemplateMessage":
        return client.send_template_message(
            number, "t", {}, channel_number=CHANNEL, broadcast_name="b"
        )
    return client.send_template_messages(
        "t", [(CUSTOMER, {}), (number, {})], channel_number=CHANNEL, broadcast_name="b"
    )


# -- getMessages ---------------------------------------------------------------------------------


HISTORY = {
    "result": "success",
    "messages": {
        "items": [
            {
                "id": "m3",
                "created": "2026-06-02T18:25:01.120Z",
                "conversationId": "c1",
                "eventType": "broadcastMessage",
                "finalText": "Hello Ana, your order 1001 has shipped.",
                "statusString": "DELIVERED",
                "owner": True,
            },
            {
                "id": "m2",
                "created": "2022-10-14T05:53:01.3833674Z",
                "conversationId": "c1",
                "eventType": "message",
                "type": "image",
                "text": "caption",
                "data": "data/images/abc.jpg",
                "timestamp": "1665726781",
                "owner": False,
                "statusString": "read",
                "operatorName": None,
                "localMessageId": None,
                "failedDetail": None,
            },
            {"id": "m1", "timestamp": "1665726000", "eventType": "ticket", "owner": "false"},
            {"id": "m4", "created": None, "timestamp": 1665726900123, "type": "text", "text": "ms"},
            {"created": "2026-06-02T18:25:01Z", "text": "no id"},
            {"id": "m5", "created": "not a date"},
            "garbage",
            {
                "id": "m6",
                "created": "2026-06-03T00:00:00Z",
                "eventType": "message",
                "type": "text",
                "text": "failed one",
                "owner": True,
                "statusString": "FAILED",
                "failedDetail": "Re-engagement message",
                "operatorName": "Agent",
                "localMessageId": "local-9",
            },
        ]
    },
    "link": {},
}


def test_get_messages_request_shape(make):
    wati = make(reply(HISTORY))
    wati.client.get_messages(CUSTOMER, channel_number=CHANNEL, page_size=20, page_number=3)
    request = assert_common(wati, "GET", f"getMessages/{CUSTOMER}", "getMessages")
    assert query(request) == {"pageSize": "20", "pageNumber": "3", "channelPhoneNumber": CHANNEL}
    assert request.content == b""


def test_get_messages_parses_sorts_and_counts(make):
    wati = make(reply(HISTORY))
    page = wati.client.get_messages(CUSTOMER, channel_number=CHANNEL, page_size=8)
    assert [m.id for m in page.items] == ["m1", "m2", "m4", "m3", "m6"]
    assert page.malformed == 3
    assert page.raw_count == 8
    assert (page.page_number, page.page_size) == (1, 8)
    assert page.has_more is True

    ticket, image, by_ms, broadcast, failed = page.items
    assert ticket.created == datetime(2022, 10, 14, 5, 40, tzinfo=UTC)
    assert ticket.event_type == "ticket"
    assert ticket.owner is False
    assert ticket.type == ""
    assert ticket.text is None

    assert image.created == datetime(2022, 10, 14, 5, 53, 1, 383367, tzinfo=UTC)
    assert image.created.tzinfo is UTC
    assert (image.type, image.text, image.data) == ("image", "caption", "data/images/abc.jpg")
    assert image.status == "READ"
    assert image.conversation_id == "c1"
    assert image.raw["timestamp"] == "1665726781"

    assert by_ms.created == datetime(2022, 10, 14, 5, 55, 0, 123000, tzinfo=UTC)
    assert by_ms.event_type == "message"

    assert broadcast.event_type == "broadcastMessage"
    assert broadcast.text == "Hello Ana, your order 1001 has shipped."
    assert broadcast.owner is True
    assert broadcast.status == "DELIVERED"

    assert failed.status == "FAILED"
    assert failed.failed_detail == "Re-engagement message"
    assert failed.operator_name == "Agent"
    assert failed.local_message_id == "local-9"


def test_get_messages_short_page_has_no_more(make):
    wati = make(reply({"result": True, "messages": {"items": [HISTORY["messages"]["items"][0]]}}))
    page = wati.client.get_messages(CUSTOMER, channel_number=CHANNEL, page_size=50)
    assert page.raw_count == 1
    assert page.has_more is False


def test_get_messages_result_false_is_an_empty_page(make):
    wati = make(reply({"result": False, "info": "Conversation not found"}))
    page = wati.client.get_messages(CUSTOMER, channel_number=CHANNEL, page_number=2)
    assert page.items == []
    assert (page.malformed, page.raw_count, page.page_number, page.page_size) == (0, 0, 2, 50)
    assert page.has_more is False


@pytest.mark.parametrize(
    "body", [{"result": "success"}, {"messages": {"items": None}}, {"messages": "x"}]
)
def test_get_messages_without_items_is_bad_response(make, body):
    wati = make(reply(body))
    with pytest.raises(WatiBadResponse) as info:
        wati.client.get_messages(CUSTOMER, channel_number=CHANNEL)
    assert info.value.maybe_sent is False


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        ("2022-10-14T05:53:01.3833674Z", datetime(2022, 10, 14, 5, 53, 1, 383367, tzinfo=UTC)),
        ("2022-10-14T05:53:01.38336741Z", datetime(2022, 10, 14, 5, 53, 1, 383367, tzinfo=UTC)),
        ("2026-06-02T18:23:35.908Z", datetime(2026, 6, 2, 18, 23, 35, 908000, tzinfo=UTC)),
        ("2026-06-02T18:23:35Z", datetime(2026, 6, 2, 18, 23, 35, tzinfo=UTC)),
        ("2026-06-02T18:23:35", datetime(2026, 6, 2, 18, 23, 35, tzinfo=UTC)),
        ("2026-06-02T20:23:35.5+02:00", datetime(2026, 6, 2, 18, 23, 35, 500000, tzinfo=UTC)),
        ("1780424615", datetime.fromtimestamp(1780424615, tz=UTC)),
        ("1780424615123", datetime.fromtimestamp(1780424615.123, tz=UTC)),
    ],
)
def test_created_formats(make, created, expected):
    wati = make(reply({"messages": {"items": [{"id": "x", "created": created}]}}))
    (message,) = wati.client.get_messages(CUSTOMER, channel_number=CHANNEL).items
    assert message.created == expected
    assert message.created.utcoffset() == timedelta(0)


def test_page_arguments_are_checked(make):
    wati = make(reply({}))
    with pytest.raises(ValueError):
        wati.client.get_messages(CUSTOMER, channel_number=CHANNEL, page_size=0)
    with pytest.raises(ValueError):
        wati.client.get_contacts(page_number=-1)
    assert wati.requests == []


# -- sendSessionMessage --------------------------------------------------------------------------


def test_send_session_message_request_shape(make):
    wati = make(reply(SENT_OK))
    text = "Thanks & welcome!\nLine two + more"
    wati.client.send_session_message(
        "+852 6431-8721", text, channel_number=CHANNEL, local_message_id="local-1"
    )
    request = assert_common(wati, "POST", f"sendSessionMessage/{CUSTOMER}", "sendSessionMessage")
    assert query(request) == {
        "messageText": text,
        "channelPhoneNumber": CHANNEL,
        "localMessageId": "local-1",
    }
    assert payload(request) == {"channelPhoneNumber": CHANNEL}
    assert "%0A" in str(request.url)  # the newline is encoded in the query string


def test_send_session_message_without_local_id_leaves_it_out(make):
    wati = make(reply(SENT_OK))
    wati.client.send_session_message(CUSTOMER, "hi", channel_number=CHANNEL)
    assert "localMessageId" not in query(wati.request)


def test_send_session_message_success(make):
    wati = make(reply(SENT_OK))
    result = wati.client.send_session_message(CUSTOMER, "hi", channel_number=CHANNEL)
    assert result.message_id == "65f0c1a2b3c4d5e6f7a8b9c2"
    assert result.whatsapp_message_id == "wamid.HBgLOTE5ODc2"
    assert result.local_message_id == "local-1"
    assert result.status == "SENT"


def test_send_session_message_minimal_success_keeps_our_local_id(make):
    wati = make(reply({"result": True}))
    result = wati.client.send_session_message(
        CUSTOMER, "hi", channel_number=CHANNEL, local_message_id="mine"
    )
    assert result.message_id is None
    assert result.local_message_id == "mine"
    assert result.status is None


def test_invalid_conversation_is_window_closed(make):
    wati = make(reply({"result": False, "info": "Invalid Conversation"}))
    with pytest.raises(WatiWindowClosed) as info:
        wati.client.send_session_message(CUSTOMER, "hi", channel_number=CHANNEL)
    assert isinstance(info.value, WatiRejected)
    assert info.value.reason == "Invalid Conversation"
    assert info.value.status_code == 200


def test_ok_false_with_failed_status_is_rejected(make):
    body = {
        "ok": False,
        "result": "success",
        "message": {
            "whatsappMessageId": None,
            "status": 0,
            "statusString": "FAILED",
            "failedDetail": "An unknown error has occurred.",
            "failedCode": None,
        },
    }
    wati = make(reply(body))
    with pytest.raises(WatiRejected) as info:
        wati.client.send_session_message(CUSTOMER, "hi", channel_number=CHANNEL)
    assert not isinstance(info.value, WatiWindowClosed)
    assert info.value.reason == "An unknown error has occurred."


def test_failed_status_alone_is_rejected(make):
    body = {"ok": True, "result": "success", "message": {"statusString": "Failed"}}
    wati = make(reply(body))
    with pytest.raises(WatiRejected):
        wati.client.send_session_message(CUSTOMER, "hi", channel_number=CHANNEL)


@pytest.mark.parametrize(
    "body",
    [
        {"result": False, "info": "Can't send message outside 24 hour window"},
        {"result": False, "info": "The session window has expired"},
        {"ok": False, "message": {"statusString": "FAILED", "failedDetail": "Re-engagement msg"}},
        {"ok": False, "message": {"statusString": "FAILED", "failedCode": 131047}},
        {"ok": False, "message": {"statusString": "FAILED", "failedDetail": "(#131047) late"}},
    ],
)
def test_window_closed_detection(make, body):
    wati = make(reply(body))
    with pytest.raises(WatiWindowClosed):
        wati.client.send_session_message(CUSTOMER, "hi", channel_number=CHANNEL)


def test_window_closed_detection_on_a_4xx(make):
    wati = make(reply({"message": "Invalid Conversation"}, status=400))
    with pytest.raises(WatiWindowClosed) as info:
        wati.client.send_session_message(CUSTOMER, "hi", channel_number=CHANNEL)
    assert info.value.status_code == 400


def test_other_rejections_are_not_window_closed(make):
    wati = make(reply({"result": False, "info": "message text can not be empty"}))
    with pytest.raises(WatiRejected) as info:
        wati.client.send_session_message(CUSTOMER, "hi", channel_number=CHANNEL)
    assert not isinstance(info.value, WatiWindowClosed)
    assert info.value.reason == "message text can not be empty"


def test_send_body_without_any_result_is_bad_response(make):
    wati = make(reply({"unexpected": 1}))
    with pytest.raises(WatiBadResponse) as info:
        wati.client.send_session_message(CUSTOMER, "hi", channel_number=CHANNEL)
    assert info.value.maybe_sent is True


def test_text_length_limits(make):
    wati = make(reply(SENT_OK))
    with pytest.raises(ValueError, match="4096"):
        wati.client.send_session_message(CUSTOMER, "x" * 4097, channel_number=CHANNEL)
    with pytest.raises(ValueError):
        wati.client.send_session_message(CUSTOMER, "  \n", channel_number=CHANNEL)
    assert wati.requests == [] and wati.calls == []
    wati.client.send_session_message(CUSTOMER, "é" * 4096, channel_number=CHANNEL)
    assert query(wati.request)["messageText"] == "é" * 4096


def test_logs_never_carry_token_or_text(make, caplog):
    # As the CLI does: httpx logs full URLs at INFO. (Order matters: set_level also sets the
    # capture handler's level, and the last call must leave it at DEBUG.)
    caplog.set_level(logging.WARNING, logger="httpx")
    caplog.set_level(logging.DEBUG)
    secret_text = "my card number is 4111 1111 1111 1111"
    wati = make(reply(SENT_OK), token="Bearer " + TOKEN)
    wati.client.send_session_message(CUSTOMER, secret_text, channel_number=CHANNEL)
    wati.handler = reply({"result": False, "info": "Invalid Conversation"})
    with pytest.raises(WatiWindowClosed):
        wati.client.send_session_message(CUSTOMER, secret_text, channel_number=CHANNEL)
    wati.handler = reply(status=500)
    with pytest.raises(WatiUnavailable):
        wati.client.send_session_message(CUSTOMER, secret_text, channel_number=CHANNEL)
    wati.handler = reply(HISTORY)
    wati.client.get_messages(CUSTOMER, channel_number=CHANNEL)
    wati_records = [r for r in caplog.records if r.name.startswith("bot.wati.")]
    assert wati_records, "expected DEBUG records from bot.wati"
    assert any("sendSessionMessage" in r.getMessage() for r in wati_records)
    assert TOKEN not in caplog.text
    assert "4111" not in caplog.text
    assert "https://" not in caplog.text
    assert all(r.levelno < logging.INFO for r in wati_records if "HTTP" in r.getMessage())


# -- sendSessionFile -----------------------------------------------------------------------------


def test_send_session_file_request_shape(make):
    wati = make(reply({"result": "65f0c1a2b3c4d5e6f7a8b9c9"}))
    result = wati.client.send_session_file(
        CUSTOMER,
        filename="../invoice 7.pdf",
        content=b"%PDF-1.7 data",
        content_type="application/pdf",
        channel_number=CHANNEL,
        caption="Your invoice",
    )
    request = assert_common(wati, "POST", f"sendSessionFile/{CUSTOMER}", "sendSessionFile")
    assert query(request) == {"caption": "Your invoice", "channelPhoneNumber": CHANNEL}
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    body = request.content
    assert b'Content-Disposition: form-data; name="file"; filename="invoice 7.pdf"' in body
    assert b"Content-Type: application/pdf" in body
    assert b"%PDF-1.7 data" in body
    assert result.message_id == "65f0c1a2b3c4d5e6f7a8b9c9"


def test_send_session_file_without_caption(make):
    wati = make(reply(SENT_OK))
    result = wati.client.send_session_file(
        CUSTOMER, filename="a.jpg", content=b"x", content_type="image/jpeg", channel_number=CHANNEL
    )
    assert query(wati.request) == {"channelPhoneNumber": CHANNEL}
    assert result.message_id == "65f0c1a2b3c4d5e6f7a8b9c2"
    assert result.status == "SENT"


@pytest.mark.parametrize("flag", ["success", True])
def test_send_session_file_success_word_is_not_an_id(make, flag):
    wati = make(reply({"result": flag}))
    result = wati.client.send_session_file(
        CUSTOMER, filename="a.jpg", content=b"x", content_type="image/jpeg", channel_number=CHANNEL
    )
    assert result.message_id is None


def test_send_session_file_window_closed(make):
    wati = make(reply({"result": False, "info": "Invalid Conversation"}))
    with pytest.raises(WatiWindowClosed):
        wati.client.send_session_file(
            CUSTOMER, filename="a", content=b"x", content_type="text/plain", channel_number=CHANNEL
        )


def test_send_session_file_refuses_empty_content(make):
    wati = make(reply(SENT_OK))
    with pytest.raises(ValueError):
        wati.client.send_session_file(
            CUSTOMER, filename="a", content=b"", content_type="text/plain", channel_number=CHANNEL
        )
    assert wati.requests == []


# -- sendTemplateMessage(s) ----------------------------------------------------------------------


TEMPLATE_OK = {
    "result": True,
    "phone_number": CUSTOMER,
    "template_name": "order_update",
    "parameteres": [{"name": "name", "value": "Ana"}],
    "contact": {"id": "6643", "wAid": CUSTOMER},
    "model": {"ids": ["6643"]},
    "validWhatsAppNumber": True,
}


def test_send_template_message_request_shape(make):
    wati = make(reply(TEMPLATE_OK))
    result = wati.client.send_template_message(
        "+852 6431 8721",
        "order_update",
        {"name": "Ana", "order_number": "1001"},
        channel_number="+1 555 123 4567",
        broadcast_name="slackbridge_20260602",
    )
    request = assert_common(wati, "POST", "sendTemplateMessage", "sendTemplateMessage")
    assert query(request) == {"whatsappNumber": CUSTOMER}
    assert payload(request) == {
        "template_name": "order_update",
        "broadcast_name": "slackbridge_20260602",
        "parameters": [{"name": "name", "value": "Ana"}, {"name": "order_number", "value": "1001"}],
        "channelNumber": CHANNEL,
        "channel_number": CHANNEL,
    }
    assert result.ok is True
    assert result.whatsapp_number == CUSTOMER
    assert result.local_message_id is None


def test_send_template_message_without_parameters_sends_an_empty_list(make):
    wati = make(reply(TEMPLATE_OK))
    wati.client.send_template_message(
        CUSTOMER, "hello", {}, channel_number=CHANNEL, broadcast_name="b"
    )
    assert payload(wati.request)["parameters"] == []


def test_send_template_message_reads_a_v2_local_id(make):
    body = {
        "result": True,
        "error": None,
        "receivers": [
            {
                "localMessageId": "d38f",
                "waId": CUSTOMER,
                "isValidWhatsAppNumber": True,
                "errors": [],
            }
        ],
    }
    wati = make(reply(body))
    result = wati.client.send_template_message(
        CUSTOMER, "t", {}, channel_number=CHANNEL, broadcast_name="b"
    )
    assert result.local_message_id == "d38f"


@pytest.mark.parametrize("params", [{"name": ""}, {"name": "  "}, {"": "Ana"}])
def test_template_parameters_are_never_empty(make, params):
    wati = make(reply(TEMPLATE_OK))
    with pytest.raises(ValueError):
        wati.client.send_template_message(
            CUSTOMER, "t", params, channel_number=CHANNEL, broadcast_name="b"
        )
    with pytest.raises(ValueError):
        wati.client.send_template_messages(
            "t", [(CUSTOMER, params)], channel_number=CHANNEL, broadcast_name="b"
        )
    assert wati.requests == [] and wati.calls == []


@pytest.mark.parametrize(("template", "broadcast"), [("", "b"), ("t", " ")])
def test_template_and_broadcast_names_are_required(make, template, broadcast):
    wati = make(reply(TEMPLATE_OK))
    with pytest.raises(ValueError):
        wati.client.send_template_message(
            CUSTOMER, template, {}, channel_number=CHANNEL, broadcast_name=broadcast
        )
    assert wati.requests == []


def test_send_template_result_false_is_rejected_not_window(make):
    wati = make(reply({"result": False, "info": "Invalid Conversation"}))
    with pytest.raises(WatiRejected) as info:
        wati.client.send_template_message(
            CUSTOMER, "t", {}, channel_number=CHANNEL, broadcast_name="b"
        )
    assert not isinstance(info.value, WatiWindowClosed)


def test_send_template_invalid_whatsapp_number_is_rejected(make):
    wati = make(reply({**TEMPLATE_OK, "validWhatsAppNumber": False}))
    with pytest.raises(WatiRejected, match="not a valid WhatsApp number"):
        wati.client.send_template_message(
            CUSTOMER, "t", {}, channel_number=CHANNEL, broadcast_name="b"
        )


def test_send_template_messages_request_shape(make):
    wati = make(reply({"result": True}))
    result = wati.client.send_template_messages(
        "order_update",
        [("+852 6431-8721", {"name": "Ana"}), ("85264318722", {"name": "Bo"})],
        channel_number=CHANNEL,
        broadcast_name="bulk_20260602",
    )
    request = assert_common(wati, "POST", "sendTemplateMessages", "sendTemplateMessages")
    assert query(request) == {}
    assert payload(request) == {
        "template_name": "order_update",
        "broadcast_name": "bulk_20260602",
        "channelNumber": CHANNEL,
        "channel_number": CHANNEL,
        "receivers": [
            {"whatsappNumber": CUSTOMER, "customParams": [{"name": "name", "value": "Ana"}]},
            {"whatsappNumber": "85264318722", "customParams": [{"name": "name", "value": "Bo"}]},
        ],
    }
    assert result.accepted == [CUSTOMER, "85264318722"]
    assert result.failed == []


def test_send_template_messages_per_receiver_failures(make):
    body = {
        "result": True,
        "receivers": [
            {"waId": CUSTOMER, "isValidWhatsAppNumber": True, "errors": []},
            {"waId": "85264318722", "isValidWhatsAppNumber": False, "errors": []},
            {"waId": "85264318723", "isValidWhatsAppNumber": True, "errors": ["Opted out"]},
            {"waId": "85264318724", "errors": [{"message": "Param missing"}]},
        ],
    }
    wati = make(reply(body))
    numbers = [CUSTOMER, "85264318722", "85264318723", "85264318724"]
    result = wati.client.send_template_messages(
        "t", [(n, {"x": "1"}) for n in numbers], channel_number=CHANNEL, broadcast_name="b"
    )
    assert result.accepted == [CUSTOMER]
    assert result.failed == [
        ("85264318722", "not a valid WhatsApp number"),
        ("85264318723", "Opted out"),
        ("85264318724", "Param missing"),
    ]


def test_send_template_messages_whole_call_rejected(make):
    wati = make(reply({"result": False, "info": "Template not approved"}))
    with pytest.raises(WatiRejected, match="Template not approved"):
        wati.client.send_template_messages(
            "t", [(CUSTOMER, {})], channel_number=CHANNEL, broadcast_name="b"
        )


def test_send_template_messages_needs_receivers(make):
    wati = make(reply({"result": True}))
    with pytest.raises(ValueError):
        wati.client.send_template_messages("t", [], channel_number=CHANNEL, broadcast_name="b")
    assert wati.requests == []


# -- getMessageTemplates -------------------------------------------------------------------------


def test_get_message_templates(make):
    body = {
        "messageTemplates": [
            {
                "id": "64aa",
                "elementName": "order_update",
                "category": "UTILITY",
                "status": "APPROVED",
                "language": {"key": "English (US)", "value": "en_US", "text": "English (US)"},
                "body": "Hello {{name}}, your order {{order_number}} has shipped.",
                "customParams": [
                    {"paramName": "name", "paramValue": "Ana"},
                    {"paramName": "order_number", "paramValue": "1"},
                ],
            },
            {
                "elementName": "welcome",
                "status": "PENDING",
                "language": "pt_BR",
                "body": "Oi {{1}}! {{ 2 }} e {{1}}",
            },
            {"id": "no-name", "body": "x"},
            "junk",
        ]
    }
    wati = make(reply(body))
    templates = wati.client.get_message_templates(page_size=10, page_number=2)
    request = assert_common(wati, "GET", "getMessageTemplates", "getMessageTemplates")
    assert query(request) == {"pageSize": "10", "pageNumber": "2"}
    first, second = templates
    assert (first.name, first.status, first.category, first.language) == (
        "order_update",
        "APPROVED",
        "UTILITY",
        "en_US",
    )
    assert first.body.startswith("Hello {{name}}")
    assert first.params == ["name", "order_number"]
    assert (second.name, second.status, second.category, second.language) == (
        "welcome",
        "PENDING",
        "",
        "pt_BR",
    )
    assert second.params == ["1", "2"]


def test_get_message_templates_without_list_is_bad_response(make):
    wati = make(reply({"result": "success"}))
    with pytest.raises(WatiBadResponse):
        wati.client.get_message_templates()


# -- updateChatStatus ----------------------------------------------------------------------------


def test_update_chat_status_request_shape(make):
    wati = make(reply({"result": True}))
    assert wati.client.update_chat_status(CUSTOMER, "solved", channel_number=CHANNEL) is None
    request = assert_common(wati, "POST", "updateChatStatus", "updateChatStatus")
    assert query(request) == {}
    assert payload(request) == {
        "whatsappNumber": CUSTOMER,
        "ticketStatus": "SOLVED",
        "channelPhoneNumber": CHANNEL,
    }


def test_update_chat_status_accepts_an_empty_200(make):
    wati = make(reply(status=200))
    wati.client.update_chat_status(CUSTOMER, "PENDING", channel_number=CHANNEL)


def test_update_chat_status_refuses_unknown_status(make):
    wati = make(reply({"result": True}))
    with pytest.raises(ValueError):
        wati.client.update_chat_status(CUSTOMER, "CLOSED", channel_number=CHANNEL)
    assert wati.requests == []


def test_update_chat_status_result_false_is_rejected(make):
    wati = make(reply({"result": False, "info": "Invalid Conversation"}))
    with pytest.raises(WatiRejected) as info:
        wati.client.update_chat_status(CUSTOMER, "OPEN", channel_number=CHANNEL)
    assert not isinstance(info.value, WatiWindowClosed)


# -- contacts ------------------------------------------------------------------------------------

CONTACT = {
    "id": "6643aa",
    "wAid": CUSTOMER,
    "firstName": "Ana",
    "fullName": "Ana Lima",
    "phone": CUSTOMER,
    "created": "May-14-2024",
    "customParams": [{"name": "city", "value": "Pune"}, {"name": "slack_thread", "value": None}],
    "lastUpdated": "2024-05-16T08:23:24.703Z",
}


def test_get_contacts_request_shape_and_parsing(make):
    body = {
        "result": "success",
        "contact_list": [CONTACT, {"wAid": "1"}, {"id": "b", "firstName": "Bo"}, 7],
        "link": {},
    }
    wati = make(reply(body))
    condition = [{"name": "city", "operator": "contain", "value": "Pune"}]
    page = wati.client.get_contacts(page_size=4, page_number=1, name="Ana", attribute=condition)
    request = assert_common(wati, "GET", "getContacts", "getContacts")
    assert query(request) == {
        "pageSize": "4",
        "pageNumber": "1",
        "name": "Ana",
        "attribute": '[{"name":"city","operator":"contain","value":"Pune"}]',
    }
    assert json.loads(query(request)["attribute"]) == condition
    assert (page.malformed, page.raw_count, page.page_number, page.page_size) == (2, 4, 1, 4)
    assert page.has_more is True
    ana, bo = page.items
    assert ana == Contact(
        id="6643aa",
        wa_id=CUSTOMER,
        name="Ana Lima",
        phone=CUSTOMER,
        custom_params={"city": "Pune", "slack_thread": ""},
        last_updated=datetime(2024, 5, 16, 8, 23, 24, 703000, tzinfo=UTC),
        created_raw="May-14-2024",
    )
    assert (bo.name, bo.wa_id, bo.phone, bo.custom_params, bo.last_updated) == (
        "Bo",
        "",
        "",
        {},
        None,
    )


def test_get_contacts_defaults_leave_filters_out(make):
    wati = make(reply({"contact_list": []}))
    page = wati.client.get_contacts()
    assert query(wati.request) == {"pageSize": "100", "pageNumber": "1"}
    assert page.items == [] and page.has_more is False


def test_get_contacts_without_list_is_bad_response(make):
    wati = make(reply({"result": "success"}))
    with pytest.raises(WatiBadResponse):
        wati.client.get_contacts()


def test_add_contact_request_shape(make):
    wati = make(reply({"result": True, "contact": CONTACT}))
    contact = wati.client.add_contact(
        "+852 6431 8721", name="Ana Lima", custom_params={"city": "Pune"}
    )
    request = assert_common(wati, "POST", f"addContact/{CUSTOMER}", "addContact")
    assert query(request) == {}
    assert payload(request) == {
        "name": "Ana Lima",
        "customParams": [{"name": "city", "value": "Pune"}],
    }
    assert contact is not None and contact.id == "6643aa"


@pytest.mark.parametrize("body", [{"result": True}, None])
def test_add_contact_without_contact_in_answer(make, body):
    wati = make(reply(body))
    assert wati.client.add_contact(CUSTOMER, name="Ana") is None
    assert payload(wati.request) == {"name": "Ana", "customParams": []}


def test_add_contact_result_false_is_rejected(make):
    wati = make(reply({"result": False, "info": "Contact already exists"}))
    with pytest.raises(WatiRejected, match="already exists"):
        wati.client.add_contact(CUSTOMER, name="Ana")


def test_update_contact_attributes_request_shape(make):
    wati = make(reply({"result": True}))
    wati.client.update_contact_attributes(
        "+852-6431-8721", {"slack_thread": "C123/1717.42", "city": ""}
    )
    request = assert_common(
        wati, "POST", f"updateContactAttributes/{CUSTOMER}", "updateContactAttributes"
    )
    assert query(request) == {}
    assert payload(request) == {
        "customParams": [
            {"name": "slack_thread", "value": "C123/1717.42"},
            {"name": "city", "value": ""},
        ]
    }


def test_update_contact_attributes_needs_attributes(make):
    wati = make(reply({"result": True}))
    with pytest.raises(ValueError):
        wati.client.update_contact_attributes(CUSTOMER, {})
    with pytest.raises(ValueError):
        wati.client.update_contact_attributes_for_multi_contacts([])
    assert wati.requests == []


def test_update_contact_attributes_for_multi_contacts_request_shape(make):
    wati = make(reply({"result": True}))
    wati.client.update_contact_attributes_for_multi_contacts(
        [("+852 6431 8721", {"city": "Pune"}), ("85264318722", {"city": "Lisbon", "vip": "yes"})]
    )
    name = "updateContactAttributesForMultiContacts"
    request = assert_common(wati, "POST", name, name)
    assert query(request) == {}
    assert payload(request) == {
        "contacts": [
            {"whatsappNumber": CUSTOMER, "customParams": [{"name": "city", "value": "Pune"}]},
            {
                "whatsappNumber": "85264318722",
                "customParams": [
                    {"name": "city", "value": "Lisbon"},
                    {"name": "vip", "value": "yes"},
                ],
            },
        ]
    }


def test_update_contact_attributes_for_multi_contacts_rejected(make):
    wati = make(reply({"result": False, "info": "Attribute not allowed"}))
    with pytest.raises(WatiRejected, match="Attribute not allowed"):
        wati.client.update_contact_attributes_for_multi_contacts([(CUSTOMER, {"a": "b"})])


# -- getMedia ------------------------------------------------------------------------------------


def test_get_media_by_stored_path(make):
    wati = make(
        reply(content=b"\xff\xd8\xffJPEG", headers={"Content-Type": "image/jpeg; charset=binary"})
    )
    media = wati.client.get_media("data/images/c1d465a1.jpg")
    request = assert_common(wati, "GET", "getMedia", "getMedia")
    assert query(request) == {"fileName": "data/images/c1d465a1.jpg"}
    assert media.content == b"\xff\xd8\xffJPEG"
    assert media.content_type == "image/jpeg"
    assert media.filename == "c1d465a1.jpg"


@pytest.mark.parametrize(
    ("disposition", "expected"),
    [
        ('attachment; filename="invoice 7.pdf"', "invoice 7.pdf"),
        ("attachment; filename*=UTF-8''fa%C3%A7ture.pdf", "façture.pdf"),
        ('attachment; filename="../../etc/passwd"', "passwd"),
    ],
)
def test_get_media_filename_from_content_disposition(make, disposition, expected):
    headers = {"Content-Type": "application/pdf", "Content-Disposition": disposition}
    wati = make(reply(content=b"%PDF", headers=headers))
    media = wati.client.get_media("data/documents/abc.pdf")
    assert media.filename == expected


def test_get_media_without_content_type(make):
    wati = make(reply(content=b"raw"))
    media = wati.client.get_media("data/files/blob")
    assert media.content_type == "application/octet-stream"
    assert media.filename == "blob"


def test_get_media_by_show_file_url_on_the_same_host(make):
    wati = make(reply(content=b"img", headers={"Content-Type": "image/png"}))
    url = ENDPOINT + "/api/file/showFile?fileName=data/images/abc.png"
    media = wati.client.get_media(url)
    request = wati.request
    assert request.method == "GET"
    assert str(request.url) == url
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert wati.calls == ["getMedia"]
    assert media.filename == "abc.png"


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/123456/api/file/showFile?fileName=data/images/abc.png",
        "http://live-mt-server.wati.io/123456/api/file/showFile?fileName=x.png",
        "https://live-mt-server.wati.io:8443/123456/api/file/showFile?fileName=x.png",
    ],
)
def test_get_media_never_sends_the_token_elsewhere(make, url):
    wati = make(reply(content=b"img"))
    with pytest.raises(ValueError):
        wati.client.get_media(url)
    assert wati.requests == [] and wati.calls == []


def test_get_media_with_an_unparseable_url_is_refused(make):
    wati = make(reply(content=b"img"))
    with pytest.raises(ValueError):
        wati.client.get_media("https://live-mt-server.wati.io:abc/x")
    assert wati.requests == []


def test_get_media_json_failure_is_rejected(make):
    wati = make(reply({"result": False, "info": "File not found"}))
    with pytest.raises(WatiRejected, match="File not found"):
        wati.client.get_media("data/images/gone.jpg")


def test_get_media_empty_body_is_bad_response(make):
    wati = make(reply(content=b"", headers={"Content-Type": "image/jpeg"}))
    with pytest.raises(WatiBadResponse):
        wati.client.get_media("data/images/empty.jpg")


def test_get_media_needs_a_name(make):
    wati = make(reply(content=b"x"))
    with pytest.raises(ValueError):
        wati.client.get_media("  ")
    assert wati.requests == []


# -- Retry-After ---------------------------------------------------------------------------------


def test_retry_after_http_date(make):
    when = datetime.now(UTC) + timedelta(seconds=120)
    wati = make(reply(status=429, headers={"Retry-After": format_datetime(when, usegmt=True)}))
    with pytest.raises(WatiRateLimited) as info:
        wati.client.get_messages(CUSTOMER, channel_number=CHANNEL)
    assert info.value.retry_after is not None
    assert 100 <= info.value.retry_after <= 121


@pytest.mark.parametrize(
    ("header", "expected"),
    [("1.5", 1.5), ("0", 0.0), ("-3", 0.0), ("soon", None), ("", None), ("nan", None)],
)
def test_retry_after_odd_values(make, header, expected):
    wati = make(reply(status=429, headers={"Retry-After": header}))
    with pytest.raises(WatiRateLimited) as info:
        wati.client.get_contacts()
    assert info.value.retry_after == expected


def test_retry_after_past_date_is_zero(make):
    wati = make(reply(status=429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    with pytest.raises(WatiRateLimited) as info:
        wati.client.get_contacts()
    assert info.value.retry_after == 0.0


def test_error_bodies_are_shortened_and_html_dropped(make):
    wati = make(reply(status=502, text="<html><body>Bad Gateway</body></html>"))
    with pytest.raises(WatiUnavailable) as info:
        wati.client.get_contacts()
    assert info.value.reason == "server error (HTTP 502)"
    wati.handler = reply(status=400, text="x" * 1000)
    with pytest.raises(WatiRejected) as rejected:
        wati.client.get_contacts()
    assert len(rejected.value.reason) <= 200


def test_redirect_is_bad_response(make):
    wati = make(reply(status=302, headers={"Location": "https://elsewhere.example.com/"}))
    with pytest.raises(WatiBadResponse) as info:
        wati.client.update_chat_status(CUSTOMER, "OPEN", channel_number=CHANNEL)
    assert info.value.status_code == 302
    assert len(wati.requests) == 1  # not followed: the token must not go elsewhere
