"""Working as a team, per chat: its owner, since when the customer waits, the nudges sent, and
the queue the Home tab shows (one query per section, whatever the number of conversations)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.store.db import Db


@dataclass(frozen=True)
class DeskChat:
    """A chat's row of `desk_chats` (absent until someone owns it or its customer waits)."""

    channel_number: str
    customer_number: str
    owner_id: str | None = None
    owner_in_wati: int | None = None
    assigned_by: str | None = None
    assigned_at: str | None = None
    waiting_since: str | None = None
    nudges: int = 0
    waiting_shown: str | None = None


@dataclass(frozen=True)
class Waiting:
    """A chat whose waiting state may need work: what the messages say now, what is stored."""

    thread_id: int
    channel_number: str
    customer_number: str
    slack_channel_id: str
    thread_ts: str
    waiting_now: str | None  # the first customer message with no answer after it
    waiting_since: str | None
    waiting_shown: str | None
    nudges: int
    owner_id: str | None


@dataclass(frozen=True)
class QueueRow:
    """One conversation in a Home tab section, with how many the section holds in all."""

    channel_number: str
    customer_number: str
    customer_name: str | None
    slack_channel_id: str
    thread_ts: str
    waiting_since: str | None
    owner_id: str | None
    last_activity_at: str | None
    total: int


# The customer waits since their first message that no business message followed: messages
# the bridge relayed or skipped as history before the link do not count ('skipped').
_WAITING_NOW = """
    (select min(m.created) from messages m
     where m.channel_number = c.channel_number and m.customer_number = c.customer_number
       and m.direction = 'in' and m.state != 'skipped'
       and m.created > coalesce((
           select max(o.created) from messages o
           where o.channel_number = c.channel_number and o.customer_number = c.customer_number
             and o.direction in ('out', 'mirror')), ''))
"""
_QUEUE_COLUMNS = (
    "c.channel_number, c.customer_number, c.customer_name, t.slack_channel_id, t.thread_ts, "
    "d.waiting_since, d.owner_id, c.last_activity_at"
)
_OPEN_CURRENT = (
    "from chats c join threads t on t.id = c.thread_id "
    "left join desk_chats d on d.channel_number = c.channel_number "
    "and d.customer_number = c.customer_number "
    "where t.state = 'open' and t.thread_ts is not null"
)


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


class DeskTable(Db):
    """The `desk_chats` table."""

    def desk_chat(self, channel_number: str, customer_number: str) -> DeskChat:
        """A chat's desk state (defaults when it has none yet)."""
        found = self._one(
            DeskChat,
            "select * from desk_chats where channel_number = ? and customer_number = ?",
            [channel_number, customer_number],
        )
        return found or DeskChat(channel_number, customer_number)

    def update_desk(self, channel_number: str, customer_number: str, **values: Any) -> None:
        """Set some columns of a chat's desk row (created with defaults when it has none)."""
        with self.write() as db:
            db.table("desk_chats").upsert(
                {"channel_number": channel_number, "customer_number": customer_number, **values},
                pk=("channel_number", "customer_number"),
            )

    def set_owner(
        self,
        channel_number: str,
        customer_number: str,
        owner_id: str | None,
        *,
        in_wati: bool,
        by: str,
        at: str,
    ) -> None:
        """Give the chat to `owner_id` (None: nobody owns it)."""
        self.update_desk(
            channel_number,
            customer_number,
            owner_id=owner_id,
            owner_in_wati=int(in_wati),
            assigned_by=by,
            assigned_at=at,
        )

    def claim_unowned(
        self, channel_number: str, customer_number: str, owner_id: str, at: str
    ) -> bool:
        """Make `owner_id` the owner only if nobody owns the chat; True when this call did."""
        with self.write() as db:
            db.execute(
                "insert into desk_chats (channel_number, customer_number) values (?, ?) "
                "on conflict do nothing",
                [channel_number, customer_number],
            )
            cursor = db.execute(
                "update desk_chats set owner_id = ?, owner_in_wati = 0, assigned_by = ?, "
                "assigned_at = ? where channel_number = ? and customer_number = ? "
                "and owner_id is null",
                [owner_id, owner_id, at, channel_number, customer_number],
            )
            return cursor.rowcount > 0

    def note_owner_in_wati(self, channel_number: str, customer_number: str, in_wati: bool) -> None:
        """Record whether Wati took the current assignment."""
        self.update_desk(channel_number, customer_number, owner_in_wati=int(in_wati))

    # -- waiting -------------------------------------------------------------------------------

    def waiting_work(self) -> list[Waiting]:
        """Every chat whose customer may wait or whose parent may show a wait: open current
        threads, and chats with a stored wait. One query."""
        rows = self.query(
            "select t.id as thread_id, c.channel_number, c.customer_number, t.slack_channel_id, "
            "t.thread_ts, d.waiting_since, d.waiting_shown, coalesce(d.nudges, 0) as nudges, "
            f"d.owner_id, case when t.state = 'open' then {_WAITING_NOW} end as waiting_now "
            "from chats c join threads t on t.id = c.thread_id "
            "left join desk_chats d on d.channel_number = c.channel_number "
            "and d.customer_number = c.customer_number "
            "where t.thread_ts is not null and (t.state = 'open' or d.waiting_since is not null "
            "or d.waiting_shown is not null)"
        )
        return [Waiting(**row) for row in rows]

    def set_waiting(self, channel_number: str, customer_number: str, since: str | None) -> None:
        """A new waiting state: its nudge count starts again."""
        self.update_desk(channel_number, customer_number, waiting_since=since, nudges=0)

    def set_waiting_shown(
        self, channel_number: str, customer_number: str, shown: str | None
    ) -> None:
        """What the thread parent shows of the wait now."""
        self.update_desk(channel_number, customer_number, waiting_shown=shown)

    def count_nudge(
        self, channel_number: str, customer_number: str, since: str, nudges: int
    ) -> bool:
        """Move the nudge count of this wait to `nudges`, once: False when it already was (or
        the wait changed), so two runs of the job cannot both nudge."""
        with self.write() as db:
            cursor = db.execute(
                "update desk_chats set nudges = ? where channel_number = ? and customer_number = ? "
                "and waiting_since = ? and nudges < ?",
                [nudges, channel_number, customer_number, since, nudges],
            )
            return cursor.rowcount > 0

    # -- the Home tab's sections (one query each) ------------------------------------------------

    def _section(
        self, numbers: Sequence[str], where: str, order: str, params: Sequence[Any], limit: int
    ) -> list[QueueRow]:
        if not numbers:
            return []
        rows = self.query(
            f"select * from (select {_QUEUE_COLUMNS}, "
            f"row_number() over (partition by c.channel_number order by {order}) as rank, "
            "count(*) over (partition by c.channel_number) as total "
            f"{_OPEN_CURRENT} and c.channel_number in ({_marks(numbers)}) {where}) "
            "where rank <= ? order by channel_number, rank",
            [*numbers, *params, limit],
        )
        return [QueueRow(**{k: v for k, v in row.items() if k != "rank"}) for row in rows]

    def queue_waiting(self, numbers: Sequence[str], limit: int) -> list[QueueRow]:
        """Customers waiting for an answer, longest first, per number."""
        return self._section(
            numbers, "and d.waiting_since is not null", "d.waiting_since", (), limit
        )

    def queue_owned(self, numbers: Sequence[str], owner_id: str, limit: int) -> list[QueueRow]:
        """Open conversations owned by one person, waiting ones first, per number."""
        return self._section(
            numbers,
            "and d.owner_id = ?",
            "d.waiting_since is null, d.waiting_since, c.last_activity_at desc",
            (owner_id,),
            limit,
        )

    def queue_open(self, numbers: Sequence[str], limit: int) -> list[QueueRow]:
        """Open conversations, most recently active first, per number."""
        return self._section(numbers, "", "c.last_activity_at desc", (), limit)

    def backlogs(self) -> dict[str, int]:
        """Messages waiting to be posted to Slack, per number (one query)."""
        rows = self.query(
            "select channel_number, count(*) as n from messages where state = 'pending' "
            "group by channel_number"
        )
        return {r["channel_number"]: int(r["n"]) for r in rows}
