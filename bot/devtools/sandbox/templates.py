"""Template endpoints: sendTemplateMessage, sendTemplateMessages, getMessageTemplates."""

from __future__ import annotations

import json
from typing import Any

from . import shapes
from .base import (
    BadRequest,
    Endpoints,
    Reply,
    Request,
    json_reply,
    no,
    page_link,
    paging,
    parse_params,
    pick,
)
from .state import Row


class TemplateEndpoints(Endpoints):
    def _on_whatsapp(self, number: str) -> bool:
        """A well-formed number with a WhatsApp account (`Sandbox.not_on_whatsapp` says not),
        or a known customer's BSUID or contact id (`target`, docs/WATI.md#bsuids-and-usernames)."""
        if self.state.resolve(number) is not None:
            return number not in self.not_on_whatsapp
        return shapes.valid_number(number) and number not in self.not_on_whatsapp

    def _template(self, body: dict[str, Any]) -> tuple[Row | None, str, Reply | None]:
        """The approved template and channel named in a send body, or a refusal."""
        name = pick(body, "template_name")
        broadcast = pick(body, "broadcast_name")
        if not isinstance(name, str):
            raise BadRequest("template_name", "The template_name field is required.")
        if not isinstance(broadcast, str):
            raise BadRequest("broadcast_name", "The broadcast_name field is required.")
        channel = self._channel(pick(body, "channel_number", "channelNumber"))
        if channel is None:
            return None, "", no("Invalid channel number")
        template = self.state.template(name)
        if template is None:
            return None, "", no(f"Template {name} not found")
        if template["status"] != "APPROVED":
            return None, "", no(f"Template {name} is not approved (status {template['status']})")
        return template, channel, None

    def _send_template(
        self, template: Row, channel: str, number: str, values: dict[str, str], broadcast: str
    ) -> str:
        self.state.ensure_contact(number)
        self.state.ensure_conversation(channel, number, by=f"broadcast {broadcast}")
        return self.state.insert(
            channel,
            number,
            event_type="broadcastMessage",
            type="template",
            text=shapes.render(template["body"], values),
            owner=1,
            source="api",
            local_message_id=shapes.new_local_id(),
            template_id=template["id"],
            template_name=template["name"],
            broadcast_name=broadcast,
        )

    @staticmethod
    def _missing(template: Row, values: dict[str, str]) -> list[str]:
        return [p for p in json.loads(template["params"]) if not values.get(p, "").strip()]

    def send_template_message(self, request: Request) -> Reply:
        body = self._body(request)
        number = request.query.get("whatsappNumber") or pick(body, "whatsappNumber", "target")
        params = parse_params(pick(body, "parameters"), "parameters")
        template, channel, refusal = self._template(body)
        if refusal is not None or template is None:
            assert refusal is not None
            return refusal
        if not isinstance(number, str) or not self._on_whatsapp(number):
            return no("Invalid WhatsApp number", validWhatsAppNumber=False)
        number = self._customer(number) or number
        values = {p["name"]: p["value"] for p in params}
        missing = self._missing(template, values)
        if missing:
            raise BadRequest("parameters", f"Missing value for template parameter '{missing[0]}'")
        message_id = self._send_template(
            template, channel, number, values, str(pick(body, "broadcast_name"))
        )
        contact = self.state.contact_row(number)
        assert contact is not None
        return json_reply(
            {
                "result": True,
                "phone_number": number,
                "template_name": template["name"],
                "parameteres": params,
                "contact": self.state.contact_json(contact),
                "model": {"ids": [message_id]},
                "validWhatsAppNumber": True,
            }
        )

    def send_template_messages(self, request: Request) -> Reply:
        """The v1 bulk send as live tenants answer it: no `receivers`, only the refused
        numbers under `errors` (docs/WATI.md#templates)."""
        body = self._body(request)
        receivers = body.get("receivers")
        if not isinstance(receivers, list) or not receivers:
            raise BadRequest("receivers", "The receivers field is required.")
        template, channel, refusal = self._template(body)
        if refusal is not None or template is None:
            assert refusal is not None
            return _bulk_refusal(refusal)
        invalid_numbers: list[str] = []
        invalid_params: list[str] = []
        broadcast = str(pick(body, "broadcast_name"))
        for receiver in receivers:
            receiver = receiver if isinstance(receiver, dict) else {}
            number = str(pick(receiver, "whatsappNumber") or "")
            try:
                params = parse_params(receiver.get("customParams"), "")
                values = {p["name"]: p["value"] for p in params}
            except BadRequest:
                values = None
            if not self._on_whatsapp(number):
                invalid_numbers.append(number)
            elif values is None or self._missing(template, values):
                invalid_params.append(number)
            else:
                self._send_template(template, channel, number, values, broadcast)
        errors = {
            "error": None,
            "invalidWhatsappNumbers": invalid_numbers,
            "invalidCustomParameters": invalid_params,
        }
        return json_reply({"result": True, "errors": errors})

    def get_message_templates(self, request: Request) -> Reply:
        size, page = paging(request.query)
        rows = self.state.templates()
        chunk = rows[(page - 1) * size : page * size]
        templates = [
            {
                "id": row["id"],
                "elementName": row["name"],
                "category": row["category"],
                "status": row["status"],
                "language": {"key": "English (US)", "value": "en_US", "text": "English (US)"},
                "body": row["body"],
                "bodyOriginal": shapes.numbered(row["body"]),
                "header": None,
                "footer": None,
                "buttons": [],
                "customParams": [
                    {"paramName": name, "paramValue": ""} for name in json.loads(row["params"])
                ],
                "lastModified": shapes.iso(row["created"]),
            }
            for row in chunk
        ]
        return json_reply(
            {
                "result": "success",
                "messageTemplates": templates,
                "link": page_link(page, size, len(rows)),
            }
        )


def _bulk_refusal(refusal: Reply) -> Reply:
    """A whole bulk request refused: `result: false`, the reason under `errors.error`."""
    info = json.loads(refusal.body).get("info")
    errors = {"error": info, "invalidWhatsappNumbers": [], "invalidCustomParameters": []}
    return json_reply({"result": False, "errors": errors})
