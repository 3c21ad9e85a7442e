"""`wati-bridge backup FILE`: a consistent copy of a running bridge's database, restored and
run on by a real bridge process."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
from pathlib import Path

from bot.devtools.harness.traffic import settle
from bot.devtools.harness.world import World
from tests.kit import cli


def test_a_backup_taken_while_running_restores_and_runs(tmp_path: Path) -> None:
    copy = tmp_path / "backups" / "bridge-copy.db"
    copy.parent.mkdir()
    with World(tmp_path / "world") as world:
        world.prepare()
        traffic = world.traffic(random.Random(7))
        traffic.greet()
        world.start_bridge()
        settle(traffic)
        sent = traffic.reply()
        assert sent is not None
        settle(traffic)

        # While the bridge runs (it writes every poll round), straight from its WAL database.
        result = cli("backup", str(copy), env={"BRIDGE_DB": str(world.db_path)})
        assert result.returncode == 0, result.stderr
        assert "2 link(s), " in result.stdout and "1 reply(ies)" in result.stdout
        assert oct(copy.stat().st_mode & 0o777) == "0o600"
        assert not Path(f"{copy}.partial").exists()
        with sqlite3.connect(copy) as check:
            assert check.execute("pragma integrity_check").fetchone()[0] == "ok"
            assert check.execute("pragma journal_mode").fetchone()[0] == "wal"

        # The disk is lost: restore as the README says (stop, remove -wal/-shm, copy back).
        world.kill_bridge()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{world.db_path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(copy, world.db_path)
        os.chmod(world.db_path, 0o600)

        traffic.customer_says()  # a customer writes while the bridge is down
        world.start_bridge()
        # Nothing posted twice, nothing lost (a second look right after could catch a reply's
        # mark in the moment it is swapped for the next one).
        settle(traffic)
        with sqlite3.connect(world.db_path) as check:
            rows = check.execute("select slack_ts, state from outbox").fetchall()
        assert rows == [(sent.ts, "sent")]  # the reply's record came back with the copy


def test_backup_refuses_the_database_itself_and_a_missing_one(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    assert cli("migrate", "--db", str(db)).returncode == 0
    same = cli("backup", str(db), env={"BRIDGE_DB": str(db)})
    assert same.returncode == 2 and "is the live database" in same.stderr
    missing = cli("backup", str(tmp_path / "x.db"), "--db", str(tmp_path / "nope.db"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    assert "Traceback" not in same.stderr + missing.stderr


def test_backup_refuses_the_live_database_however_the_path_is_spelt(tmp_path: Path) -> None:
    """Under a running bridge: each spelling is refused, and the bridge goes on untouched."""
    with World(tmp_path) as world:
        world.prepare()
        world.start_bridge()
        (world.tmp / "sub").mkdir()
        (world.tmp / "link.db").symlink_to(world.db_path)
        os.link(world.db_path, world.tmp / "hard.db")
        before = world.db_path.stat().st_ino
        env = {"BRIDGE_DB": str(world.db_path)}
        for target in (
            "sub/../bridge.db",
            "./bridge.db",
            str(world.db_path),
            "link.db",
            "hard.db",
            "bridge.db-wal",
            "sub/../bridge.db.lock",
        ):
            done = cli("backup", target, env=env, cwd=world.tmp)
            assert done.returncode == 2, (target, done.stderr)
            assert done.stderr.startswith(
                f"wati-bridge: backup refused: {Path(target)} is the live"
            ), done.stderr
        assert world.db_path.stat().st_ino == before
        assert world.bridge is not None and world.bridge.health().status_code == 200
        folder = cli("backup", "sub", env=env, cwd=world.tmp)
        assert folder.returncode == 2 and "sub is a folder: give a file name" in folder.stderr
        missing = cli("backup", "nowhere/copy.db", env=env, cwd=world.tmp)
        assert missing.returncode == 2
        assert f"the folder {world.tmp / 'nowhere'} does not exist" in missing.stderr
        assert ".partial" not in missing.stderr
        good = cli("backup", "sub/copy.db", env=env, cwd=world.tmp)
        assert good.returncode == 0, good.stderr
