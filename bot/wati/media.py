"""Downloading a customer's file from Wati, streamed to disk, the way live tenants answer.

What live tenants do (wati-recorded.md §6.2, wati-api.md §3.11):

- a history item's `data` is a stored path (`data/images/<uuid>.jpg`, read with getMedia); a
  webhook's is a showFile URL on the Wati host, which often answers 401. Then the v3 download
  by message id (`/api/ext/v3/conversations/messages/file/{id}`, host root) is the fallback,
  and after a 404 on Wati's own id, the same call with the WhatsApp message id;
- a file Wati no longer holds answers HTTP 400 `{"code": 5004, "message": "Message Not
  Found"}` (`MediaExpired`: no retry will bring it back);
- a small HTML or JSON body with HTTP 200 is an error page, not the file (`WatiBadResponse`,
  worth another try later, like a 5xx or a timeout).

The bytes go straight into a file the caller gives, chunk by chunk: a 50 MB video is never
held whole in memory. A file over `limit` bytes stops the download (`MediaTooLarge`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from typing import IO

import httpx

from bot.wati.errors import (
    WatiAuthError,
    WatiBadResponse,
    WatiRejected,
    WatiUnavailable,
    raise_for_status,
)
from bot.wati.transport import basename

logger = logging.getLogger(__name__)

EXPIRED_CODE = 5004
ERROR_PAGE_BYTES = 8192  # an HTML or JSON body this small on HTTP 200 is an error page
CHUNK = 256 * 1024
_PAGE_TYPES = ("text/html", "application/json", "text/json")


class MediaExpired(WatiRejected):
    """Wati no longer holds the file (HTTP 400, code 5004)."""


class MediaTooLarge(WatiRejected):
    """The file is larger than the caller can take (`size` bytes, or more when unknown)."""

    def __init__(self, size: int, *, endpoint: str) -> None:
        super().__init__(f"the file is larger than allowed ({size} bytes)", endpoint=endpoint)
        self.size = size


@dataclass(frozen=True)
class MediaRef:
    """Where a message's file can be fetched: its `data` (a stored path or a showFile URL),
    Wati's message id and, when known, the WhatsApp message id."""

    data: str
    message_id: str
    whatsapp_id: str | None = None


@dataclass(frozen=True)
class MediaFile:
    """A file written into the caller's file object (from its start)."""

    size: int
    content_type: str
    filename: str  # from Content-Disposition, else the stored path's last part ("" if none)


@dataclass(frozen=True)
class Endpoints:
    """The URLs a download may use (the client knows its tenant and host)."""

    get_media: str  # {API_ENDPOINT}/api/v1/getMedia
    v3_file: str  # {host}/api/ext/v3/conversations/messages/file/
    same_host: Callable[[str], bool]  # whether a URL is on the Wati host (the token may go)


def download(
    http: httpx.Client,
    ref: MediaRef,
    into: IO[bytes],
    *,
    urls: Endpoints,
    limit: int,
    on_call: Callable[[str], None] | None = None,
) -> MediaFile:
    """Fetch `ref`'s file into `into`, through the fallbacks live tenants need."""

    def fetch(name: str, url: str, params: dict[str, str] | None = None) -> MediaFile:
        if on_call is not None:
            on_call(name)
        return _fetch(http, name, url, params, into, limit)

    data = ref.data.strip()
    if data.startswith(("https://", "http://")):
        if not urls.same_host(data):
            raise ValueError("the media URL is not on the Wati API host")  # keep the token home
        try:
            return fetch("showFile", data)
        except WatiAuthError:
            logger.info("media URL refused (401): downloading by message id (v3)")
    elif data:
        return fetch("getMedia", urls.get_media, {"fileName": data})
    try:
        return fetch("messageFile", urls.v3_file + ref.message_id)
    except WatiRejected as exc:
        if exc.status_code != 404 or not ref.whatsapp_id:
            raise
    return fetch("messageFile", urls.v3_file + ref.whatsapp_id)


def _fetch(
    http: httpx.Client,
    name: str,
    url: str,
    params: dict[str, str] | None,
    into: IO[bytes],
    limit: int,
) -> MediaFile:
    try:
        with http.stream("GET", url, params=params) as response:
            return _read(name, response, into, limit)
    except httpx.TimeoutException as exc:
        raise WatiUnavailable(f"timed out ({type(exc).__name__})", endpoint=name) from exc
    except httpx.TransportError as exc:
        raise WatiUnavailable(f"connection failed ({type(exc).__name__})", endpoint=name) from exc


def _read(name: str, response: httpx.Response, into: IO[bytes], limit: int) -> MediaFile:
    if response.status_code != 200:
        response.read()  # an error body is small; its words name the error
        if response.status_code == 400 and _code(response) == EXPIRED_CODE:
            raise MediaExpired("Wati no longer holds the file", status_code=400, endpoint=name)
        raise_for_status(name, response)
        raise WatiBadResponse(f"unexpected HTTP {response.status_code}", endpoint=name)
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise MediaTooLarge(int(declared), endpoint=name)
    into.seek(0)
    into.truncate()
    size = 0
    head = b""
    for chunk in response.iter_bytes(CHUNK):
        size += len(chunk)
        if size > limit:
            raise MediaTooLarge(size, endpoint=name)
        if len(head) < ERROR_PAGE_BYTES + 1:
            head += chunk[: ERROR_PAGE_BYTES + 1 - len(head)]
        into.write(chunk)
    if size == 0:
        raise WatiBadResponse("an empty file", status_code=200, endpoint=name)
    if content_type in _PAGE_TYPES and size <= ERROR_PAGE_BYTES:
        raise WatiBadResponse(
            f"an error page ({content_type}) instead of the file", status_code=200, endpoint=name
        )
    into.flush()
    into.seek(0)
    filename = disposition_filename(response.headers.get("Content-Disposition"))
    if not filename and name != "messageFile":
        url = response.request.url
        filename = basename(url.params.get("fileName") or url.path)
    return MediaFile(size, content_type or "application/octet-stream", filename)


def _code(response: httpx.Response) -> int | None:
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, int) else None


def disposition_filename(header: str | None) -> str:
    """The file name a Content-Disposition header gives, without any directory part."""
    if not header:
        return ""
    message = Message()
    message["Content-Disposition"] = header
    filename = message.get_filename()
    return basename(filename) if filename else ""
