"""A customer's file larger than Slack takes becomes a notice, and the thread goes on (in
process: the limit is lowered instead of sending a gigabyte)."""

from __future__ import annotations

from bot.devtools.harness.inproc import ManualClock
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_standin.server import SlackStandIn
from bot.service import Bridge
from tests.kit import CHANNEL_A, SLACK_A
from tests.relay.kit import CUSTOMER, open_chat


def test_a_file_over_slacks_limit_is_a_notice_and_the_thread_goes_on(
    linked: Bridge, sandbox: Sandbox, slack: SlackStandIn, clock: ManualClock
) -> None:
    # The link is stamped with the wall clock; a first test in a fresh process can start
    # the test clock seconds behind it (imports), and older messages are not relayed.
    clock.advance(30)
    thread = open_chat(linked, sandbox)
    linked.poller.inbound.media.max_bytes = 4096
    sandbox.customer_sends_file(CHANNEL_A, CUSTOMER, "big.mp4", b"\0" * 10_000, "video/mp4")
    sandbox.customer_says(CHANNEL_A, CUSTOMER, "did it arrive?")
    linked.poller.wake(CHANNEL_A, CUSTOMER)
    linked.poller.poll_number(CHANNEL_A)
    assert thread.thread_ts is not None
    posts = slack.replies(SLACK_A, thread.thread_ts)[2:]
    assert "larger than Slack takes" in posts[0]["text"] and not posts[0].get("files")
    assert posts[1]["text"].endswith("did it arrive?")
    assert slack.calls_to("files.getUploadURLExternal") == []
    assert linked.store.backlog(CHANNEL_A) == 0
