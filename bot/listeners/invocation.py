"""One `/wati` call, and the shape of a subcommand in `commands.SUBCOMMANDS`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient

from bot.chatops.services import Services

ANYONE = "anyone"
ADMINS = "admins"  # BRIDGE_ADMINS when set, else the workspace's admins and owners


@dataclass
class Invocation:
    """One `/wati` call: who, where, the arguments, and how to answer."""

    user_id: str
    channel_id: str
    args: list[str]
    respond: Respond
    client: WebClient
    trigger_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    def tell(self, text: str) -> None:
        """Answer only the caller."""
        self.respond(text=text, response_type="ephemeral")

    def announce(self, text: str) -> None:
        """Answer the whole channel."""
        self.respond(text=text, response_type="in_channel")

    def rest(self) -> str:
        """What was typed after the subcommand's name."""
        return " ".join(self.args[1:]).strip()


Handler = Callable[[Invocation, Services], None]


@dataclass(frozen=True)
class Subcommand:
    """A row of the `/wati` table: its name, handler, help line and who may run it.

    `doing` finishes the sentence a refused caller reads: "Only … can <doing>".
    """

    name: str
    handler: Handler
    help: str
    who: str = ANYONE
    doing: str = ""


def is_admin(services: Services, client: WebClient, user_id: str) -> bool:
    """BRIDGE_ADMINS when set, else the workspace's admins and owners."""
    if services.admins:
        return user_id in services.admins
    user = client.users_info(user=user_id).get("user") or {}
    return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))


# What a refused teammate can pass on to whoever runs the bridge.
ADMINS_HINT = (
    "Whoever runs the bridge can name who may: BRIDGE_ADMINS, a comma-separated list of Slack "
    "member ids (a profile's ⋮ menu → Copy member ID, U…), then a restart."
)


def admins_are(services: Services) -> str:
    """Who the admins are, in words."""
    return "the people in BRIDGE_ADMINS" if services.admins else "workspace admins and owners"
