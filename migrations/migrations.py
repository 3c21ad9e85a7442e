"""The bridge's schema, one numbered migration at a time (never edit a shipped one; add the next).

Migrations run in the order they are defined here, and their numbers follow that order. To
change the schema, add a function at the end of this file named after the next number
(`m014_<what it does>`), decorated with `@migrations()`.
"""

from collections.abc import Iterable

from sqlite_utils import Database, Migrations

# Old name -> new name. Until 2026-12 three migrations were named out of their running order
# (m012, m013, then m011); sqlite-utils records applied migrations by name, so a database
# migrated under the old names has them renamed (below) rather than run a second time.
RENAMED = {
    "m012_create_webhooks": "m009_create_webhooks",
    "m013_desk": "m010_desk",
}


class RenumberedMigrations(Migrations):
    """sqlite-utils' migration set, reading names recorded before a renumbering as the new ones."""

    def __init__(self, name: str, renamed: dict[str, str]) -> None:
        super().__init__(name)
        self.renamed = renamed

    def pending(self, db: Database) -> list[Migrations._Migration]:
        # Read-only (the doctor asks it of a database it must not write): a migration
        # recorded under its old name is not pending.
        recorded = {m.name for m in self.applied(db)}
        done = {new for old, new in self.renamed.items() if old in recorded}
        return [m for m in super().pending(db) if m.name not in done]

    def apply(self, db: Database, *, stop_before: str | Iterable[str] | None = None) -> None:
        table = db[self.migrations_table]
        if table.exists():
            # One transaction: either every recorded old name becomes its new one or none does.
            with db.atomic():
                for old, new in self.renamed.items():
                    db.execute(
                        f"UPDATE [{self.migrations_table}] SET name = ? "
                        "WHERE migration_set = ? AND name = ?",
                        [new, self.name, old],
                    )
        super().apply(db, stop_before=stop_before)


migrations = RenumberedMigrations("wati_bridge", RENAMED)


@migrations(transactional=False)
def m001_enable_wal(db: Database) -> None:
    # WAL lets Bolt's listener threads read while the poller writes; it cannot change in a transaction.
    db.enable_wal()


@migrations()
def m002_create_links(db: Database) -> None:
    # One WhatsApp number <-> one Slack channel, both unique.
    db["links"].create(
        {"channel_number": str, "slack_channel_id": str, "linked_by": str, "linked_at": str},
        pk="channel_number",
    )
    db["links"].create_index(["slack_channel_id"], unique=True)


@migrations()
def m003_create_chats_and_threads(db: Database) -> None:
    # A chat is one customer on one channel number: it carries the poll state and the
    # 24-hour window. A thread is one Slack thread of that chat; after a resolve the next
    # inbound message opens a new thread that points back to the previous one.
    db["chats"].create(
        {
            "channel_number": str,
            "customer_number": str,
            "customer_name": str,
            "thread_id": int,
            "last_inbound_at": str,
            "last_activity_at": str,
            "next_poll_at": float,
            "empty_polls": int,
            "last_polled_at": str,
            "origin": str,
            "failures": int,
            "created_at": str,
        },
        pk=("channel_number", "customer_number"),
        defaults={"empty_polls": 0, "failures": 0},
    )
    db["chats"].create_index(["next_poll_at"])
    db["threads"].create(
        {
            "id": int,
            "channel_number": str,
            "customer_number": str,
            "slack_channel_id": str,
            "thread_ts": str,
            "state": str,
            "opened_at": str,
            "status_by": str,
            "status_at": str,
            "window_shown": str,
            "previous_thread_id": int,
        },
        pk="id",
    )
    db["threads"].create_index(["slack_channel_id", "thread_ts"])
    db["threads"].create_index(["channel_number", "customer_number"])


@migrations()
def m004_create_messages(db: Database) -> None:
    # Every Wati message the bridge has seen, keyed by Wati's id: de-duplication and audit.
    db["messages"].create(
        {
            "wati_id": str,
            "channel_number": str,
            "customer_number": str,
            "thread_id": int,
            "direction": str,
            "created": str,
            "state": str,
            "slack_ts": str,
            "attempts": int,
            "error": str,
            "recorded_at": str,
        },
        pk="wati_id",
        defaults={"attempts": 0},
    )
    db["messages"].create_index(["state"])
    db["messages"].create_index(["channel_number", "customer_number", "created"])


@migrations()
def m005_create_outbox(db: Database) -> None:
    # Replies typed in Slack on their way to WhatsApp: recorded before sending, at most once.
    db["outbox"].create(
        {
            "id": int,
            "slack_channel_id": str,
            "slack_ts": str,
            "event_id": str,
            "thread_id": int,
            "channel_number": str,
            "customer_number": str,
            "user_id": str,
            "body": str,
            "files": str,
            "state": str,
            "local_message_id": str,
            "wati_id": str,
            "delivery": str,
            "error": str,
            "attempts": int,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        defaults={"attempts": 0},
    )
    db["outbox"].create_index(["slack_channel_id", "slack_ts"], unique=True)
    db["outbox"].create_index(["local_message_id"], unique=True)
    db["outbox"].create_index(["state"])
    db["outbox"].create_index(["wati_id"])


@migrations()
def m006_create_bookkeeping(db: Database) -> None:
    # Slack event ids already handled (Slack retries deliver the same id again).
    db["events_seen"].create({"event_id": str, "seen_at": str}, pk="event_id")
    # Wati API calls per day and endpoint, for the monthly quota.
    db["api_calls"].create(
        {"day": str, "endpoint": str, "count": int}, pk=("day", "endpoint"), defaults={"count": 0}
    )
    # Contacts seen through getContacts, to notice new or changed ones.
    db["contacts"].create(
        {"wa_number": str, "name": str, "last_updated": str, "seen_at": str}, pk="wa_number"
    )
    # Recent errors shown by /wati status.
    db["errors"].create({"id": int, "at": str, "scope": str, "message": str}, pk="id")
    # Small named values: last successful poll, sweep cursor, backfill marks.
    db["kv"].create({"key": str, "value": str}, pk="key")


@migrations()
def m007_outbox_progress(db: Database) -> None:
    # How far each reply got: when to try again, when the last send attempt started (a fate
    # unknown after a timeout is checked in Wati's history some time after it), how many
    # unconfirmed resends were made, whether the text was converted for WhatsApp yet, the
    # reaction shown on the Slack message and the ts of the last notice about it.
    outbox = db["outbox"]
    outbox.add_column("next_try_at", float)
    outbox.add_column("attempted_at", float)
    outbox.add_column("resends", int, not_null_default=0)
    outbox.add_column("prepared", int, not_null_default=0)
    outbox.add_column("reaction", str)
    outbox.add_column("notice_ts", str)
    # A reply goes out as one or more parts (4,096-character text chunks, files). Each part
    # Wati accepted is recorded, so an interrupted reply resumes at the first part that did
    # not go, and delivery (SENT < DELIVERED < READ, or FAILED) is tracked per part.
    db["outbox_parts"].create(
        {
            "reply_id": int,
            "part": int,
            "kind": str,
            "wati_id": str,
            "local_message_id": str,
            "delivery": str,
            "sent_at": str,
        },
        pk=("reply_id", "part"),
    )
    db["outbox_parts"].create_index(["wati_id"])
    db["outbox_parts"].create_index(["local_message_id"])


@migrations()
def m008_outbox_reopen(db: Database) -> None:
    # A reply refused with "Ticket has been expired." inside the 24 hours can be sent again
    # after the chat is reopened in Wati ("Reopen and send"); set until that reopen is done,
    # so the reopen and the send happen once, in the outbox's own round.
    db["outbox"].add_column("reopen", int, not_null_default=0)


@migrations()
def m009_create_webhooks(db: Database) -> None:
    # Wati webhook events as they arrived, recorded before the bridge answers 200 (so an event
    # is never lost to a crash after the answer) and keyed by event type and message id (so
    # Wati's duplicates and retries are recorded once). The payload is kept only until the
    # event has been processed.
    db["webhook_events"].create(
        {
            "key": str,
            "event_type": str,
            "channel_number": str,
            "customer_number": str,
            "wati_id": str,
            "created": str,
            "received_at": str,
            "state": str,
            "attempts": int,
            "payload": str,
            "note": str,
        },
        pk="key",
        defaults={"attempts": 0},
    )
    db["webhook_events"].create_index(["state"])
    db["webhook_events"].create_index(["customer_number", "created"])
    db["webhook_events"].create_index(["wati_id"])
    # Per linked number: what the bridge registered with Wati (Wati cannot list or delete
    # webhooks, so this is the only record), the last event seen and the health of the
    # number's webhooks.
    db["webhooks"].create(
        {
            "channel_number": str,
            "webhook_id": str,
            "url": str,
            "event_types": str,
            "registered_at": str,
            "error": str,
            "error_kind": str,
            "tried_at": str,
            "first_event_at": str,
            "last_event_at": str,
            "last_event_type": str,
            "unhealthy_at": str,
            "unhealthy_reason": str,
        },
        pk="channel_number",
    )


@migrations()
def m010_desk(db: Database) -> None:
    # Working as a team, per chat (one customer on one number): who owns it (and whether Wati
    # took the assignment), since when the customer has waited for an answer, how many nudges
    # that wait has had, and which waiting state the thread parent shows.
    db["desk_chats"].create(
        {
            "channel_number": str,
            "customer_number": str,
            "owner_id": str,
            "owner_in_wati": int,
            "assigned_by": str,
            "assigned_at": str,
            "waiting_since": str,
            "nudges": int,
            "waiting_shown": str,
        },
        pk=("channel_number", "customer_number"),
        not_null={"nudges"},
        defaults={"nudges": 0},
    )
    db["desk_chats"].create_index(["owner_id"])
    db["desk_chats"].create_index(["waiting_since"])
    # Saved replies, one per name (names compare without case).
    db.execute(
        "CREATE TABLE saved_replies (id INTEGER PRIMARY KEY, name TEXT NOT NULL "
        "UNIQUE COLLATE NOCASE, text TEXT NOT NULL, created_by TEXT, created_at TEXT)"
    )
    # A saved reply being sent from its modal, one per modal (its view id): posted in the
    # thread, then recorded in the outbox, so a double click or Slack's retry sends it once.
    db["saved_sends"].create(
        {
            "view_id": str,
            "thread_id": int,
            "user_id": str,
            "reply_name": str,
            "body": str,
            "state": str,
            "slack_ts": str,
            "created_at": str,
        },
        pk="view_id",
    )


@migrations()
def m011_chat_hints(db: Database) -> None:
    # When a contacts-page change last woke the chat (cleared by its next poll): such chats
    # are polled before routine ones, and whether the poll found anything tells the poller
    # how far to trust the contacts page as a signal.
    db["chats"].add_column("hinted_at", float)


@migrations()
def m014_customer_identity(db: Database) -> None:
    # Who the customer of a chat is, as Wati says it (2026: customers may hide their number).
    # `customer_number` stays the chat's key: the phone number (digits) when Wati gave one when
    # the chat was opened, else the BSUID. Beside it: the phone number (also one that appears
    # later for a BSUID customer), the BSUID, the WhatsApp username and Wati's contact id.
    for name in ("customer_phone", "customer_bsuid", "customer_username", "wati_contact_id"):
        db["chats"].add_column(name, str)
    db.execute("update chats set customer_phone = customer_number")
    db["chats"].create_index(["customer_bsuid"])
    db["chats"].create_index(["customer_phone"])


@migrations()
def m016_media_downloads(db: Database) -> None:
    # A customer's file that Wati could not hand over yet waits in state `media_wait` until
    # `next_try_at` (epoch seconds) while the chat's later messages go on; `media_tries`
    # counts its downloads. `slack_file_id` is the Slack file an upload reserved before
    # sharing it, so a restart can ask Slack whether the share happened.
    db["messages"].add_column("next_try_at", float)
    db["messages"].add_column("media_tries", int, not_null_default=0)
    db["messages"].add_column("slack_file_id", str)


@migrations()
def m017_privacy(db: Database) -> None:
    # Erasures (`wati-bridge forget`, `/wati forget`, retention) as a journal: the plan is
    # recorded in the same transaction that deletes the customer's rows, then the bridge's
    # Slack posts of those conversations are cleaned one thread at a time, each marked done,
    # so a run killed midway is finished by the next run or by the live bridge's next tick.
    # Nothing here names the customer: a label, counts, Slack locations and, once cleaned,
    # the links to what could not be deleted (teammates' replies).
    db["erasures"].create(
        {
            "id": int,
            "kind": str,
            "label": str,
            "requested_by": str,
            "requested_at": str,
            "erased": str,
            "state": str,
            "finished_at": str,
        },
        pk="id",
    )
    db["erasures"].create_index(["state"])
    db["erasure_posts"].create(
        {
            "erasure_id": int,
            "slack_channel_id": str,
            "ts": str,
            "state": str,
            "outcome": str,
        },
        pk=("erasure_id", "slack_channel_id", "ts"),
    )
    # Fingerprints (SHA-256) of the Wati message ids of erased conversations: Wati keeps its
    # copy and the next poll reads it again; a fingerprint says "seen" without keeping the id.
    db["forgotten_messages"].create({"fingerprint": str, "erased_at": str}, pk="fingerprint")


@migrations()
def m018_surveys_and_sends(db: Database) -> None:
    # A rating asked when a conversation is resolved: one row per thread, so a double click or a
    # Slack retry finds the row and asks nothing twice. state: sending (claimed; the question may
    # be on its way), asked (Wati took it), answered (the customer's rating is in `rating`),
    # failed (nothing went out: `error`). `settled` is 0 while the answer still has to be shown
    # on the parent and the chat resolved again in Wati (an answer reopens a solved chat there).
    db["surveys"].create(
        {
            "thread_id": int,
            "channel_number": str,
            "customer_number": str,
            "asked_by": str,
            "asked_at": str,
            "via": str,
            "state": str,
            "error": str,
            "rating": int,
            "answered_at": str,
            "answer_wati_id": str,
            "settled": int,
            "reply_id": int,  # the question's outbox row (it is no reply to the customer)
        },
        pk="thread_id",
        not_null={"channel_number", "customer_number", "state", "asked_at"},
        defaults={"settled": 1},
    )
    db["surveys"].create_index(["channel_number", "customer_number", "state"])
    # The week's picture reads each thread's first reply (bot.insights.week).
    db["outbox"].create_index(["thread_id", "created_at"])
    # What WhatsApp charges for: messages Wati accepted per number and calendar month (UTC),
    # by kind ("session": free text, files, buttons; "template"). Counted when Wati says yes.
    db["sends"].create(
        {"month": str, "channel_number": str, "kind": str, "count": int},
        pk=("month", "channel_number", "kind"),
        defaults={"count": 0},
    )


@migrations()
def m019_outbox_templates(db: Database) -> None:
    # A template sent from Slack goes through the outbox like a reply (queued, sent by the
    # sender, settled from Wati's history when the answer was lost): the template to send as
    # JSON ({"name", "params": {name: value}, "broadcast"}); NULL for ordinary replies.
    db["outbox"].add_column("template", str)


@migrations()
def m020_outbox_questions(db: Database) -> None:
    # The rating question goes through the outbox too (queued, sent by the sender, which picks
    # buttons, a numbered text or the rating template when it sends, settled from Wati's
    # history when the answer was lost): what may be sent, as JSON (see
    # `bot.relay.questions`); NULL for other rows.
    db["outbox"].add_column("question", str)


@migrations()
def m021_broadcasts(db: Database) -> None:
    # A template broadcast (`/wati broadcast`) as a journal, recorded whole before anything is
    # sent: one row per broadcast (template, broadcast name, the progress message's ts, the
    # numbers refused before sending) and one per chunk of at most 100 receivers (one Wati
    # sendTemplateMessages call). A chunk: queued -> sending (committed before the call) ->
    # done (`accepted`, `refused` counts; `failures` the refused numbers with reasons) or
    # unknown (cut by a crash or a lost answer: never sent again). A broadcast: sending ->
    # done once its report is on the progress message; its numbers (`receivers`, `failures`,
    # `refused_numbers`) are then cleared, the counts kept.
    db["broadcasts"].create(
        {
            "id": int,
            "slack_channel_id": str,
            "channel_number": str,
            "user_id": str,
            "template": str,
            "broadcast_name": str,
            "progress_ts": str,
            "total": int,
            "refused_numbers": str,  # JSON [[given, reason], ...] refused before sending
            "state": str,
            "next_try_at": float,
            "report_tries": int,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"slack_channel_id", "channel_number", "template", "state", "total"},
        defaults={"report_tries": 0},
    )
    db["broadcasts"].create_index(["state"])
    db["broadcast_chunks"].create(
        {
            "broadcast_id": int,
            "seq": int,
            "size": int,
            "receivers": str,  # JSON [[number, {param: value}], ...]
            "state": str,
            "attempts": int,
            "attempted_at": float,
            "accepted": int,
            "refused": int,
            "failures": str,  # JSON [[number, reason], ...]
            "error": str,
            "updated_at": str,
        },
        pk=("broadcast_id", "seq"),
        not_null={"size", "state"},
        defaults={"attempts": 0, "accepted": 0, "refused": 0},
    )
