"""assignOperator, the smallest stand-in until the sandbox's own account endpoints land.

``POST {tenant}/api/v1/assignOperator?whatsappNumber=&email=`` (query, wati-api.md §3.8),
optional ``channelPhoneNumber`` (the default number otherwise): ``{"result": true}``; no
``email``: the chat goes back to the bot; an e-mail that is not one of the account's
operators: 200 ``{"result": false, "info": "Operator not found"}``; no such chat: ``result``
false with ``info``. Operators and assignments live in memory (a restart forgets them).
"""

from __future__ import annotations

import threading

from . import render, shapes
from .base import Endpoints, Reply, Request, json_reply, no
from .state import State


class Operators(Endpoints):
    """The account's operators (by e-mail) and which chat each one is assigned."""

    def __init__(self, state: State, channels: list[str]) -> None:
        super().__init__(state, channels)
        self._lock = threading.Lock()
        self._operators = {render.OPERATOR_EMAIL: render.OPERATOR_NAME}
        self._assigned: dict[tuple[str, str], str | None] = {}

    def add(self, email: str, name: str) -> None:
        with self._lock:
            self._operators[email.strip().lower()] = name

    def assignee(self, channel: str, customer: str) -> str | None:
        with self._lock:
            return self._assigned.get((channel, customer))

    def assign_operator(self, request: Request) -> Reply:
        query = request.query
        number = shapes.normalise(query.get("whatsappNumber", ""))
        channel = self._channel(query.get("channelPhoneNumber"))
        if channel is None:
            return no("Invalid channel phone number")
        if not shapes.valid_number(number) or self.state.conversation(channel, number) is None:
            return no("Conversation not found")
        email = (query.get("email") or "").strip().lower() or None
        with self._lock:
            if email is not None and email not in self._operators:
                return no("Operator not found")
            self._assigned[(channel, number)] = email
        return json_reply({"result": True})
