"""The parts of a reply with files, and a voice note's bytes."""

from __future__ import annotations

import io
import json
import math
import struct
import wave

import av
import pytest

from bot.audio.voice import NotAudio, is_ogg_opus, to_voice_note
from bot.relay.pieces import plan


def _wav(rate: int = 44_100, channels: int = 2, seconds: float = 0.5) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        sample = struct.Struct("<" + "h" * channels)
        frames = (
            sample.pack(*[int(8000 * math.sin(i / 15))] * channels)
            for i in range(int(rate * seconds))
        )
        out.writeframes(b"".join(frames))
    return buf.getvalue()


def _files(*files: dict[str, object]) -> str:
    return json.dumps(list(files))


def test_text_first_then_each_file_named_by_its_caption() -> None:
    pieces = plan("Here it is", _files({"name": "a.pdf"}, {"name": "b.jpg"}))
    assert [(p.kind, p.text, p.voice) for p in pieces] == [
        ("text", "Here it is", False),
        ("file", "a.pdf", False),
        ("file", "b.jpg", False),
    ]
    assert [p.kind for p in plan("", _files({"name": "a.pdf"}))] == ["file"]


def test_clips_and_marked_audio_go_as_voice_notes() -> None:
    clip = {"name": "audio_message.webm", "mimetype": "audio/webm", "clip": True}
    song = {"name": "song.mp3", "mimetype": "audio/mpeg"}
    doc = {"name": "a.pdf", "mimetype": "application/pdf"}
    assert [p.voice for p in plan("", _files(clip, song, doc))] == [True, False, False]
    marked = plan(":microphone: listen", _files(song, doc))
    assert [(p.text, p.voice) for p in marked] == [
        ("listen", False),
        ("song.mp3", True),
        ("a.pdf", False),
    ]
    assert plan(":microphone:", None)[0].text == ":microphone:"  # no files: just text


@pytest.mark.parametrize(("rate", "channels"), [(44_100, 2), (8_000, 1), (48_000, 1)])
def test_any_audio_becomes_mono_opus_at_48_khz_in_ogg(rate: int, channels: int) -> None:
    note = to_voice_note(_wav(rate, channels))
    assert is_ogg_opus(note)
    with av.open(io.BytesIO(note)) as container:
        stream = container.streams.audio[0]
        assert (stream.codec_context.name, stream.rate, stream.codec_context.channels) == (
            "opus",
            48_000,
            1,
        )


@pytest.mark.parametrize("data", [b"", b"not audio at all", b"%PDF-1.4 " * 50])
def test_what_is_not_audio_says_so(data: bytes) -> None:
    with pytest.raises(NotAudio):
        to_voice_note(data)
