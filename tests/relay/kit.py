"""Helpers shared by the outbound tests: open a customer's thread, reply in it, click buttons."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from slack_bolt.response import BoltResponse

from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_driver.prepared import Prepared
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge
from bot.slack import blocks
from bot.store.chats import Thread
from bot.store.outbox import Job
from tests.kit import AGENT, CHANNEL_A

CUSTOMER = "447700900123"
OTHER = "5511912345678"


def open_chat(
    bridge: Bridge,
    sandbox: Sandbox,
    channel: str = CHANNEL_A,
    customer: str = CUSTOMER,
    text: str = "Hi, where is my order?",
) -> Thread:
    """The customer writes; one poll opens the conversation's thread in Slack."""
    sandbox.customer_says(channel, customer, text, name="Ana Lima")
    bridge.poller.wake(channel, customer)
    bridge.poller.poll_number(channel)
    thread = bridge.store.current_thread(channel, customer)
    assert thread is not None and thread.thread_ts is not None
    return thread


def deliver(bridge: Bridge, prepared: Prepared) -> BoltResponse:
    """Hand a signed request to Bolt, as Slack's HTTP delivery would."""
    response = prepared.dispatch(bridge.app)
    assert response.status == 200, response.body
    return response


def say(
    bridge: Bridge,
    slack: SlackStandIn,
    driver: SlackDriver,
    thread: Thread,
    text: str,
    *,
    user: str = AGENT,
    event_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A teammate replies in the thread: the message exists in Slack and its event is delivered."""
    assert thread.thread_ts is not None
    event = driver.message(
        channel=thread.slack_channel_id, user=user, text=text, thread_ts=thread.thread_ts, **extra
    )
    slack.add_message(event)
    deliver(bridge, driver.event(event, event_id=event_id))
    return event


def job_of(bridge: Bridge, channel: str, ts: str) -> Job:
    """The outbox row (with its progress) of a Slack message."""
    reply = bridge.store.reply_by_ts(channel, ts)
    assert reply is not None
    job = bridge.outbound.store.reply_job(reply.id)
    assert job is not None
    return job


def notices(slack: SlackStandIn, thread: Thread, action_id: str) -> list[dict[str, Any]]:
    """The thread's messages that carry a button with this action_id."""
    assert thread.thread_ts is not None
    found = []
    for message in slack.replies(thread.slack_channel_id, thread.thread_ts)[1:]:
        for block in message.get("blocks") or []:
            if any(e.get("action_id") == action_id for e in block.get("elements") or []):
                found.append(message)
    return found


def click(
    bridge: Bridge,
    driver: SlackDriver,
    message: dict[str, Any],
    channel: str,
    user: str = AGENT,
    action_id: str = blocks.RETRY,
) -> BoltResponse:
    """Press a button of a notice (Retry unless told otherwise)."""
    prepared = driver.block_action(action_id, user_id=user, channel_id=channel, message=message)
    return deliver(bridge, prepared)


class Intercept(httpx.BaseTransport):
    """Answers the first `count` calls to one Wati endpoint itself; the rest go to the sandbox."""

    def __init__(
        self, endpoint: str, answer: Callable[[httpx.Request], httpx.Response], count: int = 1
    ) -> None:
        self.endpoint = endpoint
        self.answer = answer
        self.count = count
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.count > 0 and f"/api/v1/{self.endpoint}/" in request.url.path:
            self.count -= 1
            return self.answer(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
