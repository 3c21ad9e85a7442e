"""Helpers for the webhook tests: hook the sandbox to the served bridge, and wait."""

from __future__ import annotations

from bot.devtools.harness.world import wait_until
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge
from bot.webhooks.events import EVENT_TYPES
from bot.webhooks.registration import webhook_url

CUSTOMER = "447700900123"
NEWCOMER = "5511912345678"


def hook_up(sandbox: Sandbox, bridge: Bridge, served: str, channel: str) -> str:
    """A webhook for `channel` to the served bridge, as if pasted into Wati's dashboard."""
    url = webhook_url(served, bridge.webhooks.token, channel)
    sandbox.webhooks.add(url, channel, list(EVENT_TYPES))
    return url


def settle(sandbox: Sandbox, bridge: Bridge) -> None:
    """Wait until the sandbox has delivered what is due, then let the hub process it."""
    wait_until(sandbox.webhooks.idle, 10, "the sandbox's webhooks delivered")
    hub = bridge.webhooks.hub
    # Relayed messages wait a moment for earlier ones overtaken on the way (Hub.REORDER).
    wait_until(lambda: hub.process() >= 0 and not hub.holding(), 10, "the hub settled")


def posts_of(slack: SlackStandIn, wati_id: str) -> int:
    """How many Slack posts carry this Wati message id in their metadata."""
    found = 0
    for call in slack.calls_to("chat.postMessage"):
        meta = call.args.get("metadata")
        if isinstance(meta, dict) and (meta.get("event_payload") or {}).get("wati_id") == wati_id:
            found += 1
        elif isinstance(meta, str) and wati_id in meta:
            found += 1
    return found


def prove_ids(sandbox: Sandbox, bridge: Bridge, channel: str, customer: str = CUSTOMER) -> str:
    """A first message: its webhook wakes a poll, and the poll proves webhook ids are history ids."""
    first = sandbox.customer_says(channel, customer, "Hello there", name="Ana Lima")
    settle(sandbox, bridge)
    bridge.poller.poll_number(channel)
    assert bridge.webhooks.trust.ids_match()
    return first
