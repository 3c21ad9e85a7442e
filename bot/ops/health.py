"""The bridge's health: every condition that keeps it from doing its job, and since when.

Fed by what the bridge already sees: Wati's answers (401/403 on any call), Slack's (a refused
bot token; a linked channel it can no longer post in), the database's (writes that fail), the
Socket Mode connection, and how long the oldest message has been waiting. `/healthz`,
`/wati status` and the admins' direct messages (`bot.ops.alerts`) all read these conditions. Each
is logged at WARNING once when it starts and once when it ends, with its reason code and a
short detail (an error code, an HTTP status, SQLite's message), never a secret or a body.

This is the one owner of the conditions; the observers are thread-safe, since Wati calls,
Slack calls and database writes happen on many threads at once.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from bot.wati.errors import WatiAuthError, WatiBlocked, WatiError, WatiUnavailable

logger = logging.getLogger(__name__)

SOCKET_GRACE = 60.0  # a Socket Mode reconnect takes seconds; down longer than this is a fault
WATI_OUTAGE = 120.0  # BRIDGE_WATI_OUTAGE_SECONDS' default: Wati failing this long is a fault

# Slack's answers meaning the bot token itself is no good (every call will fail alike).
SLACK_TOKEN_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
)
# Slack's answers meaning the bot cannot post in that channel any more.
CHANNEL_ERRORS = frozenset({"not_in_channel", "channel_not_found", "is_archived"})
# Calls whose success shows the bot can post in the channel again.
POSTING_METHODS = frozenset({"chat.postMessage", "chat.update", "reactions.add"})


class Code(StrEnum):
    """Reason codes, as /healthz reports them."""

    WATI_TOKEN = "wati_token_refused"
    SLACK_TOKEN = "slack_token_refused"
    DATABASE = "database_not_writable"
    SOCKET = "socket_disconnected"
    CHANNEL = "channel_unreachable"
    BACKLOG = "backlog_stale"
    WATI_DOWN = "wati_unavailable"
    ELSEWHERE = "events_taken_elsewhere"
    UNIDENTIFIED = "customer_unidentified"


@dataclass(frozen=True)
class Condition:
    """One thing that is wrong: its code, what it is about (a channel; "" for the bridge)."""

    code: Code
    key: str
    detail: str
    since: float

    @property
    def ident(self) -> str:
        """Unique among active conditions: the code, plus the channel or endpoint if any."""
        return f"{self.code}:{self.key}" if self.key else str(self.code)

    def words(self) -> str:
        """What is wrong, in plain words."""
        return describe(self.code, self.key, self.detail)[0]

    def fix(self) -> str:
        """What to do about it."""
        return describe(self.code, self.key, self.detail)[1]

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"code": str(self.code)}
        if self.key:
            found["channel" if self.code == Code.CHANNEL else "about"] = self.key
        found.update(
            detail=self.detail, since=_iso(self.since), message=self.words(), fix=self.fix()
        )
        return found


# (what is wrong, how to fix it) per code; {detail} and {key} come from the condition.
_TEXTS: dict[Code, tuple[str, str]] = {
    Code.WATI_TOKEN: (
        "Wati refuses the bridge's access token ({detail})",
        "copy the access token from Wati's API Docs page into WATI_ACCESS_TOKEN "
        "and restart the bridge",
    ),
    Code.SLACK_TOKEN: (
        "Slack refuses the bot token ({detail})",
        "reinstall the app to the workspace, put its Bot User OAuth Token (xoxb-…) in "
        "SLACK_BOT_TOKEN and restart the bridge",
    ),
    Code.DATABASE: (
        "the bridge cannot write its database ({detail})",
        "free disk space, or make BRIDGE_DB and its folder writable by the bridge's user; "
        "writes resume by themselves",
    ),
    Code.SOCKET: (
        "the Socket Mode connection to Slack is down ({detail})",
        "check that the server reaches slack.com and that SLACK_APP_TOKEN is valid; "
        "the bridge reconnects by itself",
    ),
    Code.CHANNEL: (
        "the bot cannot post in <#{key}> ({detail})",
        "invite the bot back (`/invite @wati-bridge`) or unarchive the channel; "
        "or `/wati unlink` there if it is no longer used",
    ),
    Code.BACKLOG: (
        "messages wait too long to be relayed ({detail})",
        "see the other problems listed and the bridge's log; "
        "waiting messages go out once the cause is fixed",
    ),
    Code.WATI_DOWN: (
        "Wati has been failing every call ({detail})",
        "check https://status.wati.io and WATI_API_ENDPOINT; the bridge keeps trying and "
        "relays what waited once Wati answers again",
    ),
    Code.ELSEWHERE: (
        "another program with this Slack app took teammates' replies meant for the bridge "
        "({detail}), so they may not have reached the customer",
        "stop every other copy of the bridge using this app's tokens (a staging copy, an old "
        "server, the other half of a blue-green deploy): Slack gives each event to one "
        "connection only; then resend the replies that show no check mark",
    ),
    Code.UNIDENTIFIED: (
        "{detail} in Wati's contacts with no phone number and no BSUID: the bridge cannot "
        "fetch their messages",
        "open those contacts in Wati's inbox; tell Wati support if a contact shows no "
        "WhatsApp identity at all",
    ),
}
_CLOUDFLARE = (
    "Wati's Cloudflare front refuses the bridge's requests ({detail}); this is not a token problem",
    "ask Wati support to allow the bridge's server address",
)


def describe(code: Code, key: str, detail: str) -> tuple[str, str]:
    """(what is wrong, how to fix it) for a condition."""
    words, fix = _CLOUDFLARE if code == Code.WATI_TOKEN and "1010" in detail else _TEXTS[code]
    return words.format(detail=detail, key=key), fix


def database_problem(error: sqlite3.Error) -> str:
    """SQLite's reason for a failed write, as safe short text."""
    text = str(error).strip() or type(error).__name__
    return text[:120]


# SQLite's primary result codes meaning the database itself takes no writes (a full disk, a
# read-only file, a failing disk). "Locked" or "busy" is another connection's turn, and an SQL
# or constraint error is a bug in one statement: neither is this condition.
WRITE_FAULTS = frozenset(
    {
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_NOTADB,
        sqlite3.SQLITE_PERM,
    }
)


def is_write_fault(error: sqlite3.Error) -> bool:
    """Whether a failed write means the database takes no writes at all."""
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in WRITE_FAULTS


class Health:
    """The bridge's active conditions, from the observers below and the checks of `bot.ops.watch`."""

    def __init__(
        self, *, clock: Callable[[], float] = time.time, wati_outage: float = WATI_OUTAGE
    ) -> None:
        self.clock = clock
        self.wati_outage = wati_outage
        self._wati_failing: tuple[float, str] | None = None  # (first failure, last detail)
        self._wati_failing_call = 0  # the number of the first failing call (`bot.base.calls`)
        self._found_by: dict[str, int] = {}  # condition → the number of the call that found it
        self._lock = threading.Lock()
        self._active: dict[str, Condition] = {}
        self._seen_ok: set[str] = set()  # idents seen working since start (alerts' "fixed")
        self._linked: frozenset[str] = frozenset()
        self._socket_down_since: float | None = None

    # -- the conditions ----------------------------------------------------------------------

    def set(self, code: Code, key: str = "", detail: str = "", since: float | None = None) -> None:
        """A condition holds (again); logged once when it starts."""
        condition = Condition(code, key, detail, self.clock() if since is None else since)
        with self._lock:
            if condition.ident in self._active:
                return
            self._active[condition.ident] = condition
            self._seen_ok.discard(condition.ident)
        logger.warning("health: %s started: %s", condition.ident, detail)

    def clear(self, code: Code, key: str = "") -> None:
        """A condition does not hold (any more); logged once when it ends."""
        ident = Condition(code, key, "", 0.0).ident
        with self._lock:
            self._seen_ok.add(ident)
            condition = self._active.pop(ident, None)
        if condition is not None:
            lasted = max(0.0, self.clock() - condition.since)
            logger.warning("health: %s ended after %.0f s", ident, lasted)

    def conditions(self) -> list[Condition]:
        """The active conditions, oldest first."""
        with self._lock:
            return sorted(self._active.values(), key=lambda c: (c.since, c.ident))

    def holds(self, code: Code, key: str = "") -> bool:
        with self._lock:
            return Condition(code, key, "", 0.0).ident in self._active

    def seen_ok(self, ident: str) -> bool:
        """Whether this condition was seen not to hold since the bridge started."""
        with self._lock:
            return ident in self._seen_ok

    def report(self) -> dict[str, Any]:
        """The reasons for /healthz: codes, and each problem in words."""
        problems = [c.as_dict() for c in self.conditions()]
        return {"reasons": sorted({p["code"] for p in problems}), "problems": problems}

    # -- observers (called by the Wati client, the Slack client and the store) ---------------

    def wati_answered(self, endpoint: str, error: WatiError | None, call: int = 0) -> None:
        """A Wati call ended: 401 means the token is refused, 403 this call is not allowed;
        5xx and timeouts with no call answered for `wati_outage` seconds are an outage.
        `call`: the call's number (`bot.base.calls`; 0 when unknown): an answer to a call that
        began before the one that found a condition does not end it."""
        if (
            error is None
            or not isinstance(error, WatiUnavailable)
            or isinstance(error, WatiBlocked)
        ):
            # Any answer from Wati itself (even a refusal) means Wati is up.
            with self._lock:
                late = self._wati_failing is not None and 0 < call < self._wati_failing_call
                if not late:
                    self._wati_failing = None
            if not late:
                self.clear(Code.WATI_DOWN)
        else:
            status = f"HTTP {error.status_code}" if error.status_code else "no answer"
            with self._lock:
                if self._wati_failing is None:
                    self._wati_failing_call = call
                first = self._wati_failing[0] if self._wati_failing else self.clock()
                self._wati_failing = (first, f"{status} on {endpoint}")
            self.wati_outage_check()
        if error is None:
            self._clear_after(call, Code.WATI_TOKEN)
            self._clear_after(call, Code.WATI_TOKEN, endpoint)
        elif isinstance(error, WatiBlocked):
            # Cloudflare's 403 page: Wati never saw the request (the texts say it is no token
            # problem), but nothing gets through either.
            detail = f"HTTP 403 on {endpoint}, Cloudflare error 1010"
            self._found(call, Code.WATI_TOKEN, endpoint, detail)
        elif isinstance(error, WatiAuthError):
            key = "" if error.status_code == 401 else endpoint
            self._found(call, Code.WATI_TOKEN, key, f"HTTP {error.status_code} on {endpoint}")

    def slack_answered(
        self, method: str, channel: str | None, error: str | None, call: int = 0
    ) -> None:
        """A Slack Web API call ended (`call`: as for `wati_answered`)."""
        if error is None:
            self._clear_after(call, Code.SLACK_TOKEN)
            if channel and method in POSTING_METHODS and channel in self._linked:
                self._clear_after(call, Code.CHANNEL, channel)
        elif error in SLACK_TOKEN_ERRORS:
            self._found(call, Code.SLACK_TOKEN, "", f"{error} on {method}")
        elif error in CHANNEL_ERRORS and channel and channel in self._linked:
            self._found(call, Code.CHANNEL, channel, error)

    def _found(self, call: int, code: Code, key: str, detail: str) -> None:
        """A call found a condition: it holds, and answers to calls begun before it do not
        end it."""
        ident = Condition(code, key, "", 0.0).ident
        with self._lock:
            self._found_by[ident] = max(call, self._found_by.get(ident, 0))
        self.set(code, key, detail)

    def _clear_after(self, call: int, code: Code, key: str = "") -> None:
        """A call went through: the condition ends, unless the call began before the one that
        found it (its answer only came late)."""
        ident = Condition(code, key, "", 0.0).ident
        with self._lock:
            if 0 < call < self._found_by.get(ident, 0):
                return
            self._found_by.pop(ident, None)
        self.clear(code, key)

    def wrote(self, error: sqlite3.Error | None) -> None:
        """A database write transaction ended (a busy database is not a fault)."""
        if error is None:
            self.clear(Code.DATABASE)
        elif is_write_fault(error):
            self.set(Code.DATABASE, "", database_problem(error))

    # -- what the periodic check reports -----------------------------------------------------

    def linked(self, channels: Iterable[str]) -> None:
        """The linked channels now; conditions of channels no longer linked end."""
        self._linked = frozenset(channels)
        for condition in self.conditions():
            if condition.code == Code.CHANNEL and condition.key not in self._linked:
                self.clear(Code.CHANNEL, condition.key)

    def channel(self, channel: str, problem: str | None) -> None:
        """What conversations.info showed of a linked channel (None: the bot can post)."""
        if problem is None:
            self.clear(Code.CHANNEL, channel)
        else:
            self.set(Code.CHANNEL, channel, problem)

    def socket(self, connected: bool, grace: float = SOCKET_GRACE) -> None:
        """The Socket Mode connection's state; a fault once down for longer than `grace`."""
        now = self.clock()
        if connected:
            self._socket_down_since = None
            self.clear(Code.SOCKET)
            return
        if self._socket_down_since is None:
            self._socket_down_since = now
        if now - self._socket_down_since >= grace:
            since = self._socket_down_since
            self.set(Code.SOCKET, "", f"disconnected since {_iso(since)[11:19]} UTC", since)

    def wati_outage_check(self) -> None:
        """Wati failing since longer than allowed is a condition (checked by each failing call
        and by every round of `bot.watch`, for when calls are spaced out)."""
        failing = self._wati_failing
        if failing is not None and self.clock() - failing[0] >= self.wati_outage:
            first, last = failing
            self.set(Code.WATI_DOWN, "", f"since {_iso(first)[11:19]} UTC, last: {last}", first)

    def backlog(self, oldest: str | None, stale_after: float) -> None:
        """The oldest waiting message's record time (ISO); a fault once older than allowed."""
        moment = datetime.fromisoformat(oldest).timestamp() if oldest else None
        if oldest is None or moment is None or self.clock() - moment < stale_after:
            self.clear(Code.BACKLOG)
            return
        minutes = stale_after / 60
        limit = f"{minutes:.0f} min" if minutes >= 1 else f"{stale_after:.0f} s"
        self.set(Code.BACKLOG, "", f"one has waited since {oldest[11:19]} UTC, over {limit}")

    def unidentified(self, count: int) -> None:
        """How many contacts of Wati's list name neither a phone number nor a BSUID."""
        if count <= 0:
            self.clear(Code.UNIDENTIFIED)
        else:
            self.set(Code.UNIDENTIFIED, "", f"{count} customer{'s' if count > 1 else ''}")


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")
