"""Somebody is told: a direct message to the admins when the bridge stays unhealthy, and when
it is fixed.

A condition that has lasted `alert_after` seconds is "due": each admin (BRIDGE_ADMINS, else
whoever linked the affected channel, else whoever linked any channel) gets one DM saying what
is wrong and how to fix it; when it has ended (and was seen working since this process
started, so a restart cannot mistake "not checked yet" for "fixed") they get one more. Nothing
in between. What was told is kept in the database (kv `health_told`), so a restart does not
tell again; while the database itself refuses writes it is kept in memory and saved later.

A DM that cannot be sent (Slack refuses the token) is tried again on the next check; if the
condition ended before any DM went out, one message says what was wrong and that it is fixed.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.ops.health import Code, Condition, Health
from bot.store import Store
from bot.store.links import Link

logger = logging.getLogger(__name__)

TOLD_KEY = "health_told"


class Alerts:
    """Decides who is told what about the bridge's conditions, and tells them."""

    def __init__(
        self,
        *,
        health: Health,
        store: Store,
        client: WebClient,
        admins: Sequence[str],
        alert_after: float,
        clock: Callable[[], float],
    ) -> None:
        self.health = health
        self.store = store
        self.client = client
        self.admins = tuple(admins)
        self.alert_after = alert_after
        self.clock = clock
        self._told = self._load()  # ident -> {"since", "words", "fix", "key", "told": bool}
        self._dirty = False

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            raw = self.store.get(TOLD_KEY)
            found = json.loads(raw) if raw else {}
        except (sqlite3.Error, ValueError) as exc:
            logger.warning("alerts: what admins were told could not be read: %s", exc)
            return {}
        return found if isinstance(found, dict) else {}

    def run(self, links: Sequence[Link]) -> None:
        """Tell about conditions now due, and about told ones now fixed."""
        now = self.clock()
        active = {c.ident: c for c in self.health.conditions()}
        for ident, condition in active.items():
            entry = self._told.get(ident)
            if entry is None and now - condition.since >= self.alert_after:
                entry = self._told[ident] = _entry(condition)
                self._dirty = True
            if entry is not None and not entry["told"]:
                entry["told"] = self._send(links, condition.key, _problem_text(entry, now))
                self._dirty = self._dirty or entry["told"]
        for ident, entry in list(self._told.items()):
            if ident in active or not self.health.seen_ok(ident):
                continue
            if self._send(links, entry["key"], _fixed_text(entry, now)):
                del self._told[ident]
                self._dirty = True
        self._save()

    def _send(self, links: Sequence[Link], key: str, text: str) -> bool:
        """A DM to each person to tell; True when every one went out (or nobody is to be told)."""
        people = self._recipients(links, key)
        if not people:
            logger.info("alerts: nobody to tell (no BRIDGE_ADMINS and no linked channel)")
            return True
        sent = True
        for user in people:
            try:
                self.client.chat_postMessage(channel=user, text=text)
            except SlackApiError as exc:
                logger.warning("alerts: DM to %s not sent: %s", user, exc.response.get("error"))
                sent = False
            except Exception as exc:  # noqa: BLE001 - Slack unreachable: try again next check
                logger.warning("alerts: DM to %s not sent: %s", user, type(exc).__name__)
                sent = False
        return sent

    def _recipients(self, links: Sequence[Link], key: str) -> list[str]:
        if self.admins:
            return list(self.admins)
        linkers = [link.linked_by for link in links if link.slack_channel_id == key]
        return sorted(set(linkers or [link.linked_by for link in links if link.linked_by]))

    def _save(self) -> None:
        if not self._dirty:
            return
        try:
            self.store.put(TOLD_KEY, json.dumps(self._told, sort_keys=True))
        except sqlite3.Error:
            return  # the database refuses writes (it is one of the conditions): next check
        self._dirty = False


def _entry(condition: Condition) -> dict[str, Any]:
    return {
        "since": condition.since,
        "words": condition.words(),
        "fix": condition.fix(),
        "key": condition.key if condition.code == Code.CHANNEL else "",
        "told": False,
    }


def _problem_text(entry: dict[str, Any], now: float) -> str:
    return (
        f":warning: *wati-bridge needs attention* (for {_minutes(now - entry['since'])}): "
        f"{entry['words']}.\n*How to fix:* {entry['fix']}.\n"
        "I will send one more message when it is fixed."
    )


def _fixed_text(entry: dict[str, Any], now: float) -> str:
    lasted = _minutes(now - entry["since"])
    if entry["told"]:
        return f":white_check_mark: *Fixed* after {lasted}: {entry['words']}."
    # The problem DM never went out (Slack refused it): say both at once.
    return (
        f":white_check_mark: *wati-bridge had a problem for {lasted}, now fixed*: {entry['words']}."
    )


def _minutes(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes >= 1 else "under a minute"
