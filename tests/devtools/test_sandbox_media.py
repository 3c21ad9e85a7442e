"""The sandbox answers media as live tenants do (wati-recorded.md §6.2), and the Slack stand-in
can refuse uploads for good."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_standin.server import SlackStandIn

SALES = "15550000001"
ANA = "447700900123"
JPEG = b"\xff\xd8\xff\xe0 a receipt " * 50
PDF = b"%PDF-1.4 invoice " * 40


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(tmp_path / "wati.db", channels=(SALES,)) as sb:
        yield sb


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {sandbox.token}"}
    with httpx.Client(base_url=sandbox.url, headers=headers) as client:
        yield client


def _v3(message_id: str) -> str:
    return f"/api/ext/v3/conversations/messages/file/{message_id}"


def test_document_name_in_text_caption_on_images(sandbox: Sandbox, http: httpx.Client) -> None:
    doc_id, doc = sandbox.customer_sends_file(
        SALES, ANA, "Invoice-2041.pdf", PDF, "application/pdf"
    )
    img_id, img = sandbox.customer_sends_file(
        SALES, ANA, "IMG_1.jpg", JPEG, "image/jpeg", caption="my receipt"
    )
    doc_row, img_row = sandbox.state.message(doc_id), sandbox.state.message(img_id)
    assert doc_row is not None and img_row is not None
    assert (doc_row["type"], doc_row["text"]) == ("document", "Invoice-2041.pdf")
    assert doc.rsplit("/", 1)[-1] != "Invoice-2041.pdf"  # stored under Wati's own name
    assert (img_row["type"], img_row["text"]) == ("image", "my receipt")
    by_path = http.get(f"/{sandbox.tenant_id}/api/v1/getMedia", params={"fileName": img})
    assert by_path.status_code == 200 and by_path.content == JPEG
    by_id = http.get(_v3(doc_id))
    assert by_id.status_code == 200 and by_id.content == PDF
    assert 'filename="Invoice-2041.pdf"' in by_id.headers["content-disposition"]


def test_expired_media_answers_400_code_5004_everywhere(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    message_id, path = sandbox.customer_sends_file(SALES, ANA, "a.jpg", JPEG, "image/jpeg")
    sandbox.expire_media(message_id)
    expired = {"code": 5004, "message": "Message Not Found"}
    for url, params in (
        (f"/{sandbox.tenant_id}/api/v1/getMedia", {"fileName": path}),
        (f"/{sandbox.tenant_id}/api/file/showFile", {"fileName": path}),
        (_v3(message_id), {}),
    ):
        answer = http.get(url, params=params)
        assert (answer.status_code, answer.json()) == (400, expired), url
    wrong = http.get(_v3("no-such-id"))
    assert (wrong.status_code, wrong.json()["code"]) == (400, 400)


def test_webhook_url_401_and_v3_404_then_the_whatsapp_id(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    message_id, path = sandbox.customer_sends_file(
        SALES, ANA, "v.mp4", b"\0\0mp4" * 99, "video/mp4"
    )
    url = sandbox.show_file_url(path)
    assert parse_qs(urlsplit(url).query)["fileName"] == [path]
    assert http.get(url).status_code == 200
    sandbox.faults.inject("showFile", "401", 1)
    assert http.get(url).status_code == 401
    sandbox.faults.inject("messageFile", "404", 1)
    assert http.get(_v3(message_id)).status_code == 404
    assert http.get(_v3(f"wamid.{message_id}")).content == b"\0\0mp4" * 99


@pytest.mark.parametrize(
    ("kind", "status", "content_type"),
    [
        ("500", 500, "application/json"),
        ("error_page", 200, "text/html"),
        ("error_json", 200, "application/json"),
    ],
)
def test_transient_download_failures_on_demand(
    sandbox: Sandbox, http: httpx.Client, kind: str, status: int, content_type: str
) -> None:
    _, path = sandbox.customer_sends_file(SALES, ANA, "a.jpg", JPEG, "image/jpeg")
    sandbox.faults.inject("getMedia", kind, 1)
    url = f"/{sandbox.tenant_id}/api/v1/getMedia"
    failed = http.get(url, params={"fileName": path})
    assert failed.status_code == status
    assert failed.headers["content-type"].startswith(content_type)
    assert len(failed.content) < 200
    assert http.get(url, params={"fileName": path}).content == JPEG


def test_send_session_file_keeps_caption_bytes_and_the_voice_flag(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    sandbox.customer_says(SALES, ANA, "hi")
    url = f"/{sandbox.tenant_id}/api/v1/sendSessionFile/{ANA}"
    ogg = b"OggS\0\2 opus " * 20
    for voice, name, mime in (("true", "note.ogg", "audio/ogg"), ("true", "a.mp3", "audio/mpeg")):
        params = {"channelPhoneNumber": SALES, "caption": name, "voice": voice}
        answer = http.post(url, params=params, files={"file": (name, ogg, mime)})
        assert isinstance(answer.json()["result"], str)
    voice_note, mp3 = sandbox.sent_by_api(SALES)
    # WhatsApp shows a voice bubble only for ogg/opus with the flag; an mp3 stays a file.
    assert (voice_note["type"], voice_note["voiceFlag"], voice_note["text"]) == (
        "voice",
        True,
        "note.ogg",
    )
    assert (mp3["type"], mp3["voiceFlag"]) == ("audio", True)
    stored = sandbox.state.media(voice_note["data"])
    assert stored is not None and stored[1] == ogg


def test_the_standin_refuses_uploads_for_good(tmp_path: Path) -> None:
    with SlackStandIn(bot_token="xoxb-t") as slack:
        slack.add_channel("C1", "support")
        client = WebClient(token="xoxb-t", base_url=slack.api_url)
        slack.refuse_uploads("file_uploads_except_images_disabled")
        for _ in range(2):
            with pytest.raises(SlackApiError) as refused:
                client.files_upload_v2(channel="C1", content=PDF, filename="a.pdf", title="a")
            assert refused.value.response["error"] == "file_uploads_except_images_disabled"
        client.files_upload_v2(channel="C1", content=JPEG, filename="a.jpg", title="a")
        slack.refuse_uploads(None)
        client.files_upload_v2(channel="C1", content=PDF, filename="b.pdf", title="b")
        completed = [c for c in slack.calls_to("files.completeUploadExternal") if c.ok]
        assert len(completed) == 2
