"""The account's numbers (v2 phoneNumbers, v3 channels) and assignOperator.

Shapes, where docs/WATI.md#account-numbers leaves them open (the fields are not recorded):

- ``GET {tenant}/api/v2/whatsapp/phoneNumbers``: a bare JSON list, every number of the account
  including the default one (the first): ``[{"phoneNumber", "phoneNumberId", "wabaId",
  "channelName", "channelType", "bmId", "isDefault"}]``, numbers as digits (docs/WATI.md#account-numbers).
- ``GET /api/ext/v3/channels?page_number=&page_size=`` (host root, no tenant segment):
  ``{"channels": [{"id", "name", "channel": "Whatsapp"}]}`` as the v3 spec has it, which names
  no phone number and **leaves out the default channel**. Missing paging: 400 ``{"code",
  "message", "timestamp"}``.
- ``GET /api/ext/v3/conversations?page_number=&page_size=[&channel=]`` (host root, §6.4; the
  item fields are not recorded): ``{"conversations": [{"id", "channel_phone_number",
  "channel_id" (null for the default number), "status", "last_message_at", "contact": {"id",
  "wa_id" (null when hidden), "bsuid", "username", "name"}}], "page_number", "page_size",
  "total"}``, newest message first. ``v3_conversations = 404`` or ``403`` refuses it, as
  tenants without it answer.
- ``POST {tenant}/api/v1/assignOperator?whatsappNumber=&email=`` (query, docs/WATI.md#chats-and-contacts),
  optional ``channelPhoneNumber`` (default number otherwise): ``{"result": true}``; no
  ``email``: back to the bot; an e-mail that is not one of the account's operators: 200
  ``{"result": false, "info": "Operator not found"}``; no such chat: ``result`` false +
  ``info``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from . import shapes
from .base import Endpoints, Reply, Request, json_reply, no
from .operators import Operators
from .state import Row

CHANNEL_PLATFORM = "Whatsapp"


def _stable_id(*parts: str, length: int = 24) -> str:
    return hashlib.sha1(":".join(parts).encode()).hexdigest()[:length]


class AccountEndpoints(Endpoints):
    operators: Operators
    v3_conversations = 200  # 404 or 403: the tenant does not serve the v3 conversation list

    def phone_numbers(self, request: Request) -> Reply:
        waba = _stable_id("waba", self.state.team_id, length=15)
        numbers = [
            {
                "phoneNumber": number,
                "phoneNumberId": _stable_id("number", number, length=15),
                "wabaId": waba,
                "channelName": self.channel_name(number),
                "channelType": CHANNEL_PLATFORM,
                "bmId": _stable_id("bm", self.state.team_id, length=15),
                "isDefault": index == 0,
            }
            for index, number in enumerate(self.channels)
        ]
        return json_reply(numbers)

    def channels_v3(self, request: Request) -> Reply:
        paging = _v3_paging(request)
        if isinstance(paging, Reply):
            return paging
        page, size = paging
        listed = [
            {
                "id": _stable_id("channel", number),
                "name": self.channel_name(number),
                "channel": CHANNEL_PLATFORM,
            }
            for number in self.channels[1:]  # the spec: "except for the default channel"
        ]
        return json_reply({"channels": listed[(page - 1) * size : page * size]})

    def conversations_v3(self, request: Request) -> Reply:
        """`GET /api/ext/v3/conversations`: newest first, `channel` filters (§6.4). Refused
        (404 or 403, `v3_conversations`) on tenants that do not serve it."""
        if self.v3_conversations != 200:
            return _v3_error(self.v3_conversations, "Not available on this plan")
        paging = _v3_paging(request)
        if isinstance(paging, Reply):
            return paging
        page, size = paging
        wanted = shapes.normalise(request.query.get("channel", ""))
        rows = [r for r in self.state.conversations_by_news() if wanted in ("", r["channel"])]
        listed = [self._conversation_v3(row) for row in rows[(page - 1) * size : page * size]]
        return json_reply(
            {"conversations": listed, "page_number": page, "page_size": size, "total": len(rows)}
        )

    def _conversation_v3(self, row: Row) -> dict[str, Any]:
        contact = self.state.contact_row(row["customer"])
        default = row["channel"] == self.channels[0]
        return {
            "id": row["id"],
            "channel_phone_number": row["channel"],
            "channel_id": None if default else _stable_id("channel", row["channel"]),
            "status": row["status"],
            "last_message_at": shapes.iso(row["newest"]),
            "contact": {
                "id": contact["id"] if contact else None,
                "wa_id": (contact["phone"] or None) if contact else row["customer"],
                "bsuid": contact["bsuid"] if contact else None,
                "username": contact["username"] if contact else None,
                "name": contact["name"] if contact else None,
            },
        }

    def channel_name(self, number: str) -> str:
        """The custom name a tenant gives a number ("Support"); here `Number <n>`."""
        return f"Number {self.channels.index(number) + 1}"

    def assign_operator(self, request: Request) -> Reply:
        query = request.query
        number = self._customer(query.get("whatsappNumber", ""))
        channel = self._channel(query.get("channelPhoneNumber"))
        if channel is None:
            return no("Invalid channel phone number")
        if number is None or self.state.conversation(channel, number) is None:
            return no("Conversation not found")
        email = (query.get("email") or "").strip() or None
        if email is not None and not self.operators.known(email):
            return no("Operator not found")
        self.operators.assign(channel, number, email.lower() if email else None, by="API")
        return json_reply({"result": True})


def _v3_paging(request: Request) -> tuple[int, int] | Reply:
    """v3's required paging (page_number >= 1, page_size 1 to 100), or its 400 answer."""
    try:
        page = int(request.query["page_number"])
        size = int(request.query["page_size"])
    except (KeyError, ValueError):
        return _v3_error(400, "page_number and page_size are required whole numbers")
    if page < 1 or not 1 <= size <= 100:
        return _v3_error(400, "page_number must be 1 or more and page_size 1 to 100")
    return page, size


def _v3_error(status: int, message: str) -> Reply:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json_reply({"code": status, "message": message, "timestamp": stamp}, status)
