"""What WhatsApp charges for is counted where every send passes: `WatiClient` tells `on_sent`
what Wati accepted (session texts, files, buttons; templates, one per accepted number), and
nothing it refused. Against the sandbox over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.devtools.sandbox import Sandbox
from bot.insights.spend import FREE_PER_MONTH, Spend, Usage, this_month
from bot.store import open_store
from bot.wati.client import WatiClient
from bot.wati.errors import WatiRejected, WatiTicketClosed

SALES, SUPPORT = "15550000001", "15550000002"
ANA, BO, NOBODY = "447700900123", "5511912345678", "4915100000001"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "wati.db", channels=(SALES, SUPPORT)) as sb:
        sb.add_template("hello", "Hello {{name}}")
        yield sb


def test_every_kind_of_send_is_counted_once_per_message_wati_took(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    store = open_store(tmp_path / "bridge.db")
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    spend = Spend(store=store, now=lambda: now)
    sandbox.customer_says(SALES, ANA, "hi")
    sandbox.not_on_whatsapp(NOBODY)
    with WatiClient(sandbox.api_endpoint, sandbox.token, on_sent=spend.count) as wati:
        wati.send_session_message(ANA, "one", channel_number=SALES)
        wati.send_session_file(
            ANA, filename="a.txt", content=b"x", content_type="text/plain", channel_number=SALES
        )
        wati.send_interactive_buttons(ANA, "Rate us", ["Good"], channel_number=SALES)
        wati.send_template_message(
            BO, "hello", {"name": "Bo"}, channel_number=SUPPORT, broadcast_name="b1"
        )
        result = wati.send_template_messages(
            "hello",
            [(ANA, {"name": "Ana"}), (NOBODY, {"name": "X"})],
            channel_number=SUPPORT,
            broadcast_name="b2",
        )
        assert result.accepted == [ANA]
        with pytest.raises(WatiTicketClosed):
            wati.send_session_message(BO, "closed window", channel_number=SUPPORT)
        with pytest.raises(WatiRejected):
            wati.send_template_message(
                BO, "no_such_template", {}, channel_number=SUPPORT, broadcast_name="b3"
            )
    usage = this_month(store, now)
    assert usage == {SALES: Usage(session=3), SUPPORT: Usage(template=2)}
    assert usage[SALES].free_left == FREE_PER_MONTH - 3
    assert "3 session replies · 0 templates · 997 of 1,000 free replies left" == usage[SALES].line()
    # A new calendar month starts from nothing.
    assert this_month(store, datetime(2027, 1, 1, tzinfo=UTC)) == {}
    store.close()
