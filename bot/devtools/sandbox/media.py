"""Media downloads as live tenants answer them (wati-recorded.md §6.2).

- ``getMedia?fileName=data/...``: the bytes, with the stored Content-Type.
- ``/{tenant}/api/file/showFile?fileName=...`` (the URL a webhook carries): the same bytes; a
  test makes it answer 401 on demand with an injected ``"401"`` fault on ``showFile``.
- ``GET /api/ext/v3/conversations/messages/file/{message_id}`` (host root): the file of a
  message, by Wati's ``id`` or its ``whatsappMessageId``, with the file name in
  ``Content-Disposition``; 404 when the message has no file (an injected ``"404"`` fault on
  ``messageFile`` plays the tenants whose v3 answers 404 to Wati's own id).
- Expired media (``Sandbox.expire_media``): HTTP 400 ``{"code": 5004, "message": "Message Not
  Found"}`` on all three; a path never stored: 404; an id that names no message: 400 ``{"code": 400, "message": "Message
  ID is invalid"}``.
"""

from __future__ import annotations

import json

from .base import Reply, Request, json_reply
from .state import State

EXPIRED = {"code": 5004, "message": "Message Not Found"}
INVALID_ID = {"code": 400, "message": "Message ID is invalid"}


class MediaEndpoints:
    """getMedia, showFile and the v3 file download over the sandbox's stored files."""

    def __init__(self, state: State) -> None:
        self.state = state

    def by_path(self, request: Request) -> Reply:
        return self._file(request.query.get("fileName", ""), None)

    def by_message(self, request: Request) -> Reply:
        row = self.state.message(request.arg)
        if row is None and request.arg.startswith("wamid."):
            row = self.state.message(request.arg.removeprefix("wamid."))
        if row is None:
            row = self.state.message_by_wamid(request.arg)
        if row is None:
            return json_reply(INVALID_ID, 400)
        if not row["data"]:
            return Reply(404, b"", "text/plain")
        name = row["text"] if row["type"] == "document" and row["text"] else None
        return self._file(str(row["data"]), name or str(row["data"]).rsplit("/", 1)[-1])

    def _file(self, path: str, filename: str | None) -> Reply:
        if self.state.media_expired(path):
            return json_reply(EXPIRED, 400)
        found = self.state.media(path)
        if found is None:
            return Reply(404, b"", "text/plain")  # never stored: not an expired file
        headers = {}
        if filename:
            headers["Content-Disposition"] = f"attachment; filename={json.dumps(filename)}"
        return Reply(200, found[1], found[0], headers=headers)
