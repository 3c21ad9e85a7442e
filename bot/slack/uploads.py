"""Uploading a file into a thread from disk, streamed, in Slack's three steps.

`files_upload_v2` reads a whole file into memory first; a customer's 50 MB video should not
be. The same three calls, done here: `files.getUploadURLExternal` (which names the file id
before anything is shared), a POST of the bytes read chunk by chunk, then
`files.completeUploadExternal`, which shares it into the thread. Slack refuses a file for good
at the last step when a workspace forbids it (`file_uploads_disabled`,
`file_uploads_except_images_disabled`); see `bot.slack.poster.refusal_of`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO

import httpx
from slack_sdk import WebClient

CHUNK = 256 * 1024


def reserve(client: WebClient, *, filename: str, size: int) -> tuple[str, str]:
    """Ask Slack for an upload URL; returns (file id, upload URL)."""
    answer = client.files_getUploadURLExternal(filename=filename, length=size)
    return str(answer["file_id"]), str(answer["upload_url"])


def send_bytes(url: str, file: IO[bytes], size: int, *, timeout: float = 120.0) -> None:
    """POST the file's bytes to Slack's upload URL, chunk by chunk (never all in memory)."""
    file.seek(0)
    headers = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
    with httpx.Client(timeout=timeout) as http:
        response = http.post(url, content=_chunks(file.read), headers=headers)
    if response.status_code != 200:
        raise httpx.HTTPStatusError(
            f"upload URL answered HTTP {response.status_code}",
            request=response.request,
            response=response,
        )


def share(
    client: WebClient,
    *,
    file_id: str,
    title: str,
    channel: str,
    thread_ts: str,
    comment: str | None,
) -> None:
    """Share an uploaded file into a thread (refusals raise SlackApiError)."""
    client.files_completeUploadExternal(
        files=[{"id": file_id, "title": title}],
        channel_id=channel,
        thread_ts=thread_ts,
        initial_comment=comment,
    )


def shared_in(client: WebClient, file_id: str, channel: str) -> bool:
    """Whether Slack shows the file shared in the channel (after a crash mid-upload)."""
    file = client.files_info(file=file_id)["file"]
    shares = file.get("shares") or {}
    return any(channel in (shares.get(kind) or {}) for kind in ("public", "private"))


def _chunks(read: Callable[[int], bytes]) -> Iterator[bytes]:
    while chunk := read(CHUNK):
        yield chunk
