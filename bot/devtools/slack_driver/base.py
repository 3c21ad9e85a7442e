"""Signing and delivery: what every request the driver builds goes through."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
import time
from collections.abc import Callable

import httpx

from bot.devtools.slack_driver.prepared import JSON_TYPE, USER_AGENT, JSONDict, Prepared


class DriverBase:
    """One app in one workspace: its ids, its signing secret, its clock."""

    def __init__(
        self,
        signing_secret: str,
        *,
        url: str | None = None,
        team_id: str = "T0STANDIN",
        api_app_id: str = "A0BRIDGE",
        bot_user_id: str = "UBRIDGEBOT",
        bot_id: str = "BBRIDGEBOT",
        team_domain: str = "standin",
        clock: Callable[[], float] = time.time,
        response_url_factory: Callable[..., str] | None = None,
    ) -> None:
        self.signing_secret = signing_secret
        self.url = url
        self.team_id = team_id
        self.api_app_id = api_app_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_domain = team_domain
        self.clock = clock
        self.response_url_factory = response_url_factory
        self._seq = itertools.count(1)
        self._last_us = 0

    def sign(self, body: str, timestamp: int | None = None) -> dict[str, str]:
        """``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` for ``body``."""
        ts = int(self.clock()) if timestamp is None else int(timestamp)
        base = f"v0:{ts}:{body}".encode()
        digest = hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}

    def prepare(self, body: str, content_type: str, **extra_headers: str) -> Prepared:
        """Sign any body; the builders below all end here."""
        headers = {"Content-Type": content_type, "User-Agent": USER_AGENT, **self.sign(body)}
        headers.update(extra_headers)
        return Prepared(body=body, headers=headers, driver=self)

    def post(self, prepared: Prepared, *, timeout: float = 5.0) -> httpx.Response:
        """POST a prepared request to ``self.url`` and return the response."""
        if not self.url:
            raise RuntimeError("SlackDriver has no url; pass url= to post requests")
        return httpx.post(
            self.url, content=prepared.body.encode(), headers=prepared.headers, timeout=timeout
        )

    def redeliver(
        self, prepared: Prepared, *, retry_num: int = 1, retry_reason: str = "http_timeout"
    ) -> Prepared:
        """The same body again, freshly signed, with Slack's retry headers (as on a retry)."""
        content_type = prepared.headers.get("Content-Type", JSON_TYPE)
        return self.prepare(
            prepared.body,
            content_type,
            **{"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason},
        )

    def next_ts(self) -> str:
        """A fresh message ts from the clock, strictly increasing for this driver.

        It always ends in ``59`` (the stand-in's end in ``00``), so the two never collide.
        """
        now_us = int(self.clock() * 1_000_000) // 100 * 100
        self._last_us = max(now_us, self._last_us + 100)
        us = self._last_us + 59
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def trigger_id(self) -> str:
        """A fresh, unique ``trigger_id``."""
        return f"{next(self._seq)}{int(self.clock())}.{self.team_id}.{secrets.token_hex(16)}"

    def _action_ts(self) -> str:
        return f"{self.clock():.6f}"

    def _hook_url(self, kind: str, **target: str) -> str:
        if self.response_url_factory is not None:
            return self.response_url_factory(**target)
        return (
            f"https://hooks.slack.com/{kind}/{self.team_id}/{next(self._seq)}/"
            f"{secrets.token_urlsafe(18)}"
        )

    def _team(self) -> JSONDict:
        return {"id": self.team_id, "domain": self.team_domain}

    def _user(self, user_id: str, *, with_name: bool = False) -> JSONDict:
        user: JSONDict = {"id": user_id, "username": user_id.lower(), "team_id": self.team_id}
        if with_name:
            user["name"] = user_id.lower()
        return user
