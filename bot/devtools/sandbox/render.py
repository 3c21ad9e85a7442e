"""Rows to Wati JSON: history items (docs/WATI.md#history-items) and contacts
(#chats-and-contacts)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from . import shapes

OPERATOR_NAME = "Wati Operator"
OPERATOR_EMAIL = "operator@sandbox.invalid"


def status_of(row: sqlite3.Row, now: float, delays: tuple[float, float]) -> str:
    """Customers' messages stay SENT (as on live tenants); the business's move SENT ->
    DELIVERED -> READ with time."""
    if not row["owner"]:
        return "SENT"
    elapsed = now - row["clock"]
    delivered, read = delays
    if elapsed >= max(delivered, read):
        return "READ"
    return "DELIVERED" if elapsed >= delivered else "SENT"


def item_json(row: sqlite3.Row, status: str) -> dict[str, Any]:
    """A history item as a live tenant's getMessages returns it (docs/WATI.md#history-items)."""
    common: dict[str, Any] = {
        "id": row["id"],
        "created": shapes.iso(row["created"]),
        "timestamp": str(int(row["created"])),
        "conversationId": row["conversation_id"],
        "ticketId": row["ticket_id"],
        "eventType": row["event_type"],
    }
    extra = json.loads(row["extra"]) if row["extra"] else {}
    if row["event_type"] == "ticket":
        # An integer `type` (1: the chat was solved or closed, 0: anything else), not chat
        # content; `actor` is who did it ("Bot" for Wati's chatbot).
        return {
            **common,
            "type": int(extra.get("type", 0)),
            "actor": extra.get("actor"),
            "assignee": extra.get("assignee"),
            "topicname": "",
            "eventDescription": row["text"],
        }
    if row["event_type"] == "broadcastMessage":
        # Live tenants send no `owner` here and a null `templateName`: the template is named
        # only in `eventDescription`.
        return {
            **common,
            "templateName": None,
            "eventDescription": (
                f'Broadcast message with using "{row["template_name"]}" template was sent'
            ),
            "finalText": row["text"],
            "statusString": status,
        }
    operator = row["source"] == "operator"
    item = {
        **common,
        "type": row["type"],
        "text": row["text"],
        "data": row["data"],
        "owner": bool(row["owner"]),
        "statusString": status,
        "operatorName": OPERATOR_NAME if operator else None,
        "operatorEmail": OPERATOR_EMAIL if operator else None,
        "assignedId": None,
        "avatarUrl": None,
        "localMessageId": row["local_message_id"],
        "failedDetail": None,
        "failedCode": None,
        "replyContextId": row["reply_context_id"],
        "whatsappMessageId": None,
        "buttonReply": None,
        "interactiveButtonReply": None,
        "listReply": None,
    }
    item.update(extra)
    return item


def contact_json(row: sqlite3.Row, team_id: str) -> dict[str, Any]:
    # A customer who hides their number (docs/WATI.md#bsuids-and-usernames): `wAid` empty, `phone` null,
    # so a reader meets both readings of "no phone"; `bsuid`, `username` and `id` identify them.
    # A row written without the identity columns (bulk-loaded: bsuid NULL) is a phone
    # customer; an empty bsuid and no phone plays a contact Wati gives no identity at all.
    phone = row["phone"] or (row["wa_id"] if row["bsuid"] is None else None)
    return {
        "id": row["id"],
        "wAid": phone or "",
        "firstName": shapes.first_name(row["name"]),
        "fullName": row["name"],
        "phone": phone,
        "bsuid": row["bsuid"] or None,
        "username": row["username"],
        "source": None,
        "contactStatus": "VALID",
        "photo": None,
        "created": shapes.contact_date(row["created"]),
        "customParams": json.loads(row["params"]),
        "optedIn": bool(row["opted_in"]),
        "isDeleted": False,
        "lastUpdated": shapes.iso(row["last_updated"]),
        "allowBroadcast": True,
        "allowSMS": True,
        "teamIds": [team_id],
        "isInFlow": False,
        "lastFlowId": None,
        "currentFlowNodeId": None,
        "selectedHubspotId": None,
    }
