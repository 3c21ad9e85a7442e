"""Starts that fail cleanly, on the real process: the listener's port is bound (and the HOST
resolved) before anything calls Wati or Slack, so a start a restart cannot fix costs no API
quota, says what is wrong and the fix in one line, and exits 2 (which the systemd unit does not
restart). `doctor` and `wati-bridge sandbox` say the same of a busy port."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.devtools.harness.world import MODES, World, free_port
from tests.kit import cli


@pytest.fixture(params=MODES)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    with World(tmp_path / request.param, mode=request.param) as w:
        w.prepare()
        yield w


@pytest.fixture
def taken() -> Iterator[socket.socket]:
    """Another program listening on a port (every interface, as HOST's default binds)."""
    with socket.socket() as other:
        other.bind(("0.0.0.0", 0))
        other.listen()
        yield other


def _run(world: World, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=world.tmp,
        env=world.env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _nothing_called(world: World) -> None:
    assert world.sandbox.calls() == 0
    assert world.slack.calls == []


def test_a_taken_port_exits_2_before_any_call(world: World, taken: socket.socket) -> None:
    port = taken.getsockname()[1]
    done = _run(world, PORT=str(port), HOST="127.0.0.1")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in lines[0]
    assert "fix: stop that program or set PORT to a free port" in lines[0]
    _nothing_called(world)


@pytest.mark.parametrize("host", ["no-such-host.invalid", "203.0.113.7", "x" * 300])
def test_a_bad_host_exits_2_before_any_call(world: World, host: str) -> None:
    done = _run(world, HOST=host)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"wati-bridge: HOST {host[:100]!r} is not an address of this")
    assert "fix: set HOST to 0.0.0.0" in lines[0]
    _nothing_called(world)


def test_a_free_port_is_served_and_logged_as_bound(world: World) -> None:
    bridge = world.start_bridge()
    assert f"listening on 127.0.0.1:{world.port}" in bridge.world_log_tail(200)
    assert bridge.stop() == 0


def test_doctor_checks_the_port(world: World, taken: socket.socket) -> None:
    port = taken.getsockname()[1]
    env = world.env(PORT=str(port), HOST="0.0.0.0")
    busy = cli("doctor", env=env, cwd=world.tmp)
    assert busy.returncode == 2, busy.stdout
    assert f"[FAIL] port: port {port} on 0.0.0.0 is already in use" in busy.stdout
    assert "— fix: stop that program or set PORT to a free port" in busy.stdout
    free = cli("doctor", env=world.env(PORT=str(free_port())), cwd=world.tmp)
    assert "[ok  ] port: 127.0.0.1:" in free.stdout and "is free" in free.stdout, free.stdout


def test_doctor_beside_the_running_bridge_accepts_its_port(world: World) -> None:
    world.start_bridge()
    beside = cli("doctor", env=world.env(), cwd=world.tmp)
    assert f"[ok  ] port: 127.0.0.1:{world.port} is in use, by the bridge" in beside.stdout


def test_the_sandbox_on_a_taken_port(tmp_path: Path, taken: socket.socket) -> None:
    port = taken.getsockname()[1]
    done = cli("sandbox", "--port", str(port), "--db", str(tmp_path / "s.db"), cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        f"wati-bridge: sandbox: port {port} on 127.0.0.1 is already in use (another program, "
        f"or another bridge, listens on 127.0.0.1:{port}) — fix: stop that program or set "
        "--port to a free port"
    )
