"""The thread parent's "Resolve and ask for a rating" button (bot.survey does the work)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.chatops.operations import ChatOps
from bot.listeners.refusals import answers_refusals, where
from bot.listeners.surface import tell
from bot.slack import blocks
from bot.survey.asking import Surveys


def register(app: App, ops: ChatOps, surveys: Surveys) -> None:
    """Bind the button."""

    @app.action(blocks.RESOLVE_RATE)
    @answers_refusals
    def handle_resolve_and_rate(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        channel, user = where(body)
        actions = body.get("actions") or [{}]
        conv = ops.conversation(str(actions[0].get("value") or ""), channel)
        tell(client, channel, user, surveys.ask_and_resolve(conv, user))
