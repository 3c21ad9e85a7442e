"""Bulk operations: a template broadcast in chunks with a progress message, and bulk attributes.

Wati is sent at most CHUNK receivers per call. A chunk Wati refuses as a whole is reported as
failed for each of its numbers and the next chunk still goes; a 429 is waited out once. The
progress message (`chat.update` after each chunk) ends as the report, failures listed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.chatops.errors import ChatOpsError, explain
from bot.chatops.recipients import chunks, failure_lines
from bot.slack import blocks
from bot.slack.poster import SlackPoster
from bot.store.links import Link
from bot.text import phone
from bot.wati.client import WatiClient
from bot.wati.errors import WatiError, WatiRateLimited
from bot.wati.types import BulkSendResult, Template

logger = logging.getLogger(__name__)

CHUNK = 100
MAX_WAIT = 60.0  # longest Retry-After waited out inside one broadcast
MAX_STEPS = 20  # progress updates per broadcast, at most (about)


def broadcast_name(template_name: str, now: datetime) -> str:
    """The label Wati files a send under in its broadcast history."""
    return f"slack_{template_name}_{now:%Y%m%d_%H%M}"[:100]


@dataclass
class BulkReport:
    """How a bulk operation went: numbers accepted by Wati and (given, reason) failures."""

    total: int
    accepted: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    progress_ts: str | None = None

    @property
    def done(self) -> int:
        """Recipients dealt with so far."""
        return self.accepted + len(self.failed)


class Bulk:
    """Runs bulk Wati calls in chunks."""

    def __init__(
        self,
        *,
        wati: WatiClient,
        poster: SlackPoster,
        chunk_size: int = CHUNK,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.wati = wati
        self.poster = poster
        self.now = now
        self.chunk_size = max(1, min(chunk_size, CHUNK))
        self._sleep = sleep

    def broadcast(
        self,
        link: Link,
        template: Template,
        receivers: list[tuple[str, dict[str, str]]],
        refused: list[tuple[str, str]],
        user_id: str,
        name: str | None = None,
    ) -> BulkReport:
        """Send `template` to `receivers` from the link's number; `refused` counts as failed."""
        name = name or broadcast_name(template.name, self.now())
        report = BulkReport(total=len(receivers) + len(refused), failed=list(refused))
        title = (
            f":loudspeaker: <@{user_id}> broadcast template *{template.name}* from "
            f"{phone.display(link.channel_number)}"
        )
        channel = link.slack_channel_id
        try:
            report.progress_ts = self.poster.post(
                channel, **_progress(title, report, finished=False)
            )
        except SlackApiError as exc:
            error = exc.response.get("error")
            raise ChatOpsError(
                f"The progress message could not be posted (`{error}`); nothing was sent."
            ) from exc
        # chat.update allows about 50 calls a minute: a long broadcast shows about 20 steps.
        every = max(1, -(-len(receivers) // self.chunk_size) // MAX_STEPS)
        for index, chunk in enumerate(chunks(receivers, self.chunk_size), start=1):
            try:
                result = self._send(template, chunk, link.channel_number, name)
                report.accepted += len(result.accepted)
                report.failed.extend(result.failed)
            except WatiError as exc:
                reason = explain(exc)
                report.failed.extend((number, reason) for number, _ in chunk)
            if index % every == 0:
                self._show(channel, report.progress_ts, _progress(title, report, finished=False))
        self._show(channel, report.progress_ts, _progress(title, report, finished=True))
        logger.info(
            "broadcast by %s: %d accepted, %d failed", user_id, report.accepted, len(report.failed)
        )
        return report

    def _send(
        self,
        template: Template,
        chunk: Sequence[tuple[str, dict[str, str]]],
        channel_number: str,
        name: str,
    ) -> BulkSendResult:
        for attempt in (1, 2):
            try:
                return self.wati.send_template_messages(
                    template.name, list(chunk), channel_number=channel_number, broadcast_name=name
                )
            except WatiRateLimited as exc:
                if attempt == 2:
                    raise
                self._sleep(min(exc.retry_after or 10.0, MAX_WAIT))
        raise AssertionError("unreachable")

    def _show(self, channel: str, ts: str | None, message: dict[str, Any]) -> None:
        if ts is None:
            return
        try:
            self.poster.update(channel, ts, **message)
        except SlackApiError as exc:
            # The sends matter more than the progress line; carry on.
            logger.warning("broadcast progress not updated: %s", exc.response.get("error"))

    def update_attributes(
        self, rows: list[tuple[str, dict[str, str]]], refused: list[tuple[str, str]]
    ) -> BulkReport:
        """Set attributes on many contacts, CHUNK per call."""
        report = BulkReport(total=len(rows) + len(refused), failed=list(refused))
        for chunk in chunks(rows, self.chunk_size):
            try:
                self.wati.update_contact_attributes_for_multi_contacts(list(chunk))
                report.accepted += len(chunk)
            except (WatiError, ValueError) as exc:
                reason = explain(exc)
                report.failed.extend((number, reason) for number, _ in chunk)
        return report


def _progress(title: str, report: BulkReport, *, finished: bool) -> dict[str, Any]:
    counts = (
        f"{report.accepted:,} accepted by Wati, {len(report.failed):,} failed"
        f" (of {report.total:,} recipient(s))"
    )
    if not finished:
        text = f"{title}: :hourglass_flowing_sand: {report.done:,} of {report.total:,} processed — {counts}."
        return blocks.notice(text)
    mark = ":white_check_mark:" if not report.failed else ":warning:"
    text = f"{title}: {mark} finished — {counts}."
    if report.accepted:
        text += " Delivery follows in WhatsApp."
    if report.failed:
        text += "\n*Not sent:*\n" + failure_lines(report.failed)
    return blocks.notice(text)
