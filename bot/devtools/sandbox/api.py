"""The Wati v1 endpoints: request in, `Reply` out. No sockets here (see server.py).

Shapes follow docs/WATI.md. Where it says a shape is assumed, the sandbox answers like this:

- getMessages: ``{"result": "success", "messages": {"items": [...newest first...], "pageNumber",
  "pageSize", "total", "grandTotal", "lastId", "sortBy"}, "link": {"pageNumber", "pageSize",
  "total", "prevPage", "nextPage"}}``; items as recorded (docs/WATI.md#history-items: templates
  and broadcasts without ``owner``, ticket rows with an integer ``type``, reactions); ``pageNumber`` is
  1-based (0 or less is read as 1). Optional ``from`` / ``to`` (``YYYY-MM-DD HH:MM:SS``, UTC)
  filter on ``created``. No conversation on that number: 200 ``{"result": false, "info": ...}``.
- sendSessionMessage outside the 24-hour window, or to a chat that is solved (also inside the
  24 hours, e.g. closed by Wati's chatbot): 200 ``{"result": false, "message": "Ticket has been
  expired.", "ticketStatus": "CLOSED"}`` (docs/WATI.md#refusals); ``"BROADCAST"`` when only a
  template was ever sent; no conversation at all: ``{"result": false, "info": "Invalid
  Conversation"}``; more than ``spam_limit`` session sends on one number within a minute: a
  200 ``result: false`` spam-limit refusal. Nothing is stored. sendSessionFile answers the same
  way. ``channelPhoneNumber`` is read from the query, then from a JSON body.
- sendSessionFile success: ``{"result": "<message id>"}``; ``caption`` becomes the item's text,
  ``voice=true`` with ``audio/ogg`` makes it a ``voice`` item (the flag is kept for tests).
- Media downloads (getMedia, showFile, v3 by message id): see media.py.
- sendTemplateMessage: the 2024 v1 shape; ``model.ids`` holds the new message id. Unknown,
  unapproved template or unknown channel: 200 ``{"result": false, "info": ...}``. Missing
  fields or template parameters: HTTP 400 with an ASP.NET-style problem body
  ``{"title", "status": 400, "errors": {field: [messages]}}``. ``channel_number`` wins over
  ``channelNumber`` when both are sent. JSON field names bind case-insensitively.
- sendTemplateMessages (as recorded): ``{"result": true, "errors": {"error": null,
  "invalidWhatsappNumbers": [...], "invalidCustomParameters": [...]}}`` with no ``receivers``;
  a refused request is ``result: false`` with the reason in ``errors.error``.
- getMessageTemplates: ``{"result": "success", "messageTemplates": [...], "link": {...}}``.
- updateChatStatus: ``{"result": true}``; bad status / no conversation: ``result`` false + ``info``.
- getContacts: ``{"result": "success", "contact_list": [...most recently updated first...],
  "link": {...}}``.
- addContact: ``{"result": true, "contact": {...}}``; an existing contact gives
  ``{"result": false, "info": "Contact already exists"}``.
- updateContactAttributes: ``{"result": true}``, or for an unknown contact
  ``{"result": false, "info": "Contact not found"}``.
- updateContactAttributesForMultiContacts: ``{"result": true, "errors": [{"whatsappNumber",
  "error"}]}`` (unknown contacts are listed in ``errors``, the others are updated).
"""

from __future__ import annotations

import mimetypes
from email import policy
from email.message import Message
from email.parser import BytesParser

from . import shapes
from .account import AccountEndpoints
from .base import (
    BadRequest,
    Reply,
    Request,
    Route,
    json_reply,
    no,
    page_link,
    paging,
    parse_params,
    pick,
    store_media,
)
from .contacts import filter_contacts
from .interactive import InteractiveEndpoints
from .media import MediaEndpoints
from .operators import Operators
from .state import TICKET_STATUSES, State
from .templates import TemplateEndpoints
from .webhooks import Webhooks

MAX_TEXT = 4096
MEDIA_LIMITS = {"image": 5, "video": 16, "audio": 16, "document": 100}  # MB, as WhatsApp


V1 = "/{tenant}/api/v1/"


class WatiApi(TemplateEndpoints, AccountEndpoints, InteractiveEndpoints):
    def __init__(self, state: State, channels: list[str], *, webhooks: Webhooks) -> None:
        super().__init__(state, channels)
        self.operators = Operators(state)
        self.media = MediaEndpoints(state)
        # Every Wati call the sandbox serves: the server dispatches from this table alone.
        self.routes = [
            Route("GET", V1 + "getMessages/{arg}", "getMessages", self.get_messages),
            Route(
                "POST",
                V1 + "sendSessionMessage/{arg}",
                "sendSessionMessage",
                self.send_session_message,
            ),
            Route("POST", V1 + "sendSessionFile/{arg}", "sendSessionFile", self.send_session_file),
            Route(
                "POST",
                V1 + "sendTemplateMessage",
                "sendTemplateMessage",
                self.send_template_message,
            ),
            Route(
                "POST",
                V1 + "sendTemplateMessages",
                "sendTemplateMessages",
                self.send_template_messages,
            ),
            Route(
                "GET", V1 + "getMessageTemplates", "getMessageTemplates", self.get_message_templates
            ),
            Route("POST", V1 + "updateChatStatus", "updateChatStatus", self.update_chat_status),
            Route("GET", V1 + "getContacts", "getContacts", self.get_contacts),
            Route("POST", V1 + "addContact/{arg}", "addContact", self.add_contact),
            Route(
                "POST",
                V1 + "updateContactAttributes/{arg}",
                "updateContactAttributes",
                self.update_contact_attributes,
            ),
            Route(
                "POST",
                V1 + "updateContactAttributesForMultiContacts",
                "updateContactAttributesForMultiContacts",
                self.update_multi,
            ),
            Route("GET", V1 + "getMedia", "getMedia", self.media.by_path),
            # The media URL a webhook carries, and the v3 download by message id (media.py).
            Route("GET", "/{tenant}/api/file/showFile", "showFile", self.media.by_path),
            Route(
                "GET",
                "/api/ext/v3/conversations/messages/file/{arg}",
                "messageFile",
                self.media.by_message,
            ),
            Route("POST", V1 + "assignOperator", "assignOperator", self.assign_operator),
            Route(
                "GET", "/{tenant}/api/v2/whatsapp/phoneNumbers", "phoneNumbers", self.phone_numbers
            ),
            # v3 lives at the host root: the token names the tenant.
            Route("GET", "/api/ext/v3/channels", "channels", self.channels_v3),
            Route("GET", "/api/ext/v3/conversations", "conversations", self.conversations_v3),
            Route(
                "POST",
                "/api/ext/v3/conversations/messages/interactive",
                "sendInteractiveMessage",
                self.send_interactive,
            ),
            # A v2 exception (webhooks.py): every method gets past the token check.
            Route("*", "/{tenant}/api/v2/webhookEndpoints", "webhookEndpoints", webhooks.handle),
        ]

    def handle(self, route: Route, request: Request) -> Reply:
        """The route's answer; a missing or malformed field is Wati's 400 problem body."""
        try:
            return route.handler(request)
        except BadRequest as exc:
            problem = {
                "type": "https://tools.ietf.org/html/rfc7231#section-6.5.1",
                "title": "One or more validation errors occurred.",
                "status": 400,
                "errors": {exc.name: [exc.message]},
            }
            return json_reply(problem, 400)

    # -- messages -------------------------------------------------------------------------

    def get_messages(self, request: Request) -> Reply:
        number, query = self._customer(request.arg), request.query
        channel = self._channel(query.get("channelPhoneNumber"))
        if channel is None:
            return no("Invalid channel phone number")
        if number is None or self.state.conversation(channel, number) is None:
            return no("No conversation found for this contact on this number")
        size, page = paging(query)
        since = shapes.parse_when(query["from"]) if query.get("from") else None
        until = shapes.parse_when(query["to"]) if query.get("to") else None
        rows, total = self.state.history(
            channel,
            number,
            newest_first=True,
            limit=size,
            offset=(page - 1) * size,
            since=since,
            until=until,
        )
        items = [self.state.item_json(row) for row in rows]
        # As recorded: `messages.total` is not the item count (here: chat rows, tickets left
        # out); `grandTotal` and `link.total` count every row.
        chat_rows = total - self.state.ticket_rows(channel, number, since=since, until=until)
        messages = {
            "items": items,
            "pageNumber": page,
            "pageSize": size,
            "total": chat_rows,
            "grandTotal": total,
            "lastId": None,
            "sortBy": 0,
        }
        return json_reply(
            {"result": "success", "messages": messages, "link": page_link(page, size, total)}
        )

    def send_session_message(self, request: Request) -> Reply:
        number, query = self._customer(request.arg), request.query
        channel = query.get("channelPhoneNumber") or pick(self._body(request), "channelPhoneNumber")
        channel = self._channel(channel)
        if channel is None:
            return no("Invalid channel phone number")
        if number is None:
            return no("Invalid WhatsApp number")
        text = query.get("messageText", "")
        if not text.strip():
            return no("message text can not be empty")
        if len(text) > MAX_TEXT:
            return no(f"message text is too long: {len(text)} characters (at most {MAX_TEXT})")
        refusal = self._session_refusal(channel, number)
        if refusal is not None:
            return refusal
        local_id = query.get("localMessageId") or shapes.new_local_id()
        wamid = shapes.new_wamid()
        message_id = self.state.insert(
            channel,
            number,
            event_type="message",
            type="text",
            text=text,
            owner=1,
            source="api",
            local_message_id=local_id,
            whatsapp_message_id=wamid,
            reply_context_id=query.get("replyContextId") or None,
        )
        row = self.state.message(message_id)
        assert row is not None
        message = {
            "id": message_id,
            "whatsappMessageId": wamid,
            "localMessageId": local_id,
            "conversationId": row["conversation_id"],
            "ticketId": row["ticket_id"],
            "text": text,
            "type": "text",
            "data": None,
            "owner": True,
            "status": 1,
            "statusString": "SENT",
            "created": shapes.iso(row["created"]),
            "timestamp": str(int(row["created"])),
        }
        return json_reply({"ok": True, "result": "success", "message": message})

    def send_session_file(self, request: Request) -> Reply:
        number, query = self._customer(request.arg), request.query
        part = self._file_part(request)
        channel = self._channel(query.get("channelPhoneNumber") or part.get("channel"))
        if channel is None:
            return no("Invalid channel phone number")
        if number is None:
            return no("Invalid WhatsApp number")
        content = part.get("content")
        if not isinstance(content, bytes) or not content:
            return no("file is required")
        content_type = str(part["content_type"])
        kind = shapes.media_kind(content_type)
        if len(content) > MEDIA_LIMITS[kind] * 1024 * 1024:
            return no(f"{kind} is larger than {MEDIA_LIMITS[kind]} MB")
        refusal = self._session_refusal(channel, number)
        if refusal is not None:
            return refusal
        path = store_media(self.state, str(part["filename"]), content, content_type)
        # WhatsApp shows a voice bubble only for ogg/opus sent with the voice flag (`voice`,
        # as Wati's 2026 reference names it); anything else arrives as a plain file.
        voice = query.get("voice", "").lower() == "true"
        if voice and content_type.split(";")[0].strip().lower() == "audio/ogg":
            kind = "voice"
        message_id = self.state.insert(
            channel,
            number,
            event_type="message",
            type=kind,
            text=query.get("caption") or None,
            extra={"voiceFlag": True} if voice else None,
            data=path,
            owner=1,
            source="api",
            local_message_id=shapes.new_local_id(),
            whatsapp_message_id=shapes.new_wamid(),
        )
        return json_reply({"result": message_id})

    def _file_part(self, request: Request) -> dict[str, object]:
        if not request.content_type.lower().startswith("multipart/form-data"):
            return {}
        head = f"Content-Type: {request.content_type}\r\n\r\n".encode("latin-1")
        message = BytesParser(policy=policy.HTTP).parsebytes(head + request.body)
        found: dict[str, object] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name == "channelPhoneNumber":
                found["channel"] = _payload(part).decode("utf-8", "replace").strip()
            elif name == "file":
                filename = part.get_filename() or "file"
                content_type = part.get_content_type()
                if "content-type" not in part or content_type == "application/octet-stream":
                    content_type = mimetypes.guess_type(filename)[0] or content_type
                found.update(
                    filename=filename,
                    content_type=content_type,
                    content=_payload(part),
                )
        return found

    # -- chats and contacts ---------------------------------------------------------------

    def update_chat_status(self, request: Request) -> Reply:
        body = self._body(request)
        number = pick(body, "whatsappNumber")
        status = pick(body, "ticketStatus")
        if not isinstance(number, str):
            raise BadRequest("whatsappNumber", "The whatsappNumber field is required.")
        if not isinstance(status, str):
            raise BadRequest("ticketStatus", "The ticketStatus field is required.")
        channel = self._channel(
            pick(body, "channelPhoneNumber") or request.query.get("channelPhoneNumber")
        )
        if channel is None:
            return no("Invalid channel phone number")
        if status.upper() not in TICKET_STATUSES:
            return no(f"Invalid ticket status '{status}': use one of {', '.join(TICKET_STATUSES)}")
        customer = self._customer(number)
        if customer is None or not self.state.set_status(
            channel, customer, status.upper(), by="API"
        ):
            return no("Conversation not found")
        return json_reply({"result": True})

    def get_contacts(self, request: Request) -> Reply:
        size, page = paging(request.query)
        try:
            rows = filter_contacts(self.state.contact_rows(), request.query)
        except ValueError as exc:
            raise BadRequest("attribute", str(exc)) from None
        chunk = rows[(page - 1) * size : page * size]
        return json_reply(
            {
                "result": "success",
                "contact_list": [self.state.contact_json(row) for row in chunk],
                "link": page_link(page, size, len(rows)),
            }
        )

    def add_contact(self, request: Request) -> Reply:
        body = self._body(request)
        if not shapes.valid_number(request.arg):
            return no("Invalid WhatsApp number")
        raw = body.get("customParams")
        params = parse_params(raw, "customParams") if raw is not None else []
        name = pick(body, "name")
        row = self.state.add_contact(request.arg, str(name or ""), params)
        if row is None:
            return no("Contact already exists")
        return json_reply({"result": True, "contact": self.state.contact_json(row)})

    def update_contact_attributes(self, request: Request) -> Reply:
        params = parse_params(self._body(request).get("customParams"), "customParams")
        if not self.state.update_params(request.arg, params):
            return no("Contact not found")
        return json_reply({"result": True})

    def update_multi(self, request: Request) -> Reply:
        contacts = self._body(request).get("contacts")
        if not isinstance(contacts, list):
            raise BadRequest("contacts", "The contacts field is required.")
        errors = []
        for entry in contacts:
            entry = entry if isinstance(entry, dict) else {}
            number = str(pick(entry, "whatsappNumber") or "")
            params = parse_params(entry.get("customParams"), "customParams")
            if not self.state.update_params(number, params):
                errors.append({"whatsappNumber": number, "error": "Contact not found"})
        return json_reply({"result": True, "errors": errors})


def _payload(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""
