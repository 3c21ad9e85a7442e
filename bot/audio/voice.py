"""A teammate's audio clip as a WhatsApp voice note: Ogg with one mono Opus stream.

WhatsApp shows a voice bubble only for `audio/ogg; codecs=opus` sent with Wati's voice-note
flag (wati-recorded.md §6.2); Slack's clips are webm or mp4, uploads mp3, m4a or wav. PyAV
(FFmpeg's libraries, bundled in its wheel) decodes whatever came and encodes Opus at 48 kHz,
the rate Opus works at. Anything it cannot read raises `NotAudio`, and the caller sends the
file as it is.
"""

from __future__ import annotations

import io
import logging

import av
from av.audio.fifo import AudioFifo
from av.audio.resampler import AudioResampler

logger = logging.getLogger(__name__)

CONTENT_TYPE = "audio/ogg; codecs=opus"
RATE = 48_000
BIT_RATE = 32_000  # speech: WhatsApp's own voice notes are smaller still
MAX_SECONDS = 30 * 60  # a clip longer than this is not a voice note


class NotAudio(Exception):
    """The file could not be read as audio, or encoded as a voice note."""


def to_voice_note(data: bytes) -> bytes:
    """`data` (any audio FFmpeg reads) as Ogg/Opus, mono, 48 kHz."""
    try:
        return _convert(data)
    except NotAudio:
        raise
    except (av.FFmpegError, ValueError, OSError, IndexError) as exc:
        raise NotAudio(f"{type(exc).__name__}") from exc


def _convert(data: bytes) -> bytes:
    out = io.BytesIO()
    with av.open(io.BytesIO(data), mode="r") as source:
        if not source.streams.audio:
            raise NotAudio("no audio stream")
        with av.open(out, mode="w", format="ogg") as target:
            stream = target.add_stream("libopus", rate=RATE)
            stream.layout = "mono"
            stream.bit_rate = BIT_RATE
            resample = AudioResampler(format="s16", layout="mono", rate=RATE)
            fifo = AudioFifo()
            size = stream.codec_context.frame_size or 960
            seconds = 0.0
            for frame in source.decode(audio=0):
                seconds += frame.samples / (frame.sample_rate or RATE)
                if seconds > MAX_SECONDS:
                    raise NotAudio("longer than a voice note may be")
                for converted in resample.resample(frame):
                    fifo.write(converted)
                _drain(fifo, size, stream, target)
            for converted in resample.resample(None):
                fifo.write(converted)
            _drain(fifo, size, stream, target, partial=True)
            for packet in stream.encode(None):
                target.mux(packet)
            if seconds == 0:
                raise NotAudio("no sound in it")
    return out.getvalue()


def _drain(
    fifo: AudioFifo,
    size: int,
    stream: av.audio.stream.AudioStream,
    target: av.container.OutputContainer,
    *,
    partial: bool = False,
) -> None:
    """Encode the FIFO's samples in the encoder's frame size (the last one short at the end)."""
    while fifo.samples >= size or (partial and fifo.samples):
        frame = fifo.read(min(size, fifo.samples))
        if frame is None:
            return
        for packet in stream.encode(frame):
            target.mux(packet)


def is_ogg_opus(data: bytes) -> bool:
    """Whether `data` starts as an Ogg stream whose first packet is an Opus header."""
    return data[:4] == b"OggS" and b"OpusHead" in data[:128]
