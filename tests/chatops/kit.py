"""Helpers for the chat-op tests: conversations, signed clicks, commands, shortcuts and submits."""

from __future__ import annotations

import json
import time
from typing import Any

from slack_bolt.response import BoltResponse

from bot.devtools.harness.inproc import ManualClock
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_driver.prepared import Prepared
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge
from bot.slack import modals
from bot.store.chats import Thread
from tests.kit import ADMIN, CHANNEL_A, CHANNEL_B, SIGNING_SECRET, SLACK_A, SLACK_B

CUSTOMER = "447700900123"
OTHER = "5511912345678"


class Kit:
    """One test's view of the bridge, the Slack stand-in and the sandbox Wati."""

    def __init__(
        self, bridge: Bridge, slack: SlackStandIn, sandbox: Sandbox, clock: ManualClock
    ) -> None:
        self.bridge = bridge
        self.slack = slack
        self.sandbox = sandbox
        self.clock = clock
        # Response URLs point at the stand-in, so `respond(...)` answers are recorded there.
        self.driver = SlackDriver(SIGNING_SECRET, response_url_factory=slack.response_url)
        bridge.store.link(CHANNEL_A, SLACK_A, ADMIN)
        bridge.store.link(CHANNEL_B, SLACK_B, ADMIN)
        # the links take the real time, which a slow setup may have carried past the test clock
        clock.now = max(clock.now, time.time()) + 1  # customer messages after the links are relayed

    # -- conversations ---------------------------------------------------------------------

    def conversation(
        self,
        customer: str = CUSTOMER,
        channel: str = CHANNEL_A,
        text: str = "Hi, where is my order?",
    ) -> Thread:
        """The customer writes; one poll opens the conversation's thread in Slack."""
        self.sandbox.customer_says(channel, customer, text, name="Ana Lima")
        self.bridge.poller.wake(channel, customer)
        self.bridge.poller.poll_number(channel)
        thread = self.bridge.store.current_thread(channel, customer)
        assert thread is not None and thread.thread_ts is not None
        return thread

    def thread(self, thread_id: int) -> Thread:
        """A thread as stored now."""
        found = self.bridge.store.thread(thread_id)
        assert found is not None
        return found

    def parent(self, thread: Thread) -> dict[str, Any]:
        """The thread's parent message as Slack holds it."""
        found = [
            m for m in self.slack.messages(thread.slack_channel_id) if m["ts"] == thread.thread_ts
        ]
        assert found, "no parent message"
        return found[0]

    def thread_texts(self, thread: Thread) -> list[str]:
        """Every message of the thread after the parent."""
        assert thread.thread_ts is not None
        return [
            m.get("text", "")
            for m in self.slack.replies(thread.slack_channel_id, thread.thread_ts)[1:]
        ]

    def told(self, channel: str | None = None) -> list[str]:
        """Ephemeral texts (chat.postEphemeral and response_url answers)."""
        return [e["text"] for e in self.slack.ephemerals(channel)]

    # -- requests ----------------------------------------------------------------------------

    def deliver(self, prepared: Prepared) -> BoltResponse:
        """Hand a signed request to Bolt (listeners run inside dispatch)."""
        response = prepared.dispatch(self.bridge.app)
        assert response.status == 200, response.body
        return response

    def click(
        self, action_id: str, thread: Thread, *, user: str = ADMIN, channel: str | None = None
    ) -> BoltResponse:
        """A click on a button of the thread's parent (from another channel when `channel` says)."""
        message = self.parent(thread)
        return self.deliver(
            self.driver.block_action(
                action_id,
                user_id=user,
                channel_id=channel or thread.slack_channel_id,
                message=message,
            )
        )

    def command(self, text: str, *, user: str = ADMIN, channel: str = SLACK_A) -> BoltResponse:
        """`/wati <text>`."""
        return self.deliver(self.driver.slash_command(text, user_id=user, channel_id=channel))

    def view(self, callback_id: str) -> dict[str, Any]:
        """The newest modal with this callback id, as Slack holds it."""
        found = [v for v in self.slack.views if v["callback_id"] == callback_id]
        assert found, f"no {callback_id} modal among {[v['callback_id'] for v in self.slack.views]}"
        return found[-1]

    def pick(self, view: dict[str, Any], template: str, *, user: str = ADMIN) -> BoltResponse:
        """Choose a template in an open modal (a block action from the view)."""
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": "T0STANDIN"},
            "api_app_id": "A0BRIDGE",
            "token": "legacy-verification-token",
            "container": {"type": "view", "view_id": view["id"]},
            "trigger_id": self.driver.trigger_id(),
            "team": {"id": "T0STANDIN", "domain": "standin"},
            "view": view,
            "actions": [
                {
                    "action_id": modals.TEMPLATE_PICK,
                    "block_id": modals.TEMPLATE,
                    "type": "static_select",
                    "selected_option": {
                        "text": {"type": "plain_text", "text": template},
                        "value": template,
                    },
                    "action_ts": "1.2",
                }
            ],
        }
        return self.deliver(self.driver.interaction(payload))

    def submit(
        self,
        view: dict[str, Any] | None,
        values: dict[str, Any],
        *,
        callback_id: str | None = None,
        meta: str | None = None,
        user: str = ADMIN,
    ) -> BoltResponse:
        """Submit a modal: `values` maps block ids to a typed value, a chosen option or files."""
        return self.deliver(
            self.submission(view, values, callback_id=callback_id, meta=meta, user=user)
        )

    def submission(
        self,
        view: dict[str, Any] | None,
        values: dict[str, Any],
        *,
        callback_id: str | None = None,
        meta: str | None = None,
        user: str = ADMIN,
    ) -> Prepared:
        """A signed view_submission (deliver it twice to replay it)."""
        state: dict[str, dict[str, Any]] = {}
        for block_id, value in values.items():
            if isinstance(value, dict):
                state[block_id] = {modals.INPUT: value}
            elif block_id == modals.TEMPLATE:
                state[block_id] = {modals.TEMPLATE_PICK: select(value)}
            else:
                state[block_id] = {modals.INPUT: value}
        return self.driver.view_submission(
            callback_id or (view or {})["callback_id"],
            user_id=user,
            values=state,
            private_metadata=meta if meta is not None else (view or {})["private_metadata"],
            view_id=(view or {}).get("id"),
        )


def select(value: str) -> dict[str, Any]:
    """A static_select's state with `value` chosen."""
    return {
        "type": "static_select",
        "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
    }


def files(*file_objects: dict[str, Any]) -> dict[str, Any]:
    """A file_input's state holding these Slack file objects."""
    return {"type": "file_input", "files": list(file_objects)}


def answer(response: BoltResponse) -> dict[str, Any]:
    """The JSON a view submission was acknowledged with ({} for a plain ack)."""
    return json.loads(response.body) if response.body else {}


def blocks_text(message: dict[str, Any]) -> str:
    """All mrkdwn/plain text of a message's or a view's blocks, joined."""
    parts: list[str] = [str(message.get("text") or "")]
    for block in message.get("blocks") or []:
        text = block.get("text")
        if isinstance(text, dict):
            parts.append(str(text.get("text", "")))
        for element in block.get("elements") or []:
            if isinstance(element, dict) and isinstance(element.get("text"), str):
                parts.append(element["text"])
        label = block.get("label")
        if isinstance(label, dict):
            parts.append(str(label.get("text", "")))
    return "\n".join(parts)


__all__ = ["CHANNEL_A", "CHANNEL_B", "CUSTOMER", "OTHER", "SLACK_A", "SLACK_B", "Kit"]
