"""The stand-in's Socket Mode: apps.connections.open and Slack's WebSocket protocol.

Driven by a raw WebSocket client (to see the wire) and by slack_sdk's own SocketModeClient,
the client Bolt's SocketModeHandler uses, for disconnects, drops and reconnects.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from bot.devtools.harness.world import wait_until
from bot.devtools.slack_standin.server import SlackStandIn

CHANNEL, USER = "C0SUPPORT", "U0AGENT"
EVENT = {
    "type": "event_callback",
    "event_id": "Ev0SOCKET1",
    "event": {"type": "message", "channel": CHANNEL, "user": USER, "text": "hi", "ts": "1.000100"},
}


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn(ack_timeout=0.3) as running:
        running.add_channel(CHANNEL, "support")
        yield running


def _open(standin: SlackStandIn, token: str | None = None) -> str:
    web = WebClient(base_url=standin.api_url)
    return str(web.apps_connections_open(app_token=token or standin.app_token)["url"])


def _error(standin: SlackStandIn, token: str) -> Any:
    with pytest.raises(SlackApiError) as raised:
        _open(standin, token)
    return raised.value.response


def _receive(conn: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(conn.recv(timeout=5))
    return message


def test_open_gives_a_one_use_ws_url_and_a_hello(standin: SlackStandIn) -> None:
    url = _open(standin)

    assert url.startswith(f"ws://127.0.0.1:{standin.socket.port}/link/?ticket=")
    with connect(url) as conn:
        hello = _receive(conn)
        assert hello["type"] == "hello"
        assert hello["num_connections"] == 1
        assert hello["connection_info"] == {"app_id": standin.app_id}
    with pytest.raises(InvalidStatus) as refused:
        connect(url)  # the ticket is spent
    assert refused.value.response.status_code == 401


@pytest.mark.parametrize(
    ("token", "error"),
    [("xoxb-standin", "not_allowed_token_type"), ("xapp-bogus", "invalid_auth")],
)
def test_open_refuses_a_wrong_or_unknown_token(
    standin: SlackStandIn, token: str, error: str
) -> None:
    assert _error(standin, token)["error"] == error


def test_open_without_a_token_and_bot_methods_with_the_app_token_are_refused(
    standin: SlackStandIn,
) -> None:
    bare = WebClient(base_url=standin.api_url)
    with pytest.raises(SlackApiError) as raised:
        bare.api_call("apps.connections.open")
    assert raised.value.response["error"] == "not_authed"
    with pytest.raises(SlackApiError) as raised:
        WebClient(token=standin.app_token, base_url=standin.api_url).auth_test()
    assert raised.value.response["error"] == "not_allowed_token_type"


def test_open_needs_connections_write() -> None:
    with SlackStandIn(app_scopes=("authorizations:read",)) as standin:
        response = _error(standin, standin.app_token)
    assert response["error"] == "missing_scope"
    assert response["needed"] == "connections:write"


def test_open_can_be_refused_on_demand(standin: SlackStandIn) -> None:
    standin.fail_next("apps.connections.open", status=200, error="invalid_auth")

    assert _error(standin, standin.app_token)["error"] == "invalid_auth"
    assert _open(standin).startswith("ws://")  # only the next one was refused


def test_an_unacked_event_comes_again_with_retry_attempt_until_acked(
    standin: SlackStandIn,
) -> None:
    with connect(_open(standin)) as conn:
        _receive(conn)  # hello
        envelope = standin.socket.deliver("events_api", EVENT)
        first, second = _receive(conn), _receive(conn)
        conn.send(json.dumps({"envelope_id": envelope.envelope_id}))
        assert standin.socket.wait_ack(envelope)

    assert first == {
        "envelope_id": envelope.envelope_id,
        "payload": EVENT,
        "type": "events_api",
        "accepts_response_payload": False,
    }
    assert second["envelope_id"] == first["envelope_id"]
    assert (second["retry_attempt"], second["retry_reason"]) == (1, "timeout")
    assert envelope.sends == 2


def test_retries_stop_after_three(standin: SlackStandIn) -> None:
    with connect(_open(standin)) as conn:
        _receive(conn)
        standin.socket.deliver("events_api", EVENT)
        attempts = [_receive(conn).get("retry_attempt") for _ in range(4)]
        with pytest.raises(TimeoutError):
            conn.recv(timeout=1.0)
    assert attempts == [None, 1, 2, 3]


def test_a_command_ack_payload_is_its_response_and_commands_are_not_retried(
    standin: SlackStandIn,
) -> None:
    command = {"command": "/wati", "text": "help", "channel_id": CHANNEL, "user_id": USER}
    with connect(_open(standin)) as conn:
        _receive(conn)
        envelope = standin.socket.deliver("slash_commands", command)
        sent = _receive(conn)
        with pytest.raises(TimeoutError):
            conn.recv(timeout=0.8)  # past the ack timeout: no second delivery
        conn.send(json.dumps({"envelope_id": sent["envelope_id"], "payload": {"text": "Usage"}}))
        assert standin.socket.wait_ack(envelope)

    assert sent["accepts_response_payload"] is True
    assert envelope.ack_payload == {"text": "Usage"}
    shown = standin.ephemerals(CHANNEL)
    assert [(e["source"], e["text"]) for e in shown] == [("ack", "Usage")]


def test_envelopes_wait_for_a_connection(standin: SlackStandIn) -> None:
    envelope = standin.socket.deliver("interactive", {"type": "block_actions"})
    assert envelope.sends == 0
    with connect(_open(standin)) as conn:
        assert _receive(conn)["type"] == "hello"
        assert _receive(conn)["envelope_id"] == envelope.envelope_id


class _App:
    """slack_sdk's SocketModeClient acking every envelope, as Bolt's handler does."""

    def __init__(self, standin: SlackStandIn) -> None:
        self.got: list[SocketModeRequest] = []
        web = WebClient(base_url=standin.api_url)
        self.client = SocketModeClient(app_token=standin.app_token, web_client=web)
        self.client.socket_mode_request_listeners.append(self._on_request)  # type: ignore[arg-type]

    def _on_request(self, client: SocketModeClient, request: SocketModeRequest) -> None:
        self.got.append(request)
        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))


@pytest.fixture
def app(standin: SlackStandIn) -> Iterator[_App]:
    app = _App(standin)
    app.client.connect()  # type: ignore[no-untyped-call]
    yield app
    app.client.close()  # type: ignore[no-untyped-call]


def _delivered(standin: SlackStandIn, app: _App) -> None:
    envelope = standin.socket.deliver("events_api", EVENT)
    assert standin.socket.wait_ack(envelope)
    assert app.got[-1].envelope_id == envelope.envelope_id


def test_sdk_client_reconnects_after_refresh_requested(standin: SlackStandIn, app: _App) -> None:
    _delivered(standin, app)

    standin.socket.disconnect("refresh_requested", grace=0.5)
    wait_until(lambda: standin.socket.connected == 2, 10, "a second connection")
    wait_until(lambda: standin.socket.connections == 1, 10, "the old one closed")

    _delivered(standin, app)
    assert standin.socket.opened == 2
    assert standin.socket.envelopes[-1].connections == [2]


def test_sdk_client_reconnects_after_a_dropped_connection(standin: SlackStandIn, app: _App) -> None:
    _delivered(standin, app)

    standin.socket.drop()
    wait_until(lambda: standin.socket.connected == 2, 20, "a new connection")

    _delivered(standin, app)
