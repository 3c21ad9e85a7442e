"""Block Kit limits: cut with an ellipsis, split into parts, and what the Slack stand-in refuses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.devtools.slack_standin.server import SlackStandIn
from bot.slack import blocks, limits, modals
from tests.kit import SLACK_A


@pytest.fixture
def web() -> Iterator[WebClient]:
    standin = SlackStandIn()
    standin.add_channel(SLACK_A, "support")
    with standin.start():
        yield WebClient(token=standin.bot_token, base_url=standin.api_url)


def refusal(call: object) -> str:
    with pytest.raises(SlackApiError) as caught:
        call()  # type: ignore[operator]
    return str(caught.value.response["error"])


def test_cut_ends_with_an_ellipsis_and_never_inside_an_escape() -> None:
    assert limits.cut("short", 10) == "short"
    cut = limits.cut("a" * 20 + " &amp; more", 23)
    assert cut.endswith("…") and len(cut) <= 23 and "&am…" not in cut


def test_split_keeps_order_and_escapes_whole() -> None:
    text = " ".join(f"<https://x.example/{k}|link {k}> &amp;" for k in range(400))
    parts = limits.split(text, 1000)
    assert len(parts) > 1 and all(len(p) <= 1000 for p in parts)
    assert " ".join(parts).split() == text.split()
    for part in parts:
        assert part.count("<") == part.count(">") and not part.rstrip().endswith("&amp")


def test_the_stand_in_refuses_what_slack_refuses(web: WebClient) -> None:
    long_section = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    assert refusal(
        lambda: web.chat_postMessage(channel=SLACK_A, text="t", blocks=long_section)
    ) == ("invalid_blocks")
    many = [{"type": "divider"}] * 51
    assert refusal(lambda: web.chat_postMessage(channel=SLACK_A, text="t", blocks=many)) == (
        "invalid_blocks"
    )
    button = {"type": "button", "text": {"type": "plain_text", "text": "b" * 76}, "action_id": "a"}
    actions = [{"type": "actions", "elements": [button]}]
    assert refusal(lambda: web.chat_postMessage(channel=SLACK_A, text="t", blocks=actions)) == (
        "invalid_blocks"
    )
    assert refusal(lambda: web.chat_postMessage(channel=SLACK_A, text="&" * 40_001)) == (
        "msg_too_long"
    )
    view = modals.notice("A title far longer than twenty-four", "hello")
    view["title"]["text"] = "A title far longer than twenty-four"
    assert refusal(lambda: web.views_publish(user_id="U1", view=view)) == "invalid_arguments"


def test_what_the_bridge_builds_passes_the_stand_in(web: WebClient) -> None:
    parent = blocks.thread_parent(
        thread_id=1,
        channel_number="15550000001",
        customer_number="447700900123",
        customer_name="Ana " * 500,
        state="open",
        status_by=None,
        window_closes=None,
        window_open=False,
    )
    web.chat_postMessage(channel=SLACK_A, **parent)
    web.chat_postMessage(channel=SLACK_A, **blocks.notice("• failure line\n" * 1000))
    for part in blocks.relayed_parts("wati1", "&lt;word&gt; " * 8000):
        web.chat_postMessage(channel=SLACK_A, **part)
    view = modals.notice("A title far longer than twenty-four", "x" * 5000)
    assert len(view["title"]["text"]) <= limits.MODAL_TITLE
