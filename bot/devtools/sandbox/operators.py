"""The account's operators and who each chat is assigned to (for assignOperator).

Kept beside `State`, in the same SQLite file and under its lock.
"""

from __future__ import annotations

from . import render
from .state import State

SCHEMA = """
CREATE TABLE IF NOT EXISTS operators (email TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS assignments (
    channel TEXT NOT NULL, customer TEXT NOT NULL, email TEXT, PRIMARY KEY (channel, customer)
);
"""


class Operators:
    """Operators by e-mail (case-insensitive); one seeded, as a tenant has its owner."""

    def __init__(self, state: State) -> None:
        self.state = state
        with state.transaction() as db:
            db.executescript(SCHEMA)
            if db.execute("SELECT COUNT(*) FROM operators").fetchone()[0] == 0:
                self.put(render.OPERATOR_EMAIL, render.OPERATOR_NAME)

    def put(self, email: str, name: str) -> None:
        with self.state.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO operators (email, name) VALUES (?, ?)",
                (email.lower(), name),
            )

    def known(self, email: str) -> bool:
        with self.state.transaction() as db:
            row = db.execute("SELECT 1 FROM operators WHERE email = ?", (email.lower(),)).fetchone()
            return row is not None

    def assign(self, channel: str, customer: str, email: str | None, by: str) -> None:
        """Give the chat to an operator (None: back to the bot), with a ticket row."""
        with self.state.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO assignments (channel, customer, email) VALUES (?,?,?)",
                (channel, customer, email),
            )
            who = email or "Bot"
            self.state.ticket(
                channel, customer, f"The chat has been assigned to {who}", actor=by, assignee=email
            )

    def assignee(self, channel: str, customer: str) -> str | None:
        with self.state.transaction() as db:
            row = db.execute(
                "SELECT email FROM assignments WHERE channel = ? AND customer = ?",
                (channel, customer),
            ).fetchone()
            return None if row is None or row[0] is None else str(row[0])
