"""Template broadcasts (`/wati broadcast`), the bulk sibling of the outbox.

`start` (the listener) posts the progress message and records the whole broadcast (receivers
with their values, template, broadcast name, the message's ts) in one transaction before
anything is sent, chunked CHUNK receivers per Wati sendTemplateMessages call. `process` (a
scheduled job) sends the queued chunks in order: each chunk is marked `sending` and committed
before its call, then its accepted and refused numbers are recorded. A 429 sets the broadcast's
next try time (nothing sleeps). A chunk found `sending` after a restart, or whose answer was
lost, has an unknown fate: Wati's bulk send cannot be looked up cheaply, so it is never sent
again (that could message hundreds of customers twice); its numbers are reported "not
confirmed". The progress message ends as the report; the broadcast's numbers are then dropped.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.base.clock import Clock
from bot.chatops.errors import ChatOpsError, explain
from bot.chatops.recipients import chunks, failure_lines
from bot.slack import blocks
from bot.slack.poster import SlackPoster
from bot.store import Store
from bot.store.broadcasts import Broadcast, Chunk, ChunkState, Failure, Receiver
from bot.store.links import Link
from bot.text import phone
from bot.text.formatting import escape
from bot.wati.client import WatiClient
from bot.wati.errors import WatiBadResponse, WatiError, WatiRateLimited, WatiUnavailable
from bot.wati.types import Template

logger = logging.getLogger(__name__)

CHUNK = 100  # receivers per sendTemplateMessages call
MAX_STEPS = 20  # progress updates per broadcast, at most (about): chat.update is rate-limited
RATE_WAIT = 10.0  # after a 429 without Retry-After
RETRY_WAIT = 10.0  # times the attempt number, after a connection failure (nothing sent)
MAX_ATTEMPTS = 5  # tries of one chunk (429s, connection failures) before it is failed
REPORT_WAIT = 30.0  # before the report is tried again when Slack did not take it
REPORT_TRIES = 5


def broadcast_name(template_name: str, now: datetime) -> str:
    """The label Wati files a send under in its broadcast history."""
    return f"slack_{template_name}_{now:%Y%m%d_%H%M}"[:100]


class Step(Enum):
    """How one chunk's turn ended, for the broadcast's run."""

    NEXT = "next"  # settled (done, failed or unknown): go on with the next chunk
    LATER = "later"  # the broadcast waits (next_try_at)
    LIMITED = "limited"  # a 429: the whole round stops (the limit is the tenant's)


@dataclass
class Tally:
    """How a broadcast stands: accepted, failed (given, reason) and not confirmed numbers."""

    total: int
    accepted: int = 0
    failed: list[Failure] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.accepted + len(self.failed) + len(self.unconfirmed)

    @classmethod
    def of(cls, broadcast: Broadcast, parts: list[Chunk]) -> Tally:
        tally = cls(total=broadcast.total, failed=broadcast.refused)
        for chunk in parts:
            if chunk.state == ChunkState.DONE:
                tally.accepted += chunk.accepted
                tally.failed.extend(chunk.failed())
            elif chunk.state == ChunkState.UNKNOWN:
                tally.unconfirmed.extend(number for number, _ in chunk.people())
        return tally


class Broadcasts:
    """Records broadcasts (`start`) and sends their chunks (`process`, the scheduled job)."""

    def __init__(
        self,
        *,
        store: Store,
        wati: WatiClient,
        poster: SlackPoster,
        clock: Clock,
        chunk_size: int = CHUNK,
        run_soon: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.wati = wati
        self.poster = poster
        self.clock = clock
        self.chunk_size = max(1, min(chunk_size, CHUNK))
        self._run_soon = run_soon  # brings the job forward (tests that call `process` pass none)
        self._lock = threading.Lock()
        # Building touches no chunk: only the job recovers (`process`, under its lock), so
        # nothing but the bridge that sends can mark a chunk cut short.

    def _recover(self) -> None:
        """Chunks left `sending` by a crash: their fate is unknown, and they stay unsent."""
        for chunk in self.store.chunks_in_state(ChunkState.SENDING):
            self._orphaned(chunk)

    def _orphaned(self, chunk: Chunk) -> None:
        self.store.update_chunk(chunk, state=ChunkState.UNKNOWN, error="cut short")
        logger.warning(
            "broadcast %d chunk %d was cut mid-send: not sent again, reported not confirmed",
            chunk.broadcast_id,
            chunk.seq,
        )

    # -- the listener's part ---------------------------------------------------------------------

    def start(
        self,
        link: Link,
        template: Template,
        receivers: list[Receiver],
        refused: list[Failure],
        user_id: str,
        name: str | None = None,
    ) -> int:
        """Post the progress message and record the broadcast for the job; return its id.

        Sends nothing: the job does, soon after (`run_soon`).
        """
        name = name or broadcast_name(template.name, self.clock.now())
        tally = Tally(total=len(receivers) + len(refused), failed=list(refused))
        channel = link.slack_channel_id
        heading = title(user_id, template.name, link.channel_number)
        try:
            ts = self.poster.post(channel, **progress(heading, tally, finished=False))
        except SlackApiError as exc:
            error = exc.response.get("error")
            raise ChatOpsError(
                f"The progress message could not be posted (`{error}`); nothing was sent."
            ) from exc
        broadcast_id = self.store.record_broadcast(
            slack_channel_id=channel,
            channel_number=link.channel_number,
            user_id=user_id,
            template=template.name,
            broadcast_name=name,
            progress_ts=ts,
            chunks=list(chunks(receivers, self.chunk_size)),
            refused=refused,
        )
        logger.info(
            "broadcast %d recorded by %s: %d receiver(s), %d refused before sending",
            broadcast_id,
            user_id,
            len(receivers),
            len(refused),
        )
        self._run_soon()
        return broadcast_id

    # -- the job ---------------------------------------------------------------------------------

    def process(self) -> int:
        """Send the queued chunks of open broadcasts, in order; show reports. Returns how many
        chunks were worked on."""
        with self._lock:
            # Sends only happen here, under this lock: a chunk still `sending` now was left by
            # a send that could not record its end (the database refused the write).
            self._recover()
            worked = 0
            for broadcast in self.store.open_broadcasts():
                if broadcast.next_try_at is not None and broadcast.next_try_at > self.clock():
                    continue
                step, count = self._run(broadcast)
                worked += count
                if step == Step.LIMITED:
                    break
            return worked

    def _run(self, broadcast: Broadcast) -> tuple[Step, int]:
        parts = self.store.broadcast_chunks(broadcast.id)
        every = max(1, len(parts) // MAX_STEPS)
        link = self.store.link_for_channel(broadcast.slack_channel_id)
        worked = 0
        for chunk in parts:
            if chunk.state != ChunkState.QUEUED:
                continue
            worked += 1
            if link is None or link.channel_number != broadcast.channel_number:
                number = phone.display(broadcast.channel_number)
                self._refuse(chunk, f"this channel is no longer linked to {number}")
                continue
            step = self._send(broadcast, chunk)
            if step != Step.NEXT:
                return step, worked
            if chunk.seq % every == 0:
                self._show(broadcast, finished=False)
        self._report(broadcast)
        return Step.NEXT, worked

    def _send(self, broadcast: Broadcast, chunk: Chunk) -> Step:
        attempts = chunk.attempts + 1
        self.store.update_chunk(
            chunk, state=ChunkState.SENDING, attempts=attempts, attempted_at=self.clock()
        )
        try:
            result = self.wati.send_template_messages(
                broadcast.template,
                chunk.people(),
                channel_number=broadcast.channel_number,
                broadcast_name=broadcast.broadcast_name,
            )
        except WatiRateLimited as exc:
            if attempts >= MAX_ATTEMPTS:
                return self._refuse(chunk, explain(exc))
            wait = exc.retry_after if exc.retry_after is not None else RATE_WAIT
            self._later(broadcast, chunk, wait)
            logger.warning("broadcast %d: Wati rate limit, next try in %.0f s", broadcast.id, wait)
            return Step.LIMITED
        except (WatiUnavailable, WatiBadResponse) as exc:
            if exc.maybe_sent:
                self.store.update_chunk(chunk, state=ChunkState.UNKNOWN, error=exc.reason)
                logger.warning(
                    "broadcast %d chunk %d: answer lost; not sent again, reported not confirmed",
                    broadcast.id,
                    chunk.seq,
                )
                return Step.NEXT
            if attempts >= MAX_ATTEMPTS:
                return self._refuse(chunk, explain(exc))
            self._later(broadcast, chunk, RETRY_WAIT * attempts)
            return Step.LATER
        except (WatiError, ValueError) as exc:
            return self._refuse(chunk, explain(exc))
        self.store.update_chunk(
            chunk,
            state=ChunkState.DONE,
            accepted=len(result.accepted),
            refused=len(result.failed),
            failures=json.dumps([list(f) for f in result.failed]),
            error=None,
        )
        logger.info(
            "broadcast %d chunk %d: %d accepted, %d refused",
            broadcast.id,
            chunk.seq,
            len(result.accepted),
            len(result.failed),
        )
        return Step.NEXT

    def _later(self, broadcast: Broadcast, chunk: Chunk, wait: float) -> None:
        """Nothing went (Wati said so, or was not reached): the chunk waits for its next try."""
        self.store.update_chunk(chunk, state=ChunkState.QUEUED)
        self.store.update_broadcast(broadcast.id, next_try_at=self.clock() + wait)

    def _refuse(self, chunk: Chunk, reason: str) -> Step:
        """The whole chunk failed (nothing went): each number with the reason."""
        failures = [[number, reason] for number, _ in chunk.people()]
        self.store.update_chunk(
            chunk,
            state=ChunkState.DONE,
            accepted=0,
            refused=len(failures),
            failures=json.dumps(failures),
            error=reason[:200],
        )
        logger.info("broadcast %d chunk %d failed whole", chunk.broadcast_id, chunk.seq)
        return Step.NEXT

    def _show(self, broadcast: Broadcast, *, finished: bool) -> bool:
        """Rewrite the progress message; False when Slack did not take it."""
        if broadcast.progress_ts is None:
            return True
        tally = Tally.of(broadcast, self.store.broadcast_chunks(broadcast.id))
        heading = title(broadcast.user_id, broadcast.template, broadcast.channel_number)
        message = progress(heading, tally, finished=finished, name=broadcast.broadcast_name)
        try:
            self.poster.update(broadcast.slack_channel_id, broadcast.progress_ts, **message)
        except Exception as exc:  # noqa: BLE001 - the sends matter more than the progress line
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else None
            logger.warning("broadcast %d progress not updated: %s", broadcast.id, error or exc)
            return False
        return True

    def _report(self, broadcast: Broadcast) -> None:
        """Every chunk is settled: the progress message becomes the report, then the
        broadcast is done and its numbers are dropped."""
        if not self._show(broadcast, finished=True) and broadcast.report_tries + 1 < REPORT_TRIES:
            self.store.update_broadcast(
                broadcast.id,
                report_tries=broadcast.report_tries + 1,
                next_try_at=self.clock() + REPORT_WAIT,
            )
            return
        tally = Tally.of(broadcast, self.store.broadcast_chunks(broadcast.id))
        self.store.finish_broadcast(broadcast.id)
        logger.info(
            "broadcast %d by %s finished: %d accepted, %d failed, %d not confirmed",
            broadcast.id,
            broadcast.user_id,
            tally.accepted,
            len(tally.failed),
            len(tally.unconfirmed),
        )


def title(user_id: str, template: str, channel_number: str) -> str:
    return (
        f":loudspeaker: <@{user_id}> broadcast template *{template}* from "
        f"{phone.display(channel_number)}"
    )


def progress(
    heading: str, tally: Tally, *, finished: bool, name: str | None = None
) -> dict[str, Any]:
    """The progress message while the broadcast goes, and its report once it is over."""
    counts = f"{tally.accepted:,} accepted by Wati, {len(tally.failed):,} failed"
    if tally.unconfirmed:
        counts += f", {len(tally.unconfirmed):,} not confirmed"
    counts += f" (of {tally.total:,} recipient(s))"
    if not finished:
        text = (
            f"{heading}: :hourglass_flowing_sand: {tally.done:,} of {tally.total:,} processed "
            f"— {counts}."
        )
        return blocks.notice(text)
    mark = ":white_check_mark:" if not tally.failed and not tally.unconfirmed else ":warning:"
    text = f"{heading}: {mark} finished — {counts}."
    if tally.accepted:
        text += " Delivery follows in WhatsApp."
    if tally.failed:
        text += "\n*Not sent:*\n" + failure_lines(tally.failed)
    if tally.unconfirmed:
        text += (
            f"\n*Not confirmed ({len(tally.unconfirmed):,}):* the bridge's call to Wati for these "
            "was cut short (a restart, or Wati's answer was lost), so they may or may not have "
            "got the template. They were not sent again, so that no one gets it twice"
        )
        text += (
            f"; Wati's broadcast history ({escape(name)}) shows which went:\n" if name else ":\n"
        )
        text += failure_lines([(number, "not confirmed") for number in tally.unconfirmed])
    return blocks.notice(text)
