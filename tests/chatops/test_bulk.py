"""Bulk chat-ops: `/wati broadcast` (pasted numbers or a CSV file) and `/wati attributes`."""

from __future__ import annotations

from typing import Any

import pytest

from bot.chatops.broadcasts import Broadcasts, broadcast_name
from bot.chatops.recipients import attribute_rows, recipients
from bot.slack import modals
from bot.text.templates import render
from bot.wati.errors import WatiRejected
from tests.chatops.kit import CHANNEL_A, CHANNEL_B, CUSTOMER, SLACK_A, Kit, answer, files
from tests.kit import ADMIN, AGENT


def _broadcast_modal(kit: Kit, template: str = "order_update") -> dict[str, Any]:
    kit.command("broadcast")
    kit.pick(kit.view(modals.BROADCAST_VIEW), template)
    return kit.view(modals.BROADCAST_VIEW)


def _csv(kit: Kit, text: str, name: str = "list.csv") -> dict[str, Any]:
    return kit.slack.add_file(text.encode(), name=name, mimetype="text/csv", user=ADMIN)


BLANK = {"param:name": None, "param:order_number": None}  # optional inputs left empty


def _broadcasts(kit: Kit, chunk_size: int = 100) -> Broadcasts:
    """A broadcasts owner on the bridge's store and clients, chunks of `chunk_size`."""
    bridge = kit.bridge
    return Broadcasts(
        store=bridge.store,
        wati=bridge.wati,
        poster=bridge.poster,
        clock=bridge.clock,
        chunk_size=chunk_size,
    )


def _report(kit: Kit) -> str:
    found = [m["text"] for m in kit.slack.messages(SLACK_A) if ":loudspeaker:" in m.get("text", "")]
    assert len(found) == 1
    return found[0]


def test_broadcast_from_a_csv_file_reports_the_bad_number(kit: Kit) -> None:
    view = _broadcast_modal(kit)
    csv = _csv(
        kit,
        "phone,name,order_number\n+44 7700 900124,Bo,1001\n12345,Cy,1002\n+55 11 91234-5678,Di,1003\n",
    )

    kit.submit(view, {modals.TEMPLATE: "order_update", **BLANK, modals.CSV: files(csv)})
    assert kit.sandbox.sent_by_api() == []  # recorded: the bridge's job sends it
    kit.bridge.broadcasts.process()

    sent = kit.sandbox.sent_by_api(CHANNEL_A)
    assert sorted((s["customer"], s["text"]) for s in sent) == [
        ("447700900124", "Hello Bo, your order 1001 has shipped."),
        ("5511912345678", "Hello Di, your order 1003 has shipped."),
    ]
    assert kit.sandbox.sent_by_api(CHANNEL_B) == []
    assert kit.sandbox.calls("sendTemplateMessages") == 1
    report = _report(kit)
    assert "finished — 2 accepted by Wati, 1 failed (of 3 recipient(s))" in report
    assert "• 12345: not a phone number with a country code" in report


def test_broadcast_to_pasted_numbers_uses_the_typed_values(kit: Kit) -> None:
    view = _broadcast_modal(kit, "hello_again")

    kit.submit(
        view,
        {
            modals.TEMPLATE: "hello_again",
            "param:name": "friend",
            modals.RECIPIENTS: "+44 7700 900124\n+44 7700 900125\n+44 7700 900124\n",
            modals.BROADCAST_NAME: "spring-list",
        },
    )
    kit.bridge.broadcasts.process()

    sent = kit.sandbox.sent_by_api(CHANNEL_A)
    assert sorted(s["customer"] for s in sent) == ["447700900124", "447700900125"]
    assert {s["broadcastName"] for s in sent} == {"spring-list"}
    assert all(s["text"].startswith("Hi friend,") for s in sent)
    assert "2 accepted by Wati, 0 failed" in _report(kit)
    assert kit.told(SLACK_A)[-1] == "1 repeated number(s) got the template once."


def test_a_big_broadcast_goes_in_chunks_of_100_with_progress(kit: Kit) -> None:
    view = _broadcast_modal(kit)
    rows = "".join(f"+44 7700 9{i:05d},N{i},{i}\n" for i in range(205))
    csv = _csv(kit, "phone,name,order_number\n" + rows)
    kit.slack.clear_calls()

    kit.submit(view, {modals.TEMPLATE: "order_update", **BLANK, modals.CSV: files(csv)})
    kit.bridge.broadcasts.process()

    assert kit.sandbox.calls("sendTemplateMessages") == 3
    assert len(kit.sandbox.sent_by_api(CHANNEL_A)) == 205
    assert len(kit.slack.calls_to("chat.update")) == 4  # after each chunk, then the report
    assert "finished — 205 accepted by Wati, 0 failed" in _report(kit)


def test_broadcast_needs_recipients_and_an_admin(kit: Kit) -> None:
    view = _broadcast_modal(kit)

    empty = kit.submit(
        view, {modals.TEMPLATE: "order_update", "param:name": "x", "param:order_number": "1"}
    )
    useless = kit.submit(
        view, {modals.TEMPLATE: "order_update", **BLANK, modals.RECIPIENTS: "+44 7700 900124"}
    )
    kit.command("broadcast", user=AGENT)

    assert answer(empty)["errors"] == {
        modals.RECIPIENTS: "Paste numbers (one per line) or attach a CSV file."
    }
    assert answer(useless)["errors"] == {
        modals.RECIPIENTS: "No usable recipient: 447700900124: no value for {{name}}."
    }
    assert kit.slack.responses[-1]["text"].startswith(
        "Only workspace admins and owners can broadcast. Whoever runs the bridge can name who "
        "may: BRIDGE_ADMINS"
    )
    assert kit.sandbox.sent_by_api() == []


def test_a_login_page_instead_of_the_csv_is_refused(kit: Kit) -> None:
    view = _broadcast_modal(kit)
    csv = _csv(kit, "phone\n+44 7700 900124\n")
    forged = {
        **csv,
        "url_private_download": csv["url_private_download"].replace(csv["id"], "F0MISSING"),
    }

    kit.submit(view, {modals.TEMPLATE: "order_update", **BLANK, modals.CSV: files(forged)})

    assert kit.sandbox.sent_by_api() == []
    assert "sign-in page instead of the file" in kit.told(SLACK_A)[-1]


def test_a_replayed_broadcast_sends_once(kit: Kit) -> None:
    view = _broadcast_modal(kit, "hello_again")
    prepared = kit.submission(
        view,
        {modals.TEMPLATE: "hello_again", "param:name": "x", modals.RECIPIENTS: "+44 7700 900124"},
    )

    kit.deliver(prepared)
    kit.deliver(prepared)
    kit.bridge.broadcasts.process()

    assert len(kit.sandbox.sent_by_api()) == 1


def test_attributes_from_a_csv_file(kit: Kit) -> None:
    kit.conversation()
    kit.command("attributes")
    view = kit.view(modals.ATTRIBUTES_VIEW)
    csv = _csv(kit, "phone,city,plan\n+44 7700 900123,Pune,gold\nnot a number,x,y\n")

    kit.submit(view, {modals.CSV: files(csv)})

    contact = kit.sandbox.contact(CUSTOMER)
    assert contact is not None
    assert {p["name"]: p["value"] for p in contact["customParams"]} == {
        "city": "Pune",
        "plan": "gold",
    }
    told = kit.told(SLACK_A)[-1]
    assert told.startswith("Contact attributes (city, plan) set on 1 contact(s) of 2 row(s).")
    assert "• not a number: not a phone number with a country code" in told


def test_attributes_form_checks_pasted_csv_and_admin(kit: Kit) -> None:
    kit.command("attributes")
    view = kit.view(modals.ATTRIBUTES_VIEW)

    nothing = kit.submit(view, {})
    no_header = kit.submit(view, {modals.TEXT: "+44 7700 900123,Pune"})
    kit.command("attributes", user=AGENT)

    assert answer(nothing)["errors"] == {modals.CSV: "Attach a CSV file or paste the CSV text."}
    assert answer(no_header)["errors"][modals.TEXT].startswith(
        "The first row must name the columns"
    )
    assert kit.slack.responses[-1]["text"].startswith("Only workspace admins and owners")


# -- the pure parts ------------------------------------------------------------------------------


def test_recipients_from_pasted_lines_and_a_csv() -> None:
    found = recipients(
        "+44 7700 900124\n\nnope\n",
        "Number;Name\n+55 11 91234-5678;Di\n0044 7700 900124;Bo\n",
        ["name"],
        {"name": "friend"},
    )

    assert found.receivers == [
        ("447700900124", {"name": "friend"}),
        ("5511912345678", {"name": "Di"}),
    ]
    assert found.failures == [("nope", "not a phone number with a country code")]
    assert found.duplicates == 1


def test_recipients_csv_without_header_reads_the_first_column() -> None:
    found = recipients("", "+44 7700 900124,whatever\n+44 7700 900125\n", [], {})

    assert [n for n, _ in found.receivers] == ["447700900124", "447700900125"]


def test_attribute_rows_need_a_phone_header_and_skip_empty_cells() -> None:
    rows = attribute_rows("\ufeffphone,city,plan\n+44 7700 900123,,gold\n+44 7700 900123,x,y\n")

    assert rows.rows == [("447700900123", {"plan": "gold"})]
    assert rows.failures == [("447700900123", "listed twice; the first row was used")]
    with pytest.raises(ValueError, match="phone"):
        attribute_rows("number only\n")


def test_render_and_broadcast_name() -> None:
    from datetime import UTC, datetime

    assert render("Hi {{ name }}, {{missing}}", {"name": "Ana"}) == "Hi Ana, {{missing}}"
    assert broadcast_name("order_update", datetime(2026, 6, 2, 9, 5, tzinfo=UTC)) == (
        "slack_order_update_20260602_0905"
    )


def test_long_broadcast_waits_out_the_rate_limit_and_updates_progress_sparingly(kit: Kit) -> None:
    template = kit.bridge.wati.get_message_templates()[0]  # hello_again: {{name}}
    link = kit.bridge.store.link_for_channel(SLACK_A)
    assert link is not None
    # 40 calls of 10: Wati allows 30 per 10 s, so the 31st is answered 429 and waited out.
    broadcasts = _broadcasts(kit, chunk_size=10)
    receivers = [(f"4477009{i:05d}", {"name": "N"}) for i in range(400)]
    kit.slack.clear_calls()

    broadcasts.start(link, template, receivers, [], ADMIN)
    broadcasts.process()  # 30 chunks, then a 429: the broadcast waits, nothing sleeps
    assert kit.sandbox.calls("sendTemplateMessages") == 31
    assert broadcasts.process() == 0  # not before the time Wati named
    kit.clock.advance(10)
    broadcasts.process()

    assert len(kit.sandbox.sent_by_api(CHANNEL_A)) == 400
    assert kit.sandbox.calls("sendTemplateMessages") == 41  # one refused with 429, then retried
    assert len(kit.slack.calls_to("chat.update")) == 21  # every 2nd chunk, then the report
    assert "finished — 400 accepted by Wati, 0 failed (of 400 recipient(s))" in _report(kit)


def test_numbers_wati_refuses_are_reported_each_with_watis_reason(kit: Kit) -> None:
    # Live tenants answer `result: true` and list the refused numbers under `errors`, with
    # no `receivers`: a partial failure that must not count as accepted.
    kit.sandbox.not_on_whatsapp("447700900125")
    view = _broadcast_modal(kit)
    csv = _csv(kit, "phone,name,order_number\n+44 7700 900124,Bo,1\n+44 7700 900125,Cy,2\n")

    kit.submit(view, {modals.TEMPLATE: "order_update", **BLANK, modals.CSV: files(csv)})
    kit.bridge.broadcasts.process()

    assert [s["customer"] for s in kit.sandbox.sent_by_api(CHANNEL_A)] == ["447700900124"]
    report = _report(kit)
    assert "1 accepted by Wati, 1 failed (of 2 recipient(s))" in report
    assert "+44 7700 900125: Wati says it is not a valid WhatsApp number" in report


def test_bulk_client_reads_each_list_of_the_recorded_answer(kit: Kit) -> None:
    kit.sandbox.not_on_whatsapp("447700900126")
    full = {"name": "Ana", "order_number": "7"}
    result = kit.bridge.wati.send_template_messages(
        "order_update",
        [("447700900124", full), ("447700900125", {"name": "Bo"}), ("447700900126", full)],
        channel_number=CHANNEL_A,
        broadcast_name="b1",
    )
    assert result.accepted == ["447700900124"]
    assert result.failed == [
        ("447700900125", "Wati refused its template parameters"),
        ("447700900126", "Wati says it is not a valid WhatsApp number"),
    ]
    # A request refused whole: `result: false`, the reason under `errors.error`.
    with pytest.raises(WatiRejected, match="not approved"):
        kit.bridge.wati.send_template_messages(
            "spring_sale", [("447700900124", full)], channel_number=CHANNEL_A, broadcast_name="b2"
        )


def test_a_report_of_many_failures_with_long_reasons_fits_slacks_limits(kit: Kit) -> None:
    template = kit.bridge.wati.get_message_templates()[0]
    link = kit.bridge.store.link_for_channel(SLACK_A)
    assert link is not None
    broadcasts = _broadcasts(kit)
    reason = "Wati refused this number because " + "the reason goes on and on " * 10
    refused = [(f"4477009{i:05d}", reason) for i in range(100)]
    kit.slack.clear_calls()

    broadcasts.start(link, template, [], refused, ADMIN)
    broadcasts.process()

    [update] = kit.slack.calls_to("chat.update")  # the final report; the stand-in checks limits
    assert update.ok
    [message] = [m for m in kit.slack.messages(SLACK_A) if ":loudspeaker:" in m.get("text", "")]
    sections = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
    assert len(sections) >= 2 and all(len(text) <= 3000 for text in sections)
    assert "…and 80 more" in sections[-1]
