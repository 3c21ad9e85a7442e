"""`wati-bridge demo`: the whole loop on one machine, with no credentials.

A sandbox Wati, a Slack stand-in and the bridge (in Socket Mode, like a default install, all
on loopback) play a short scripted conversation on two numbers. Slack's side goes as envelopes
over the stand-in's WebSocket, each waited for until the bridge acks it. Every step waits for its outcome; the run exits 0 only
if all of them happened.
"""

from __future__ import annotations

import json
import re
import socket
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import emoji
import httpx
import uvicorn

from bot.config import Settings
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_driver.prepared import Prepared
from bot.devtools.slack_standin.server import SlackStandIn
from bot.relay.delivery import (
    BLOCKED_MARK,
    DELIVERY_MARKS,
    FAILED_MARK,
    NOTE_MARK,
    QUEUED_MARK,
)
from bot.service import Bridge, build
from bot.slack import blocks, modals, team_views
from bot.store.outbox import Delivery
from bot.text import phone
from bot.web import make_asgi
from bot.webhooks.events import EVENT_TYPES
from bot.webhooks.registration import webhook_url

NUMBER_SUPPORT, NUMBER_SALES = "15550000001", "15550000002"
SUPPORT, SALES = "C0DEMOSUPPORT", "C0DEMOSALES"
ADMIN, AGENT = "U0DEMOADMIN", "U0DEMOAGENT"
ANA, BO = "5511912345678", "447700900123"
SECRET = "demo-signing-secret"  # signs nothing in Socket Mode; the driver wants one
STEP_TIMEOUT = 20.0


class ShiftedClock:
    """Real time plus a shift, so the demo can jump past the 24-hour window."""

    def __init__(self) -> None:
        self.shift = 0.0

    def __call__(self) -> float:
        return time.time() + self.shift

    def advance(self, seconds: float) -> None:
        self.shift += seconds


@dataclass
class Demo:
    """The running pieces and the steps' results."""

    sandbox: Sandbox
    slack: SlackStandIn
    bridge: Bridge
    driver: SlackDriver
    clock: ShiftedClock
    echo: Callable[[str], None]
    results: list[tuple[str, bool]] = field(default_factory=list)

    def step(self, title: str, check: Callable[[], bool]) -> bool:
        """Wait for `check` to hold; record and print the outcome."""
        deadline = time.monotonic() + STEP_TIMEOUT
        ok = False
        while time.monotonic() < deadline:
            if check():
                ok = True
                break
            time.sleep(0.1)
        self.results.append((title, ok))
        self.echo(f"  {'✓' if ok else '✗'} {title}")
        return ok

    # -- what each side sees -----------------------------------------------------------------

    def parent(self, channel: str, customer: str) -> dict[str, Any] | None:
        for message in self.slack.messages(channel):
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("customer_number") == customer:
                return message
        return None

    def thread(self, channel: str, customer: str) -> list[dict[str, Any]]:
        parent = self.parent(channel, customer)
        return self.slack.replies(channel, parent["ts"])[1:] if parent else []

    def thread_has(self, channel: str, customer: str, text: str) -> bool:
        return any(text in (m.get("text") or "") for m in self.thread(channel, customer))

    def sent(self, number: str, text: str) -> bool:
        return any(text in (m.get("text") or "") for m in self.sandbox.sent_by_api(number))

    def reaction_on(self, channel: str, ts: str, name: str) -> bool:
        return name in self.slack.reactions(channel, ts)

    def reply(self, channel: str, customer: str, user: str, text: str) -> str:
        parent = self.parent(channel, customer)
        assert parent is not None
        event = self.driver.message(channel=channel, user=user, text=text, thread_ts=parent["ts"])
        self.slack.add_message(event, channel=channel)
        self.deliver(self.driver.event(event))
        return str(event["ts"])

    def view(self, callback_id: str) -> dict[str, Any] | None:
        found = [v for v in self.slack.views if v.get("callback_id") == callback_id]
        return found[-1] if found else None

    def click(self, channel: str, customer: str, action_id: str) -> None:
        parent = self.parent(channel, customer)
        assert parent is not None
        self.deliver(
            self.driver.block_action(action_id, user_id=AGENT, channel_id=channel, message=parent)
        )

    def pick_template(self, name: str) -> None:
        view = self.view(modals.TEMPLATE_VIEW)
        assert view is not None
        option = {"text": {"type": "plain_text", "text": name}, "value": name}
        self.deliver(
            self.driver.interaction(
                {
                    "type": "block_actions",
                    "user": {"id": AGENT, "username": "sam", "team_id": self.driver.team_id},
                    "api_app_id": self.driver.api_app_id,
                    "token": "demo",
                    "container": {"type": "view", "view_id": view["id"]},
                    "trigger_id": self.driver.trigger_id(),
                    "team": {"id": self.driver.team_id, "domain": "demo"},
                    "view": view,
                    "actions": [
                        {
                            "action_id": modals.TEMPLATE_PICK,
                            "block_id": modals.TEMPLATE,
                            "type": "static_select",
                            "selected_option": option,
                            "action_ts": "1.2",
                        }
                    ],
                }
            )
        )

    def submit_template(self, name: str, params: dict[str, str]) -> None:
        view = self.view(modals.TEMPLATE_VIEW)
        assert view is not None
        option = {"text": {"type": "plain_text", "text": name}, "value": name}
        values: dict[str, dict[str, Any]] = {
            modals.TEMPLATE: {
                modals.TEMPLATE_PICK: {"type": "static_select", "selected_option": option}
            }
        }
        for block_id, value in params.items():
            values[block_id] = {modals.INPUT: {"type": "plain_text_input", "value": value}}
        self.deliver(
            self.driver.view_submission(
                modals.TEMPLATE_VIEW,
                user_id=AGENT,
                values=values,
                private_metadata=view["private_metadata"],
                view_id=view["id"],
            )
        )

    def command(self, channel: str, user: str, text: str) -> None:
        url = self.slack.response_url(channel=channel)
        self.deliver(
            self.driver.slash_command(text, user_id=user, channel_id=channel, response_url=url)
        )

    def deliver(self, prepared: Prepared) -> bool:
        """Send a request as a Socket Mode envelope; True once the bridge acked it."""
        kind, payload = prepared.socket_envelope()
        envelope = self.slack.socket.deliver(kind, payload)
        return self.slack.socket.wait_ack(envelope, STEP_TIMEOUT)


def _serve(bridge: Bridge) -> tuple[str, uvicorn.Server]:
    """The bridge's HTTP listener, as `run` serves it in Socket Mode (GET /healthz only)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app = make_asgi(bridge.health, extra=bridge.webhooks.routes)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server


def _script(d: Demo, base_url: str) -> None:
    echo = d.echo
    echo("\n0. The bridge connects to Slack in Socket Mode")
    d.step("one Socket Mode connection is open", lambda: d.slack.socket.connections == 1)
    d.step("GET /healthz answers 200", lambda: httpx.get(f"{base_url}/healthz").status_code == 200)

    echo("\n1. An admin links two channels to two WhatsApp numbers")
    d.command(SUPPORT, ADMIN, f"link {phone.display(NUMBER_SUPPORT)}")
    d.command(SALES, ADMIN, f"link {NUMBER_SALES}")
    d.step(
        "#support is linked to +1 555-000-0001",
        lambda: d.bridge.store.link_for_channel(SUPPORT) is not None,
    )
    d.step(
        "#sales is linked to +1 555-000-0002",
        lambda: d.bridge.store.link_for_channel(SALES) is not None,
    )

    echo("\n2. Customers write on WhatsApp")
    d.sandbox.customer_says(NUMBER_SUPPORT, ANA, "Hi! Where is my order 1001?", name="Ana Lima")
    d.sandbox.customer_says(NUMBER_SALES, BO, "Do you ship to *London*?", name="Bo Chen")
    d.step(
        "Ana's message opens a thread in #support", lambda: d.thread_has(SUPPORT, ANA, "order 1001")
    )
    d.step("Bo's message opens a thread in #sales", lambda: d.thread_has(SALES, BO, "London"))

    echo("\n3. Teammates reply in the threads")
    ts_a = d.reply(SUPPORT, ANA, AGENT, "It shipped today :package: tracking *TRK-42*")
    d.step(
        "the reply reaches Ana from the support number", lambda: d.sent(NUMBER_SUPPORT, "TRK-42")
    )
    d.step("the reply shows as read in Slack", lambda: d.reaction_on(SUPPORT, ts_a, "eyes"))
    ts_b = d.reply(SALES, BO, AGENT, "Yes, we ship to London in 2 days.")
    d.step(
        "the reply reaches Bo from the sales number",
        lambda: d.sent(NUMBER_SALES, "London in 2 days"),
    )
    d.step(
        "…and never from the support number", lambda: not d.sent(NUMBER_SUPPORT, "London in 2 days")
    )
    d.reply(SUPPORT, ANA, AGENT, "note: VIP customer, check the courier tomorrow")
    d.step("an internal note stays in Slack", lambda: not d.sent(NUMBER_SUPPORT, "VIP customer"))

    echo("\n4. Wati refuses a send")
    d.sandbox.faults.inject("sendSessionMessage", "reject")
    ts_fail = d.reply(SALES, BO, AGENT, "Here is your discount code SAVE10")
    d.step(
        "the failure shows with Wati's reason and a Retry button",
        lambda: d.reaction_on(SALES, ts_fail, "x") and d.thread_has(SALES, BO, "Retry"),
    )

    echo("\n5. A day later, outside WhatsApp's 24-hour window")
    d.clock.advance(25 * 3600)
    ts_late = d.reply(SALES, BO, AGENT, "Are you still interested?")
    d.step(
        "the late reply is held back, with a Send template offer",
        lambda: d.thread_has(SALES, BO, "24-hour") and not d.sent(NUMBER_SALES, "still interested"),
    )
    del ts_b, ts_late

    echo("\n6. A template reaches the customer outside the window")
    d.click(SALES, BO, blocks.SEND_TEMPLATE)
    d.step("the template picker opens in Slack", lambda: d.view(modals.TEMPLATE_VIEW) is not None)
    d.pick_template("hello_again")
    d.step(
        "choosing a template asks for its parameters",
        lambda: "param:name" in json.dumps((d.view(modals.TEMPLATE_VIEW) or {}).get("blocks")),
    )
    d.submit_template("hello_again", {"param:name": "Bo"})
    d.step(
        "the template reaches Bo from the sales number",
        lambda: d.sent(NUMBER_SALES, "Hi Bo, thanks for getting in touch"),
    )
    d.step("the thread shows the template was sent", lambda: d.thread_has(SALES, BO, "hello_again"))

    echo("\n7. The support conversation is resolved")
    d.click(SUPPORT, ANA, blocks.RESOLVE)
    d.step(
        "Wati marks Ana's chat solved",
        lambda: d.sandbox.chat_status(NUMBER_SUPPORT, ANA) == "SOLVED",
    )
    d.step(
        "the thread parent shows who resolved it",
        lambda: "Resolved" in json.dumps((d.parent(SUPPORT, ANA) or {}).get("blocks")),
    )
    _team_steps(d)


def _team_steps(d: Demo) -> None:
    """Working as a team: Sam takes Bo's conversation and answers with a saved reply."""
    d.echo("\n8. Working as a team: an owner and a saved reply")
    email = "sam@demo.invalid"
    d.slack.add_user(AGENT, name="sam", real_name="Sam Agent", email=email)
    d.sandbox.add_operator(email, "Sam Agent")
    d.sandbox.customer_says(NUMBER_SALES, BO, "Yes, please send me the prices", name="Bo Chen")
    d.step("Bo writes again in his thread", lambda: d.thread_has(SALES, BO, "send me the prices"))
    d.click(SALES, BO, blocks.ASSIGN_ME)
    d.step(
        "Sam owns Bo's conversation, in Slack and in Wati",
        lambda: (
            d.sandbox.assignee(NUMBER_SALES, BO) == email
            and f"Owner: <@{AGENT}>" in json.dumps((d.parent(SALES, BO) or {}).get("blocks"))
        ),
    )
    d.command(SALES, ADMIN, "replies add prices Thanks {name}! Our prices: https://example.com/p")
    d.step("an admin saves a reply", lambda: d.bridge.store.saved_reply("prices") is not None)
    saved = d.bridge.store.saved_reply("prices")
    d.click(SALES, BO, blocks.SAVED_REPLY)
    d.step("the saved reply picker opens", lambda: d.view(team_views.SAVED_VIEW) is not None)
    view = d.view(team_views.SAVED_VIEW)
    if saved is None or view is None:
        return
    pick = d.driver.view_select(
        view,
        team_views.SAVED_PICK,
        block_id=team_views.SAVED_BLOCK,
        value=str(saved.id),
        user_id=AGENT,
    )
    d.deliver(pick)
    d.step(
        "the preview fills in Bo's name",
        lambda: (
            "Thanks Bo Chen!" in json.dumps((d.view(team_views.SAVED_VIEW) or {}).get("blocks"))
        ),
    )
    view = d.view(team_views.SAVED_VIEW) or view
    option = {"text": {"type": "plain_text", "text": "prices"}, "value": str(saved.id)}
    chosen = {team_views.SAVED_PICK: {"type": "static_select", "selected_option": option}}
    d.deliver(
        d.driver.view_submission(
            team_views.SAVED_VIEW,
            user_id=AGENT,
            values={team_views.SAVED_BLOCK: chosen},
            private_metadata=view["private_metadata"],
            view_id=view["id"],
        )
    )
    d.step(
        "the saved reply reaches Bo from the sales number, sent by Sam in the thread",
        lambda: (
            d.sent(NUMBER_SALES, "Thanks Bo Chen! Our prices")
            and d.thread_has(SALES, BO, "Thanks Bo Chen!")
        ),
    )


# What each mark on a reply means, in the order a reply goes through them.
LEGEND = (
    (QUEUED_MARK, "queued"),
    (DELIVERY_MARKS[Delivery.SENT], "sent"),
    (DELIVERY_MARKS[Delivery.DELIVERED], "delivered"),
    (DELIVERY_MARKS[Delivery.READ], "read"),
    (FAILED_MARK, "failed"),
    (BLOCKED_MARK, "24-hour window closed"),
    (NOTE_MARK, "internal note, stays in Slack"),
)
NAMES = {ADMIN: "ada", AGENT: "sam", SUPPORT: "support", SALES: "sales"}
WIDTH = 96
_MENTION = re.compile(r"<([@#])([UWC][A-Z0-9]+)(?:\|[^>]*)?>")
_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")


def _shown(text: str) -> str:
    """Slack markup as a reader sees it: emoji, @people and #channels by name, link labels."""
    text = _MENTION.sub(lambda m: m.group(1) + NAMES.get(m.group(2), m.group(2)), text)
    text = _LINK.sub(lambda m: m.group(2), text)
    return emoji.emojize(text, language="alias")


def _wrapped(prefix: str, text: str, indent: int) -> list[str]:
    """Whole words only: long lines wrap under the text instead of being cut."""
    lines: list[str] = []
    for n, paragraph in enumerate(_shown(text).splitlines() or [""]):
        lead = prefix if n == 0 else " " * len(prefix)
        lines.extend(
            textwrap.wrap(
                paragraph,
                WIDTH,
                initial_indent=" " * indent + lead,
                subsequent_indent=" " * (indent + len(prefix)),
                break_long_words=False,
                break_on_hyphens=False,
            )
            or [" " * indent + lead.rstrip()]
        )
    return lines


def _buttons(message: dict[str, Any]) -> str:
    captions = [
        str(element.get("text", {}).get("text", ""))
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for element in block.get("elements") or []
        if element.get("type") == "button"
    ]
    return "  ".join(f"[ {c} ]" for c in captions if c)


def _webhooks(d: Demo, base_url: str) -> None:
    """Wati webhooks: the message is in Slack at once, polling only checks behind them."""
    d.echo("\n9. Wati webhooks are set up for the sales number")
    url = webhook_url(base_url, d.bridge.webhooks.token, NUMBER_SALES)
    d.sandbox.webhooks.add(url, NUMBER_SALES, list(EVENT_TYPES))  # as pasted into Wati
    d.sandbox.customer_says(NUMBER_SALES, BO, "Is the blue one in stock?")
    d.step(
        "the first webhook polls Bo's chat at once and proves webhook ids are history ids",
        lambda: d.bridge.webhooks.trust.ids_match() and d.thread_has(SALES, BO, "blue one"),
    )
    said = time.monotonic()
    message = d.sandbox.customer_says(NUMBER_SALES, BO, "I'd take two, please.")
    arrived = d.step(
        "the next message comes straight from the webhook",
        lambda: d.thread_has(SALES, BO, "take two") and _relayed_by_webhook(d, message),
    )
    took = time.monotonic() - said
    d.step(f"…in Slack {took:.2f} s after Bo wrote", lambda: arrived and took < 1.0)


def _relayed_by_webhook(d: Demo, wati_id: str) -> bool:
    rows = d.bridge.store.query(
        "select note from webhook_events where wati_id = ? and event_type = 'message'", [wati_id]
    )
    return bool(rows) and rows[0]["note"] == "relayed"


def _transcript(d: Demo) -> None:
    echo = d.echo
    legend = ", ".join(f":{name}: {meaning}" for name, meaning in LEGEND)
    echo("")
    for line in _wrapped("What each side saw. Marks on a reply: ", legend, 0):
        echo(line)
    for channel, name, number, customer in (
        (SUPPORT, "#support", NUMBER_SUPPORT, ANA),
        (SALES, "#sales", NUMBER_SALES, BO),
    ):
        echo(f"\n── Slack {name} (linked to {phone.display(number)})")
        parent = d.parent(channel, customer)
        if parent:
            for line in _wrapped("", str(parent.get("text") or ""), 2):
                echo(line)
            buttons = _buttons(parent)
            if buttons:
                echo(f"  {buttons}")
        for message in d.thread(channel, customer):
            who = "bridge" if message.get("bot_id") else NAMES.get(message.get("user", ""), "?")
            marks = " ".join(
                emoji.emojize(f":{r}:", language="alias")
                for r in d.slack.reactions(channel, message["ts"])
            )
            text = str(message.get("text") or "") + (f"  {marks}" if marks else "")
            for line in _wrapped(f"[{who}] ", text, 4):
                echo(line)
        echo(f"── WhatsApp {phone.display(customer)} ⇄ {phone.display(number)}")
        for item in d.sandbox.messages(number, customer):
            if item.get("eventType") == "ticket":
                continue
            # As on live Wati: only a message row with `owner: false` is the customer's.
            customer_said = item.get("eventType") == "message" and item.get("owner") is False
            arrow = "customer → " if customer_said else "business → "
            text = str(item.get("text") or item.get("finalText") or "")
            for line in _wrapped(arrow, f"{text} ({item.get('statusString')})", 4):
                echo(line)
    _status(d)


def _status(d: Demo) -> None:
    """What `/wati status` answers in #support (shown, not a step: the loop is done by now)."""
    before = len(d.slack.responses)
    d.command(SUPPORT, ADMIN, "status")
    try:
        d.slack.wait_for(lambda s: len(s.responses) > before, STEP_TIMEOUT)
    except TimeoutError:
        d.echo("\n(/wati status gave no answer)")
        return
    d.echo("\n── /wati status in #support (only the caller sees it)")
    for line in str(d.slack.responses[-1].get("text") or "").splitlines():
        for wrapped in _wrapped("", line, 2):
            d.echo(wrapped)


def main(*, quiet: bool = False, echo: Callable[[str], None] = print) -> int:
    """Run the demo; 0 when every step happened."""
    started = time.monotonic()
    say = (lambda _line: None) if quiet else echo
    clock = ShiftedClock()
    with tempfile.TemporaryDirectory(prefix="wati-bridge-demo-") as tmp:
        sandbox = Sandbox(
            Path(tmp) / "sandbox.db",
            channels=(NUMBER_SUPPORT, NUMBER_SALES),
            clock=clock,
            status_delays=(0.5, 1.0),
        ).start()
        slack = SlackStandIn()
        slack.add_user(ADMIN, name="ada", real_name="Ada Admin", is_admin=True)
        slack.add_user(AGENT, name="sam", real_name="Sam Agent")
        slack.add_channel(SUPPORT, "support", members=[ADMIN, AGENT])
        slack.add_channel(SALES, "sales", members=[ADMIN, AGENT])
        slack.start()
        settings = Settings.from_env(
            {
                "SLACK_BOT_TOKEN": slack.bot_token,
                "SLACK_APP_TOKEN": slack.app_token,
                "SLACK_API_URL": slack.api_url,
                "WATI_API_ENDPOINT": sandbox.api_endpoint,
                "WATI_ACCESS_TOKEN": sandbox.token,
                "BRIDGE_DB": str(Path(tmp) / "bridge.db"),
                "BRIDGE_POLL_SECONDS": "1",
                "BRIDGE_WATI_MONTHLY_CALLS": "200000",
            }
        )
        bridge = build(settings, clock=clock, slack_min_interval=0.2)
        base_url, server = _serve(bridge)
        bridge.start_jobs(tick=0.25)
        link = bridge.socket
        assert link is not None  # the demo runs in Socket Mode
        link.open()
        driver = SlackDriver(SECRET, response_url_factory=slack.response_url)
        demo = Demo(sandbox, slack, bridge, driver, clock, say)
        say("wati-bridge demo: a sandbox Wati, a Slack stand-in and the bridge, all on loopback")
        try:
            _script(demo, base_url)
            _webhooks(demo, base_url)
            _transcript(demo)
        finally:
            link.close()
            server.should_exit = True
            bridge.shutdown()
            slack.stop()
            sandbox.stop()
    passed = sum(ok for _, ok in demo.results)
    failed = [title for title, ok in demo.results if not ok]
    echo(f"\n{passed} of {len(demo.results)} steps happened in {time.monotonic() - started:.1f} s")
    for title in failed:
        echo(f"  missing: {title}")
    return 0 if not failed else 1
