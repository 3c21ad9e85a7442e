"""Operator-side costs on a large database: one /metrics scrape and one `wati-bridge backup`.

Builds a database with 200,000 relayed messages and 20,000 replies on 3 linked numbers (real
SQLite, in a temporary folder), then prints the median time to render /metrics (5 runs) and the
time of a backup. `python bench/ops.py`.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from bot.ops.metrics import BridgeCollector, ErrorTally, exposition
from bot.relay.budget import Budget
from bot.store import open_store
from bot.store.files import backup

NUMBERS = ["15550000001", "15550000002", "15550000003"]


def fill(db: Path, messages: int, replies: int) -> None:
    store = open_store(db)
    for i, number in enumerate(NUMBERS):
        store.link(number, f"C{i}", "U1")
    store.close()
    rng = random.Random(1)
    with contextlib.closing(sqlite3.connect(db)) as con, con:
        con.executemany(
            "insert into messages (wati_id, channel_number, customer_number, direction, created,"
            " state, attempts, recorded_at) values (?, ?, ?, 'in', ?, ?, 0, ?)",
            [
                (
                    f"w{i}",
                    rng.choice(NUMBERS),
                    f"44{i % 5000:08d}",
                    "2026-01-01T00:00:00Z",
                    "pending" if rng.random() < 0.02 else "posted",
                    "2026-01-01T00:00:00Z",
                )
                for i in range(messages)
            ],
        )
        con.executemany(
            "insert into outbox (slack_channel_id, slack_ts, event_id, channel_number,"
            " customer_number, user_id, body, state, local_message_id, attempts, created_at,"
            " updated_at) values (?, ?, ?, ?, '4400', 'U1', 'x', ?, ?, 0, '2026', '2026')",
            [
                (
                    f"C{i % 3}",
                    f"{i}.0",
                    f"e{i}",
                    NUMBERS[i % 3],
                    "failed" if rng.random() < 0.05 else "sent",
                    f"l{i}",
                )
                for i in range(replies)
            ],
        )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bridge.db"
        fill(db, 200_000, 20_000)
        store = open_store(db)
        collector = BridgeCollector(
            store=store, budget=Budget(store=store, monthly_calls=10_000), errors=ErrorTally()
        )
        times = []
        for _ in range(5):
            started = time.perf_counter()
            text = exposition(collector)
            times.append(time.perf_counter() - started)
        store.close()
        print(f"database: {os.path.getsize(db) / 1e6:.1f} MB, 200,000 messages, 20,000 replies")
        print(f"/metrics: median {sorted(times)[2] * 1000:.0f} ms per scrape ({len(text)} bytes)")
        started = time.perf_counter()
        info = backup(str(db), str(Path(tmp) / "copy.db"))
        print(f"backup: {time.perf_counter() - started:.2f} s for {info.size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
