"""v3 interactive messages: ``POST /api/ext/v3/conversations/messages/interactive`` (host root,
no tenant segment), as the v3 spec documents it.

- Body ``{"target", "type": "buttons" | "list", "button_message" | "list_message"}``; the
  target is ``Channel:Phone`` (the channel's number or its name), or a bare phone number for
  the default channel.
- Buttons: 1 to 3 (WhatsApp's limit for reply buttons), each ``text`` at most 20 characters;
  ``body`` 1 to 1,024. A list: 1 to 10 rows in all, titles at most 24. Bad input: 400
  ``{"code", "message", "timestamp"}``.
- The 24-hour window and a solved chat refuse it like any session message (the v1 shapes of
  docs/WATI.md#refusals). Success: ``{"message": {...}}`` in the v3 message shape.
- A tenant without interactive messages (``interactive = False``): 403 in the v3 error shape.
- In the history the message is ``type: "interactive"`` with the body as ``text`` and the
  buttons under ``interactiveButtons``; the customer's tap (Sandbox.customer_taps) is a plain
  text message carrying only the button's text, with ``interactiveButtonReply: {"title"}``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from . import shapes
from .base import BadRequest, Endpoints, Reply, Request, json_reply

MAX_BUTTONS = 3
MAX_BUTTON_TEXT = 20
MAX_BODY = 1024
MAX_ROWS = 10
MAX_ROW_TITLE = 24


class InteractiveEndpoints(Endpoints):
    interactive: bool = True  # False: a plan without v3 interactive messages

    def send_interactive(self, request: Request) -> Reply:
        if not self.interactive:
            return _v3_error(403, "Interactive messages are not available on this plan")
        try:
            body = self._body(request)
        except BadRequest:
            return _v3_error(400, "The request body is not a JSON object")
        target = str(body.get("target") or "")
        channel_part, _, number = target.rpartition(":")
        channel = self._channel_named(channel_part)
        number = shapes.normalise(number)
        if channel is None:
            return _v3_error(400, f"Unknown channel in target {target!r}")
        if not shapes.valid_number(number):
            return _v3_error(400, "target must be Phone or Channel:Phone")
        kind = body.get("type")
        found = _buttons(body) if kind == "buttons" else _list(body) if kind == "list" else None
        if isinstance(found, str):
            return _v3_error(400, found)
        if found is None:
            return _v3_error(400, 'type must be "buttons" or "list"')
        text, options = found
        refusal = self._session_refusal(channel, number)
        if refusal is not None:
            return refusal
        message_id = self.state.insert(
            channel,
            number,
            event_type="message",
            type="interactive",
            text=text,
            owner=1,
            source="api",
            local_message_id=shapes.new_local_id(),
            whatsapp_message_id=shapes.new_wamid(),
            extra={"interactiveButtons": options},
        )
        row = self.state.message(message_id)
        assert row is not None
        message = {
            "id": message_id,
            "created": shapes.iso(row["created"]),
            "conversation_id": row["conversation_id"],
            "ticket_id": row["ticket_id"],
            "text": text,
            "type": "interactive",
            "timestamp": shapes.iso(row["created"]),
            "owner": True,
            "status": "sent",
            "event_type": "message",
            "local_message_id": row["local_message_id"],
        }
        return json_reply({"message": message})

    def _channel_named(self, value: str) -> str | None:
        """A target's channel part: a number, a channel's name ("Number 2"), or none (default)."""
        if not value:
            return self.channels[0]
        digits = shapes.normalise(value)
        if digits in self.channels:
            return digits
        for index, number in enumerate(self.channels):
            if value.strip().lower() == f"number {index + 1}":
                return number
        return None


def _buttons(body: dict[str, Any]) -> tuple[str, list[str]] | str | None:
    message = body.get("button_message")
    if not isinstance(message, dict):
        return "button_message is required for type buttons"
    text = str(message.get("body") or "")
    buttons = message.get("buttons")
    if not text.strip() or len(text) > MAX_BODY:
        return f"button_message.body must be 1 to {MAX_BODY} characters"
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
        return f"button_message.buttons must hold 1 to {MAX_BUTTONS} buttons"
    labels = [str((b or {}).get("text") or "") if isinstance(b, dict) else "" for b in buttons]
    if any(not label.strip() or len(label) > MAX_BUTTON_TEXT for label in labels):
        return f"each button's text must be 1 to {MAX_BUTTON_TEXT} characters"
    if len(set(labels)) != len(labels):
        return "button texts must differ"
    return text, labels


def _list(body: dict[str, Any]) -> tuple[str, list[str]] | str | None:
    message = body.get("list_message")
    if not isinstance(message, dict):
        return "list_message is required for type list"
    text = str(message.get("body") or "")
    if not text.strip() or len(text) > MAX_BODY:
        return f"list_message.body must be 1 to {MAX_BODY} characters"
    rows = [
        str(row.get("title") or "")
        for section in message.get("sections") or []
        if isinstance(section, dict)
        for row in section.get("rows") or []
        if isinstance(row, dict)
    ]
    if not 1 <= len(rows) <= MAX_ROWS or any(not r or len(r) > MAX_ROW_TITLE for r in rows):
        return f"a list holds 1 to {MAX_ROWS} rows, titles 1 to {MAX_ROW_TITLE} characters"
    return text, rows


def _v3_error(status: int, message: str) -> Reply:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json_reply({"code": status, "message": message, "timestamp": stamp}, status)
