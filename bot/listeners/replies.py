"""Bolt listeners for thread replies and the Retry and Reopen and send buttons; the work is in
`bot.relay.outbound`.

Every `message` event lands here (Bolt runs only the first matching listener, so this one
also acknowledges the subtypes the bridge ignores: joins, topic changes and the like). The
reply is recorded by a listener middleware, which Bolt runs before it answers Slack: Slack
never delivers again an event it got 200 for, so a reply must be on record by then, or a crash
right after the answer would lose it. The listener then shows the first mark and kicks the
outbox; the send runs on a worker thread, never inside Slack's 3 seconds.

A reply that cannot be recorded (the disk is full, the database read-only or locked) is not
answered 200: the middleware answers 503 (HTTP mode; in Socket Mode Bolt then sends no ack),
so Slack delivers it again, and its author is told, once, that it has not gone yet and why.
Slack's retry is recorded once the database takes writes again (deduplicated like any retry).
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.chatops.services import Services
from bot.ops.health import database_problem
from bot.relay.outbound import Intake
from bot.relay.sender import QUEUED
from bot.slack import blocks

logger = logging.getLogger(__name__)

INTAKE = "wati_intake"  # context key: what the middleware made of the event
MAX_REPLY_ID = 2**63 - 1  # SQLite's largest integer; a bigger "id" cannot be a reply
TOLD_LIMIT = 10_000  # replies whose authors were told "not sent yet", remembered in memory


def record_before_answering(
    body: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    next_: Callable[[], None],
    services: Services,
    told: set[tuple[str, str]],
) -> BoltResponse | None:
    """The listener middleware: the reply is on record before Bolt answers Slack."""
    event = body.get("event")
    if isinstance(event, dict):
        try:
            context[INTAKE] = services.outbound.receive(event, event_id=body.get("event_id"))
        except sqlite3.Error as exc:
            return _not_recorded(client, event, body.get("event_id"), exc, told)
    next_()
    return None


def handle_message(
    event: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    services: Services,
) -> None:
    outbound = services.outbound
    intake = context.get(INTAKE)
    if not isinstance(intake, Intake):
        intake = outbound.receive(event, event_id=body.get("event_id"))
    outbound.acknowledge(intake)
    if intake.tell and intake.user:
        _tell(client, str(event.get("channel")), intake.user, intake.thread_ts, intake.tell)
    if intake.verdict == QUEUED:
        outbound.kick()
        if intake.reply_id is not None:
            services.desk.owners.claim_reply(intake.reply_id)  # BRIDGE_ASSIGN_ON_REPLY


def again(body: dict[str, Any], client: WebClient, services: Services, *, reopen: bool) -> None:
    """Retry, or Reopen and send: the button's value is the reply id."""
    outbound = services.outbound
    action = (body.get("actions") or [{}])[0]
    user = str((body.get("user") or {}).get("id") or "")
    channel = str((body.get("channel") or {}).get("id") or "")
    message = body.get("message") or {}
    value = action.get("value")
    digits = isinstance(value, str) and value.isascii() and value.isdigit()
    reply_id = int(value) if digits and len(value) <= 19 else 0
    if not 0 < reply_id <= MAX_REPLY_ID:
        logger.warning("%s clicked with a bad value", "Reopen" if reopen else "Retry")
        return
    queue = outbound.reopen_and_send if reopen else outbound.retry
    if not queue(reply_id, slack_channel_id=channel):
        what = "to be reopened and sent" if reopen else "for a retry"
        text = (
            f"That message is not waiting {what} here: it was already retried, reopened "
            "or sent, or it belongs to another channel."
        )
        _tell(client, channel, user, message.get("thread_ts"), text)
        return
    # The notice is rewritten before the send is kicked: a template's notice is its own note,
    # which the sender rewrites again with the outcome.
    if message.get("ts"):
        done = (
            f":arrows_counterclockwise: <@{user}> pressed Reopen and send: reopening the "
            "chat in Wati and sending the reply."
            if reopen
            # a reply's or a template's notice: the wording fits both
            else f":arrows_counterclockwise: <@{user}> pressed Retry: sending it again."
        )
        try:
            client.chat_update(channel=channel, ts=message["ts"], **blocks.notice(done))
        except SlackApiError as exc:
            logger.warning("notice not updated: %s", exc.response.get("error"))
    outbound.kick()


def handle_retry(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
    ack()
    again(body, client, services, reopen=False)


def handle_reopen_send(
    ack: Ack, body: dict[str, Any], client: WebClient, services: Services
) -> None:
    ack()
    again(body, client, services, reopen=True)


def register(app: App, services: Services) -> None:
    """Bind the message listener (with its recording middleware) and Retry and Reopen and send."""
    told: set[tuple[str, str]] = set()  # (channel, ts): authors told already (no repeats)
    record = functools.partial(record_before_answering, services=services, told=told)
    app.event("message", middleware=[record])(functools.partial(handle_message, services=services))
    app.action(blocks.RETRY)(functools.partial(handle_retry, services=services))
    app.action(blocks.REOPEN_SEND)(functools.partial(handle_reopen_send, services=services))


def _not_recorded(
    client: WebClient,
    event: dict[str, Any],
    event_id: object,
    error: sqlite3.Error,
    told: set[tuple[str, str]],
) -> BoltResponse:
    """Have Slack deliver the event again, and tell the reply's author (once) why it waits."""
    reason = database_problem(error)
    logger.warning(
        "event %s not recorded (%s): answered 503 so that Slack delivers it again",
        event_id,
        reason,
    )
    channel, user = str(event.get("channel") or ""), event.get("user")
    ts, thread_ts = str(event.get("ts") or ""), event.get("thread_ts")
    if user and thread_ts and (channel, ts) not in told:
        if len(told) >= TOLD_LIMIT:
            told.clear()
        told.add((channel, ts))
        text = (
            f":warning: Not sent yet: the bridge cannot write its database ({reason}). "
            "Slack will hand your reply to the bridge again and it goes out once the database "
            "takes writes; if it does not show :hourglass_flowing_sand: within 5 minutes, "
            "post it again."
        )
        _tell(client, channel, str(user), str(thread_ts), text)
    return BoltResponse(status=503, body="the bridge cannot record this event yet")


def _tell(client: WebClient, channel: str, user: str, thread_ts: str | None, text: str) -> None:
    """An ephemeral note for one person (best effort: it is only advice)."""
    try:
        client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, text=text)
    except SlackApiError as exc:
        logger.warning("ephemeral to %s not posted: %s", user, exc.response.get("error"))
