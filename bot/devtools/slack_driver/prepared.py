"""A signed request as Slack would send it, to hand to Bolt in-process or POST to the bridge."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import httpx
from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

JSONDict = dict[str, Any]

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
if TYPE_CHECKING:
    from bot.devtools.slack_driver.base import DriverBase

USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


@dataclass(frozen=True)
class Prepared:
    """A signed request: the exact body text and its headers. Unpacks as ``(body, headers)``."""

    body: str
    headers: dict[str, str]
    driver: DriverBase | None = field(default=None, repr=False, compare=False)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.body, self.headers))

    @property
    def payload(self) -> JSONDict:
        """The body parsed back: the event envelope, the interaction payload or the form fields."""
        if self.headers.get("Content-Type") == JSON_TYPE:
            parsed: JSONDict = json.loads(self.body)
            return parsed
        fields = dict(parse_qsl(self.body, keep_blank_values=True))
        if "payload" in fields:
            interaction: JSONDict = json.loads(fields["payload"])
            return interaction
        return dict(fields)

    def socket_envelope(self) -> tuple[str, JSONDict]:
        """The Socket Mode envelope type and payload that carry this request instead."""
        payload = self.payload
        if self.headers.get("Content-Type") == JSON_TYPE:
            return "events_api", payload
        return ("slash_commands" if "command" in payload else "interactive"), payload

    def dispatch(self, app: App) -> BoltResponse:
        """Hand this request to a Bolt app in-process, as Slack's HTTP delivery would."""
        return app.dispatch(BoltRequest(body=self.body, headers=dict(self.headers)))

    def post(self, *, timeout: float = 5.0) -> httpx.Response:
        """Send this request to the driver's URL."""
        if self.driver is None:
            raise RuntimeError("this request was not made by a SlackDriver")
        return self.driver.post(self, timeout=timeout)
