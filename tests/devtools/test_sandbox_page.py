"""The Wati sandbox's phone page, control routes, persistence and `serve()`."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from bot.devtools.sandbox import Sandbox

SALES, SUPPORT = "15550000001", "15550000002"
ANA = "447700900123"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "wati.db") as sb:
        yield sb


def auth(sandbox: Sandbox) -> dict[str, str]:
    return {"Authorization": f"Bearer {sandbox.token}"}


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value:
                self.tags[value] = tag


def test_the_page_is_served_with_stable_ids(sandbox: Sandbox) -> None:
    page = httpx.get(sandbox.url + "/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    ids = _Ids()
    ids.feed(page.text)
    assert ids.tags["channel"] == "select"
    assert ids.tags["customer"] == "input" and ids.tags["name"] == "input"
    assert ids.tags["text"] in ("input", "textarea")
    assert ids.tags["send"] == "button"
    assert ids.tags["messages"] in ("ul", "ol", "div")
    for marker in ('"msg "', '"out"', '"in"', "dataset.status", "/_sandbox/api/say"):
        assert marker in page.text
    assert not re.search(r"""(src|href)=["']https?:""", page.text)  # self-contained


def test_control_routes_play_the_phone(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.url + "/_sandbox/api") as phone:
        said = phone.post(
            "/say",
            json={
                "channel": SUPPORT,
                "customer": "+44 7700-900123",
                "text": "Hello!",
                "name": "Ana",
            },
        )
        assert said.status_code == 200
        message_id = said.json()["id"]
        assert sandbox.messages(SUPPORT, ANA)[-1]["id"] == message_id
        state = phone.get("/state").json()
        assert state["channels"] == [SALES, SUPPORT]
        assert state["customers"] == [{"number": ANA, "name": "Ana", "channels": [SUPPORT]}]
        reply = httpx.post(
            f"{sandbox.api_endpoint}/api/v1/sendSessionMessage/{ANA}",
            params={"messageText": "Hi Ana", "channelPhoneNumber": SUPPORT},
            headers=auth(sandbox),
        )
        assert reply.json()["ok"] is True
        chat = phone.get("/conversation", params={"channel": SUPPORT, "customer": ANA}).json()
        assert chat["status"] == "OPEN" and chat["windowOpen"] is True
        assert chat["windowSecondsLeft"] > 23 * 3600
        texts = [(m.get("text"), m.get("owner"), m.get("statusString")) for m in chat["messages"]]
        assert texts[-2:] == [("Hello!", False, "SENT"), ("Hi Ana", True, "SENT")]
        assert phone.post("/advance", json={"seconds": 4}).status_code == 200
        chat = phone.get("/conversation", params={"channel": SUPPORT, "customer": ANA}).json()
        assert chat["messages"][-1]["statusString"] == "READ"
        operator = phone.post("/operator", json={"channel": SUPPORT, "customer": ANA, "text": "op"})
        assert sandbox.messages(SUPPORT, ANA)[-1]["id"] == operator.json()["id"]
        assert [m["text"] for m in phone.get("/sent").json()] == ["Hi Ana"]
        photo = phone.post(
            "/file",
            params={"channel": SUPPORT, "customer": ANA, "filename": "cat.png", "caption": "cat"},
            content=b"\x89PNG fake",
            headers={"Content-Type": "image/png"},
        ).json()
        item = sandbox.messages(SUPPORT, ANA)[-1]
        assert (item["id"], item["type"], item["text"]) == (photo["id"], "image", "cat")
        assert phone.get("/media", params={"fileName": photo["data"]}).content == b"\x89PNG fake"
        bad = phone.post("/say", json={"channel": "123", "customer": ANA, "text": "x"})
        assert bad.status_code == 400 and "channel" in bad.json()["error"]
        assert (
            phone.post("/say", json={"channel": SALES, "customer": "12", "text": "x"}).status_code
            == 400
        )
        assert phone.get("/nothing").status_code == 404


def test_state_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "wati.db"
    first = Sandbox(db).start()
    first.customer_says(SALES, ANA, "before the restart", name="Ana Lima")
    first.add_template("custom", "Custom {{x}}", status="REJECTED")
    path = first.add_media("doc.pdf", b"%PDF", "application/pdf")
    headers = auth(first)
    sent = httpx.post(
        f"{first.api_endpoint}/api/v1/sendSessionMessage/{ANA}",
        params={"messageText": "reply"},
        headers=headers,
    ).json()["message"]["id"]
    httpx.post(
        f"{first.api_endpoint}/api/v1/updateChatStatus",
        json={"whatsappNumber": ANA, "ticketStatus": "SOLVED", "channelPhoneNumber": SALES},
        headers=headers,
    )
    port, url = first.port, first.url
    first.stop()
    first.start()  # the same object comes back on the same port
    assert (first.port, first.url) == (port, url)
    assert first.messages(SALES, ANA)[-2]["id"] == sent
    first.stop()

    with Sandbox(db) as again:
        assert [
            m.get("text") for m in again.messages(SALES, ANA) if m["eventType"] == "message"
        ] == [
            "before the restart",
            "reply",
        ]
        assert again.sent_by_api()[0]["id"] == sent
        assert again.chat_status(SALES, ANA) == "SOLVED"
        contact = again.contact(ANA)
        assert contact is not None and contact["fullName"] == "Ana Lima"
        assert again.calls() == 2
        media = httpx.get(
            f"{again.api_endpoint}/api/v1/getMedia", params={"fileName": path}, headers=headers
        )
        assert media.content == b"%PDF"
        templates = httpx.get(
            f"{again.api_endpoint}/api/v1/getMessageTemplates", headers=headers
        ).json()["messageTemplates"]
        assert [t["elementName"] for t in templates].count("hello_again") == 1  # seeded once
        assert {"custom": "REJECTED"}.items() <= {
            t["elementName"]: t["status"] for t in templates
        }.items()


def test_concurrent_customers_and_polls(sandbox: Sandbox) -> None:
    errors: list[BaseException] = []

    def customer(n: int) -> None:
        try:
            for i in range(10):
                sandbox.customer_says(SALES, f"4477009001{n:02d}", f"message {i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def poller() -> None:
        try:
            with httpx.Client(headers=auth(sandbox)) as client:
                for _ in range(8):
                    client.get(
                        f"{sandbox.api_endpoint}/api/v1/getMessageTemplates"
                    ).raise_for_status()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=customer, args=(n,)) for n in range(6)]
    threads += [threading.Thread(target=poller) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for n in range(6):
        assert len(sandbox.messages(SALES, f"4477009001{n:02d}")) == 11
    assert sandbox.calls("getMessageTemplates") == 24


def test_serve_prints_what_the_bridge_needs_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    code = (
        "from bot.devtools.sandbox import serve; "
        f"serve({str(tmp_path / 's.db')!r}, host='127.0.0.1', port=0, token='tok', "
        "channels=['15550000009'])"
    )
    process = subprocess.Popen(
        [sys.executable, "-u", "-c", code], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(6)]
    endpoint = next(line for line in lines if "WATI_API_ENDPOINT=" in line).split("=", 1)[1]
    assert re.match(r"^http://127\.0\.0\.1:\d+/100001$", endpoint.strip())
    assert any("WATI_ACCESS_TOKEN=tok" in line for line in lines)
    response = httpx.get(
        f"{endpoint.strip()}/api/v1/getMessageTemplates", headers={"Authorization": "Bearer tok"}
    )
    assert response.json()["result"] == "success"
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0


def _chromium() -> str | None:
    return (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )


@pytest.mark.browser
@pytest.mark.skipif(_chromium() is None, reason="no Chromium on this machine")
def test_the_page_in_a_browser(sandbox: Sandbox) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=_chromium(),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(sandbox.url + "/")
            page.select_option("#channel", SUPPORT)
            page.fill("#customer", ANA)
            page.fill("#name", "Ana Lima")
            page.fill("#text", "Hello from the phone")
            page.click("#send")
            page.wait_for_selector("#messages .msg.in >> text=Hello from the phone")
            assert sandbox.messages(SUPPORT, ANA)[-1]["text"] == "Hello from the phone"
            httpx.post(
                f"{sandbox.api_endpoint}/api/v1/sendSessionMessage/{ANA}",
                params={"messageText": "Hi Ana, how can we help?", "channelPhoneNumber": SUPPORT},
                headers=auth(sandbox),
            )
            page.wait_for_selector('#messages .msg.out[data-status="SENT"]', timeout=5000)
            sandbox.advance(5)
            page.wait_for_selector('#messages .msg.out[data-status="READ"]', timeout=5000)
            assert page.locator("#messages .msg.out").inner_text().startswith("Hi Ana")
            assert "Ana Lima" in page.locator("#customers").inner_text()
        finally:
            browser.close()


def test_the_phone_plays_a_voice_note_as_a_voice_note(sandbox: Sandbox) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    import io
    import math
    import struct
    import wave

    from bot.audio.voice import to_voice_note

    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(
            b"".join(struct.pack("<h", int(8000 * math.sin(i / 9))) for i in range(16_000))
        )
    note = to_voice_note(buf.getvalue())
    sandbox.customer_says(SUPPORT, ANA, "Can you explain by voice?")
    httpx.post(
        f"{sandbox.api_endpoint}/api/v1/sendSessionFile/{ANA}",
        params={"channelPhoneNumber": SUPPORT, "voice": "true", "caption": "answer.ogg"},
        files={"file": ("answer.ogg", note, "audio/ogg")},
        headers=auth(sandbox),
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=_chromium(), args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        try:
            page = browser.new_page()
            page.goto(sandbox.url + "/")
            page.select_option("#channel", SUPPORT)
            page.fill("#customer", ANA)
            page.click("#customers li")
            player = page.wait_for_selector("#messages .msg.out audio.voice", timeout=10_000)
            assert player is not None
            assert "Voice message" in page.locator("#messages .msg.out").last.inner_text()
            # The browser reads the bytes as audio it can play: a second of Opus.
            # Chromium may say Infinity for an Ogg stream until it has read it all.
            page.wait_for_function(
                "document.querySelector('audio.voice').readyState >= 1 && "
                "isFinite(document.querySelector('audio.voice').duration)",
                timeout=10_000,
            )
            duration = page.evaluate("document.querySelector('audio.voice').duration")
            assert 0.5 < float(duration) < 2.0
        finally:
            browser.close()
