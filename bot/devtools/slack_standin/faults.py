"""Faults a test asks for: the next calls to a method fail, or one is held on its way."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bot.devtools.slack_standin.common import JSONDict


@dataclass
class Failure:
    status: int
    retry_after: int | None
    error: str


class Hold:
    """A Web API request held on its way, to test what a client does when it dies waiting.

    Made by ``SlackStandIn.hold_next``. ``applied=True``: the call takes effect, then its
    answer waits until :meth:`release`. ``applied=False``: the call waits without taking
    effect; on release it is answered HTTP 500 ``internal_error`` and never applied.
    """

    def __init__(self, method: str, applied: bool, when: Callable[[JSONDict], bool] | None) -> None:
        self.method = method
        self.applied = applied
        self.when = when
        self.args: JSONDict | None = None
        self._arrived = threading.Event()
        self._released = threading.Event()

    def wait(self, timeout: float = 5.0) -> JSONDict:
        """Block until a request is being held; return its arguments."""
        if not self._arrived.wait(timeout):
            raise TimeoutError(f"no {self.method} call was held within {timeout}s")
        return dict(self.args or {})

    @property
    def holding(self) -> bool:
        """True while a request is held."""
        return self._arrived.is_set() and not self._released.is_set()

    def release(self) -> None:
        """Let the held request go on (or let the next matching one through unheld)."""
        self._released.set()

    def block(self, args: JSONDict) -> None:
        """Called by the server on the request's thread: wait here until released."""
        self.args = args
        self._arrived.set()
        self._released.wait()


class Faults:
    """The queued failures and holds, per Web API method (guarded by the caller's lock)."""

    def __init__(self) -> None:
        self._failures: dict[str, deque[Failure]] = {}
        self._holds: list[Hold] = []
        self._held: list[Hold] = []

    def fail(self, method: str, failure: Failure, count: int) -> None:
        queue = self._failures.setdefault(method, deque())
        for _ in range(count):
            queue.append(failure)

    def next_failure(self, method: str) -> Failure | None:
        queue = self._failures.get(method)
        return queue.popleft() if queue else None

    def hold(self, hold: Hold) -> None:
        self._holds.append(hold)

    def take_hold(self, method: str, args: JSONDict) -> Hold | None:
        for hold in self._holds:
            if hold.method == method and (hold.when is None or hold.when(args)):
                self._holds.remove(hold)
                self._held.append(hold)
                return hold
        return None

    def release_all(self) -> None:
        for hold in (*self._holds, *self._held):
            hold.release()
        self._holds.clear()
        self._held.clear()
