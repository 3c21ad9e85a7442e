"""The picture of the last weeks on the Home tab: the chart, uploaded to Slack once per change,
and the same figures as text beside it (for screen readers).

Drawing and uploading take seconds, so the Home tab does not wait for them: once any Home tab
has been opened, the desk job's `refresh` makes the picture of every linked number ahead of
time, recomputes the figures (a few queries) of a picture older than `ttl`, and draws and
uploads a new chart only when they changed. A Home tab showing a set of numbers with no picture
yet (the first opening after a start, a teammate in some of the channels) gets it built then,
once. A bridge whose Home tab nobody opens draws nothing and uploads nothing (each start would
otherwise leave one more chart file in the workspace), and never loads matplotlib. The chart is uploaded without a channel
(`files.getUploadURLExternal` + `files.completeUploadExternal`, as slack-sdk's
`files_upload_v2` does) and shown through an image block's `slack_file`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.base.clock import Clock
from bot.base.hours import BusinessHours
from bot.insights import week
from bot.slack import limits
from bot.store import Store
from bot.text import phone

logger = logging.getLogger(__name__)

TTL = 900.0  # seconds a picture is shown before its figures are read again (BRIDGE_CHART_MINUTES)


@dataclass(frozen=True)
class Picture:
    """A drawn picture: the figures it shows, where Slack keeps it, and when it was made."""

    key: str  # the figures as JSON
    file_id: str | None  # None when the upload failed: the text is shown alone
    lines: tuple[str, ...]
    made: float


class WeekPicture:
    """The cached chart and text for each set of numbers a Home tab shows."""

    def __init__(
        self,
        *,
        store: Store,
        client: WebClient,
        clock: Clock,
        hours: BusinessHours | None,
        ttl: float = TTL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.client = client
        self.clock = clock
        self.hours = hours
        self.ttl = ttl
        self._monotonic = monotonic
        self._pictures: dict[tuple[str, ...], Picture] = {}
        self._lock = threading.Lock()  # one drawing at a time (the desk job, a first Home open)

    def blocks(self, numbers: Sequence[str]) -> list[dict[str, Any]]:
        """The Home tab's blocks for these numbers (built now only when none exists yet)."""
        key = tuple(sorted(numbers))
        if not key:
            return []
        picture = self._pictures.get(key) or self._build(key)
        found: list[dict[str, Any]] = [
            {"type": "divider"},
            {"type": "header", "text": {"type": "plain_text", "text": "The last weeks"}},
        ]
        if picture.file_id:
            found.append(
                {
                    "type": "image",
                    "slack_file": {"id": picture.file_id},
                    "alt_text": "Chart of the figures below: conversations, first reply times "
                    "and ratings per week",
                }
            )
        found.extend(limits.section(text) for text in limits.sections(picture.lines))
        return found

    def refresh(self) -> None:
        """Rebuild the pictures older than `ttl`, and make the one of every linked number (what
        a teammate in all the channels sees) if there is none yet. The desk job calls this."""
        if not self._pictures:
            return  # no Home tab opened since the start: nobody to draw for
        links = {link.channel_number for link in self.store.links()}
        everyone = tuple(sorted(links))
        if everyone and everyone not in self._pictures:
            self._build(everyone)
        for key, picture in list(self._pictures.items()):
            if not set(key) <= links:
                self._pictures.pop(key, None)  # a number was unlinked
            elif self._monotonic() - picture.made >= self.ttl:
                self._build(key)

    def _build(self, key: tuple[str, ...]) -> Picture:
        with self._lock:
            weeks = week.figures(self.store, list(key), self.clock.now(), self.hours)
            rows = {phone.display(n): [w.summary() for w in weeks[n]] for n in key}
            text = json.dumps(rows, sort_keys=True)
            old = self._pictures.get(key)
            file_id = old.file_id if old is not None and old.key == text else None
            if file_id is None:
                from bot.insights import chart  # matplotlib: loaded only once a chart is drawn

                file_id = self._upload(chart.draw(rows))
            picture = Picture(text, file_id, tuple(_lines(rows)), self._monotonic())
            self._pictures[key] = picture
            return picture

    def _upload(self, png: bytes) -> str | None:
        try:
            answer = self.client.files_upload_v2(
                content=png, filename="last-weeks.png", title="The last weeks"
            )
        except SlackApiError as exc:
            logger.warning("week chart not uploaded: %s", exc.response.get("error"))
            return None
        file = answer.get("file") or {}
        return str(file.get("id")) if file.get("id") else None


def _lines(rows: dict[str, list[dict[str, object]]]) -> list[str]:
    """The figures in words: the last seven days, then every week's series, oldest first."""
    lines = []
    for title, weeks in rows.items():
        last = weeks[-1]
        lines.append(
            f"*{title}*, last 7 days: {last['opened']} opened, {last['resolved']} resolved · "
            f"first reply median {_minutes(last['reply_median'])}, 90th percentile "
            f"{_minutes(last['reply_p90'])} · average rating {_value(last['rating'])} "
            f"({last['ratings']} rating{'' if last['ratings'] == 1 else 's'})"
        )
        series = {
            "opened": "opened",
            "resolved": "resolved",
            "reply_median": "median first reply (min)",
            "reply_p90": "90th percentile (min)",
            "rating": "average rating",
        }
        starts = ", ".join(str(w["week"])[5:] for w in weeks)
        lines.append(f"Weeks starting {starts}:")
        for name, words in series.items():
            lines.append(f"• {words}: " + ", ".join(_value(w[name]) for w in weeks))
    return lines


def _value(value: object) -> str:
    return "–" if value is None else str(value)


def _minutes(value: object) -> str:
    return "–" if value is None else f"{value} min"
