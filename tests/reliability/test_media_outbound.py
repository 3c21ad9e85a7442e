"""Teammates' files reach the customer through the real bridge (`python -m bot run`), in HTTP
mode and Socket Mode: text and several files in one reply, in order, once, each named by its
caption; a Slack audio clip (or an audio file marked 🎤) as a WhatsApp voice note in Ogg/Opus
with the voice flag; a clip that cannot be converted as a plain file with a word in the
thread; a refused file with Retry, and the outcome reactions as for text.
"""

from __future__ import annotations

import io
import math
import struct
import wave
from collections.abc import Iterator
from typing import Any

import pytest

from bot.devtools.harness.traffic import thread_parents
from bot.devtools.harness.world import AGENT, MODES, NUMBER_A, SLACK_A, World, wait_until
from bot.slack import blocks
from bot.store import open_store

WAIT = 60.0
PDF = b"%PDF-1.4 quote 77 " + bytes(range(256)) * 30
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF shelf " + bytes(range(256)) * 20


def _wav(seconds: float = 1.5) -> bytes:
    """A spoken-length tone as a 44.1 kHz stereo WAV, as a recorder might save it."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44_100)
        frames = int(44_100 * seconds)
        out.writeframes(
            b"".join(struct.pack("<hh", int(9000 * math.sin(i / 18)), 0) for i in range(frames))
        )
    return buf.getvalue()


@pytest.fixture(scope="module", params=MODES)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with World(tmp_path_factory.mktemp(f"media-out-{request.param}"), mode=request.param) as w:
        w.prepare(())
        w.start_bridge()
        yield w


def _open_thread(world: World, customer: str) -> str:
    """The customer writes; returns the ts of their thread's parent."""
    world.known_chat(NUMBER_A, customer)
    world.sandbox.customer_says(NUMBER_A, customer, "Can you send me the quote?")

    def parent() -> str | None:
        for message in thread_parents(world.slack, SLACK_A):
            if (message["metadata"].get("event_payload") or {}).get("customer_number") == customer:
                return str(message["ts"])
        return None

    def window_open() -> bool:
        store = open_store(world.db_path)
        try:
            chat = store.chat(NUMBER_A, customer)
        finally:
            store.close()
        return chat is not None and chat.last_inbound_at is not None

    wait_until(lambda: parent() is not None, WAIT, "the customer's thread")
    wait_until(window_open, WAIT, "the poll to note the customer's message")
    found = parent()
    assert found is not None
    return found


def _reply(world: World, parent: str, text: str, files: list[dict[str, Any]]) -> str:
    """A teammate's reply with files in the thread, delivered as the mode does; its ts."""
    event = world.driver.message(
        channel=SLACK_A, user=AGENT, text=text, thread_ts=parent, files=files
    )
    world.slack.add_message(event)
    answer = world.post(world.driver.event(event))
    assert answer is not None and answer.status_code == 200
    return str(event["ts"])


def _sent_to(world: World, customer: str, count: int) -> list[dict[str, Any]]:
    def mine() -> list[dict[str, Any]]:
        return [m for m in world.sandbox.sent_by_api(NUMBER_A) if m["customer"] == customer]

    def why() -> str:
        store = open_store(world.db_path)
        try:
            rows = store.query("select id, state, error, files is not null as f from outbox", [])
        finally:
            store.close()
        tail = world.bridge.world_log_tail(15) if world.bridge else ""
        return f"{count} sends; have {mine()}; outbox {rows}; log {tail}"

    wait_until(lambda: len(mine()) >= count, WAIT, why)
    return mine()


def _file(world: World, customer: str, sent: dict[str, Any]) -> bytes:
    stored = world.sandbox.state.media(sent["data"])
    assert stored is not None
    return stored[1]


def test_text_and_several_files_go_in_order_once_named_by_caption(world: World) -> None:
    customer = "447700900301"
    parent = _open_thread(world, customer)
    pdf = world.slack.add_file(PDF, name="Quote-77.pdf", mimetype="application/pdf", user=AGENT)
    jpg = world.slack.add_file(JPEG, name="shelf.jpg", mimetype="image/jpeg", user=AGENT)
    ts = _reply(world, parent, "Here you go, the quote and a photo", [pdf, jpg])
    sent = _sent_to(world, customer, 3)
    assert [(m["type"], m["text"]) for m in sent] == [
        ("text", "Here you go, the quote and a photo"),
        ("document", "Quote-77.pdf"),
        ("image", "shelf.jpg"),
    ]
    assert _file(world, customer, sent[1]) == PDF and _file(world, customer, sent[2]) == JPEG
    wait_until(
        lambda: (
            {"white_check_mark", "ballot_box_with_check", "eyes"}
            & set(world.slack.reactions(SLACK_A, ts))
        ),
        WAIT,
        "the reply's outcome reaction",
    )
    assert len(_sent_to(world, customer, 3)) == 3  # once


@pytest.mark.parametrize(("customer", "how"), [("447700900311", "clip"), ("447700900312", "mark")])
def test_an_audio_clip_goes_as_a_voice_note_in_ogg_opus(
    world: World, customer: str, how: str
) -> None:
    parent = _open_thread(world, customer)
    if how == "clip":
        clip = world.slack.add_file(
            _wav(), name="audio_message.webm", mimetype="audio/webm", user=AGENT
        )
        clip["subtype"] = "slack_audio"  # recorded in Slack's composer
        text = ""
    else:
        clip = world.slack.add_file(_wav(), name="answer.wav", mimetype="audio/wav", user=AGENT)
        text = ":microphone:"
    _reply(world, parent, text, [clip])
    [sent] = _sent_to(world, customer, 1)
    assert sent["type"] == "voice" and sent["voiceFlag"] is True
    note = _file(world, customer, sent)
    assert note[:4] == b"OggS" and b"OpusHead" in note[:128]


def test_a_clip_that_cannot_be_converted_goes_as_a_file_and_the_thread_says_so(
    world: World,
) -> None:
    customer = "447700900321"
    parent = _open_thread(world, customer)
    clip = world.slack.add_file(
        b"\x1aE\xdf\xa3 broken", name="audio_message.webm", mimetype="audio/webm", user=AGENT
    )
    clip["subtype"] = "slack_audio"
    _reply(world, parent, "", [clip])
    [sent] = _sent_to(world, customer, 1)
    assert sent["type"] == "audio" and sent["voiceFlag"] is False
    wait_until(
        lambda: any(
            "could not be turned into a voice note" in str(m.get("text"))
            for m in world.slack.replies(SLACK_A, parent)
        ),
        WAIT,
        "the thread told",
    )


def test_a_refused_file_fails_with_retry_and_the_retry_sends_it_once(world: World) -> None:
    customer = "447700900331"
    parent = _open_thread(world, customer)
    world.sandbox.faults.inject("sendSessionFile", "reject", 1)
    pdf = world.slack.add_file(PDF, name="Quote-78.pdf", mimetype="application/pdf", user=AGENT)
    ts = _reply(world, parent, "", [pdf])
    wait_until(lambda: "x" in world.slack.reactions(SLACK_A, ts), WAIT, "the failed mark")

    def retry_notice() -> dict[str, Any] | None:
        for message in world.slack.replies(SLACK_A, parent):
            for block in message.get("blocks") or []:
                if any(e.get("action_id") == blocks.RETRY for e in block.get("elements") or []):
                    return message
        return None

    wait_until(lambda: retry_notice() is not None, WAIT, "the notice with Retry")
    notice = retry_notice()
    assert notice is not None and "Retry" in notice["text"]
    click = world.driver.block_action(
        blocks.RETRY, user_id=AGENT, channel_id=SLACK_A, message=notice
    )
    answer = world.post(click)
    assert answer is not None and answer.status_code == 200
    [sent] = _sent_to(world, customer, 1)
    assert (sent["type"], sent["text"]) == ("document", "Quote-78.pdf")
    assert _file(world, customer, sent) == PDF
