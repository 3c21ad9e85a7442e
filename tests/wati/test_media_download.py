"""`WatiClient.download_media` at the client level: what each answer means, streamed to a file."""

from __future__ import annotations

import io

import httpx
import pytest

from bot.wati.client import WatiClient
from bot.wati.errors import WatiBadResponse, WatiRejected, WatiUnavailable
from bot.wati.media import MediaExpired, MediaRef, MediaTooLarge

BASE = "https://live-mt-server.wati.io/100001"
SHOW = f"{BASE}/api/file/showFile?fileName=data/images/x.jpg"
V3 = "https://live-mt-server.wati.io/api/ext/v3/conversations/messages/file/"


def _client(handler: httpx.MockTransport) -> WatiClient:
    return WatiClient(BASE, "token", transport=handler)


def _download(answer: object, ref: MediaRef, limit: int = 10_000) -> tuple[bytes, list[str]]:
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        assert request.headers["Authorization"] == "Bearer token"
        return answer(request) if callable(answer) else answer  # type: ignore[return-value]

    out = io.BytesIO()
    with _client(httpx.MockTransport(handle)) as wati:
        wati.download_media(ref, out, limit=limit)
    return out.getvalue(), seen


def test_a_stored_path_goes_to_get_media_and_keeps_its_bytes() -> None:
    body, seen = _download(
        httpx.Response(200, content=b"\xff\xd8jpeg"), MediaRef("data/i/1.jpg", "w1")
    )
    assert body == b"\xff\xd8jpeg" and seen == [f"{BASE}/api/v1/getMedia?fileName=data%2Fi%2F1.jpg"]


def test_401_on_the_url_then_404_by_id_then_the_whatsapp_id() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if "showFile" in str(request.url):
            return httpx.Response(401)
        if str(request.url).endswith("/w1"):
            return httpx.Response(404)
        return httpx.Response(
            200, content=b"%PDF", headers={"Content-Disposition": 'attachment; filename="A.pdf"'}
        )

    body, seen = _download(answer, MediaRef(SHOW, "w1", "wamid.X"))
    assert body == b"%PDF" and seen[1:] == [V3 + "w1", V3 + "wamid.X"]


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx.Response(400, json={"code": 5004, "message": "Message Not Found"}), MediaExpired),
        (httpx.Response(400, json={"code": 400, "message": "Message ID is invalid"}), WatiRejected),
        (httpx.Response(500, json={"title": "oops"}), WatiUnavailable),
        (httpx.Response(200, html="<html><body>Error</body></html>"), WatiBadResponse),
        (httpx.Response(200, json={"ok": False, "error": "not ready"}), WatiBadResponse),
        (httpx.Response(200, content=b""), WatiBadResponse),
        (httpx.Response(200, content=b"x" * 20_000), MediaTooLarge),
    ],
)
def test_what_each_answer_means(answer: httpx.Response, error: type[Exception]) -> None:
    with pytest.raises(error):
        _download(answer, MediaRef("data/i/1.jpg", "w1"))


def test_a_timeout_is_passing_trouble() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(WatiUnavailable):
        _download(answer, MediaRef("data/i/1.jpg", "w1"))


def test_a_large_json_file_is_a_file_and_other_hosts_get_no_token() -> None:
    big = b'{"rows": [' + b"1," * 9000 + b"1]}"
    body, _ = _download(
        httpx.Response(200, content=big, headers={"Content-Type": "application/json"}),
        MediaRef("data/d/r.json", "w1"),
        limit=100_000,
    )
    assert body == big
    with pytest.raises(ValueError):
        _download(httpx.Response(200), MediaRef("https://evil.example/x.jpg", "w1"))
