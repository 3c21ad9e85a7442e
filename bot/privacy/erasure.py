"""Erasing customers: plan (one transaction that also deletes the rows), then clean Slack.

Crash-safe by construction: the plan and the deletion of every row are one SQLite transaction
(all or nothing); the Slack clean-up is journaled per thread (`erasure_posts`), each thread
read back from Slack and marked done after it is clean. Whoever holds the database's lock
finishes what is left: `wati-bridge forget` when no bridge runs, else the bridge's privacy job
(the command then waits for it), so two processes never clean the same thread at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError

from bot.privacy.cleanup import SlackCleanup
from bot.privacy.identify import Customer, find_chats
from bot.store import Store
from bot.store.privacy import ChatKey

logger = logging.getLogger(__name__)

PASSING = {"ratelimited", "invalid_auth", "token_revoked", "account_inactive", "internal_error"}
NOT_ERASED = (
    "Wati's own copy of the conversation (Wati has no delete call: erase the contact in "
    "Wati's dashboard)",
    "backups of the bridge's database made before now (they keep what they held)",
)


@dataclass
class Report:
    """What an erasure erased, and what it could not."""

    erasure_id: int
    label: str
    counts: dict[str, int]
    finished: bool
    threads: int = 0
    deleted: int = 0
    neutralised: int = 0
    kept: list[str] = field(default_factory=list)
    unreachable: int = 0
    failed: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report in plain sentences (the CLI prints them; Slack shows them)."""
        erased = ", ".join(f"{n} {what}" for what, n in sorted(self.counts.items())) or "nothing"
        out = [f"Erased {self.label}: {erased}."]
        out.append(
            f"Slack: {self.deleted} of the bridge's posts deleted"
            + (
                f", {self.neutralised} overwritten (Slack refused the delete)"
                if self.neutralised
                else ""
            )
            + f", in {self.threads} thread(s)."
        )
        if not self.finished:
            out.append("Slack clean-up is not finished yet; it goes on in the background.")
        if self.unreachable:
            out.append(f"{self.unreachable} thread(s) were out of the bot's reach (channel gone?).")
        out.extend(f"Slack clean-up failed once: {error}." for error in self.failed)
        out.append("Not erased:")
        if self.kept:
            out.append(
                f"- {len(self.kept)} teammate message(s), which a bot cannot delete "
                "(delete them in Slack):"
            )
            out.extend(f"  {link}" for link in self.kept)
        out.extend(f"- {what}" for what in NOT_ERASED)
        return out


class Eraser:
    """Plans erasures and finishes their Slack clean-up, one runner at a time per process."""

    def __init__(self, *, store: Store, cleanup: SlackCleanup) -> None:
        self.store = store
        self.cleanup = cleanup
        self._running = threading.Lock()

    def chats(self, customer: Customer) -> list[ChatKey]:
        """The customer's chats on every number (what `forget` would erase)."""
        return find_chats(self.store, customer)

    def forget(self, customer: Customer, *, by: str | None) -> int | None:
        """Erase one customer's rows on every number; the erasure's id, None when unknown."""
        keys = find_chats(self.store, customer)
        if not keys:
            return None
        erasure_id = self.store.plan_erasure(
            keys, kind="customer", label="one customer", requested_by=by, whole_customer=True
        )
        logger.info("erasure %d planned: one customer, %d conversation(s)", erasure_id, len(keys))
        return erasure_id

    def expire(self, keys: Sequence[ChatKey], *, days: float) -> int:
        """Erase these quiet conversations (retention)."""
        erasure_id = self.store.plan_erasure(
            keys,
            kind="retention",
            label=f"{len(keys)} conversation(s) quiet for over {days:g} days",
            requested_by=None,
            whole_customer=False,
        )
        logger.info("erasure %d planned: %d quiet conversation(s)", erasure_id, len(keys))
        return erasure_id

    def finish(self, *, wait: bool = True) -> int:
        """Clean Slack for every unfinished erasure; how many erasures it finished.

        `wait=False` (the scheduler's tick) skips the round when another thread is at it.
        """
        if not self._running.acquire(blocking=wait):
            return 0
        try:
            done = 0
            for erasure in self.store.unfinished_erasures():
                for post in self.store.erasure_posts(erasure.id):
                    if post.state == "done":
                        continue
                    try:
                        outcome = self.cleanup.clean(post.slack_channel_id, post.ts)
                    except SlackApiError as exc:
                        # A refusal a later run would meet again is reported, never retried
                        # forever; a passing one (limits, a token being fixed) and connection
                        # errors propagate, and the next run tries the thread again.
                        error = str(exc.response.get("error") or "error")
                        if error in PASSING:
                            raise
                        outcome = {"failed": error}
                    self.store.finish_post(post, outcome)
                if self.store.finish_erasure(erasure.id):
                    logger.info("erasure %d finished", erasure.id)
                    done += 1
            return done
        finally:
            self._running.release()

    def report(self, erasure_id: int) -> Report:
        """What the erasure did so far."""
        erasure = self.store.erasure(erasure_id)
        if erasure is None:
            raise KeyError(erasure_id)
        report = Report(erasure.id, erasure.label, erasure.counts, erasure.state == "done")
        for post in self.store.erasure_posts(erasure_id):
            report.threads += 1
            result = post.result
            report.deleted += int(result.get("deleted", 0))
            report.neutralised += int(result.get("neutralised", 0))
            report.kept.extend(str(link) for link in result.get("kept", []))
            report.unreachable += 1 if result.get("unreachable") else 0
            if result.get("failed"):
                report.failed.append(str(result["failed"]))
        return report
