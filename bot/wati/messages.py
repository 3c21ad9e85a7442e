"""Reading a chat: a contact's message history and the media files it points to."""

from __future__ import annotations

import logging
from typing import IO

import httpx

from bot.wati.errors import WatiBadResponse, check_accepted, json_object
from bot.wati.media import Endpoints, MediaFile, MediaRef, disposition_filename, download
from bot.wati.transport import (
    Params,
    Transport,
    basename,
    customer_ref,
    observed,
    origin,
    page_params,
    phone_digits,
)
from bot.wati.types import Media, MessagePage, parse_message

logger = logging.getLogger(__name__)


class MessageCalls(Transport):
    """getMessages, getMedia and the streamed media download (`bot.wati.media`)."""

    @observed
    def get_messages(
        self, wa_number: str, *, channel_number: str, page_size: int = 50, page_number: int = 1
    ) -> MessagePage:
        """Fetch one page of a contact's history on one channel number, oldest item first."""
        number = customer_ref(wa_number)  # a phone number, a BSUID or a contact id
        params: Params = {"channelPhoneNumber": phone_digits(channel_number, "channel_number")}
        params.update(page_params(page_size, page_number))
        name = "getMessages"
        response = self._call(name, "GET", self._url(f"getMessages/{number}"), params=params)
        body = json_object(name, response)
        if body.get("result") is False:
            # Wati's way of saying "no conversation with this number yet".
            logger.debug("getMessages: result false, treated as an empty history")
            return MessagePage([], 0, page_number, page_size, 0)
        messages = body.get("messages")
        items = messages.get("items") if isinstance(messages, dict) else messages
        if not isinstance(items, list):
            raise WatiBadResponse("no messages.items list", status_code=200, endpoint=name)
        parsed = [parse_message(item) for item in items]
        # Wati lists newest first; reversed, a stable sort keeps its order for messages
        # created in the same millisecond (their ids say nothing about order).
        good = sorted((m for m in reversed(parsed) if m is not None), key=lambda m: m.created)
        malformed = len(items) - len(good)
        if malformed:
            logger.warning("getMessages: skipped %d malformed item(s)", malformed)
        return MessagePage(good, malformed, page_number, page_size, len(items))

    @observed
    def get_media(self, file_name: str) -> Media:
        """Download a media file by its stored path or its showFile URL on the Wati host."""
        name = "getMedia"
        file_name = file_name.strip()
        params: Params | None = None
        if file_name.startswith(("https://", "http://")):
            if origin(file_name) != self._origin:
                # Never send the bearer token to another host.
                raise ValueError("the media URL is not on the Wati API host")
            request_url = file_name
            url = httpx.URL(file_name)
            stored_path = url.params.get("fileName") or url.path
        elif file_name:
            request_url = self._url("getMedia")
            params = {"fileName": file_name}
            stored_path = file_name
        else:
            raise ValueError("file_name is empty")
        response = self._call(name, "GET", request_url, params=params)
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type == "application/json" or content_type.endswith("+json"):
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                check_accepted(name, body)
        if not response.content:
            raise WatiBadResponse(
                "empty media file", status_code=response.status_code, endpoint=name
            )
        filename = disposition_filename(response.headers.get("Content-Disposition"))
        return Media(
            content=response.content,
            content_type=content_type or "application/octet-stream",
            filename=filename or basename(stored_path) or "file",
        )

    @observed
    def download_media(self, ref: MediaRef, into: IO[bytes], *, limit: int) -> MediaFile:
        """Stream a message's file into `into` (see `bot.wati.media`: the fallbacks, expiry,
        error pages); at most `limit` bytes."""
        scheme, host, port = self._origin
        urls = Endpoints(
            get_media=self._url("getMedia"),
            v3_file=f"{scheme}://{host}:{port}/api/ext/v3/conversations/messages/file/",
            same_host=lambda url: origin(url) == self._origin,
        )
        return download(self._http, ref, into, urls=urls, limit=limit, on_call=self._on_call)
