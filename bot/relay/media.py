"""A customer's file, from Wati into the thread: never lost, never holding the thread up.

`Inbound` hands each media message here. The file is streamed from Wati into a temporary file
and from there into Slack (`bot.wati.media`, `bot.slack.uploads`), so a large video is never
held whole in memory. What can happen:

- Wati fails for now (5xx, a timeout, an error page with HTTP 200, a 429): the message waits
  in state `media_wait` and is tried again with a doubling pause (`BACKOFF`, at most
  `MAX_TRIES` downloads), while the chat's later messages go on to Slack. When the file comes,
  it is posted marked as late if a later message passed it.
- Wati no longer holds it (HTTP 400, code 5004), it is too large for Slack, the tries ran out,
  or Slack refuses the upload for good: the result says why, and `Inbound` posts its notice
  in the file's place (the same notice as for a refused text), so the thread moves on.

Exactly once: the Slack file id is recorded before the share; after a crash, Slack is asked
whether that file is already in the channel before anything is uploaded again.
"""

from __future__ import annotations

import logging
import mimetypes
import tempfile
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from bot.base.clock import Clock
from bot.slack import limits
from bot.slack.poster import SlackPoster, refusal_of
from bot.store import Store
from bot.store.messages import LoggedMessage
from bot.text.rendering import RenderedItem
from bot.wati.client import WatiClient
from bot.wati.errors import (
    WatiAuthError,
    WatiBadResponse,
    WatiError,
    WatiRateLimited,
    WatiUnavailable,
)
from bot.wati.media import MediaExpired, MediaRef, MediaTooLarge
from bot.wati.types import WatiMessage, opt_str

logger = logging.getLogger(__name__)

BACKOFF = 5.0  # seconds before the second download; doubled for each one after it
MAX_BACKOFF = 600.0
MAX_TRIES = 8  # downloads of one file before it is given up (about 20 minutes of tries)
SPOOL = 1024 * 1024  # files up to this size stay in memory; larger ones go to disk
# Answers that may be different next time (a token refusal is health's to report).
TRANSIENT = (WatiUnavailable, WatiBadResponse, WatiRateLimited, WatiAuthError)


@dataclass(frozen=True)
class Relayed:
    """How a message's file went: `waiting` for another try, or posted; `why` (with a short
    `code` for the log) when a notice must take the file's place."""

    waiting: bool = False
    why: str | None = None
    code: str | None = None


class InboundMedia:
    """Downloads a message's file from Wati and uploads it into the thread."""

    def __init__(
        self,
        *,
        store: Store,
        wati: WatiClient,
        poster: SlackPoster,
        clock: Clock,
        max_bytes: int = limits.FILE_BYTES,
    ) -> None:
        self.store = store
        self.wati = wati
        self.poster = poster
        self.clock = clock
        self.max_bytes = max_bytes

    def relay(
        self,
        *,
        channel: str,
        thread_ts: str,
        logged: LoggedMessage,
        item: WatiMessage,
        rendered: RenderedItem,
        comment: str,
    ) -> Relayed:
        """Post `item`'s file into the thread with `comment` (its caption or label)."""
        assert rendered.media_path is not None
        if logged.slack_file_id and self.poster.file_shared(logged.slack_file_id, channel):
            return Relayed()  # shared before a crash: nothing to do again
        # Webhook items carry the WhatsApp id (history items do not): the v3 fallback's last try.
        ref = MediaRef(rendered.media_path, item.id, opt_str(item.raw.get("whatsappMessageId")))
        with tempfile.SpooledTemporaryFile(max_size=SPOOL) as spool:
            try:
                media = self.wati.download_media(ref, spool, limit=self.max_bytes)
            except MediaExpired:
                why = "the file is no longer available in Wati (it has expired)"
                return Relayed(why=why, code="media_expired")
            except MediaTooLarge as exc:
                size = f"{exc.size / 1024**2:.0f} MB or more"
                cap = f"{self.max_bytes / 1024**2:.0f} MB"
                why = f"the file ({size}) is larger than Slack takes ({cap})"
                return Relayed(why=why, code="media_too_large")
            except TRANSIENT as exc:
                return self._later(logged, exc)
            except (WatiError, ValueError) as exc:
                reason = exc.reason if isinstance(exc, WatiError) else str(exc)
                why = f"the file could not be downloaded from Wati ({reason})"
                return Relayed(why=why, code="media_failed")
            name = _file_name(rendered, media.filename, media.content_type)
            if self.store.passed_by(logged.wati_id):
                comment = f"_(late: this file was sent before the messages above)_\n{comment}"
            try:
                self.poster.upload(
                    channel,
                    thread_ts=thread_ts,
                    file=spool,
                    size=media.size,
                    filename=name,
                    title=name,
                    comment=limits.cut(comment, limits.SECTION_TEXT).strip() or None,
                    reserved=lambda file_id: self.store.update_message(
                        logged.wati_id, slack_file_id=file_id
                    ),
                )
            except SlackApiError as exc:
                if (error := refusal_of(exc)) is None:
                    raise
                return Relayed(code=error)
        return Relayed()

    def _later(self, logged: LoggedMessage, exc: WatiError) -> Relayed:
        """Try again later (the chat's other messages go on), or give up after MAX_TRIES."""
        tries = logged.media_tries + 1
        if tries >= MAX_TRIES:
            why = f"the file could not be downloaded from Wati after {tries} tries ({exc.reason})"
            return Relayed(why=why, code="media_failed")
        wait = min(MAX_BACKOFF, BACKOFF * 2 ** (tries - 1))
        if isinstance(exc, WatiRateLimited) and exc.retry_after:
            wait = max(wait, exc.retry_after)
        self.store.update_message(
            logged.wati_id, state="media_wait", media_tries=tries, next_try_at=self.clock() + wait
        )
        logger.warning(
            "media of %s not downloaded (%s); try %d again in %.0f s",
            logged.wati_id,
            type(exc).__name__,
            tries,
            wait,
        )
        return Relayed(waiting=True)


def _file_name(rendered: RenderedItem, given: str, content_type: str) -> str:
    """A document's own name; else the kind with the extension of the file."""
    if rendered.file_name:
        return rendered.file_name
    # Other files are stored under Wati's ids (`6b16….jpg`): named by kind instead.
    ext = "." + given.rsplit(".", 1)[1].lower() if "." in given else ""
    if not ext[1:].isalnum() or len(ext) > 6:
        ext = mimetypes.guess_extension(content_type) or ""
    return f"{rendered.kind}{ext}"
