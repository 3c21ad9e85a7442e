"""What a test reads back from the stand-in: calls, messages, reactions, ephemerals, views."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from bot.devtools.slack_standin.api import WebApi
from bot.devtools.slack_standin.common import Call, JSONDict, is_top_level
from bot.devtools.slack_standin.workspace import Workspace


class Inspection:
    """Snapshots of the stand-in's state, and waiting for a condition on it."""

    _ws: Workspace
    _api: WebApi

    @property
    def calls(self) -> list[Call]:
        """Every Web API call so far, oldest first (a snapshot)."""
        with self._ws.cond:
            return list(self._api.calls)

    def calls_to(self, method: str) -> list[Call]:
        """The calls to one Web API method, e.g. ``"chat.postMessage"``."""
        with self._ws.cond:
            return [call for call in self._api.calls if call.method == method]

    def clear_calls(self) -> None:
        """Forget the recorded calls (state is kept)."""
        with self._ws.cond:
            self._api.calls.clear()

    @property
    def responses(self) -> list[JSONDict]:
        """Every JSON body posted to a ``response_url``, oldest first."""
        with self._ws.cond:
            return copy.deepcopy(self._ws.responses)

    @property
    def views(self) -> list[JSONDict]:
        """Every view opened, pushed or published, in its current state (ids ``V…``)."""
        with self._ws.cond:
            return copy.deepcopy(self._ws.views)

    def messages(self, channel: str) -> list[JSONDict]:
        """Top-level messages of a channel (thread parents, broadcasts included), oldest first."""
        with self._ws.cond:
            found = self._ws.messages.get(channel, [])
            return [copy.deepcopy(m) for m in found if is_top_level(m)]

    def replies(self, channel: str, thread_ts: str) -> list[JSONDict]:
        """A thread: the parent then its replies, oldest first."""
        with self._ws.cond:
            found = self._ws.messages.get(channel, [])
            return [
                copy.deepcopy(m)
                for m in found
                if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts
            ]

    def reactions(self, channel: str, ts: str) -> list[str]:
        """Names of the reactions currently on a message."""
        with self._ws.cond:
            message = self._ws.find(channel, ts)
            return [r["name"] for r in (message or {}).get("reactions", [])]

    def ephemerals(self, channel: str | None = None) -> list[JSONDict]:
        """Ephemeral messages (``chat.postEphemeral`` and ephemeral ``response_url`` posts).

        Each is ``{"source", "channel", "user", "text", "blocks", "thread_ts", ...}``;
        ``channel`` is None for response URLs created without one.
        """
        with self._ws.cond:
            return [
                copy.deepcopy(e)
                for e in self._ws.ephemerals
                if channel is None or e.get("channel") == channel
            ]

    def file_content(self, file_id: str) -> bytes | None:
        """The bytes stored for a file, uploaded or added."""
        with self._ws.cond:
            stored = self._ws.files.get(file_id)
            return None if stored is None else stored.content

    def wait_for(
        self,
        predicate: Callable[[Any], bool],
        timeout: float = 5.0,
        *,
        message: str | None = None,
    ) -> None:
        """Block until ``predicate(self)`` is true; re-checked whenever the stand-in changes.

        Raises ``TimeoutError`` naming the condition and the calls seen so far.
        """
        with self._ws.cond:
            if self._ws.cond.wait_for(lambda: predicate(self), timeout):
                return
            calls = self._api.calls
            seen = ", ".join(
                f"{c.method}{'' if c.ok else ' (' + str(c.response.get('error')) + ')'}"
                for c in calls[-20:]
            )
            what = message or getattr(predicate, "__name__", "condition")
            raise TimeoutError(
                f"{what} not met within {timeout}s; {len(calls)} Web API calls so far"
                + (f", last: {seen}" if seen else "")
            )

    def wait_for_call(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Wait until ``method`` has had ``count`` calls (failed ones count); return them all."""
        self.wait_for(
            lambda s: len(s.calls_to(method)) >= count,
            timeout,
            message=f"{count} call(s) to {method}",
        )
        return self.calls_to(method)
