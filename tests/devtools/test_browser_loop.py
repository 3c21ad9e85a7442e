"""The whole loop seen from the customer's phone: the sandbox page in a real headless Chromium.

A customer types on the page, the running bridge relays it into Slack, a teammate replies in
the thread, and the reply shows on the page with its delivery status.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bot.devtools.harness.inproc import ManualClock
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge
from bot.slack import blocks
from tests.kit import ADMIN, AGENT, CHANNEL_A, SLACK_A

CUSTOMER = "5511912345678"
CHROMIUM = (
    os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
)
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


def _require_chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (see .ci/run)")
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    return CHROMIUM


def test_customer_types_bridge_relays_reply_shows_on_the_page(
    bridge: Bridge,
    sandbox: Sandbox,
    slack: SlackStandIn,
    driver: SlackDriver,
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    executable = _require_chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    bridge.store.link(CHANNEL_A, SLACK_A, ADMIN)
    clock.advance(1)
    bridge.start_jobs(tick=0.25)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(sandbox.url + "/")
            page.select_option("#channel", CHANNEL_A)
            page.fill("#customer", "+55 11 91234-5678")
            page.fill("#name", "Ana Lima")
            page.fill("#text", "Hello from my phone")
            page.click("#send")
            page.wait_for_selector("#messages .msg.in >> text=Hello from my phone")
            clock.advance(bridge.settings.poll_seconds)  # the next contacts look is due

            # The running bridge finds the new customer and opens a thread in Slack.
            def parent() -> dict[str, object] | None:
                for message in slack.messages(SLACK_A):
                    if (message.get("metadata") or {}).get("event_type") == blocks.THREAD_EVENT:
                        return message
                return None

            slack.wait_for(
                lambda s: (
                    (p := parent()) is not None
                    and any(
                        "Hello from my phone" in m.get("text", "")
                        for m in s.replies(SLACK_A, str(p["ts"]))
                    )
                ),
                timeout=15,
            )
            thread = parent()
            assert thread is not None and "Ana Lima" in str(thread["text"])

            # A teammate answers in the thread; the answer reaches the phone.
            event = driver.message(
                channel=SLACK_A,
                user=AGENT,
                text="Hi Ana, your order ships today",
                thread_ts=str(thread["ts"]),
            )
            slack.add_message(event, channel=SLACK_A)
            prepared = driver.event(event)
            response = prepared.dispatch(bridge.app)
            assert response.status == 200
            page.wait_for_selector(
                "#messages .msg.out >> text=your order ships today", timeout=15000
            )
            clock.advance(10)  # the sandbox moves the message on to READ
            page.wait_for_selector('#messages .msg.out[data-status="READ"]', timeout=15000)
            page.screenshot(path=str(tmp_path / "phone.png"))
        finally:
            browser.close()


def test_the_page_is_usable_at_a_phones_width(sandbox: Sandbox) -> None:
    """At 420 px nothing sticks out sideways, and the composer and the chat are full width."""
    executable = _require_chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 420, "height": 800})
            page.goto(sandbox.url + "/")
            page.select_option("#channel", CHANNEL_A)
            page.fill("#customer", "+55 11 91234-5678")
            page.fill("#text", "Hello from a small screen")
            page.click("#send")
            page.wait_for_selector("#messages .msg.in >> text=Hello from a small screen")
            assert page.evaluate("document.documentElement.scrollWidth") <= 420
            for selector in ("#messages", "#text"):
                box = page.locator(selector).bounding_box()
                assert box is not None and box["width"] >= 360, (selector, box)
            assert page.locator("#send").is_visible()
        finally:
            browser.close()
