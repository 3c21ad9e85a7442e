"""Rows to Wati JSON: history items (wati-api.md §3.1) and contacts (§3.9)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from . import shapes

OPERATOR_NAME = "Wati Operator"
OPERATOR_EMAIL = "operator@sandbox.invalid"


def status_of(row: sqlite3.Row, now: float, delays: tuple[float, float]) -> str:
    """Customers' messages read READ; the business's move SENT -> DELIVERED -> READ with time."""
    if not row["owner"]:
        return "READ"
    elapsed = now - row["clock"]
    delivered, read = delays
    if elapsed >= max(delivered, read):
        return "READ"
    return "DELIVERED" if elapsed >= delivered else "SENT"


def item_json(row: sqlite3.Row, status: str) -> dict[str, Any]:
    """A history item as getMessages returns it (wati-api.md §3.1)."""
    common: dict[str, Any] = {
        "id": row["id"],
        "created": shapes.iso(row["created"]),
        "timestamp": str(int(row["created"])),
        "conversationId": row["conversation_id"],
        "ticketId": row["ticket_id"],
        "eventType": row["event_type"],
    }
    if row["event_type"] == "ticket":
        return {**common, "eventDescription": row["text"], "actor": None}
    if row["event_type"] == "broadcastMessage":
        return {
            **common,
            "type": "template",
            "finalText": row["text"],
            "data": None,
            "templateId": row["template_id"],
            "templateName": row["template_name"],
            "broadcastName": row["broadcast_name"],
            "owner": True,
            "statusString": status,
            "operatorName": None,
            "localMessageId": row["local_message_id"],
            "failedDetail": None,
            "failedCode": None,
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
    if row["extra"]:
        item.update(json.loads(row["extra"]))
    return item


def contact_json(row: sqlite3.Row, team_id: str) -> dict[str, Any]:
    return {
        "id": row["id"],
        "wAid": row["wa_id"],
        "firstName": shapes.first_name(row["name"]),
        "fullName": row["name"],
        "phone": row["wa_id"],
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
