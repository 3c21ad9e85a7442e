"""The store on real SQLite: the migrated schema, idempotent migrations, and the records."""

import os
import stat
import threading
from pathlib import Path

import pytest

from bot.store import Store, open_store
from bot.store.links import LinkConflict


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = open_store(tmp_path / "b.db")
    yield opened
    opened.close()


def test_blank_database_gets_the_whole_schema(store: Store) -> None:
    db = store.db
    assert set(db.table_names()) >= {
        "links",
        "chats",
        "threads",
        "messages",
        "outbox",
        "events_seen",
        "api_calls",
        "contacts",
        "errors",
        "kv",
        "_sqlite_migrations",
    }
    assert db["links"].pks == ["channel_number"]
    assert db["chats"].pks == ["channel_number", "customer_number"]
    assert db["messages"].pks == ["wati_id"]
    assert set(db["messages"].columns_dict) >= {"direction", "slack_ts", "state", "attempts"}
    assert set(db["outbox"].columns_dict) >= {
        "slack_channel_id",
        "slack_ts",
        "state",
        "wati_id",
        "error",
        "attempts",
        "local_message_id",
    }
    assert set(db["chats"].columns_dict) >= {"last_inbound_at", "next_poll_at", "customer_name"}
    assert db.execute("pragma journal_mode").fetchone()[0] == "wal"


def test_reapplying_migrations_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    first = open_store(path)
    schema = first.db.execute("select sql from sqlite_master order by name").fetchall()
    first.close()
    again = open_store(path, migrate=False)
    assert again.migrate() == []
    assert again.db.execute("select sql from sqlite_master order by name").fetchall() == schema
    again.close()


def test_database_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "private.db"
    open_store(path).close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_links_are_one_to_one(store: Store) -> None:
    store.link("15550000001", "C1", "U1")
    assert store.link("15550000001", "C1", "U2").linked_by == "U1"  # same link again: a no-op
    with pytest.raises(LinkConflict) as number_taken:
        store.link("15550000001", "C2", "U1")
    assert number_taken.value.existing.slack_channel_id == "C1"
    with pytest.raises(LinkConflict) as channel_taken:
        store.link("15550000002", "C1", "U1")
    assert channel_taken.value.existing.channel_number == "15550000001"
    assert store.unlink("C1") is not None
    assert store.unlink("C1") is None
    store.link("15550000001", "C2", "U1")
    assert store.link_for_number("15550000001").slack_channel_id == "C2"


def test_messages_are_recorded_once(store: Store) -> None:
    args = dict(
        channel_number="1", customer_number="2", direction="in", created="t", state="pending"
    )
    assert store.record_message("w1", **args)
    assert not store.record_message("w1", **{**args, "state": "skipped"})
    assert store.logged("w1").state == "pending"
    assert store.known_ids(["w1", "w2"]) == {"w1"}
    assert store.backlog() == 1


def test_replies_are_enqueued_once_per_slack_message(store: Store) -> None:
    row = dict(
        slack_channel_id="C1",
        slack_ts="1.1",
        thread_id=1,
        channel_number="1",
        customer_number="2",
        user_id="U1",
        body="hi",
        local_message_id="abc",
    )
    first, created = store.enqueue_reply(**row)
    again, created_again = store.enqueue_reply(**{**row, "local_message_id": "def"})
    assert created and not created_again and again.id == first.id
    assert store.reply_by_local_id("abc").id == first.id


def test_event_ids_and_call_counts(store: Store) -> None:
    assert store.first_sighting("Ev1") and not store.first_sighting("Ev1")
    for _ in range(3):
        store.count_call("getMessages", "2026-11-25")
    store.count_call("getMessages", "2026-10-31")
    assert store.calls_since("2026-11-01") == {"getMessages": 3}


def test_concurrent_writers_share_one_connection(store: Store) -> None:
    def work(n: int) -> None:
        for i in range(50):
            store.count_call(f"e{n}", "2026-11-25")
            store.record_message(
                f"{n}-{i}",
                channel_number="1",
                customer_number="2",
                direction="in",
                created="t",
                state="posted",
            )

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.calls_since("2026-11-01") == {f"e{n}": 50 for n in range(4)}
    assert store.query("select count(*) as n from messages")[0]["n"] == 200
