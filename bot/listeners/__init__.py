"""Everything the bridge binds to Slack, module by module (each names its surfaces in its own
`register(app, services)`): the one place to read what Slack can reach.

Handlers are module-level functions taking what Bolt injects (`ack`, `body`, `client`, …) and
`services`, the chat-op services built by the composition root (`bot.chatops.services`).
"""

from __future__ import annotations

from slack_bolt import App

from bot.chatops.services import Services
from bot.listeners import (
    bulk,
    commands,
    contacts,
    forwarding,
    home,
    parent,
    privacy,
    replies,
    saved_replies,
    templates,
)

MODULES = (
    commands,
    replies,
    parent,
    templates,
    bulk,
    contacts,
    forwarding,
    saved_replies,
    home,
    privacy,
)
# Shortcut callback ids and their kinds, as manifest.yml must declare them.
SHORTCUTS = {templates.NEW_CHAT_SHORTCUT: "global", forwarding.FORWARD_SHORTCUT: "message"}


def register(app: App, services: Services) -> None:
    """Bind every listener of the bridge to the app."""
    for module in MODULES:
        module.register(app, services)
