"""Slash commands and interactivity: block actions, view submissions, shortcuts."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from bot.devtools.slack_driver.base import DriverBase
from bot.devtools.slack_driver.prepared import FORM_TYPE, JSONDict, Prepared
from bot.devtools.slack_driver.shapes import (
    as_history_message,
    default_channel_name,
    find_element,
)


class InteractionPayloads(DriverBase):
    """Builders of slash commands (form bodies) and interactivity payloads (payload=<json>)."""

    def slash_command(
        self,
        text: str,
        *,
        user_id: str,
        channel_id: str,
        command: str = "/wati",
        response_url: str | None = None,
        trigger_id: str | None = None,
        channel_name: str | None = None,
        user_name: str | None = None,
    ) -> Prepared:
        """A slash command as the form body Slack posts."""
        fields = {
            "token": "legacy-verification-token",
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name or default_channel_name(channel_id),
            "user_id": user_id,
            "user_name": user_name or user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url or self._hook_url("commands", channel=channel_id),
            "trigger_id": trigger_id or self.trigger_id(),
        }
        return self.prepare(urlencode(fields), FORM_TYPE)

    def interaction(self, payload: Mapping[str, Any]) -> Prepared:
        """Any interactivity payload as the ``payload=`` form body Slack posts."""
        return self.prepare(urlencode({"payload": json.dumps(payload)}), FORM_TYPE)

    def block_action(
        self,
        action_id: str,
        *,
        user_id: str,
        channel_id: str,
        message_ts: str | None = None,
        value: str | None = None,
        thread_ts: str | None = None,
        block_id: str | None = None,
        response_url: str | None = None,
        message: Mapping[str, Any] | None = None,
    ) -> Prepared:
        """A button click in a message (``block_actions``).

        Pass ``message`` (e.g. from ``SlackStandIn.messages``) to carry the real message: its
        ``ts`` and ``thread_ts`` are used when not given, and the clicked element's block id,
        type, text and value are taken from its blocks.
        """
        shown = as_history_message(message) if message is not None else None
        message_ts = message_ts or (shown or {}).get("ts") or self.next_ts()
        thread_ts = thread_ts or (shown or {}).get("thread_ts")
        if shown is None:
            shown = {
                "type": "message",
                "user": self.bot_user_id,
                "bot_id": self.bot_id,
                "ts": message_ts,
                "text": "",
                "blocks": [],
                "team": self.team_id,
            }
            if thread_ts:
                shown["thread_ts"] = thread_ts
        container: JSONDict = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
        if thread_ts:
            container["thread_ts"] = thread_ts
        found_block, element = find_element(shown, action_id)
        action: JSONDict = {
            "action_id": action_id,
            "block_id": block_id or found_block or "actions",
            "text": element.get("text") or {"type": "plain_text", "text": action_id, "emoji": True},
            "type": element.get("type", "button"),
            "action_ts": self._action_ts(),
        }
        if value is None:
            value = element.get("value")
        if value is not None:
            action["value"] = value
        payload: JSONDict = {
            "type": "block_actions",
            "user": self._user(user_id, with_name=True),
            "api_app_id": self.api_app_id,
            "token": "legacy-verification-token",
            "container": container,
            "trigger_id": self.trigger_id(),
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": default_channel_name(channel_id)},
            "message": shown,
            "state": {"values": {}},
            "response_url": response_url
            or self._hook_url("actions", channel=channel_id, message_ts=message_ts),
            "actions": [action],
        }
        return self.interaction(payload)

    def view_select(
        self,
        view: Mapping[str, Any],
        action_id: str,
        *,
        block_id: str,
        value: str,
        user_id: str,
    ) -> Prepared:
        """An option chosen in a modal's select with ``dispatch_action`` (``block_actions``
        from a view): ``view`` as the stand-in holds it, id and hash included."""
        payload: JSONDict = {
            "type": "block_actions",
            "user": self._user(user_id, with_name=True),
            "api_app_id": self.api_app_id,
            "token": "legacy-verification-token",
            "container": {"type": "view", "view_id": view.get("id")},
            "trigger_id": self.trigger_id(),
            "team": self._team(),
            "view": dict(view),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block_id,
                    "type": "static_select",
                    "selected_option": {
                        "text": {"type": "plain_text", "text": value},
                        "value": value,
                    },
                    "action_ts": self._action_ts(),
                }
            ],
        }
        return self.interaction(payload)

    def view_submission(
        self,
        callback_id: str,
        *,
        user_id: str,
        values: Mapping[str, Mapping[str, Any]],
        private_metadata: str = "",
        view_id: str | None = None,
    ) -> Prepared:
        """A modal's Submit (``view_submission``).

        ``values`` is ``state.values``: ``{block_id: {action_id: element_state}}``; a plain
        string as ``element_state`` stands for a ``plain_text_input`` with that value.
        """
        state: JSONDict = {}
        blocks: list[JSONDict] = []
        for block_id, actions in values.items():
            state[block_id] = {}
            for action_id, element in actions.items():
                if isinstance(element, str) or element is None:
                    element = {"type": "plain_text_input", "value": element}
                state[block_id][action_id] = dict(element)
                blocks.append(
                    {
                        "type": "input",
                        "block_id": block_id,
                        "label": {"type": "plain_text", "text": block_id},
                        "optional": False,
                        "element": {"type": element["type"], "action_id": action_id},
                    }
                )
        view_id = view_id or f"V{next(self._seq):010d}"
        view: JSONDict = {
            "id": view_id,
            "team_id": self.team_id,
            "type": "modal",
            "blocks": blocks,
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": state},
            "hash": f"{int(self.clock())}.{secrets.token_urlsafe(6)}",
            "title": {"type": "plain_text", "text": "WhatsApp"},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": {"type": "plain_text", "text": "Cancel"},
            "submit": {"type": "plain_text", "text": "Submit"},
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.api_app_id,
            "external_id": "",
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        payload: JSONDict = {
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user_id, with_name=True),
            "api_app_id": self.api_app_id,
            "token": "legacy-verification-token",
            "trigger_id": self.trigger_id(),
            "view": view,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self.interaction(payload)

    def shortcut(self, callback_id: str, *, user_id: str) -> Prepared:
        """A global shortcut (``shortcut``): no channel, no message, no response_url."""
        payload: JSONDict = {
            "type": "shortcut",
            "token": "legacy-verification-token",
            "action_ts": self._action_ts(),
            "team": self._team(),
            "user": self._user(user_id),
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self.trigger_id(),
        }
        return self.interaction(payload)

    def message_action(
        self,
        callback_id: str,
        *,
        user_id: str,
        channel_id: str,
        message: Mapping[str, Any],
        response_url: str | None = None,
    ) -> Prepared:
        """A message shortcut (``message_action``) on ``message`` (an event or a stored message)."""
        shown = as_history_message(message)
        payload: JSONDict = {
            "type": "message_action",
            "token": "legacy-verification-token",
            "action_ts": self._action_ts(),
            "team": self._team(),
            "user": {"id": user_id, "name": user_id.lower()},
            "channel": {"id": channel_id, "name": default_channel_name(channel_id)},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self.trigger_id(),
            "message_ts": shown["ts"],
            "message": shown,
            "response_url": response_url or self._hook_url("app", channel=channel_id),
        }
        return self.interaction(payload)
