"""The sandbox's own routes (no token, loopback clients only): the phone page at `/` and the
control API under `/_sandbox/` that tests, the demo and the page use to play the customer's side.

One table, `Controls.routes`, like the Wati calls' (api.py). JSON in and out:
  GET    /_sandbox/api/state                       channels, known customers, the clock
  GET    /_sandbox/api/conversation?channel=&customer=   a chat, oldest first, with statuses
  POST   /_sandbox/api/say       {channel, customer, text, name?, type?, data?}   the customer
  POST   /_sandbox/api/tap       {channel, customer, text}   the customer taps a reply button
  POST   /_sandbox/api/operator  {channel, customer, text}   a teammate in Wati's own inbox
  POST   /_sandbox/api/react     {channel, customer, emoji, to?}   the customer reacts
  POST   /_sandbox/api/close     {channel, customer, by?}   Wati's chatbot closes the chat
  POST   /_sandbox/api/file?channel=&customer=&name=&caption=&filename=&kind=   raw bytes: a
         customer's photo, voice note or document (Content-Type from the request)
  POST   /_sandbox/api/expire {id}                  Wati no longer holds that message's file
  GET    /_sandbox/api/media?fileName=data/...      a stored file, no token
  GET    /_sandbox/api/sent[?channel=]              what the API sent
  POST   /_sandbox/api/advance   {seconds}          move the sandbox clock
  GET / POST / DELETE  /_sandbox/faults             list / inject {endpoint, kind, count,
         retry_after?, delay?, target?} / clear (target: only calls naming it in their path)
A missing field or a bad value answers 400 `{"error": ...}`; any other path or method 404.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING, Any

from .base import Reply, Request, Route, json_reply

if TYPE_CHECKING:
    from .core import Sandbox

NO_ROUTE = Reply(404, b'{"error":"no such route"}')


class ControlError(Exception):
    pass


def page_html() -> bytes:
    return resources.files("bot.devtools.sandbox").joinpath("page.html").read_bytes()


class Controls:
    """The control routes over one sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        api = "/_sandbox/api/"
        self.routes = [
            Route("GET", "/", "page", self.page),
            Route("GET", api + "state", "state", self.state),
            Route("GET", api + "conversation", "conversation", self.conversation),
            Route("POST", api + "say", "say", self.say),
            Route("POST", api + "operator", "operator", self.operator),
            Route("POST", api + "tap", "tap", self.tap),
            Route("POST", api + "react", "react", self.react),
            Route("POST", api + "close", "close", self.close),
            Route("POST", api + "file", "file", self.file),
            Route("GET", api + "media", "media", self.media),
            Route("POST", api + "expire", "expire", self.expire),
            Route("GET", api + "sent", "sent", self.sent),
            Route("POST", api + "advance", "advance", self.advance),
            Route("GET", "/_sandbox/faults", "faults", self.faults),
            Route("POST", "/_sandbox/faults", "faults", self.inject_fault),
            Route("DELETE", "/_sandbox/faults", "faults", self.clear_faults),
        ]

    def page(self, request: Request) -> Reply:
        return Reply(200, page_html(), "text/html; charset=utf-8")

    def state(self, request: Request) -> Reply:
        return json_reply(self.sandbox.overview())

    def conversation(self, request: Request) -> Reply:
        query = request.query
        return json_reply(self.sandbox.conversation(query["channel"], query["customer"]))

    def say(self, request: Request) -> Reply:
        payload = _json(request.body)
        message_id = self.sandbox.customer_says(
            str(payload["channel"]),
            str(payload["customer"]),
            str(payload.get("text") or ""),
            name=str(payload["name"]) if payload.get("name") else None,
            type=str(payload.get("type") or "text"),
            data=str(payload["data"]) if payload.get("data") else None,
        )
        return json_reply({"id": message_id})

    def tap(self, request: Request) -> Reply:
        payload = _json(request.body)
        message_id = self.sandbox.customer_taps(
            str(payload["channel"]), str(payload["customer"]), str(payload["text"])
        )
        return json_reply({"id": message_id})

    def operator(self, request: Request) -> Reply:
        payload = _json(request.body)
        message_id = self.sandbox.operator_says(
            str(payload["channel"]), str(payload["customer"]), str(payload["text"])
        )
        return json_reply({"id": message_id})

    def react(self, request: Request) -> Reply:
        payload = _json(request.body)
        message_id = self.sandbox.customer_reacts(
            str(payload["channel"]),
            str(payload["customer"]),
            str(payload["emoji"]),
            str(payload["to"]) if payload.get("to") else None,
        )
        return json_reply({"id": message_id})

    def close(self, request: Request) -> Reply:
        payload = _json(request.body)
        self.sandbox.close_chat(
            str(payload["channel"]), str(payload["customer"]), by=str(payload.get("by") or "Bot")
        )
        return json_reply({"status": "SOLVED"})

    def file(self, request: Request) -> Reply:
        query = request.query
        message_id, data = self.sandbox.customer_sends_file(
            query.get("channel", ""),
            query.get("customer", ""),
            query.get("filename", "file"),
            request.body,
            request.content_type or "application/octet-stream",
            caption=query.get("caption", ""),
            name=query.get("name") or None,
            kind=query.get("kind") or None,
        )
        return json_reply({"id": message_id, "data": data})

    def expire(self, request: Request) -> Reply:
        message = str(_json(request.body)["id"])
        self.sandbox.expire_media(message)
        return json_reply({"expired": message})

    def media(self, request: Request) -> Reply:
        found = self.sandbox.state.media(request.query.get("fileName", ""))
        return Reply(404, b"", "text/plain") if found is None else Reply(200, found[1], found[0])

    def sent(self, request: Request) -> Reply:
        return json_reply(self.sandbox.sent_by_api(request.query.get("channel") or None))

    def advance(self, request: Request) -> Reply:
        self.sandbox.advance(float(_json(request.body)["seconds"]))
        return json_reply({"now": self.sandbox.now()})

    def faults(self, request: Request) -> Reply:
        return json_reply({"faults": self.sandbox.faults.pending()})

    def inject_fault(self, request: Request) -> Reply:
        payload = _json(request.body)
        retry = payload.get("retry_after")
        self.sandbox.faults.inject(
            str(payload["endpoint"]),
            str(payload["kind"]),
            int(payload.get("count", 1)),
            retry_after=int(retry) if retry is not None else None,
            delay=float(payload.get("delay", 0)),
            target=str(payload["target"]) if payload.get("target") else None,
        )
        return json_reply({"faults": self.sandbox.faults.pending()})

    def clear_faults(self, request: Request) -> Reply:
        self.sandbox.faults.clear()
        return json_reply({"faults": []})


def _json(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        payload = json.loads(body)
    except ValueError:
        raise ControlError("the body must be a JSON object") from None
    if not isinstance(payload, dict):
        raise ControlError("the body must be a JSON object")
    return payload
