"""Customers' files reach their threads through the real bridge (`python -m bot run`), in HTTP
mode and Socket Mode, against a sandbox that answers media as live tenants do: every kind in
order with the text around it, and each failure (a 500, error pages, expiry, a webhook URL
answering 401, an upload Slack refuses for good, a kill mid-upload) with nothing lost, nothing
twice and nothing stuck behind it.

Customers are new to the bridge, so their messages come through the webhook (which carries
the showFile URL and the WhatsApp message id) and the chat's polls after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from bot.devtools.harness.traffic import thread_parents
from bot.devtools.harness.world import MODES, NUMBER_A, SLACK_A, World, wait_until

TOKEN = "reliability-media-webhook-token-4e5f6a"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF receipt " + bytes(range(256)) * 40
PNG = b"\x89PNG\r\n\x1a\n sticker " + bytes(range(256)) * 8
MP4 = b"\x00\x00\x00\x18ftypmp42 clip " + bytes(range(256)) * 90
MP3 = b"ID3\x03 song " + bytes(range(256)) * 30
OGG = b"OggS\x00\x02 voice note " + bytes(range(256)) * 20
PDF = b"%PDF-1.4 invoice 2041 " + bytes(range(256)) * 50
WARM_UP = "447700900199"  # the first customer, whose message proves webhook ids
WAIT = 60.0  # generous: nine engineers share two cores


@pytest.fixture(scope="module", params=MODES)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with World(tmp_path_factory.mktemp(f"media-{request.param}"), mode=request.param) as w:
        w.extra_env = {"BRIDGE_PUBLIC_URL": w.base_url, "WATI_WEBHOOK_TOKEN": TOKEN}
        w.prepare(())
        w.sandbox.webhooks.channel_in_payload = 1.0
        w.start_bridge()
        wait_until(lambda: len(w.sandbox.webhooks.hooks) == 2, WAIT, "webhooks registered")
        # Until a webhook's id has been seen in a history, webhooks only wake polls: a first
        # customer's message proves it, as on a new install (whatever test runs first).
        w.sandbox.customer_says(NUMBER_A, WARM_UP, "Hello")
        wait_until(lambda: w.webhook_ids_proven(), WAIT, "webhook ids proven to be history ids")
        yield w


def _thread(world: World, customer: str) -> list[dict[str, Any]]:
    """The customer's thread replies (files and texts), oldest first."""
    for parent in thread_parents(world.slack, SLACK_A):
        payload = parent["metadata"].get("event_payload") or {}
        if payload.get("customer_number") == customer:
            return world.slack.replies(SLACK_A, parent["ts"])[1:]
    return []


def _shown(message: dict[str, Any]) -> str:
    files = message.get("files") or []
    return f"file:{files[0]['name']}" if files else f"text:{message.get('text', '')}"


def _wait_for(world: World, customer: str, count: int) -> list[dict[str, Any]]:
    wait_until(
        lambda: len(_thread(world, customer)) >= count,
        WAIT,
        lambda: (
            f"{count} posts in the thread; have {[_shown(m) for m in _thread(world, customer)]}"
        ),
    )
    return _thread(world, customer)


@contextmanager
def _polled_only(world: World, customer: str) -> Iterator[None]:
    """Messages sent inside reach the bridge by its poll alone, all in one read (webhooks
    miss messages on live tenants too): the order in the thread is then the bridge's own."""
    hooks = list(world.sandbox.webhooks.hooks)
    world.sandbox.webhooks.hooks.clear()
    try:
        yield
    finally:
        world.sandbox.webhooks.hooks.extend(hooks)
    world.known_chat(NUMBER_A, customer)


def _calls(world: World, endpoint: str) -> int:
    return world.sandbox.state.calls(endpoint)


def test_every_kind_arrives_in_order_with_its_caption(world: World) -> None:
    sb, customer = world.sandbox, "447700900201"
    with _polled_only(world, customer):
        sb.customer_says(NUMBER_A, customer, "Hello, files follow", name="Fay")
        sb.customer_sends_file(
            NUMBER_A, customer, "IMG_1.jpg", JPEG, "image/jpeg", caption="receipt"
        )
        sb.customer_sends_file(NUMBER_A, customer, "clip.mp4", MP4, "video/mp4", caption="the box")
        sb.customer_sends_file(NUMBER_A, customer, "song.mp3", MP3, "audio/mpeg")
        sb.customer_sends_file(NUMBER_A, customer, "PTT-1.ogg", OGG, "audio/ogg", kind="voice")
        sb.customer_sends_file(NUMBER_A, customer, "Invoice-2041.pdf", PDF, "application/pdf")
        sb.customer_sends_file(NUMBER_A, customer, "s.webp", PNG, "image/webp", kind="sticker")
        sb.customer_says(NUMBER_A, customer, "", type="poll_v9")
        sb.customer_says(NUMBER_A, customer, "That is all")
    posts = _wait_for(world, customer, 9)
    shown = [_shown(m) for m in posts]
    assert shown[0] == "text:Hello, files follow" and shown[-1] == "text:That is all"
    assert shown[1:7] == [
        "file:image.jpg",
        "file:video.mp4",
        "file:audio.mp3",
        "file:voice.ogg",
        "file:Invoice-2041.pdf",  # the document's own name, not Wati's id
        "file:sticker.webp",
    ]
    assert "receipt" in posts[1]["text"] and "the box" in posts[2]["text"]
    assert "voice message" in posts[4]["text"]
    assert "unsupported message type: poll_v9" in posts[7]["text"]
    for post, content in zip(posts[1:7], (JPEG, MP4, MP3, OGG, PDF, PNG), strict=True):
        assert world.slack.file_content(post["files"][0]["id"]) == content
    assert len(_thread(world, customer)) == 9  # nothing twice


@pytest.mark.parametrize(
    ("customer", "faults"),
    [("447700900211", ("500", "error_page")), ("447700900212", ("error_json", "500"))],
)
def test_a_passing_download_failure_is_retried_while_later_messages_go_on(
    world: World, customer: str, faults: tuple[str, ...]
) -> None:
    sb = world.sandbox
    for kind in faults:
        sb.faults.inject("getMedia", kind, 1)
    with _polled_only(world, customer):
        sb.customer_sends_file(NUMBER_A, customer, "IMG_2.jpg", JPEG, "image/jpeg", caption="photo")
        sb.customer_says(NUMBER_A, customer, "Did you get my photo?")
    posts = _wait_for(world, customer, 2)
    shown = [_shown(m) for m in posts]
    assert shown == ["text:Did you get my photo?", "file:image.jpg"], shown
    assert "late" in posts[1]["text"] and "photo" in posts[1]["text"]
    assert world.slack.file_content(posts[1]["files"][0]["id"]) == JPEG
    assert sb.faults.pending() == []


def test_expired_media_is_a_notice_and_never_retried(world: World) -> None:
    sb, customer = world.sandbox, "447700900230"
    path = sb.add_media("old.jpg", JPEG, "image/jpeg")
    sb.state.expire_media(path)
    before = _calls(world, "getMedia")
    with _polled_only(world, customer):
        sb.customer_says(NUMBER_A, customer, "an old photo", type="image", data=path)
        sb.customer_says(NUMBER_A, customer, "and a text after it")
    posts = _wait_for(world, customer, 2)
    assert "no longer available in Wati" in posts[0]["text"] and "an old photo" in posts[0]["text"]
    assert _shown(posts[1]) == "text:and a text after it"
    sb.customer_says(NUMBER_A, customer, "one more")
    _wait_for(world, customer, 3)
    assert _calls(world, "getMedia") - before == 1  # no retry loop


def test_webhook_url_401_falls_back_to_v3_by_id_then_the_whatsapp_id(world: World) -> None:
    """Only webhook bodies carry the WhatsApp id, so the file must come by its webhook: a new
    customer, with the new-contact event (which wakes a poll) held back for this test, and
    their history refused meanwhile (a poll that read it before the webhook came, after a
    contacts look or a wake, would take the file from there instead)."""
    sb, customer = world.sandbox, "447700900240"
    hooks = list(sb.webhooks.hooks)
    kept = {id(h): list(h.event_types) for h in hooks}
    for hook in hooks:
        hook.event_types = [e for e in hook.event_types if "newcontact" not in e.lower()]
    try:
        sb.faults.inject("getMessages", "500", 10_000, target=customer)
        sb.faults.inject("showFile", "401", 1)
        sb.faults.inject("messageFile", "404", 1)
        before = _calls(world, "messageFile")
        sb.customer_sends_file(NUMBER_A, customer, "Contract.pdf", PDF, "application/pdf")
        [post] = _wait_for(world, customer, 1)
    finally:
        for hook in hooks:
            hook.event_types = kept[id(hook)]
        unused = [f for f in sb.faults.pending() if f["endpoint"] != "getMessages"]
        sb.faults.clear()
    assert unused == []
    assert _shown(post) == "file:Contract.pdf"
    assert world.slack.file_content(post["files"][0]["id"]) == PDF
    assert _calls(world, "messageFile") - before == 2  # Wati's id (404), then the WhatsApp id
    assert world.bridge is not None and world.bridge.wait_healthy(WAIT)  # no token trouble


def test_an_upload_slack_refuses_for_good_is_a_notice_and_the_thread_moves_on(
    world: World,
) -> None:
    sb, customer = world.sandbox, "447700900250"
    world.slack.refuse_uploads("file_uploads_except_images_disabled")
    try:
        before = len(world.slack.calls_to("files.completeUploadExternal"))
        with _polled_only(world, customer):
            sb.customer_sends_file(NUMBER_A, customer, "Report.pdf", PDF, "application/pdf")
            sb.customer_sends_file(NUMBER_A, customer, "IMG_3.jpg", JPEG, "image/jpeg")
            sb.customer_says(NUMBER_A, customer, "and two texts")
            sb.customer_says(NUMBER_A, customer, "right after")
        posts = _wait_for(world, customer, 4)
    finally:
        world.slack.refuse_uploads(None)
    notice = posts[0]["text"]
    assert "file_uploads_except_images_disabled" in notice and "Wati" in notice
    assert [_shown(m) for m in posts[1:]] == [
        "file:image.jpg",
        "text:and two texts",
        "text:right after",
    ]
    assert len(world.slack.calls_to("files.completeUploadExternal")) - before == 2  # once each


def test_killed_mid_upload_the_file_is_posted_once(world: World) -> None:
    sb, customer = world.sandbox, "447700900260"
    hold = world.slack.hold_next("files.completeUploadExternal", applied=True)
    sb.customer_sends_file(NUMBER_A, customer, "IMG_4.jpg", JPEG, "image/jpeg", caption="once")
    world.kill_while_held(hold)
    world.start_bridge()
    sb.customer_says(NUMBER_A, customer, "after the restart")
    posts = _wait_for(world, customer, 2)
    wait_until(lambda: "after the restart" in _shown(_thread(world, customer)[-1]), WAIT, "text")
    shown = [_shown(m) for m in _thread(world, customer)]
    assert shown == ["file:image.jpg", "text:after the restart"], shown
    assert posts[0]["files"][0]["name"] == "image.jpg"
