"""Tokens: which token a method accepts, and ``auth.test``."""

from __future__ import annotations

from bot.devtools.slack_standin.common import ApiError, JSONDict
from bot.devtools.slack_standin.workspace import Workspace

APP_TOKEN_METHODS = frozenset({"apps.connections.open"})
"""Methods that take the app-level token (``xapp-``); every other one takes the bot token."""


def authenticate(ws: Workspace, method: str, headers: dict[str, str], args: JSONDict) -> None:
    """Refuse a call as Slack does: no token, an unknown one, or the wrong kind for the method."""
    auth = headers.get("authorization", "")
    token = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else args.get("token")
    if not token:
        raise ApiError("not_authed")
    wanted, other = (ws.app_token, ws.bot_token)
    if method not in APP_TOKEN_METHODS:
        wanted, other = other, wanted
    if token == other:
        raise ApiError("not_allowed_token_type")
    if token != wanted:
        raise ApiError("invalid_auth")


def auth_test(ws: Workspace, args: JSONDict) -> JSONDict:
    return {
        "url": f"{ws.url}/",
        "team": "Stand-in Workspace",
        "user": ws.users[ws.bot_user_id]["name"],
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


METHODS = {"auth.test": auth_test}
