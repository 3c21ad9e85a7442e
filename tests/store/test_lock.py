"""One bridge per database: real `python -m bot run` processes on one BRIDGE_DB."""

from __future__ import annotations

import socket
from pathlib import Path

from bot.devtools.harness.world import BridgeProcess, World
from bot.store import lock


def test_a_second_bridge_exits_2_naming_the_first_and_kill_9_frees_the_database(
    tmp_path: Path,
) -> None:
    with World(tmp_path) as world:
        world.prepare()
        first = world.start_bridge()
        assert first.proc is not None
        second = BridgeProcess(world).start()
        world.processes.append(second)
        assert second.proc is not None
        assert second.proc.wait(timeout=30) == 2
        log = world.log_path.read_text()
        assert f"another wati-bridge already runs on {world.db_path}" in log
        assert f"(pid {first.proc.pid} on {socket.gethostname()}, since 20" in log
        assert "Traceback" not in log
        assert first.alive and first.health().status_code == 200  # the first one goes on

        # kill -9 runs no cleanup; the kernel drops the lock with the process.
        world.kill_bridge()
        restarted = world.start_bridge()  # exits 2 (and fails here) if the lock outlived it
        assert restarted.proc is not None
        assert lock.holder(world.db_path) == {
            "pid": restarted.proc.pid,
            "host": socket.gethostname(),
            "since": lock.holder(world.db_path)["since"],  # type: ignore[index]
        }
        assert restarted.stop() == 0
        assert lock.holder(world.db_path) is None


def test_the_lock_is_exclusive_within_one_machine(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    held = lock.acquire(db)
    try:
        try:
            lock.acquire(db)
        except lock.DatabaseLocked as exc:
            assert exc.holder["host"] == socket.gethostname()
        else:
            raise AssertionError("a second lock was granted")
    finally:
        held.release()
    lock.acquire(db).release()  # free again once released
    assert oct((tmp_path / "b.db.lock").stat().st_mode & 0o777) == "0o600"
