"""The client against the answers live tenants give (docs/WATI.md), over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_standin.server import SlackStandIn
from bot.ops.doctor import diagnose
from bot.wati.client import WatiClient
from bot.wati.errors import (
    WatiAuthError,
    WatiBlocked,
    WatiRateLimited,
    WatiTicketClosed,
    WatiWindowClosed,
)

CHANNEL, CUSTOMER = "15550000001", "447700900123"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "wati.db", channels=(CHANNEL,)) as box:
        yield box


@pytest.fixture
def wati(sandbox: Sandbox) -> Iterator[WatiClient]:
    with WatiClient(sandbox.api_endpoint, sandbox.token) as client:
        yield client


def test_cloudflare_403_is_the_firewall_not_the_token(sandbox: Sandbox, wati: WatiClient) -> None:
    sandbox.faults.inject("getMessageTemplates", "cloudflare")
    with pytest.raises(WatiBlocked) as info:
        wati.get_message_templates()
    assert not isinstance(info.value, WatiAuthError)
    assert info.value.status_code == 403
    assert "firewall" in info.value.reason and "1010" in info.value.reason
    assert "not a token problem" in info.value.reason
    assert "<" not in info.value.reason  # none of the HTML page
    # Only Cloudflare's page is the firewall: a JSON 403 from Wati stays an auth error
    # (tests/wati/test_client.py::test_403_is_auth_error).
    assert wati.get_message_templates()  # the fault was used up


def test_doctor_says_the_firewall_refused_the_client(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.faults.inject("*", "cloudflare")
    with SlackStandIn().start() as slack:
        findings = diagnose(
            {
                "SLACK_BOT_TOKEN": slack.bot_token,
                "SLACK_SIGNING_SECRET": "s",
                "SLACK_API_URL": slack.api_url,
                "WATI_API_ENDPOINT": sandbox.api_endpoint,
                "WATI_ACCESS_TOKEN": sandbox.token,
                "BRIDGE_DB": str(tmp_path / "b.db"),
            }
        )
    [found] = [f for f in findings if f.check == "wati"]
    assert not found.ok
    assert "firewall" in found.detail and "not a token problem" in found.detail
    assert "refused the token" not in found.detail
    assert "Cloudflare" in found.fix and "copy the access token" not in found.fix


def test_ticket_expired_is_a_closed_ticket_with_its_status(
    sandbox: Sandbox, wati: WatiClient
) -> None:
    sandbox.customer_says(CHANNEL, CUSTOMER, "hi")
    sandbox.close_chat(CHANNEL, CUSTOMER)
    with pytest.raises(WatiTicketClosed) as info:
        wati.send_session_message(CUSTOMER, "hello", channel_number=CHANNEL)
    assert isinstance(info.value, WatiWindowClosed)  # callers without the reopen path
    assert info.value.reason == "Ticket has been expired."
    assert info.value.ticket_status == "CLOSED" and info.value.status_code == 200


def test_spam_limit_refusal_is_rate_limited(sandbox: Sandbox, wati: WatiClient) -> None:
    sandbox.customer_says(CHANNEL, CUSTOMER, "hi")
    sandbox.spam_limit = 1
    wati.send_session_message(CUSTOMER, "one", channel_number=CHANNEL)
    with pytest.raises(WatiRateLimited) as info:
        wati.send_session_message(CUSTOMER, "two", channel_number=CHANNEL)
    assert info.value.status_code == 200 and "spam" in info.value.reason.lower()


def test_history_items_are_read_by_who_sent_them(sandbox: Sandbox, wati: WatiClient) -> None:
    sandbox.customer_says(CHANNEL, CUSTOMER, "hi")
    sandbox.customer_reacts(CHANNEL, CUSTOMER, "👍")
    wati.send_template_message(
        CUSTOMER,
        "order_update",
        {"name": "Ana", "order_number": "7"},
        channel_number=CHANNEL,
        broadcast_name="b",
    )
    page = wati.get_messages(CUSTOMER, channel_number=CHANNEL)
    by_kind = {(m.event_type, m.type): m for m in page.items}
    template = by_kind[("broadcastMessage", "")]
    assert "owner" not in template.raw  # as live tenants send it
    assert template.owner and template.template and template.template_name == "order_update"
    assert template.text == "Hello Ana, your order 7 has shipped."
    assert not by_kind[("message", "text")].owner
    assert not by_kind[("message", "reaction")].owner
    assert by_kind[("ticket", "0")].event_type == "ticket"


@pytest.mark.parametrize(
    ("body", "firewall"),
    [
        ("error code: 1010", True),  # Cloudflare's plain-text form of the same refusal
        ("Forbidden", False),  # Wati's own 403 behind Cloudflare: the same headers
        ('{"message": "Missing scope conversations:read"}', False),
    ],
)
def test_only_cloudflares_own_page_is_the_firewall(body: str, firewall: bool) -> None:
    # Every Wati answer passes Cloudflare, so the headers say nothing; the body decides.
    headers = {"Server": "cloudflare", "CF-RAY": "8f1e2d3c4b5a6978-FRA"}
    transport = httpx.MockTransport(lambda r: httpx.Response(403, text=body, headers=headers))
    with WatiClient("https://live-mt-server.wati.io/1", "t", transport=transport) as client:
        with pytest.raises((WatiBlocked, WatiAuthError)) as info:
            client.get_message_templates()
    assert isinstance(info.value, WatiBlocked) is firewall
    assert isinstance(info.value, WatiAuthError) is not firewall
