"""Shapes and small helpers every part of the Slack stand-in shares."""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import json
import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bot.devtools.slack_standin import limits

JSONDict = dict[str, Any]

DEFAULT_SCOPES: tuple[str, ...] = (
    "channels:history",
    "groups:history",
    "channels:read",
    "groups:read",
    "chat:write",
    "chat:write.customize",
    "commands",
    "files:read",
    "files:write",
    "users:read",
    "users:read.email",
    "reactions:write",
)
"""The bridge manifest's bot scopes. ``conversations.join`` needs ``channels:join`` and
``reactions.get`` needs ``reactions:read`` on top of these, as on Slack."""


@dataclass(frozen=True)
class Call:
    """One Web API request the stand-in received (failed ones included)."""

    method: str
    args: dict[str, Any]
    headers: dict[str, str]
    at: float
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when Slack would have answered ``ok: true``."""
        return self.status == 200 and bool(self.response.get("ok"))


class ApiError(Exception):
    """Ends a Web API method with ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class Reply:
    """An HTTP answer: status, headers and body."""

    status: int
    headers: dict[str, str]
    body: bytes


def text_reply(status: int, body: bytes) -> Reply:
    return Reply(status, {"Content-Type": "text/plain"}, body)


def ts_us(ts: str) -> int:
    """A Slack ``ts`` as integer microseconds (``bad_timestamp`` when it is not one)."""
    seconds, _, fraction = str(ts).partition(".")
    if not seconds.isdigit() or (fraction and not fraction.isdigit()):
        raise ApiError("bad_timestamp")
    return int(seconds) * 1_000_000 + int(fraction.ljust(6, "0")[:6])


def format_ts(us: int) -> str:
    return f"{us // 1_000_000}.{us % 1_000_000:06d}"


def flag(value: Any) -> bool:
    """A boolean argument as Slack reads it, from JSON or form bodies."""
    return value in (True, 1, "1", "true", "True")


def is_top_level(message: JSONDict) -> bool:
    thread_ts = message.get("thread_ts")
    return (
        thread_ts is None
        or thread_ts == message["ts"]
        or message.get("subtype") == "thread_broadcast"
    )


def json_arg(args: JSONDict, key: str, error: str) -> Any:
    """Read an argument slack_sdk sends as JSON text in form bodies and as JSON in JSON bodies."""
    value = args.get(key)
    if isinstance(value, str):
        if not value:
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(error) from None
    return value


def required(args: JSONDict, *keys: str) -> None:
    missing = [key for key in keys if args.get(key) in (None, "")]
    if missing:
        raise ApiError(
            "invalid_arguments",
            response_metadata={
                "messages": [f"[ERROR] missing required field: {k}" for k in missing]
            },
        )


def check_blocks(blocks: Any, *, limit: int = 50) -> list[JSONDict]:
    if not isinstance(blocks, list) or not all(
        isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks
    ):
        raise ApiError("invalid_blocks")
    with _refusals():
        limits.check_blocks(blocks, limit=limit)
    return blocks


def check_text(text: Any) -> None:
    """``msg_too_long`` for message text Slack would refuse."""
    with _refusals():
        limits.check_text(text)


def check_view(view: JSONDict) -> None:
    """``invalid_arguments`` for a view beyond Slack's limits."""
    with _refusals():
        limits.check_view(view)


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """Slack's answer to a broken limit (see bot.devtools.slack_standin.limits)."""
    try:
        yield
    except limits.Refusal as refusal:
        raise ApiError(
            refusal.error, response_metadata={"messages": [f"[ERROR] {refusal.message}"]}
        ) from None


def guess_mimetype(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def multipart(content_type: str, body: bytes, *, want_bytes: bool = False) -> dict[str, Any]:
    """Fields of a multipart/form-data body (file parts as bytes when ``want_bytes``)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            payload = b""
        if part.get_filename() or want_bytes:
            fields[str(name)] = payload
        else:
            fields[str(name)] = payload.decode("utf-8", "replace")
    return fields
