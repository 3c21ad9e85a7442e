"""First-run mistakes, as a new operator makes them: each one gives one line naming the problem
and its fix, exit status 2 (configuration) or 1 (a host unreachable or refusing us), never a
traceback. `doctor` and `run` are real processes against the loopback stand-ins."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.devtools.harness.world import World, free_port
from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_standin.server import SlackStandIn
from tests.kit import cli


@pytest.fixture
def stand_ins(tmp_path: Path) -> Iterator[tuple[Sandbox, SlackStandIn]]:
    with Sandbox(tmp_path / "wati.db") as sandbox, SlackStandIn().start() as slack:
        yield sandbox, slack


def good_env(tmp_path: Path, sandbox: Sandbox, slack: SlackStandIn, **extra: str) -> dict[str, str]:
    env = {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": "s",
        "SLACK_API_URL": slack.api_url,
        "WATI_API_ENDPOINT": sandbox.api_endpoint,
        "WATI_ACCESS_TOKEN": sandbox.token,
        "BRIDGE_DB": str(tmp_path / "bridge.db"),
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
    }
    env.update(extra)
    return env


def assert_one_clean_line(stream: str, *needles: str) -> None:
    assert "Traceback" not in stream, stream
    lines = [line for line in stream.splitlines() if "fix:" in line]
    assert len(lines) == 1, stream
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("command", ["doctor", "run"])
def test_an_endpoint_without_https_says_what_to_write(
    command: str, tmp_path: Path, stand_ins: tuple[Sandbox, SlackStandIn]
) -> None:
    sandbox, slack = stand_ins
    env = good_env(tmp_path, sandbox, slack, WATI_API_ENDPOINT="live-mt-server.wati.io/123456")
    result = cli(command, env=env, cwd=tmp_path)
    assert result.returncode == 2
    out = result.stdout + result.stderr
    assert "Traceback" not in out
    assert "set it to 'https://live-mt-server.wati.io/123456'" in out
    assert not (tmp_path / "bridge.db").exists()


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("SLACK_BOT_TOKEN", "xapp-1-A0-123-abc", "belongs in SLACK_APP_TOKEN"),
        ("SLACK_BOT_TOKEN", "xoxp-1-2-3", "user token"),
        ("SLACK_APP_TOKEN", "xoxb-1-2-3", "belongs in SLACK_BOT_TOKEN"),
        ("WATI_ACCESS_TOKEN", "xoxb-1-2-3", "holds a Slack token"),
    ],
)
@pytest.mark.parametrize("command", ["doctor", "run"])
def test_a_token_of_the_wrong_kind_is_named(
    command: str,
    name: str,
    value: str,
    needle: str,
    tmp_path: Path,
    stand_ins: tuple[Sandbox, SlackStandIn],
) -> None:
    sandbox, slack = stand_ins
    result = cli(command, env=good_env(tmp_path, sandbox, slack, **{name: value}), cwd=tmp_path)
    assert result.returncode == 2
    out = result.stdout + result.stderr
    assert needle in out and "Traceback" not in out
    assert value not in out  # a token is never echoed


@pytest.mark.parametrize("error", ["invalid_auth", "token_revoked", "account_inactive"])
@pytest.mark.parametrize("command", ["doctor", "run"])
def test_a_bad_or_revoked_slack_token_says_to_reinstall_or_copy_it(
    command: str, error: str, tmp_path: Path, stand_ins: tuple[Sandbox, SlackStandIn]
) -> None:
    sandbox, slack = stand_ins
    slack.fail_next("auth.test", status=200, error=error)
    result = cli(command, env=good_env(tmp_path, sandbox, slack), cwd=tmp_path)
    assert result.returncode == 2
    stream = result.stdout if command == "doctor" else result.stderr
    assert_one_clean_line(stream, error, "xoxb-")


@pytest.mark.parametrize("dead", ["SLACK_API_URL", "WATI_API_ENDPOINT"])
@pytest.mark.parametrize("command", ["doctor", "run"])
def test_an_unreachable_host_exits_1(
    command: str, dead: str, tmp_path: Path, stand_ins: tuple[Sandbox, SlackStandIn]
) -> None:
    sandbox, slack = stand_ins
    nowhere = f"http://127.0.0.1:{free_port()}" + ("/api/" if dead == "SLACK_API_URL" else "/1")
    result = cli(command, env=good_env(tmp_path, sandbox, slack, **{dead: nowhere}), cwd=tmp_path)
    assert result.returncode == 1
    stream = result.stdout if command == "doctor" else result.stderr
    assert_one_clean_line(stream, "could not reach", "127.0.0.1")


@pytest.mark.parametrize("command", ["doctor", "run"])
def test_a_wrong_wati_token_exits_2(
    command: str, tmp_path: Path, stand_ins: tuple[Sandbox, SlackStandIn]
) -> None:
    sandbox, slack = stand_ins
    env = good_env(tmp_path, sandbox, slack, WATI_ACCESS_TOKEN="not-the-token")
    result = cli(command, env=env, cwd=tmp_path)
    assert result.returncode == 2
    stream = result.stdout if command == "doctor" else result.stderr
    assert_one_clean_line(stream, "Wati refused the access token", "API Docs")


class _Cloudflare(BaseHTTPRequestHandler):
    """What Wati's firewall answers some clients: 403 and its own plain-text page."""

    def do_GET(self) -> None:
        body = b"error code: 1010"
        self.send_response(403)
        self.send_header("Content-Type", "text/plain; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def cloudflare() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Cloudflare)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/123456"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("command", ["doctor", "run"])
def test_cloudflares_403_is_not_called_a_token_problem(
    command: str, cloudflare: str, tmp_path: Path, stand_ins: tuple[Sandbox, SlackStandIn]
) -> None:
    sandbox, slack = stand_ins
    env = good_env(tmp_path, sandbox, slack, WATI_API_ENDPOINT=cloudflare)
    result = cli(command, env=env, cwd=tmp_path)
    assert result.returncode == 1
    stream = result.stdout if command == "doctor" else result.stderr
    assert_one_clean_line(stream, "Cloudflare", "error code 1010", "not a token problem")


def test_doctor_with_no_configuration_explains_both_modes_and_writes_nothing(
    tmp_path: Path,
) -> None:
    result = cli("doctor", cwd=tmp_path)
    assert result.returncode == 2
    assert "SLACK_SIGNING_SECRET is missing" not in result.stdout
    assert "missing SLACK_SIGNING_SECRET" not in result.stdout
    assert "[FAIL] slack mode: no mode chosen yet" in result.stdout
    assert "Socket Mode, the default, needs SLACK_APP_TOKEN (xapp-" in result.stdout
    assert "HTTP mode needs SLACK_SIGNING_SECRET and a public HTTPS URL" in result.stdout
    assert "wati-bridge.db does not exist yet" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_doctor_leaves_an_existing_database_untouched(
    tmp_path: Path, stand_ins: tuple[Sandbox, SlackStandIn]
) -> None:
    sandbox, slack = stand_ins
    folder = tmp_path / "bridge"
    assert cli("migrate", env={"BRIDGE_DB": str(folder / "bridge.db")}).returncode == 0
    before = {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir()}
    result = cli("doctor", "--verbose", env=good_env(folder, sandbox, slack), cwd=folder)
    assert result.returncode == 0, result.stdout
    assert "bridge.db is writable, up to date" in result.stdout
    after = {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir()}
    assert after == before == {"bridge.db": before["bridge.db"]}


def test_global_flags_work_after_the_subcommand(tmp_path: Path) -> None:
    for args in (["run", "-v"], ["-v", "run"], ["doctor", "--verbose"], ["backfill", "-v"]):
        result = cli(*args, cwd=tmp_path)
        assert result.returncode == 2, args
        assert "unrecognized arguments" not in result.stderr


def test_a_normal_start_logs_no_warning(tmp_path: Path) -> None:
    with World(tmp_path) as world:
        world.prepare()
        world.start_bridge().stop()
        log = world.log_path.read_text()
    assert "bridge started" in log
    assert "WARNING" not in log and "ERROR" not in log, log
