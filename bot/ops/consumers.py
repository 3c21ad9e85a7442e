"""Another consumer of the bridge's Slack app: teammates' replies that Slack holds in the
bridge's threads but never delivered to this process.

Slack gives each event to one connection of an app (in Socket Mode one of the open WebSockets
at random; over HTTP whatever answers the Request URL), so a second copy of the bridge with the
same app (a forgotten staging copy, the other half of a blue-green deploy) silently takes a
share of the teammates' replies while both copies look healthy. This process notes every message
event it receives. Each health round (`bot.watch`) reads the latest parents of each linked
channel (one `conversations.history` call per channel); a thread whose latest reply is newer
than what was looked at before gets one `conversations.replies` call. A teammate's message in it
that never arrived here, older than `grace` (events take a moment), was taken elsewhere.

Messages from before this process listened, or from while its Socket Mode connection was down
(`listening_from`), are not counted: Slack had no connection of ours to give them to. Nor are
ones older than `window`: the condition ends once no reply has been taken elsewhere for that
long.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

HISTORY_LIMIT = 30  # parents read per channel and round: the threads active lately
# Message subtypes a teammate's reply can have (a plain reply, a file, "also send to channel").
HUMAN_SUBTYPES = frozenset({"", "file_share", "thread_broadcast"})


class Deliveries:
    """The message events this process received, and the replies Slack gave to another one."""

    def __init__(
        self, *, grace: float, window: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.grace = grace
        self.window = window
        self.clock = clock
        self.started = clock()
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], float] = {}  # (channel, ts) -> when it arrived
        self._looked: dict[tuple[str, str], str] = {}  # thread -> latest reply looked at
        self._missed: dict[tuple[str, str], float] = {}  # (channel, ts) -> the message's time

    @classmethod
    def for_checks(cls, check_seconds: float, *, clock: Callable[[], float]) -> Deliveries:
        """Events take seconds to arrive: a reply missing for longer than two health rounds (and
        10 s) was given to another connection. The condition ends after 15 quiet minutes."""
        return cls(grace=max(10.0, 2 * check_seconds), window=900.0, clock=clock)

    def listening_from(self, moment: float) -> None:
        """Events before `moment` had no connection here to arrive on (a reconnect)."""
        self.started = max(self.started, moment)

    def register(self, app: App) -> None:
        """Note every event Bolt hands on (after its own checks, before the listeners)."""

        @app.middleware
        def note_deliveries(body: dict[str, Any], next: Callable[[], None]) -> None:
            self.received(body.get("event"))
            next()

    def received(self, event: Mapping[str, Any] | None) -> None:
        """A Slack event arrived here (every kind comes through; only messages are kept)."""
        if not event or event.get("type") != "message":
            return
        channel, ts = event.get("channel"), event.get("ts")
        if isinstance(channel, str) and isinstance(ts, str):
            now = self.clock()
            with self._lock:
                self._seen[(channel, ts)] = now
                if len(self._seen) > 10_000:  # keep what the window still needs
                    floor = now - self.window - self.grace
                    self._seen = {k: v for k, v in self._seen.items() if v >= floor}

    def missed(self, client: WebClient, channels: Iterable[str]) -> int:
        """How many teammates' replies of the last `window` seconds went to another consumer."""
        now = self.clock()
        for channel in channels:
            try:
                self._look(client, channel, now)
            except SlackApiError:
                continue  # a channel the bot cannot read is health's channel condition
        floor = now - self.window
        with self._lock:
            self._missed = {k: v for k, v in self._missed.items() if v >= floor}
            return len(self._missed)

    def _look(self, client: WebClient, channel: str, now: float) -> None:
        floor = max(self.started, now - self.window)
        history = client.conversations_history(channel=channel, limit=HISTORY_LIMIT)
        for parent in history.get("messages") or []:
            latest = str(parent.get("latest_reply") or "")
            thread = (channel, str(parent.get("ts")))
            if not latest or _seconds(latest) < floor or self._looked.get(thread) == latest:
                continue
            settled = True
            answer = client.conversations_replies(channel=channel, ts=thread[1], oldest=str(floor))
            for message in answer.get("messages") or []:
                ts = str(message.get("ts"))
                if ts == thread[1] or not _teammate(message) or _seconds(ts) < floor:
                    continue
                if _seconds(ts) > now - self.grace:
                    settled = False  # its event may still be on its way: look again next round
                    continue
                with self._lock:
                    if (channel, ts) not in self._seen:
                        self._missed[(channel, ts)] = _seconds(ts)
            if settled:
                self._looked[thread] = latest


def _teammate(message: Mapping[str, Any]) -> bool:
    return (
        bool(message.get("user"))
        and not message.get("bot_id")
        and str(message.get("subtype") or "") in HUMAN_SUBTYPES
    )


def _seconds(ts: str) -> float:
    try:
        return float(ts)
    except ValueError:
        return 0.0
