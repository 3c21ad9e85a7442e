"""The app's Home tab: each viewer's queue, published when they open it."""

from __future__ import annotations

import functools
import logging
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.chatops.services import Services

logger = logging.getLogger(__name__)


def handle_home_opened(event: dict[str, Any], client: WebClient, services: Services) -> None:
    user = str(event.get("user") or "")
    if event.get("tab", "home") != "home" or not user:
        return
    try:
        client.views_publish(user_id=user, view=services.desk.home.view(user))
    except SlackApiError as exc:
        logger.warning("home tab not published: %s", exc.response.get("error"))


def register(app: App, services: Services) -> None:
    """Bind the Home tab's event."""
    app.event("app_home_opened")(functools.partial(handle_home_opened, services=services))
