"""Injected faults and Wati's per-tenant rate limits."""

from __future__ import annotations

import math
import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .base import Reply

# "500", "429", "reset" and "reject" (HTTP 200 with result false, Wati's refusal shape)
# answer before the request is processed (nothing happens);
# "slow" waits `delay` seconds, then processes and answers normally;
# "malformed" processes the request, then answers 200 with its JSON body cut short;
# "reset_after" processes the request, then drops the connection without answering
# (the write was accepted but the client cannot know: Wati's "don't retry blindly" case).
# "cloudflare" is Wati's firewall refusing the client: HTTP 403 with Cloudflare's HTML page
# ("error code: 1010", docs/WATI.md#transport), before routing, the token or the quota.
# Media downloads (wati-recorded.md §6.2) add "401" and "404" (an empty answer with that
# status: a webhook's media URL refused, a v3 download by Wati's id not found) and
# "error_page" / "error_json" (HTTP 200 whose small body is an HTML or JSON error page).
MEDIA_FAULTS = ("401", "404", "error_page", "error_json")
KINDS = (
    *("500", "429", "slow", "malformed", "reset", "reset_after", "reject", "cloudflare"),
    *MEDIA_FAULTS,
)
# Holds (`Faults.hold`, Python only: they need a release) keep a call waiting until released,
# so a test can kill the client while the call is in flight: "hold" before processing (on
# release the connection is dropped and nothing happened), "hold_after" after processing (on
# release the answer goes out normally).


class Hold:
    """One held call: `wait()` until it arrives, `release()` to let it go on."""

    def __init__(self, endpoint: str, applied: bool) -> None:
        self.endpoint = endpoint
        self.applied = applied
        self._arrived = threading.Event()
        self._released = threading.Event()

    def wait(self, timeout: float = 5.0) -> None:
        if not self._arrived.wait(timeout):
            raise TimeoutError(f"no {self.endpoint} call was held within {timeout}s")

    @property
    def holding(self) -> bool:
        return self._arrived.is_set() and not self._released.is_set()

    def release(self) -> None:
        self._released.set()

    def block(self, stopping: threading.Event) -> None:
        """Called by the server: wait until released or the sandbox stops."""
        self._arrived.set()
        while not self._released.wait(0.05) and not stopping.is_set():
            pass


@dataclass
class Fault:
    endpoint: str
    kind: str
    count: int
    retry_after: int | None = None
    delay: float = 0.0
    gate: Hold | None = field(default=None, repr=False, compare=False)
    target: str | None = None  # only calls whose path names this (a customer, a message id)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(replace(self, gate=None)).items() if k != "gate"}


class Faults:
    """Faults waiting to happen, consumed in the order they were injected."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[Fault] = []

    def inject(
        self,
        endpoint: str,
        kind: str,
        count: int = 1,
        *,
        retry_after: int | None = None,
        delay: float = 0,
        target: str | None = None,
    ) -> None:
        """Make the next `count` calls to `endpoint` (a Wati name, or "*") fail as `kind`;
        with `target`, only the calls whose path names it (getMessages/{target})."""
        kind = str(kind)
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}: use one of {', '.join(KINDS)}")
        if not endpoint or count < 1 or delay < 0:
            raise ValueError("a fault needs an endpoint, count >= 1 and delay >= 0")
        if retry_after is not None and retry_after < 0:
            raise ValueError("retry_after must be >= 0")
        with self._lock:
            self._pending.append(
                Fault(endpoint, kind, int(count), retry_after, float(delay), target=target)
            )

    def hold(self, endpoint: str, *, applied: bool) -> Hold:
        """Hold the next call to `endpoint` until `release()`: processed first or not at all."""
        gate = Hold(endpoint, applied)
        kind = "hold_after" if applied else "hold"
        with self._lock:
            self._pending.append(Fault(endpoint, kind, 1, gate=gate))
        return gate

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def take(
        self, endpoint: str, kinds: tuple[str, ...] | None = None, arg: str | None = None
    ) -> Fault | None:
        """Consume one use of the first fault matching `endpoint` (and one of `kinds`, and
        the path's argument `arg` where the fault has a target)."""
        with self._lock:
            for fault in self._pending:
                if kinds is not None and fault.kind not in kinds:
                    continue
                if kinds is None and fault.kind == "cloudflare":
                    continue  # taken before routing, see server.py
                if fault.target is not None and fault.target != arg:
                    continue
                if fault.endpoint in (endpoint, "*"):
                    fault.count -= 1
                    if fault.count == 0:
                        self._pending.remove(fault)
                    return fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.as_dict() for fault in self._pending]


CLOUDFLARE_PAGE = """<!DOCTYPE html>
<html lang="en-US">
<head><title>Access denied | live-mt-server.wati.io used Cloudflare to restrict access</title>
<meta charset="UTF-8" /></head>
<body>
<div id="cf-wrapper">
  <h1><span class="cf-error-type">Error</span> <span class="cf-error-code">1010</span></h1>
  <h2 class="cf-subheadline">Access denied</h2>
  <p>The owner of this website (live-mt-server.wati.io) has banned your access based on your
  browser's signature (%(ray)s).</p>
  <p>error code: 1010</p>
  <div class="cf-footer">Cloudflare Ray ID: <strong>%(ray)s</strong> &bull;
  Performance &amp; security by Cloudflare</div>
</div>
</body>
</html>
"""


def cloudflare_page() -> Reply:
    """Cloudflare's 403 for a client signature it bans."""
    ray = secrets.token_hex(8)
    headers = {"Server": "cloudflare", "CF-RAY": f"{ray}-FRA"}
    body = (CLOUDFLARE_PAGE % {"ray": ray}).encode()
    return Reply(403, body, "text/html; charset=UTF-8", headers)


# endpoint -> (shared bucket, calls allowed per window); docs/WATI.md#rate-limits-and-quota, Growth plan.
DEFAULT_LIMITS: dict[str, tuple[str, int]] = {
    "getMessages": ("getMessages", 10),
    "getContacts": ("contacts", 10),
    "conversations": ("conversations", 10),
    "addContact": ("contacts", 10),
    "sendTemplateMessage": ("sendTemplateMessage", 30),
    "sendTemplateMessages": ("sendTemplateMessages", 30),
}


class RateLimiter:
    """Rolling-window counters per bucket, kept in memory, on the sandbox clock."""

    def __init__(self, now: Callable[[], float], window: float = 10.0) -> None:
        self.now = now
        self.window = window
        self.limits = dict(DEFAULT_LIMITS)
        self._stamps: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, endpoint: str) -> int | None:
        """Record a call; None if allowed, else the seconds to wait (for Retry-After)."""
        if endpoint not in self.limits:
            return None
        bucket, allowed = self.limits[endpoint]
        now = self.now()
        with self._lock:
            stamps = self._stamps.setdefault(bucket, deque())
            while stamps and stamps[0] <= now - self.window:
                stamps.popleft()
            if len(stamps) >= allowed:
                return max(1, math.ceil(stamps[0] + self.window - now))
            stamps.append(now)
            return None

    def reset(self) -> None:
        with self._lock:
            self._stamps.clear()


def media_fault(kind: str) -> Reply:
    """The answer of an injected media fault (see MEDIA_FAULTS)."""
    if kind == "error_page":
        page = b"<!DOCTYPE html><html><body><h1>Something went wrong</h1></body></html>"
        return Reply(200, page, "text/html; charset=utf-8")
    if kind == "error_json":
        return Reply(200, b'{"ok":false,"error":"File is not ready"}')
    return Reply(int(kind), b"", "text/plain")
