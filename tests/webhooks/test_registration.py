"""Registering a webhook per linked number with the sandbox Wati, and `wati-bridge webhooks`."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from bot.cli import main
from bot.config import Settings
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge, build
from bot.webhooks.events import EVENT_TYPES
from tests.kit import ADMIN, CHANNEL_A, CHANNEL_B, SLACK_A, SLACK_B

PUBLIC = "https://bridge.example.com"


@pytest.fixture
def public(settings: Settings) -> Bridge:
    """A bridge with BRIDGE_PUBLIC_URL set and both numbers linked."""
    built = build(replace(settings, public_url=PUBLIC), slack_min_interval=0.0)
    built.store.link(CHANNEL_A, SLACK_A, ADMIN)
    built.store.link(CHANNEL_B, SLACK_B, ADMIN)
    yield built  # type: ignore[misc]
    built.shutdown()


def test_each_linked_number_is_registered_once_and_remembered(
    public: Bridge, sandbox: Sandbox
) -> None:
    assert public.webhooks.registrar.sync() == 2
    assert public.webhooks.registrar.sync() == 0  # remembered: Wati cannot list them
    hooks = sandbox.webhooks.hooks
    assert sorted(h.channel for h in hooks) == [CHANNEL_A, CHANNEL_B]
    token = public.webhooks.token
    assert {h.url for h in hooks} == {
        f"{PUBLIC}/wati/webhook?token={token}&channel={n}" for n in (CHANNEL_A, CHANNEL_B)
    }
    assert hooks[0].event_types == list(EVENT_TYPES)
    row = public.store.number_webhook(CHANNEL_A)
    assert row is not None and row.webhook_id == hooks[0].id
    assert row.url is not None and token not in row.url  # kept without the secret


def test_without_a_public_url_nothing_is_registered(bridge: Bridge, sandbox: Sandbox) -> None:
    bridge.store.link(CHANNEL_A, SLACK_A, ADMIN)
    assert bridge.webhooks.registrar.sync() == 0
    assert sandbox.webhooks.hooks == []


def test_the_cap_error_is_said_in_plain_words_and_not_retried(
    public: Bridge, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    sandbox.webhooks.cap = 1
    assert public.webhooks.registrar.sync() == 1
    row = public.store.number_webhook(CHANNEL_B)
    assert row is not None and row.error_kind == "cap"
    assert "as many webhooks as its plan allows" in (row.error or "")
    notices = [m["text"] for m in slack.messages(SLACK_B)]
    assert any("Connectors → Webhooks" in t for t in notices)
    calls = sandbox.calls("webhookEndpoints")
    assert public.webhooks.registrar.sync() == 0
    assert sandbox.calls("webhookEndpoints") == calls  # a person has to act first
    assert public.store.clear_webhook_errors() == 1
    sandbox.webhooks.cap = 5
    assert public.webhooks.registrar.sync() == 1


def test_a_plan_without_webhooks_is_named(public: Bridge, sandbox: Sandbox) -> None:
    sandbox.webhooks.enabled = False
    assert public.webhooks.registrar.sync() == 0
    row = public.store.number_webhook(CHANNEL_A)
    assert row is not None and row.error_kind == "plan"
    assert "plan seems to have no webhooks" in (row.error or "")


def test_wati_answers_405_to_listing_and_deleting(sandbox: Sandbox) -> None:
    url = f"{sandbox.api_endpoint}/api/v2/webhookEndpoints"
    headers = {"Authorization": f"Bearer {sandbox.token}"}
    for method in ("GET", "PUT", "DELETE"):
        assert httpx.request(method, url, headers=headers).status_code == 405
    assert httpx.post(url, json=[]).status_code == 401  # the token is still checked


def test_the_webhooks_command_shows_url_registration_and_last_event(
    public: Bridge,
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    public.webhooks.registrar.sync()
    public.webhooks.trust.note_event(CHANNEL_A, "message")
    settings = public.settings
    env = {
        "SLACK_BOT_TOKEN": settings.slack_bot_token,
        "SLACK_SIGNING_SECRET": "x",
        "WATI_API_ENDPOINT": settings.wati_api_endpoint,
        "WATI_ACCESS_TOKEN": settings.wati_access_token,
        "BRIDGE_DB": settings.db_path,
        "BRIDGE_PUBLIC_URL": PUBLIC,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    assert main(["webhooks"]) == 0
    out = capsys.readouterr().out
    token = public.webhooks.token
    assert f"{PUBLIC}/wati/webhook?token={token}&channel={CHANNEL_A}" in out
    assert out.count("registered:    yes") == 2
    assert "(message)" in out and "none yet" in out
    assert "healthy; polling is only the safety net" in out


def test_a_refusal_quoting_the_url_keeps_its_token_out_of_logs_and_notices(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/webhookEndpoints"):
            url = json.loads(request.content)[0]["url"]
            return httpx.Response(400, json={"message": f"Invalid url: {url}"})
        return httpx.Response(200, json={})

    built = build(
        replace(settings, public_url=PUBLIC),
        wati_transport=httpx.MockTransport(answer),
        slack_min_interval=0.0,
    )
    try:
        built.store.link(CHANNEL_A, SLACK_A, ADMIN)
        with caplog.at_level(logging.DEBUG):
            assert built.webhooks.registrar.sync() == 0
        token = built.webhooks.token
        row = built.store.number_webhook(CHANNEL_A)
        assert row is not None and row.error is not None
        assert "Invalid url" in row.error and token not in row.error and "<token>" in row.error
        assert "Invalid url" in caplog.text and token not in caplog.text
    finally:
        built.shutdown()
