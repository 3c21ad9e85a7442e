"""getContacts filters: `name`, `attribute` (a JSON array of conditions) and `createdDate`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from . import shapes
from .state import Row

OPERATORS = ("contain", "notContain", "exist", "notExist", "==", "!=", "valid", "invalid")


def _attribute(row: Row, name: str) -> str | None:
    """`name` and `phone` are built in; anything else is a custom param (case-insensitive)."""
    if name.lower() == "name":
        return str(row["name"])
    if name.lower() in ("phone", "whatsappnumber", "wa_id"):
        return str(row["wa_id"])
    for param in json.loads(row["params"]):
        if param["name"].lower() == name.lower():
            return str(param["value"])
    return None


def _matches(row: Row, condition: Mapping[str, Any]) -> bool:
    name, operator = str(condition.get("name", "")), str(condition.get("operator", ""))
    wanted = str(condition.get("value", ""))
    value = _attribute(row, name)
    present = value is not None and value != ""
    if operator == "contain":
        return value is not None and wanted.lower() in value.lower()
    if operator == "notContain":
        return value is None or wanted.lower() not in value.lower()
    if operator in ("exist", "valid"):
        return present
    if operator in ("notExist", "invalid"):
        return not present
    if operator == "==":
        return value == wanted
    return value != wanted  # "!="


def parse_conditions(text: str) -> list[Mapping[str, Any]]:
    try:
        conditions = json.loads(text)
    except ValueError:
        raise ValueError("attribute must be a JSON array of {name, operator, value}") from None
    if isinstance(conditions, dict):
        conditions = [conditions]
    if not isinstance(conditions, list) or not all(isinstance(c, dict) for c in conditions):
        raise ValueError("attribute must be a JSON array of {name, operator, value}")
    for condition in conditions:
        if condition.get("operator") not in OPERATORS:
            raise ValueError(f"unknown operator {condition.get('operator')!r}: use {OPERATORS}")
    return conditions


def filter_contacts(rows: list[Row], query: Mapping[str, str]) -> list[Row]:
    """Apply every filter given in the query; all of them must hold (AND)."""
    name = query.get("name", "").strip().lower()
    if name:
        rows = [r for r in rows if name in r["name"].lower() or name in r["wa_id"]]
    if query.get("attribute", "").strip():
        conditions = parse_conditions(query["attribute"])
        rows = [r for r in rows if all(_matches(r, c) for c in conditions)]
    if query.get("createdDate", "").strip():
        day = shapes.parse_when(query["createdDate"])
        if day is None:
            raise ValueError("createdDate must be YYYY-MM-DD or MM-DD-YYYY")
        rows = [r for r in rows if day <= r["created"] < day + shapes.DAY]
    return rows
