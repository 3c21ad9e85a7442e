"""Erasures: which chats a customer has, the erasure journal, and the fingerprints of erased ids.

An erasure is planned and the customer's rows are deleted in one transaction, so the database
side is all or nothing and a running bridge (which shares the file) sees the customer either
fully present or fully gone. What remains to do is Slack clean-up, journaled per thread.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.store import broadcasts
from bot.store.db import Db, iso

ChatKey = tuple[str, str]  # (channel_number, customer_number)

# The columns that may name a customer (`customer_number` is the chats' key; the others come
# with the schema that records phoneless customers: phone, BSUID and username beside the key).
IDENTITY_COLUMNS = ("customer_number", "customer_phone", "customer_bsuid", "customer_username")
USERNAME_COLUMN = "customer_username"
# Tables whose rows are keyed on a chat (channel number, customer number), erased with it.
CHAT_TABLES = ("messages", "outbox", "surveys", "threads", "desk_chats", "chats")


def fingerprint(wati_id: str) -> str:
    """What the bridge keeps of an erased Wati message id: enough to know it was seen."""
    return hashlib.sha256(f"wati-message:{wati_id}".encode()).hexdigest()


@dataclass(frozen=True)
class Erasure:
    """One erasure. state: cleaning (Slack posts left to clean), done."""

    id: int
    kind: str
    label: str
    requested_by: str | None
    requested_at: str
    erased: str
    state: str
    finished_at: str | None

    @property
    def counts(self) -> dict[str, int]:
        """Rows erased per kind of record."""
        found = json.loads(self.erased or "{}")
        return {str(k): int(v) for k, v in found.items()}


@dataclass(frozen=True)
class ErasurePost:
    """A Slack thread (or lone post) of an erased conversation, and what cleaning it did."""

    erasure_id: int
    slack_channel_id: str
    ts: str
    state: str
    outcome: str | None

    @property
    def result(self) -> dict[str, Any]:
        found = json.loads(self.outcome or "{}")
        return found if isinstance(found, dict) else {}


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def _where_chats(keys: Sequence[ChatKey], prefix: str = "") -> tuple[str, list[str]]:
    clause = " or ".join(
        f"({prefix}channel_number = ? and {prefix}customer_number = ?)" for _ in keys
    )
    return f"({clause})", [part for key in keys for part in key]


class PrivacyTable(Db):
    """The `erasures`, `erasure_posts` and `forgotten_messages` tables, and the erasing itself."""

    def identity_columns(self) -> set[str]:
        """The customer identity columns the `chats` table has (the schema grows them)."""
        have = {str(r["name"]) for r in self.query("select name from pragma_table_info('chats')")}
        return have & set(IDENTITY_COLUMNS)

    def chats_of(self, column: str, value: str) -> list[ChatKey]:
        """Every (number, customer) pair any table records for this identity value.

        `customer_number` (the chats' key, the one column every table carries) is looked up in
        every table; another identity column (a phone number, BSUID or username beside the
        key) is looked up in `chats`, and the keys it finds are then looked up everywhere. A
        column the schema does not have finds nothing. Usernames compare without case.
        """
        if column not in self.identity_columns():
            return []
        if column != "customer_number":
            compare = (
                f"lower({column}) = lower(?)" if column == USERNAME_COLUMN else f"{column} = ?"
            )
            rows = self.query(
                f"select distinct customer_number from chats where {compare}", [value]
            )
            found: set[ChatKey] = set()
            for row in rows:
                found.update(self.chats_of("customer_number", str(row["customer_number"])))
            return sorted(found)
        rows = self.query(
            "select channel_number, customer_number from chats where customer_number = ? "
            "union select channel_number, customer_number from threads where customer_number = ? "
            "union select channel_number, customer_number from messages where customer_number = ? "
            "union select channel_number, customer_number from outbox where customer_number = ? "
            "union select channel_number, customer_number from desk_chats "
            "where customer_number = ? "
            "union select coalesce(channel_number, ''), customer_number from webhook_events "
            "where customer_number = ?",
            [value] * 6,
        )
        return sorted((str(r["channel_number"]), str(r["customer_number"])) for r in rows)

    def quiet_chats(self, before: str, limit: int = 50) -> list[ChatKey]:
        """Chats with no activity since `before` (ISO time), oldest first."""
        # The newest of: a message recorded either way, a teammate's reply, the chat's start.
        rows = self.query(
            "select channel_number, customer_number from ("
            "select c.channel_number, c.customer_number, max("
            "coalesce(c.last_activity_at, c.created_at), coalesce(c.last_inbound_at, ''), "
            "coalesce((select max(o.created_at) from outbox o where o.channel_number = "
            "c.channel_number and o.customer_number = c.customer_number), '')) as active "
            "from chats c) where active < ? order by active limit ?",
            [before, limit],
        )
        return [(str(r["channel_number"]), str(r["customer_number"])) for r in rows]

    def is_forgotten(self, wati_ids: Iterable[str]) -> set[str]:
        """Which of these Wati ids belong to an erased conversation."""
        prints = {fingerprint(i): i for i in wati_ids}
        if not prints:
            return set()
        keys = list(prints)
        rows = self.query(
            f"select fingerprint from forgotten_messages where fingerprint in ({_marks(keys)})",
            keys,
        )
        return {prints[r["fingerprint"]] for r in rows}

    # -- planning: the journal entry and the rows, in one transaction --------------------------

    def plan_erasure(
        self,
        keys: Sequence[ChatKey],
        *,
        kind: str,
        label: str,
        requested_by: str | None,
        whole_customer: bool,
    ) -> int:
        """Record an erasure of these chats, erase their rows, and return its id.

        `whole_customer`: the customer's rows on no particular number go too (the contact's
        name, webhook events that named no number). The Slack threads of the chats are
        recorded for `erasure_posts`; fingerprints of every Wati id are kept.
        """
        now = iso(self.clock.now())
        with self.write() as db:
            counts: dict[str, int] = {}
            posts: set[tuple[str, str]] = set()
            prints: set[str] = set()
            for start in range(0, len(keys), 200):  # SQLite's limit on bound variables
                chunk = keys[start : start + 200]
                self._erase_chats(db, chunk, counts, posts, prints)
            if whole_customer:
                customers = sorted({customer for _, customer in keys})
                counts["contact names"] = self._delete(
                    db, f"contacts where wa_number in ({_marks(customers)})", customers
                )
                counts["webhook events"] = counts.get("webhook events", 0) + self._delete(
                    db,
                    f"webhook_events where customer_number in ({_marks(customers)})",
                    customers,
                )
                # A broadcast still going sends them nothing more and lists no number of theirs.
                counts["broadcast receivers"] = broadcasts.withdraw(db, customers)
            table = db.table("erasures")
            table.insert(
                {
                    "kind": kind,
                    "label": label,
                    "requested_by": requested_by,
                    "requested_at": now,
                    "erased": json.dumps({k: v for k, v in counts.items() if v}),
                    "state": "cleaning" if posts else "done",
                    "finished_at": None if posts else now,
                }
            )
            erasure_id = int(table.last_pk)  # type: ignore[arg-type]
            db.table("erasure_posts").insert_all(
                {"erasure_id": erasure_id, "slack_channel_id": c, "ts": ts, "state": "pending"}
                for c, ts in sorted(posts)
            )
            db.table("forgotten_messages").insert_all(
                ({"fingerprint": p, "erased_at": now} for p in sorted(prints)), ignore=True
            )
        return erasure_id

    def _erase_chats(
        self,
        db: Any,
        keys: Sequence[ChatKey],
        counts: dict[str, int],
        posts: set[tuple[str, str]],
        prints: set[str],
    ) -> None:
        where, params = _where_chats(keys)
        for row in db.query(
            f"select slack_channel_id, thread_ts from threads where {where} "
            "and thread_ts is not null",
            params,
        ):
            posts.add((row["slack_channel_id"], row["thread_ts"]))
        ids = [
            r["wati_id"] for r in db.query(f"select wati_id from messages where {where}", params)
        ]
        ids += [
            r["wati_id"]
            for r in db.query(
                "select p.wati_id from outbox_parts p join outbox o on o.id = p.reply_id "
                f"where {_where_chats(keys, 'o.')[0]} and p.wati_id is not null "
                "union select wati_id from outbox "
                f"where {where} and wati_id is not null "
                "union select wati_id from webhook_events "
                f"where {where} and wati_id is not null "
                "union select answer_wati_id from surveys "
                f"where {where} and answer_wati_id is not null",
                params * 4,
            )
        ]
        prints.update(fingerprint(i) for i in ids)
        threads = f"thread_id in (select id from threads where {where})"
        counts["saved-reply uses"] = counts.get("saved-reply uses", 0) + self._delete(
            db, f"saved_sends where {threads}", params
        )
        counts["reply parts"] = counts.get("reply parts", 0) + self._delete(
            db, f"outbox_parts where reply_id in (select id from outbox where {where})", params
        )
        counts["webhook events"] = counts.get("webhook events", 0) + self._delete(
            db, f"webhook_events where {where}", params
        )
        names = {"messages": "messages", "outbox": "replies", "threads": "threads"}
        names.update({"desk_chats": "owners and waits", "chats": "conversations"})
        names["surveys"] = "ratings"
        for table in CHAT_TABLES:
            counts[names[table]] = counts.get(names[table], 0) + self._delete(
                db, f"{table} where {where}", params
            )

    @staticmethod
    def _delete(db: Any, target: str, params: Sequence[Any]) -> int:
        return int(db.execute(f"delete from {target}", list(params)).rowcount)

    # -- the journal ---------------------------------------------------------------------------

    def erasure(self, erasure_id: int) -> Erasure | None:
        """One erasure."""
        return self._one(Erasure, "select * from erasures where id = ?", [erasure_id])

    def unfinished_erasures(self) -> list[Erasure]:
        """Erasures whose Slack clean-up is not done, oldest first."""
        return self._all(Erasure, "select * from erasures where state != 'done' order by id")

    def erasure_posts(self, erasure_id: int) -> list[ErasurePost]:
        """The Slack threads of an erasure, in order."""
        return self._all(
            ErasurePost,
            "select * from erasure_posts where erasure_id = ? order by slack_channel_id, ts",
            [erasure_id],
        )

    def finish_post(self, post: ErasurePost, outcome: dict[str, Any]) -> None:
        """Mark one thread cleaned, with what was deleted and what could not be."""
        with self.write() as db:
            db.execute(
                "update erasure_posts set state = 'done', outcome = ? "
                "where erasure_id = ? and slack_channel_id = ? and ts = ?",
                [json.dumps(outcome), post.erasure_id, post.slack_channel_id, post.ts],
            )

    def finish_erasure(self, erasure_id: int) -> bool:
        """Mark the erasure done when every thread is cleaned; whether it now is."""
        with self.write() as db:
            left = db.execute(
                "select count(*) from erasure_posts where erasure_id = ? and state != 'done'",
                [erasure_id],
            ).fetchone()[0]
            if left:
                return False
            db.execute(
                "update erasures set state = 'done', finished_at = coalesce(finished_at, ?) "
                "where id = ?",
                [iso(self.clock.now()), erasure_id],
            )
        return True
