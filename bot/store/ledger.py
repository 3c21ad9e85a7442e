"""Bookkeeping: Slack event ids seen, Wati calls per day, contacts seen, recent errors, small
named values."""

from __future__ import annotations

from typing import Any

from bot.store.db import Db, iso


class LedgerTable(Db):
    """The `events_seen`, `wati_calls`, `contacts_seen`, `errors` and `kv` tables."""

    def first_sighting(self, event_id: str) -> bool:
        """Record a Slack event id; True the first time it is seen, False for a repeat."""
        with self.write() as db:
            before = db.conn.total_changes
            db.table("events_seen").insert(
                {"event_id": event_id, "seen_at": iso(self.clock.now())}, ignore=True
            )
            return db.conn.total_changes > before

    def count_call(self, endpoint: str, day: str) -> None:
        """Add one Wati API call to the day's count."""
        with self.write() as db:
            db.execute(
                "insert into api_calls (day, endpoint, count) values (?, ?, 1) "
                "on conflict(day, endpoint) do update set count = count + 1",
                [day, endpoint],
            )

    def calls_since(self, day: str) -> dict[str, int]:
        """Wati API calls per endpoint from this day (YYYY-MM-DD) on."""
        rows = self.query(
            "select endpoint, sum(count) as n from api_calls where day >= ? group by endpoint",
            [day],
        )
        return {r["endpoint"]: int(r["n"]) for r in rows}

    def contact_seen(self, wa_number: str) -> dict[str, Any] | None:
        """What the bridge last saw of a contact."""
        rows = self.query("select * from contacts where wa_number = ?", [wa_number])
        return rows[0] if rows else None

    def save_contact(self, wa_number: str, name: str | None, last_updated: str | None) -> None:
        """Remember a contact's name and lastUpdated."""
        with self.write() as db:
            db.table("contacts").upsert(
                {
                    "wa_number": wa_number,
                    "name": name,
                    "last_updated": last_updated,
                    "seen_at": iso(self.clock.now()),
                },
                pk="wa_number",
            )

    def remember_name(self, wa_number: str, name: str) -> None:
        """Remember a contact's name alone: its lastUpdated stays what the contacts look last
        saw, so a change found by a name look-up is still announced by the next look."""
        with self.write() as db:
            db.table("contacts").upsert({"wa_number": wa_number, "name": name}, pk="wa_number")

    def add_error(self, scope: str, message: str, keep: int = 200) -> None:
        """Log an error for /wati status (no message bodies here), keeping the newest."""
        with self.write() as db:
            db.table("errors").insert(
                {"at": iso(self.clock.now()), "scope": scope, "message": message}
            )
            db.execute("delete from errors where id <= (select max(id) from errors) - ?", [keep])

    def recent_errors(self, scope: str | None = None, limit: int = 5) -> list[dict[str, Any]]:
        """Newest errors first."""
        if scope is None:
            return self.query("select * from errors order by id desc limit ?", [limit])
        return self.query(
            "select * from errors where scope = ? order by id desc limit ?", [scope, limit]
        )

    def get(self, key: str) -> str | None:
        """A small named value."""
        rows = self.query("select value from kv where key = ?", [key])
        return rows[0]["value"] if rows else None

    def put(self, key: str, value: str) -> None:
        """Set a small named value."""
        with self.write() as db:
            db.table("kv").upsert({"key": key, "value": value}, pk="key")

    def forget(self, key: str) -> None:
        """Remove a small named value."""
        with self.write() as db:
            db.execute("delete from kv where key = ?", [key])
