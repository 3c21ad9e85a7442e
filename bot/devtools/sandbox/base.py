"""What every sandbox endpoint shares: request/reply types, body parsing, Wati's refusals."""

from __future__ import annotations

import json
import mimetypes
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from . import shapes
from .state import State


@dataclass
class Request:
    method: str
    endpoint: str
    arg: str
    query: dict[str, str]
    content_type: str = ""
    body: bytes = b""


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    """One row of the sandbox's table of Wati calls (api.py): a request matching `method` and
    `path` is answered by `handler`. `name` is the call's name for faults, rate limits and the
    call count. In `path`, `{tenant}` stands for the tenant id and `{arg}` for one non-empty
    path segment (a phone number: `Request.arg`). Method "*" takes every method (the handler
    answers 405 itself, after the token check, as Wati does for webhookEndpoints)."""

    method: str
    path: str
    name: str
    handler: Callable[[Request], Reply]


@dataclass(frozen=True)
class Found:
    """Where a request goes: its route (None: answer `status`, 404 or 405) and its arg."""

    name: str
    route: Route | None
    arg: str
    status: int


def find_route(routes: Sequence[Route], tenant: str, method: str, path: str) -> Found:
    """The route for a request; 404 when no path matches, 405 when only other methods do."""
    parts = path.split("/")
    matched: Found | None = None
    for route in routes:
        arg = _match(route.path.replace("{tenant}", tenant).split("/"), parts)
        if arg is None:
            continue
        if route.method in (method, "*"):
            return Found(route.name, route, arg, 200)
        matched = matched or Found(route.name, None, arg, 405)
    return matched or Found("", None, "", 404)


def _match(pattern: list[str], parts: list[str]) -> str | None:
    """The `{arg}` segment ("" when the pattern has none) if `parts` match, else None."""
    if len(pattern) != len(parts):
        return None
    arg = ""
    for want, got in zip(pattern, parts, strict=True):
        if want == "{arg}" and got:
            arg = unquote(got)
        elif want != got:
            return None
    return arg


SPAM_WINDOW = 60.0


def json_reply(payload: Any, status: int = 200) -> Reply:
    return Reply(status, json.dumps(payload).encode())


class BadRequest(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


def pick(body: dict[str, Any], *names: str) -> Any:
    """First of `names` present in `body`, matching keys case-insensitively."""
    lowered = {key.lower(): value for key, value in body.items()}
    for name in names:
        if lowered.get(name.lower()) not in (None, ""):
            return lowered[name.lower()]
    return None


TICKET_EXPIRED = "Ticket has been expired."
SPAM_LIMITED = "Spam limit reached: too many messages in a short time, please slow down"


def expired(ticket_status: str) -> Reply:
    """Live tenants' answer to a session send on a closed window or a closed/solved chat."""
    return json_reply({"result": False, "message": TICKET_EXPIRED, "ticketStatus": ticket_status})


def no(info: str, **more: Any) -> Reply:
    return json_reply({"result": False, "info": info, **more})


def paging(query: dict[str, str]) -> tuple[int, int]:
    def number(name: str, default: int) -> int:
        try:
            return int(query.get(name) or default)
        except ValueError:
            raise BadRequest(name, f"The value '{query[name]}' is not valid.") from None

    return max(1, min(number("pageSize", 100), 1000)), max(1, number("pageNumber", 1))


def page_link(page_number: int, page_size: int, total: int) -> dict[str, Any]:
    last = max(1, -(-total // page_size))
    return {
        "pageNumber": page_number,
        "pageSize": page_size,
        "total": total,
        "prevPage": page_number - 1 if page_number > 1 else None,
        "nextPage": page_number + 1 if page_number < last else None,
    }


def parse_params(raw: Any, field_name: str) -> list[dict[str, str]]:
    """`[{name, value}]` with non-empty names; values turned into strings."""
    if not isinstance(raw, list):
        raise BadRequest(field_name, f"The {field_name} field is required.")
    out = []
    for entry in raw:
        name = pick(entry, "name") if isinstance(entry, dict) else None
        value = entry.get("value") if isinstance(entry, dict) else None
        if not isinstance(name, str) or value is None or isinstance(value, dict | list):
            raise BadRequest(field_name, "Each parameter needs a name and a value.")
        out.append({"name": name, "value": str(value)})
    return out


class Endpoints:
    """The state and channel numbers, and the helpers every endpoint uses."""

    def __init__(self, state: State, channels: list[str]) -> None:
        self.state = state
        self.channels = channels
        # Session sends per channel number allowed in any SPAM_WINDOW seconds (live tenants
        # refuse "above about 30 messages a minute sustained" with a 200 body).
        self.spam_limit = 30
        # Well-formed numbers that have no WhatsApp account: templates to them are refused.
        self.not_on_whatsapp: set[str] = set()

    def _body(self, request: Request) -> dict[str, Any]:
        if not request.body.strip():
            return {}
        try:
            body = json.loads(request.body)
        except ValueError:
            raise BadRequest("$", "The JSON value could not be converted.") from None
        if not isinstance(body, dict):
            raise BadRequest("$", "The JSON value could not be converted.")
        return body

    def _customer(self, ref: Any) -> str | None:
        """The customer a v1 path parameter or body field names: a phone number, a Wati
        contact id or a BSUID (docs/WATI.md#bsuids-and-usernames); an unknown but well-formed phone number
        stands for itself; anything else is None."""
        text = str(ref or "").strip()
        found = self.state.resolve(text)
        if found is not None:
            return found
        return text if shapes.valid_number(text) else None

    def _channel(self, value: Any) -> str | None:
        """The channel number asked for, the default (first) one if none; None if unknown."""
        if value in (None, ""):
            return self.channels[0]
        text = str(value)
        return text if text in self.channels else None

    def _session_refusal(self, channel: str, number: str) -> Reply | None:
        """Why a session message or file cannot go now (docs/WATI.md#refusals), or None.

        A chat with no customer message yet (opened by a template) answers with ticketStatus
        BROADCAST; a closed window or a solved chat (by the API, the dashboard or Wati's
        chatbot, even inside the 24 hours) with CLOSED. Either way nothing is stored.
        """
        conv = self.state.conversation(channel, number)
        if conv is None:
            return no("Invalid Conversation")
        if conv["last_inbound"] is None:
            return expired("BROADCAST")
        if conv["status"] == "SOLVED" or not self.state.window_open(conv):
            return expired("CLOSED")
        since = self.state.now() - SPAM_WINDOW
        if self.state.session_sends_since(channel, since) >= self.spam_limit:
            return no(SPAM_LIMITED)
        return None


def store_media(state: State, filename: str, content: bytes, content_type: str) -> str:
    """Keep a file the way Wati does; returns its `data/<kind>s/<uuid>.<ext>` path."""
    suffix = filename.rsplit(".", 1)[1].lower() if "." in filename else ""
    if not suffix.isalnum() or len(suffix) > 5:
        suffix = (mimetypes.guess_extension(content_type) or ".bin").lstrip(".")
    path = f"data/{shapes.media_kind(content_type)}s/{uuid.uuid4()}.{suffix}"
    state.put_media(path, content, content_type)
    return path
