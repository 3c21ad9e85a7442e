"""POST /wati/webhook over real HTTP: the token, what gets recorded, what is only answered."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from bot.service import Bridge
from bot.store import open_store
from bot.webhooks.receiver import MAX_BODY, WEBHOOK_PATH
from bot.webhooks.registration import webhook_token
from tests.kit import CHANNEL_A

MESSAGE = {
    "id": "6a4cea47e8753cf5d4facbdb",
    "created": "2026-07-07T12:00:07.838Z",
    "whatsappMessageId": "wamid.HBgM",
    "text": "Hello! Can I get more info on this?",
    "type": "text",
    "timestamp": "1783425605",
    "owner": False,
    "eventType": "message",
    "statusString": "SENT",
    "waId": "260977000000",
    "senderName": "Car Doctor",
    "channelId": None,
}


def _post(served: str, token: str | None, body: bytes | dict[str, object]) -> httpx.Response:
    query = {} if token is None else {"token": token}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{served}{WEBHOOK_PATH}", params=query, content=content)


def _events(bridge: Bridge) -> int:
    return int(bridge.store.query("select count(*) as n from webhook_events")[0]["n"])


@pytest.mark.parametrize("token", [None, "", "wrong-token-wrong-token", "x"])
def test_a_wrong_or_missing_token_gets_403_and_changes_nothing(
    served: str, bridge: Bridge, token: str | None
) -> None:
    response = _post(served, token, MESSAGE)
    assert response.status_code == 403
    assert _events(bridge) == 0


def test_a_good_event_is_recorded_once_whatever_the_repeats(served: str, bridge: Bridge) -> None:
    for _ in range(3):
        assert _post(served, bridge.webhooks.token, MESSAGE).status_code == 200
    (row,) = bridge.store.query("select * from webhook_events")
    assert row["key"] == "message:6a4cea47e8753cf5d4facbdb"
    assert row["state"] == "pending" and row["customer_number"] == "260977000000"
    assert row["channel_number"] is None  # not in the payload, not in the URL


def test_the_number_comes_from_the_payload_else_from_the_url(served: str, bridge: Bridge) -> None:
    token = bridge.webhooks.token
    httpx.post(f"{served}{WEBHOOK_PATH}?token={token}&channel={CHANNEL_A}", json=MESSAGE)
    other = {**MESSAGE, "id": "6a4cea47e8753cf5d4facbdc", "channelPhoneNumber": "+1 555 0000002"}
    httpx.post(f"{served}{WEBHOOK_PATH}?token={token}&channel={CHANNEL_A}", json=other)
    rows = bridge.store.query("select wati_id, channel_number from webhook_events order by wati_id")
    assert [r["channel_number"] for r in rows] == [CHANNEL_A, "15550000002"]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"eventType": "message"}',  # no id
        json.dumps({**MESSAGE, "created": None, "timestamp": None}).encode(),
        json.dumps({**MESSAGE, "id": "x" * 500}).encode(),
        b"[" * 100_000,
        b"{" + b" " * (MAX_BODY + 10) + b"}",
    ],
    ids=["text", "list", "no-id", "no-time", "long-id", "deep", "oversized"],
)
def test_malformed_bodies_are_answered_200_without_effect(
    served: str, bridge: Bridge, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.webhooks"):
        assert _post(served, bridge.webhooks.token, body).status_code == 200
    assert _events(bridge) == 0
    assert any("webhook ignored" in r.getMessage() for r in caplog.records)


def test_v1_twins_and_inbox_echoes_are_answered_but_not_recorded(
    served: str, bridge: Bridge
) -> None:
    token = bridge.webhooks.token
    assert _post(served, token, {**MESSAGE, "eventType": "sessionMessageSent"}).status_code == 200
    assert _post(served, token, {**MESSAGE, "owner": True}).status_code == 200
    assert _post(served, token, {**MESSAGE, "eventType": "templateReviewed"}).status_code == 200
    assert _events(bridge) == 0


def test_neither_the_token_nor_the_body_reaches_the_logs(
    served: str, bridge: Bridge, caplog: pytest.LogCaptureFixture
) -> None:
    token = bridge.webhooks.token
    with caplog.at_level(logging.DEBUG):
        _post(served, token, MESSAGE)
        _post(served, token + "x", MESSAGE)
        _post(served, token, b"garbage")
        bridge.webhooks.hub.process()
    # The bridge's own loggers and its server's (the test's own httpx client logs URLs).
    ours = [r for r in caplog.records if r.name.startswith(("bot", "uvicorn"))]
    logged = "\n".join(r.getMessage() for r in ours)
    assert token not in logged and WEBHOOK_PATH not in logged
    assert str(MESSAGE["text"]) not in logged


def test_the_payload_is_forgotten_once_processed(served: str, bridge: Bridge) -> None:
    _post(served, bridge.webhooks.token, MESSAGE)
    bridge.webhooks.hub.process()
    (row,) = bridge.store.query("select state, payload, note from webhook_events")
    assert row["payload"] is None and row["state"] == "ignored"  # no linked number took it
    assert row["note"] == "number not linked"


def test_the_token_is_generated_once_and_kept(tmp_path: object, bridge: Bridge) -> None:
    first = bridge.webhooks.token
    assert len(first) >= 32
    again = open_store(bridge.settings.db_path)
    try:
        assert webhook_token(again, None) == first
        assert webhook_token(again, "configured-token-1234") == "configured-token-1234"
    finally:
        again.close()
