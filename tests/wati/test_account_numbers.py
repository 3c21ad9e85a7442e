"""WatiClient.get_account_numbers on httpx.MockTransport: the shapes Wati might send (none are
recorded, docs/WATI.md#account-numbers), the v3 fallback, and refusals."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bot.wati.client import WatiClient
from bot.wati.errors import WatiAuthError, WatiBadResponse, WatiBlocked, WatiRejected
from bot.wati.types import AccountNumber

ENDPOINT = "https://live-mt-server.wati.io/123456"
V2 = "/123456/api/v2/whatsapp/phoneNumbers"
V3 = "/api/ext/v3/channels"


def client(answers: dict[str, httpx.Response], seen: list[httpx.Request]) -> WatiClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.get(request.url.path, httpx.Response(404, text="Not Found"))

    return WatiClient(ENDPOINT, "t", transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    "body",
    [
        [
            {"phoneNumber": "15550000001", "channelName": "Support", "wabaId": "1"},
            {"phoneNumber": "+1 555-000-0002", "channelName": None},
        ],
        {
            "result": True,
            "phoneNumbers": [
                {"phone_number": "15550000001", "name": "Support"},
                {"number": 15550000002},
            ],
        },
        {
            "data": {
                "items": [
                    {"displayPhoneNumber": "+1 (555) 000-0001", "verifiedName": "Support"},
                    "15550000002",
                ]
            }
        },
    ],
)
def test_v2_lists_every_number_whatever_the_spelling(body: Any) -> None:
    seen: list[httpx.Request] = []
    with client({V2: httpx.Response(200, json=body)}, seen) as wati:
        found = wati.get_account_numbers()
    assert found.complete and found.source == "v2 phoneNumbers"
    assert [n.number for n in found.numbers] == ["15550000001", "15550000002"]
    assert found.numbers[0] == AccountNumber("15550000001", "Support")
    assert [r.url.path for r in seen] == [V2]


def test_unusable_entries_are_skipped_and_duplicates_dropped() -> None:
    body = [
        {"phoneNumber": "15550000001"},
        {"phoneNumber": "+1 555 000 0001"},
        {"phoneNumber": "not a number"},
        {"phoneNumber": True},
        {"phoneNumber": "123"},
        {"id": "abc", "name": "no number"},
        None,
        7,
    ]
    with client({V2: httpx.Response(200, json=body)}, []) as wati:
        assert [n.number for n in wati.get_account_numbers().numbers] == ["15550000001"]


@pytest.mark.parametrize("status", [404, 405, 403])
def test_v3_channels_when_v2_is_refused_marked_incomplete(status: int) -> None:
    seen: list[httpx.Request] = []
    v3 = {"channels": [{"id": "x", "name": "Sales", "phone_number": "15550000002"}]}
    answers = {V2: httpx.Response(status, json={"message": "no"}), V3: httpx.Response(200, json=v3)}
    with client(answers, seen) as wati:
        found = wati.get_account_numbers()
    assert not found.complete  # v3 leaves the default number out
    assert found.numbers == [AccountNumber("15550000002", "Sales")]
    assert seen[1].url.host == "live-mt-server.wati.io" and seen[1].url.path == V3
    assert dict(seen[1].url.params) == {"page_number": "1", "page_size": "100"}


def test_v3_names_without_numbers_are_no_list() -> None:
    v3 = {"channels": [{"id": "65b7", "name": "Support", "channel": "Whatsapp"}]}
    answers = {V2: httpx.Response(404, text="Not Found"), V3: httpx.Response(200, json=v3)}
    with client(answers, []) as wati, pytest.raises(WatiBadResponse, match="no phone numbers"):
        wati.get_account_numbers()


def test_both_refused_raises_the_first_refusal() -> None:
    answers = {V2: httpx.Response(403, json={"message": "missing scope"})}
    with client(answers, []) as wati, pytest.raises(WatiAuthError, match="missing scope"):
        wati.get_account_numbers()
    with client({}, []) as wati, pytest.raises(WatiRejected):
        wati.get_account_numbers()


def test_v2_without_a_list_falls_back_then_says_so() -> None:
    answers = {V2: httpx.Response(200, json={"ok": True}), V3: httpx.Response(404)}
    with client(answers, []) as wati, pytest.raises(WatiBadResponse, match="no list"):
        wati.get_account_numbers()


def test_cloudflares_page_is_not_taken_for_a_missing_route() -> None:
    seen: list[httpx.Request] = []
    answers = {V2: httpx.Response(403, text="error code: 1010")}
    with client(answers, seen) as wati, pytest.raises(WatiBlocked, match="1010"):
        wati.get_account_numbers()
    assert len(seen) == 1  # v3 sits behind the same firewall: not asked


def test_errors_are_reported_by_kind() -> None:
    kinds: list[tuple[str, str]] = []
    transport = httpx.MockTransport(lambda r: httpx.Response(401))
    with WatiClient(ENDPOINT, "t", transport=transport, on_error=lambda *k: kinds.append(k)) as w:
        with pytest.raises(WatiAuthError):
            w.get_message_templates()
    assert kinds == [("getMessageTemplates", "auth")]
