"""Files shared in a conversation thread go to WhatsApp as files; Slack's sign-in page never does."""

from __future__ import annotations

import httpx
import pytest

from bot.devtools.harness.inproc import ManualClock
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_driver.driver import SlackDriver
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge
from bot.slack import blocks
from bot.slack.reader import DownloadRefused, download_file
from tests.kit import AGENT, CHANNEL_A, SLACK_A
from tests.relay.kit import job_of, notices, open_chat, say

PDF = b"%PDF-1.4 invoice 1001 " + bytes(range(256)) * 8


def test_shared_file_reaches_wati_as_a_file_named_by_its_caption(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    thread = open_chat(linked, sandbox)
    file = slack.add_file(PDF, name="invoice-1001.pdf", mimetype="application/pdf", user=AGENT)
    event = say(linked, slack, driver, thread, "Here is your invoice", files=[file])
    assert event["subtype"] == "file_share"
    linked.outbound.process()
    # The text first, then the file: Wati's caption is the name the customer's phone shows.
    said, sent = sandbox.sent_by_api(CHANNEL_A)
    assert (said["type"], said["text"]) == ("text", "Here is your invoice")
    assert sent["type"] == "document" and sent["text"] == "invoice-1001.pdf"
    stored = sandbox.state.media(sent["data"])
    assert stored is not None and stored[1] == PDF
    job = job_of(linked, SLACK_A, event["ts"])
    assert job.state == "sent" and job.wati_id == said["id"]
    assert slack.reactions(SLACK_A, event["ts"]) == ["white_check_mark"]
    # Recorded as the bridge's own: the poll after the send does not echo it into the thread.
    linked.poller.poll_number(CHANNEL_A)
    assert thread.thread_ts is not None
    assert [
        m for m in slack.replies(SLACK_A, thread.thread_ts) if m.get("files") and m.get("bot_id")
    ] == []


def test_two_files_and_a_long_text_go_in_order(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    thread = open_chat(linked, sandbox)
    one = slack.add_file(b"first", name="a.txt", mimetype="text/plain", user=AGENT)
    two = slack.add_file(PDF, name="b.pdf", mimetype="application/pdf", user=AGENT)
    text = "Details follow. " * 100  # too long for a caption: sent as a message first
    say(linked, slack, driver, thread, text, files=[one, two])
    linked.outbound.process()
    sent = sandbox.sent_by_api(CHANNEL_A)
    assert [m["type"] for m in sent] == ["text", "document", "document"]
    assert [m["text"] for m in sent] == [text.strip(), "a.txt", "b.pdf"]


def test_slack_sign_in_page_is_refused_not_forwarded(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver
) -> None:
    thread = open_chat(linked, sandbox)
    file = slack.add_file(PDF, name="secret.pdf", mimetype="application/pdf", user=AGENT)
    # A link the stand-in does not know gets Slack's HTML login page with HTTP 200.
    file["url_private_download"] = file["url_private_download"].replace(file["id"], "F0MISSING")
    event = say(linked, slack, driver, thread, "See attached", files=[file])
    linked.outbound.process()
    assert [m["type"] for m in sandbox.sent_by_api()] == ["text"]  # the file never went
    job = job_of(linked, SLACK_A, event["ts"])
    assert job.state == "failed" and "sign-in page" in (job.error or "")
    [notice] = notices(slack, thread, blocks.RETRY)
    assert "secret.pdf" in notice["text"] and "files:read" in notice["text"]


def test_file_outside_the_window_is_blocked(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, driver: SlackDriver, clock: ManualClock
) -> None:
    thread = open_chat(linked, sandbox)
    clock.advance(25 * 3600)
    file = slack.add_file(PDF, name="late.pdf", mimetype="application/pdf", user=AGENT)
    event = say(linked, slack, driver, thread, "", files=[file])
    linked.outbound.process()
    assert sandbox.sent_by_api() == []
    assert job_of(linked, SLACK_A, event["ts"]).state == "blocked"
    assert notices(slack, thread, blocks.SEND_TEMPLATE)


def test_download_sends_the_token_only_to_slack_and_caps_the_size() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"x" * 2048, headers={"Content-Type": "image/png"})

    transport = httpx.MockTransport(handler)
    with pytest.raises(DownloadRefused):
        download_file("https://evil.example/f.png", "xoxb-secret", transport=transport)
    assert seen == []
    with pytest.raises(DownloadRefused, match="larger than"):
        download_file("https://files.slack.com/f.png", "xoxb-t", limit=1024, transport=transport)
    content, content_type = download_file(
        "https://files.slack.com/f.png", "xoxb-t", transport=transport
    )
    assert content == b"x" * 2048 and content_type == "image/png"
    assert seen[-1].headers["Authorization"] == "Bearer xoxb-t"
