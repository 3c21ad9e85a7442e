"""What a reply looks like on WhatsApp: its Slack mrkdwn as WhatsApp text, cut into the parts
that are sent one by one, and its files fetched from Slack to go with them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bot.slack.reader import MAX_FILE_BYTES, DownloadRefused, SlackNames, download_file
from bot.store.outbox import Job
from bot.text.formatting import slack_to_whatsapp, split_text, with_agent_prefix

CAPTION_LIMIT = 1024  # longer text goes as messages before the files, not as a caption


@dataclass(frozen=True)
class Piece:
    """One part of a reply as it goes out: a text chunk, or a file with its caption."""

    kind: str
    text: str
    file: Mapping[str, Any] | None = None


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
        """The parts of a prepared reply, in sending order."""
        files: list[Mapping[str, Any]] = json.loads(job.files) if job.files else []
        chunks = [Piece("text", chunk) for chunk in split_text(job.body)]
        if not files:
            return chunks
        if len(job.body) <= CAPTION_LIMIT:
            return [Piece("file", job.body if i == 0 else "", f) for i, f in enumerate(files)]
        return [*chunks, *(Piece("file", "", f) for f in files)]

    def download(self, file: Mapping[str, Any]) -> tuple[bytes, str]:
        """A file's bytes and content type from Slack; DownloadRefused says why not."""
        url = file.get("url")
        if not url:
            raise DownloadRefused("Slack gave no download link for it")
        if int(file.get("size") or 0) > MAX_FILE_BYTES:
            raise DownloadRefused(f"it is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        content, content_type = download_file(str(url), self.token, api_host=self._api_host)
        if content_type in ("", "application/octet-stream") and file.get("mimetype"):
            content_type = str(file["mimetype"])
        return content, content_type


def file_name(file: Mapping[str, Any]) -> str:
    """The name a file goes to WhatsApp under."""
    return str(file.get("name") or "file")
