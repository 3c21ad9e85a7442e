"""`POST /wati/webhook?token=…`: check the secret, record the event, answer 200 at once.

Wati does not sign its calls: the only credential is the token in the URL, compared in constant
time. A wrong or missing token gets 403 and nothing is read or written. Wati retries any
non-2xx every 10 minutes for a day, so everything else gets 200: a malformed or oversized
body is logged (never its content) and dropped, a good one is recorded in the database before
the answer and processed afterwards by the hub. Neither the URL nor the token is ever logged.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import sqlite3
from collections.abc import Callable
from urllib.parse import parse_qs

from bot.store import Store
from bot.web import ASGIApp, Receive, Scope, Send, read_body, reply
from bot.webhooks.events import Kind, Malformed, read_event

logger = logging.getLogger(__name__)

Handler = ASGIApp

WEBHOOK_PATH = "/wati/webhook"
OK = '{"ok":true}'
MAX_BODY = 256 * 1024  # a Wati event is a few KB; media travel by reference


def make_receiver(token: str, store: Store, notify: Callable[[], None]) -> Handler:
    """The ASGI handler for the webhook path (POST only; the listener checks the method)."""
    expected = token.encode()

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = (query.get("token") or [""])[0].encode()
        if not hmac.compare_digest(given, expected):
            logger.warning("webhook refused: wrong or missing token (HTTP 403)")
            await reply(send, 403, "forbidden", "text/plain")
            return
        body = await read_body(receive, MAX_BODY)
        if body is None:
            logger.warning("webhook ignored: body over %d bytes", MAX_BODY)
            await reply(send, 200, OK, "application/json")
            return
        channel = (query.get("channel") or [""])[0]
        try:
            await asyncio.to_thread(accept, store, body, channel if channel.isdigit() else None)
        except sqlite3.Error as exc:
            # Not recorded: a non-2xx makes Wati send it again later.
            logger.error("webhook not recorded (%s); Wati will retry", type(exc).__name__)
            await reply(send, 503, "try again later", "text/plain")
            return
        notify()
        await reply(send, 200, OK, "application/json")

    return handler


def accept(store: Store, body: bytes, url_channel: str | None) -> bool:
    """Record one webhook body (once); True when it was new and wants processing."""
    try:
        payload = json.loads(body)
        event = read_event(payload, url_channel)
    except (ValueError, RecursionError) as exc:
        reason = str(exc) if isinstance(exc, Malformed) else "the body is not JSON"
        logger.warning("webhook ignored: %s", reason)
        return False
    if event.kind is Kind.IGNORED:
        logger.debug("webhook %s ignored", event.event_type)
        return False
    new = store.record_webhook_event(
        event.key,
        event_type=event.event_type,
        channel_number=event.channel_number,
        customer_number=event.customer_number,
        wati_id=event.wati_id,
        created=event.created,
        payload=json.dumps(payload),
    )
    logger.debug("webhook %s %s recorded", event.event_type, "" if new else "again, not")
    return new
