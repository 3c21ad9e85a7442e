"""The Wati sandbox's rate limits, monthly quota and injected faults, over loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.devtools.sandbox import KINDS, Sandbox

SALES = "15550000001"
ANA = "447700900123"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "wati.db") as sb:
        sb.customer_says(SALES, ANA, "hi", name="Ana")
        yield sb


@pytest.fixture
def wati(sandbox: Sandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {sandbox.token}"}
    base = f"{sandbox.api_endpoint}/api/v1"
    with httpx.Client(base_url=base, headers=headers, timeout=5) as client:
        yield client


def get_messages(wati: httpx.Client) -> httpx.Response:
    return wati.get(f"/getMessages/{ANA}", params={"channelPhoneNumber": SALES})


def send(wati: httpx.Client, text: str) -> httpx.Response:
    return wati.post(f"/sendSessionMessage/{ANA}", params={"messageText": text})


# -- rate limits ----------------------------------------------------------------------------


def test_get_messages_allows_10_calls_per_10_seconds(sandbox: Sandbox, wati: httpx.Client) -> None:
    for _ in range(10):
        assert get_messages(wati).status_code == 200
    limited = get_messages(wati)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 10
    assert sandbox.calls("getMessages") == 11  # refused calls still count against the quota
    sandbox.advance(5)
    assert get_messages(wati).status_code == 429
    sandbox.advance(5)
    assert get_messages(wati).status_code == 200


def test_get_contacts_and_add_contact_share_a_window(sandbox: Sandbox, wati: httpx.Client) -> None:
    for n in range(5):
        assert wati.get("/getContacts").status_code == 200
        assert wati.post(f"/addContact/4477009000{n:02d}", json={"name": "x"}).status_code == 200
    assert wati.get("/getContacts").status_code == 429
    assert wati.post("/addContact/447700900999", json={"name": "x"}).status_code == 429
    assert get_messages(wati).status_code == 200  # a separate window
    for n in range(20):  # sends have no published limit
        assert send(wati, f"reply {n}").json()["ok"] is True


def test_the_rolling_window_follows_an_injected_clock(tmp_path: Path) -> None:
    now = [1_780_000_000.0]
    with Sandbox(tmp_path / "w.db", clock=lambda: now[0]) as sandbox:
        headers = {"Authorization": f"Bearer {sandbox.token}"}
        url = f"{sandbox.api_endpoint}/api/v1/getContacts"
        with httpx.Client(headers=headers) as client:
            for second in range(10):
                now[0] = 1_780_000_000.0 + second * 0.5
                assert client.get(url).status_code == 200
            refused = client.get(url)
            assert refused.status_code == 429 and refused.headers["Retry-After"] == "6"
            now[0] = 1_780_000_010.0  # the first call has left the window
            assert client.get(url).status_code == 200
            assert client.get(url).status_code == 429


# -- the monthly quota ----------------------------------------------------------------------


def test_monthly_quota_refuses_every_call_once_used_up(
    sandbox: Sandbox, wati: httpx.Client, tmp_path: Path
) -> None:
    sandbox.monthly_quota = 5
    for _ in range(3):
        assert wati.get("/getMessageTemplates").status_code == 200
    assert send(wati, "a").status_code == 200
    assert get_messages(wati).status_code == 200
    assert sandbox.calls() == 5
    assert sandbox.calls("getMessageTemplates") == 3
    assert sandbox.calls("sendSessionMessage") == 1
    for call in (lambda: send(wati, "b"), lambda: wati.get("/getContacts")):
        refused = call()
        assert refused.status_code == 429 and refused.json()["result"] is False
    assert sandbox.calls() == 5  # refused for quota: not counted
    assert [m["text"] for m in sandbox.sent_by_api()] == ["a"]
    sandbox.advance(32 * 24 * 3600)  # a new month
    assert sandbox.calls() == 0
    assert wati.get("/getContacts").status_code == 200


# -- faults from Python ---------------------------------------------------------------------


def test_fault_500_then_normal(sandbox: Sandbox, wati: httpx.Client) -> None:
    sandbox.faults.inject("getMessages", "500", count=2)
    assert get_messages(wati).status_code == 500
    assert wati.get("/getContacts").status_code == 200  # other endpoints are untouched
    assert get_messages(wati).status_code == 500
    assert get_messages(wati).status_code == 200


def test_a_targeted_fault_hits_only_the_calls_naming_its_target(
    sandbox: Sandbox, wati: httpx.Client
) -> None:
    sandbox.customer_says(SALES, "447700900999", "someone else")
    sandbox.faults.inject("getMessages", "500", count=5, target=ANA)
    assert get_messages(wati).status_code == 500  # this customer's history: refused
    other = wati.get("/getMessages/447700900999", params={"channelPhoneNumber": SALES})
    assert other.status_code == 200  # another customer's: served
    assert [f["target"] for f in sandbox.faults.pending()] == [ANA]


def test_fault_429_with_and_without_retry_after(sandbox: Sandbox, wati: httpx.Client) -> None:
    sandbox.faults.inject("getContacts", "429")
    sandbox.faults.inject("getContacts", "429", retry_after=7)
    bare = wati.get("/getContacts")
    assert bare.status_code == 429 and "Retry-After" not in bare.headers
    hinted = wati.get("/getContacts")
    assert hinted.status_code == 429 and hinted.headers["Retry-After"] == "7"
    assert wati.get("/getContacts").status_code == 200


def test_fault_slow(sandbox: Sandbox, wati: httpx.Client) -> None:
    sandbox.faults.inject("getMessages", "slow", delay=0.05)
    answer = get_messages(wati)
    assert answer.status_code == 200 and answer.elapsed.total_seconds() >= 0.05
    sandbox.faults.inject("sendSessionMessage", "slow", delay=0.6)
    with pytest.raises(httpx.ReadTimeout):
        wati.post(f"/sendSessionMessage/{ANA}", params={"messageText": "slow"}, timeout=0.1)


def test_fault_malformed_answers_cut_json(sandbox: Sandbox, wati: httpx.Client) -> None:
    sandbox.faults.inject("getMessages", "malformed")
    broken = get_messages(wati)
    assert broken.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        broken.json()
    assert get_messages(wati).json()["result"] == "success"
    sandbox.faults.inject("sendSessionMessage", "malformed")
    with pytest.raises(json.JSONDecodeError):
        send(wati, "accepted anyway").json()
    assert [m["text"] for m in sandbox.sent_by_api()] == ["accepted anyway"]


def test_fault_reset_before_and_after_processing(sandbox: Sandbox, wati: httpx.Client) -> None:
    sandbox.faults.inject("sendSessionMessage", "reset")
    with pytest.raises(httpx.TransportError):
        send(wati, "lost")
    assert sandbox.sent_by_api() == []
    sandbox.faults.inject("sendSessionMessage", "reset_after")
    with pytest.raises(httpx.TransportError):
        send(wati, "accepted, answer lost")
    assert [m["text"] for m in sandbox.sent_by_api()] == ["accepted, answer lost"]
    assert send(wati, "fine").json()["ok"] is True


def test_wildcard_faults_and_clear(sandbox: Sandbox, wati: httpx.Client) -> None:
    sandbox.faults.inject("*", "500", count=3)
    assert wati.get("/getContacts").status_code == 500
    assert get_messages(wati).status_code == 500
    sandbox.faults.clear()
    assert wati.get("/getContacts").status_code == 200
    assert sandbox.faults.pending() == []
    with pytest.raises(ValueError):
        sandbox.faults.inject("getMessages", "explode")
    with pytest.raises(ValueError):
        sandbox.faults.inject("getMessages", "500", count=0)


# -- faults over HTTP -----------------------------------------------------------------------


def test_faults_over_http(sandbox: Sandbox, wati: httpx.Client) -> None:
    control = f"{sandbox.url}/_sandbox/faults"
    with httpx.Client() as client:
        injected = client.post(
            control, json={"endpoint": "getContacts", "kind": "429", "count": 2, "retry_after": 3}
        )
        assert injected.status_code == 200
        assert client.get(control).json()["faults"][0]["kind"] == "429"
        first = wati.get("/getContacts")
        assert first.status_code == 429 and first.headers["Retry-After"] == "3"
        assert client.delete(control).json() == {"faults": []}
        assert wati.get("/getContacts").status_code == 200
        assert client.post(control, json={"endpoint": "x", "kind": "boom"}).status_code == 400
        assert client.post(control, json={"kind": "500"}).status_code == 400


@pytest.mark.parametrize("kind", KINDS)
def test_every_fault_kind_over_http(sandbox: Sandbox, wati: httpx.Client, kind: str) -> None:
    fault = {"endpoint": "getMessageTemplates", "kind": kind, "delay": 0.02}
    assert httpx.post(f"{sandbox.url}/_sandbox/faults", json=fault).status_code == 200
    try:
        response = wati.get("/getMessageTemplates")
    except httpx.TransportError:
        assert kind in ("reset", "reset_after")
    else:
        assert kind not in ("reset", "reset_after")
        expected = {"500": 500, "429": 429, "401": 401, "404": 404, "cloudflare": 403}.get(
            kind, 200
        )
        assert response.status_code == expected
        if kind == "cloudflare":
            assert response.headers["content-type"].startswith("text/html")
            assert "error code: 1010" in response.text and "Cloudflare" in response.text
            assert sandbox.calls() == 0  # refused before Wati counts anything
        elif kind == "malformed":
            with pytest.raises(ValueError):
                response.json()
        elif kind == "slow":
            assert response.json()["result"] == "success"
    assert sandbox.faults.pending() == []
    assert wati.get("/getMessageTemplates").json()["result"] == "success"
