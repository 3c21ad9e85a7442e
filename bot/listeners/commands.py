"""The `/wati` slash command: link, unlink, status, help (more subcommands register here too)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.chatops.errors import ChatOpsError
from bot.ops.health import Health
from bot.relay.budget import Budget
from bot.store import Store
from bot.store.links import LinkConflict
from bot.text import phone

logger = logging.getLogger(__name__)

HELP = """*wati-bridge* — WhatsApp conversations in Slack threads.
• `/wati link <number>` — link this channel to a WhatsApp number of the Wati account (admins)
• `/wati unlink` — stop relaying this channel's number (admins)
• `/wati status` — the linked number, open conversations, polling and Wati quota
• `/wati help` — this list
Reply in a conversation's thread to answer the customer; start a reply with `note:` to keep it internal."""


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


Handler = Callable[[Invocation], None]


class WatiCommand:
    """Parses `/wati …` and runs the matching subcommand."""

    def __init__(
        self,
        store: Store,
        budget: Budget,
        admins: Sequence[str],
        *,
        health: Health | None = None,
        on_link: Callable[[str], object] | None = None,
    ) -> None:
        self.store = store
        self.budget = budget
        self.admins = tuple(admins)
        self.health = health
        # Called with the number after a successful link (the composition root starts its
        # polling and a contacts look at once: the first customer need not wait).
        self.on_link = on_link
        # `link` is added with the chat-ops (listeners.subcommands): it asks Wati for the
        # account's numbers, then calls `link_number`.
        self.handlers: dict[str, Handler] = {
            "unlink": self.unlink,
            "status": self.status,
            "help": self.help,
        }
        self.help_text = HELP

    def add(self, name: str, handler: Handler, help_line: str) -> None:
        """Register another subcommand (chat-ops add theirs this way)."""
        self.handlers[name] = handler
        self.help_text = self.help_text.replace(
            "\n• `/wati help`", f"\n{help_line}\n• `/wati help`"
        )

    def run(self, call: Invocation) -> None:
        """Run one invocation; refusals and Slack errors become a plain message, never a crash."""
        name = call.args[0].lower() if call.args else "help"
        handler = self.handlers.get(name)
        if handler is None:
            call.tell(f"I don't know `/wati {name}`.\n\n{self.help_text}")
            return
        try:
            handler(call)
        except ChatOpsError as exc:
            call.tell(exc.message)  # a refusal, in plain words
        except SlackApiError as exc:
            logger.warning("/wati %s: Slack error %s", name, exc.response.get("error"))
            call.tell(f"Slack refused that: `{exc.response.get('error')}`. Please try again.")

    # -- permissions -------------------------------------------------------------------------

    def is_admin(self, client: WebClient, user_id: str) -> bool:
        """BRIDGE_ADMINS when set, else the workspace's admins and owners."""
        if self.admins:
            return user_id in self.admins
        user = client.users_info(user=user_id).get("user") or {}
        return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))

    def require_admin(self, call: Invocation, what: str) -> bool:
        """True for an admin; anyone else is told who may do `what`."""
        if self.is_admin(call.client, call.user_id):
            return True
        who = "the people in BRIDGE_ADMINS" if self.admins else "workspace admins and owners"
        call.tell(f"Only {who} can {what}. Ask one of them to run it.")
        return False

    # -- subcommands -------------------------------------------------------------------------

    def help(self, call: Invocation) -> None:
        """`/wati help`."""
        call.tell(self.help_text)

    def link_number(self, call: Invocation, number: str, note: str = "") -> None:
        """Link the call's channel to a checked, normalised number (the caller is an admin).

        `note` (a caveat about the number) is told to the caller just before the announcement.
        """
        if not self._bot_is_member(call):
            call.tell(
                "I'm not in this channel yet. Invite me first (`/invite @wati-bridge`), "
                f"then run `/wati link {phone.display(number)}` again."
            )
            return
        try:
            link = self.store.link(number, call.channel_id, call.user_id)
        except LinkConflict as exc:
            other = exc.existing
            if other.channel_number == number:
                call.tell(
                    f"{phone.display(number)} is already linked to <#{other.slack_channel_id}>. "
                    "Unlink it there first with `/wati unlink`."
                )
            else:
                call.tell(
                    f"This channel is already linked to {phone.display(other.channel_number)}. "
                    "A channel serves one number: `/wati unlink` first, or use another channel."
                )
            return
        logger.info("channel %s linked to a number by %s", call.channel_id, call.user_id)
        if self.on_link is not None:
            self.on_link(link.channel_number)
        if note:
            call.tell(note)
        call.announce(
            f"<@{call.user_id}> linked this channel to WhatsApp number {phone.display(link.channel_number)}. "
            "Each customer conversation will appear here as a thread; reply in the thread to answer."
        )

    def _bot_is_member(self, call: Invocation) -> bool:
        try:
            info = call.client.conversations_info(channel=call.channel_id)
        except SlackApiError as exc:
            if exc.response.get("error") in ("channel_not_found", "not_in_channel"):
                return False
            raise
        channel = info.get("channel") or {}
        # Direct messages and group DMs have no membership flag; they cannot be linked anyway.
        return bool(channel.get("is_member"))

    def unlink(self, call: Invocation) -> None:
        """`/wati unlink`."""
        if not self.require_admin(call, "unlink a channel"):
            return
        link = self.store.unlink(call.channel_id)
        if link is None:
            call.tell("This channel is not linked to a WhatsApp number.")
            return
        logger.info("channel %s unlinked by %s", call.channel_id, call.user_id)
        call.announce(
            f"<@{call.user_id}> unlinked WhatsApp number {phone.display(link.channel_number)} "
            "from this channel. Its messages are no longer relayed here."
        )

    def status(self, call: Invocation) -> None:
        """`/wati status`."""
        link = self.store.link_for_channel(call.channel_id)
        lines = []
        if link is None:
            lines.append("This channel is not linked. An admin can run `/wati link <number>`.")
        else:
            number = link.channel_number
            lines.append(f"*Linked number:* {phone.display(number)} (since {link.linked_at[:10]})")
            lines.append(f"*Open conversations:* {len(self.store.open_threads(number))}")
            last = self.store.get(f"last_poll_ok:{number}")
            lines.append(f"*Last successful poll:* {_when(last)}")
            lines.append(f"*Waiting to be posted:* {self.store.backlog(number)}")
            errors = self.store.recent_errors(number, limit=3)
            if errors:
                lines.append("*Recent errors:*")
                lines.extend(
                    f"• {e['at'][:19].replace('T', ' ')} UTC — {e['message']}" for e in errors
                )
            else:
                lines.append("*Recent errors:* none")
        lines.append(f"*Wati quota:* {self.budget.summary()}")
        if not self.budget.may_poll():
            lines.append(
                ":warning: Polling is paced out for now to stay inside the monthly quota; "
                "new messages arrive more slowly until the budget recovers."
            )
        lines.extend(self._health_lines())
        call.tell("\n".join(lines))

    def _health_lines(self) -> list[str]:
        """The same problems /healthz reports, in words, with what to do."""
        if self.health is None:
            return []
        conditions = self.health.conditions()
        if not conditions:
            return ["*Bridge health:* ok"]
        lines = [":rotating_light: *Bridge health: problems*"]
        for condition in conditions:
            since = _when(datetime.fromtimestamp(condition.since, UTC).isoformat())
            lines.append(
                f"• `{condition.code}` since {since}: {condition.words()}. "
                f"_Fix:_ {condition.fix()}."
            )
        return lines


def _when(iso_text: str | None) -> str:
    return f"{iso_text[:19].replace('T', ' ')} UTC" if iso_text else "never"


def register(app: App, command: WatiCommand) -> None:
    """Bind `/wati` to the app."""

    @app.command("/wati")
    def handle_wati_command(
        ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient
    ) -> None:
        ack()
        call = Invocation(
            user_id=body["user_id"],
            channel_id=body["channel_id"],
            args=(body.get("text") or "").split(),
            respond=respond,
            client=client,
            trigger_id=body.get("trigger_id"),
            payload=body,
        )
        command.run(call)
