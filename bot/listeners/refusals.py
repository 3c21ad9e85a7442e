"""One place where a refused chat-op becomes an answer to the person who asked.

Listeners and chat-ops raise `ChatOpsError` with plain words; `answers_refusals` (for block
actions and shortcuts, which name the channel in their body) and `told` (for code that knows
the channel itself) show those words to that one user as an ephemeral message. Slash commands
get the same from `commands.run`, through the command's response_url.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from slack_sdk import WebClient

from bot.chatops.errors import ChatOpsError
from bot.listeners.surface import tell

F = TypeVar("F", bound=Callable[..., None])


def where(body: dict[str, Any]) -> tuple[str, str]:
    """(channel id, user id) of a block action or shortcut."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    return str(channel or ""), str(body["user"]["id"])


@contextmanager
def told(
    client: WebClient, channel: str, user: str, *, thread_ts: str | None = None
) -> Iterator[None]:
    """Run the block; a ChatOpsError inside it is shown to `user` in `channel`, not raised."""
    try:
        yield
    except ChatOpsError as exc:
        tell(client, channel, user, exc.message, thread_ts=thread_ts)


def answers_refusals(listener: F) -> F:
    """A Bolt listener whose ChatOpsError is shown to its user where they clicked.

    Bolt passes listener arguments by name, so the wrapper keeps the listener's signature
    (`functools.wraps`, and `__signature__`).
    """

    @functools.wraps(listener)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        channel, user = where(kwargs["body"])
        with told(kwargs["client"], channel, user):
            listener(*args, **kwargs)

    # Kept for `functools.partial(wrapper, services=…)` too, whose signature Bolt reads
    # without following `__wrapped__`.
    wrapper.__signature__ = inspect.signature(listener)  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
