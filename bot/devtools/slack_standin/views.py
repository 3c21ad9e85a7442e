"""``views.*``: modals (open, push, update) and App Home tabs (publish)."""

from __future__ import annotations

import copy
import secrets
from typing import Any

from bot.devtools.slack_standin.common import (
    ApiError,
    JSONDict,
    check_blocks,
    check_view,
    json_arg,
    required,
)
from bot.devtools.slack_standin.workspace import Workspace


def _view_hash(now: float) -> str:
    return f"{int(now)}.{secrets.token_urlsafe(6)}"


def _view_arg(args: JSONDict) -> JSONDict:
    required(args, "view")
    view = json_arg(args, "view", "invalid_arguments")
    if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
        raise ApiError("invalid_arguments")
    if view["type"] == "modal" and not view.get("title"):
        raise ApiError("invalid_arguments")
    check_view(view)
    return view


def _use_trigger(ws: Workspace, args: JSONDict) -> None:
    required(args, "trigger_id")
    trigger = str(args["trigger_id"])
    if trigger in ws.used_triggers:
        raise ApiError("exchanged_trigger_id")
    ws.used_triggers.add(trigger)


def _new_view(ws: Workspace, spec: JSONDict, **extra: Any) -> JSONDict:
    view_id = ws.new_id("V")
    view: JSONDict = {
        "id": view_id,
        "team_id": ws.team_id,
        "type": spec["type"],
        "blocks": check_blocks(spec.get("blocks", []), limit=100),
        "private_metadata": spec.get("private_metadata", ""),
        "callback_id": spec.get("callback_id", ""),
        "state": {"values": {}},
        "hash": _view_hash(ws.clock()),
        "title": spec.get("title"),
        "clear_on_close": bool(spec.get("clear_on_close", False)),
        "notify_on_close": bool(spec.get("notify_on_close", False)),
        "close": spec.get("close"),
        "submit": spec.get("submit"),
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": ws.app_id,
        "external_id": spec.get("external_id", ""),
        "app_installed_team_id": ws.team_id,
        "bot_id": ws.bot_id,
        **extra,
    }
    ws.views.append(view)
    return view


def _replace_view(ws: Workspace, current: JSONDict, spec: JSONDict) -> None:
    for key in ("type", "title", "close", "submit", "callback_id", "private_metadata"):
        if key in spec:
            current[key] = spec[key]
    for key in ("clear_on_close", "notify_on_close"):
        current[key] = bool(spec.get(key, False))
    current["external_id"] = spec.get("external_id", current["external_id"])
    current["blocks"] = check_blocks(spec.get("blocks", []), limit=100)
    current["hash"] = _view_hash(ws.clock())


def open_view(ws: Workspace, args: JSONDict) -> JSONDict:
    view = _view_arg(args)
    _use_trigger(ws, args)
    return {"view": copy.deepcopy(_new_view(ws, view))}


def push(ws: Workspace, args: JSONDict) -> JSONDict:
    view = _view_arg(args)
    _use_trigger(ws, args)
    previous = next((v for v in reversed(ws.views) if v["type"] == "modal"), None)
    extra: JSONDict = {}
    if previous is not None:
        extra = {"previous_view_id": previous["id"], "root_view_id": previous["root_view_id"]}
    return {"view": copy.deepcopy(_new_view(ws, view, **extra))}


def update(ws: Workspace, args: JSONDict) -> JSONDict:
    spec = _view_arg(args)
    view_id, external_id = args.get("view_id"), args.get("external_id")
    if not view_id and not external_id:
        raise ApiError("invalid_arguments")
    current = next(
        (
            v
            for v in ws.views
            if (view_id and v["id"] == view_id) or (external_id and v["external_id"] == external_id)
        ),
        None,
    )
    if current is None:
        raise ApiError("not_found")
    if args.get("hash") and args["hash"] != current["hash"]:
        raise ApiError("hash_conflict")
    _replace_view(ws, current, spec)
    return {"view": copy.deepcopy(current)}


def publish(ws: Workspace, args: JSONDict) -> JSONDict:
    required(args, "user_id")
    spec = _view_arg(args)
    user_id = str(args["user_id"])
    current = next(
        (v for v in ws.views if v["type"] == "home" and v.get("user_id") == user_id), None
    )
    if current is None:
        return {"view": copy.deepcopy(_new_view(ws, spec, user_id=user_id))}
    if args.get("hash") and args["hash"] != current["hash"]:
        raise ApiError("hash_conflict")
    _replace_view(ws, current, spec)
    return {"view": copy.deepcopy(current)}


METHODS = {
    "views.open": open_view,
    "views.push": push,
    "views.update": update,
    "views.publish": publish,
}
