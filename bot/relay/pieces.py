"""What a reply looks like on WhatsApp: its Slack mrkdwn as WhatsApp text, cut into the parts
that are sent one by one, and its files fetched from Slack to go with them.

The customer sees each file under its own name: Wati's `caption` is what WhatsApp shows as a
document's name (without it the phone says "null" or "untitled", wati-recorded.md §6.2), so
a reply's text goes first as messages of its own and each file follows with its name as the
caption, in the order they were shared.

Voice notes: a Slack audio clip, or an audio file shared with `:microphone:` in the reply's
text, goes as a WhatsApp voice note — converted to Ogg/Opus (`bot.audio.voice`) and sent with
Wati's voice flag. When the conversion fails, the file goes as it is and the thread says so.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bot.audio.voice import CONTENT_TYPE, NotAudio, to_voice_note
from bot.slack.reader import MAX_FILE_BYTES, DownloadRefused, SlackNames, download_file
from bot.store.outbox import Job
from bot.text.formatting import slack_to_whatsapp, split_text, with_agent_prefix

logger = logging.getLogger(__name__)

VOICE_MARK = ":microphone:"  # 🎤 in the reply's text: its audio files go as voice notes


@dataclass(frozen=True)
class Piece:
    """One part of a reply as it goes out: a text chunk, or a file with its caption."""

    kind: str
    text: str
    file: Mapping[str, Any] | None = None
    voice: bool = False


@dataclass(frozen=True)
class Attachment:
    """A file ready for sendSessionFile; `note` says what the thread should be told."""

    content: bytes
    content_type: str
    filename: str
    voice: bool
    note: str | None = None


class Composer:
    """Turns an outbox reply into the pieces `Sender` sends."""

    def __init__(
        self, *, names: SlackNames, agent_prefix: bool, token: str, slack_api_url: str
    ) -> None:
        self.names = names
        self.agent_prefix = agent_prefix
        self.token = token  # the bot token: Slack's private file links need it
        self._api_host = urlsplit(slack_api_url).hostname

    def whatsapp_text(self, job: Job) -> str:
        """Slack mrkdwn → WhatsApp text (mentions, links, emoji), plus the agent's name if set."""
        text = slack_to_whatsapp(
            job.body, resolve_user=self.names.user, resolve_channel=self.names.channel
        ).strip()
        if text and self.agent_prefix:
            text = with_agent_prefix(text, self.names.person(job.user_id))
        return text

    def plan(self, job: Job) -> list[Piece]:
        """The parts of a prepared reply, in sending order (see `plan`); a template or the
        rating question is one."""
        if job.template is not None:
            return [Piece("template", job.body)]
        if job.question is not None:  # the way it goes is picked when it is sent
            return [Piece("question", job.body)]
        return plan(job.body, job.files)

    def download(self, piece: Piece) -> Attachment:
        """A file's bytes from Slack (as a voice note when asked); DownloadRefused says why not."""
        file = piece.file
        assert file is not None
        url = file.get("url")
        if not url:
            raise DownloadRefused("Slack gave no download link for it")
        if int(file.get("size") or 0) > MAX_FILE_BYTES:
            raise DownloadRefused(f"it is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        content, content_type = download_file(str(url), self.token, api_host=self._api_host)
        if content_type in ("", "application/octet-stream") and file.get("mimetype"):
            content_type = str(file["mimetype"])
        name = file_name(file)
        if not piece.voice:
            return Attachment(content, content_type, name, voice=False)
        try:
            note = to_voice_note(content)
        except NotAudio as exc:
            logger.warning("audio clip not converted to a voice note (%s): sent as a file", exc)
            told = f"{name} could not be turned into a voice note, so it was sent as a file."
            return Attachment(content, content_type, name, voice=False, note=told)
        stem = name.rsplit(".", 1)[0] if "." in name else name
        return Attachment(note, CONTENT_TYPE, f"{stem}.ogg", voice=True)


def plan(body: str, files_json: str | None) -> list[Piece]:
    """A reply's parts in order: its text (in chunks), then each file under its name."""
    files: list[Mapping[str, Any]] = json.loads(files_json) if files_json else []
    marked = VOICE_MARK in body or "🎤" in body
    if files and marked:
        body = body.replace(VOICE_MARK, "").replace("🎤", "").strip()
    pieces = [Piece("text", chunk) for chunk in split_text(body)] if body.strip() else []
    for file in files:
        audio = str(file.get("mimetype") or "").startswith("audio/")
        voice = bool(file.get("clip")) or (marked and audio)
        pieces.append(Piece("file", file_name(file), file, voice=voice))
    return pieces


def file_name(file: Mapping[str, Any]) -> str:
    """The name a file goes to WhatsApp under."""
    return str(file.get("name") or "file")
