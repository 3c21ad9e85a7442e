"""The Web API endpoint: parse a request, apply queued faults, run the method, record the call."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl

from bot.devtools.slack_standin import auth, chat, conversations, files, reactions, views
from bot.devtools.slack_standin.common import ApiError, Call, JSONDict, Reply, multipart
from bot.devtools.slack_standin.faults import Faults
from bot.devtools.slack_standin.workspace import Workspace

Method = Callable[[Workspace, JSONDict], JSONDict]

_JSON = "application/json; charset=utf-8"


def _parse(query: str, content_type: str, body: bytes) -> tuple[JSONDict, str | None]:
    """The call's arguments from query and body, and a parse error Slack would name."""
    args: JSONDict = dict(parse_qsl(query, keep_blank_values=True))
    if not body:
        return args, None
    if content_type.startswith("application/json"):
        try:
            parsed = json.loads(body)
        except ValueError:
            return args, "invalid_json"
        if not isinstance(parsed, dict):
            return args, "json_not_object"
        args.update(parsed)
    elif content_type.startswith("multipart/form-data"):
        args.update(multipart(content_type, body))
    else:
        args.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return args, None


class WebApi:
    """Runs ``/api/<method>`` requests against the workspace; owns the call record and faults."""

    def __init__(self, ws: Workspace, extra_methods: Mapping[str, Method] | None = None) -> None:
        self.ws = ws
        self.faults = Faults()
        self.calls: list[Call] = []
        self.methods: dict[str, Method] = {
            **auth.METHODS,
            **chat.METHODS,
            **reactions.METHODS,
            **conversations.METHODS,
            **views.METHODS,
            **files.METHODS,
            **(extra_methods or {}),
        }

    def handle(self, method: str, query: str, headers: dict[str, str], body: bytes) -> Reply:
        lower = {k.lower(): v for k, v in headers.items()}
        args, parse_error = _parse(query, lower.get("content-type", ""), body)
        reply_headers = {"Content-Type": _JSON}
        with self.ws.cond:
            hold = self.faults.take_hold(method, args)
        if hold is not None and not hold.applied:
            hold.block(args)
            dropped = {"ok": False, "error": "internal_error"}
            self._record(Call(method, args, dict(headers), self.ws.clock(), 500, dropped))
            return Reply(500, reply_headers, json.dumps(dropped).encode())
        with self.ws.cond:
            status, payload = self._answer(method, args, lower, parse_error, reply_headers)
            self._record(
                Call(method, args, dict(headers), self.ws.clock(), status, copy.deepcopy(payload))
            )
        if hold is not None:
            hold.block(args)  # applied: the answer waits
        return Reply(status, reply_headers, json.dumps(payload).encode())

    def _answer(
        self,
        method: str,
        args: JSONDict,
        headers: dict[str, str],
        parse_error: str | None,
        reply_headers: dict[str, str],
    ) -> tuple[int, JSONDict]:
        failure = self.faults.next_failure(method)
        if failure is not None:
            error = "ratelimited" if failure.status == 429 else failure.error
            if failure.status == 429 and failure.retry_after is not None:
                reply_headers["Retry-After"] = str(failure.retry_after)
            return failure.status, {"ok": False, "error": error}
        try:
            if parse_error:
                raise ApiError(parse_error)
            handler = self.methods.get(method)
            if handler is None:
                # files.upload was switched off for everyone on 12 Nov 2025.
                retired = method == "files.upload"
                raise ApiError("method_deprecated" if retired else "unknown_method")
            auth.authenticate(self.ws, method, headers, args)
            if method not in auth.APP_TOKEN_METHODS:
                reply_headers["x-oauth-scopes"] = ",".join(self.ws.scopes)
            return 200, {"ok": True, **handler(self.ws, args)}
        except ApiError as exc:
            return 200, {"ok": False, "error": exc.error, **exc.extra}
        except Exception as exc:  # a stand-in bug or an argument shape it cannot read
            return 500, {"ok": False, "error": "fatal_error", "detail": repr(exc)}

    def _record(self, call: Call) -> None:
        with self.ws.cond:
            self.calls.append(call)
            self.ws.cond.notify_all()
