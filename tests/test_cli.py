"""The `wati-bridge` command as a user runs it: real processes, real exit codes."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from bot.cli import main
from bot.store import open_store
from tests.kit import cli

COMMANDS = ["run", "migrate", "doctor", "backup", "backfill", "sandbox", "demo", "forget"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    assert f"wati-bridge {command}" in capsys.readouterr().out


def test_run_without_configuration_names_every_missing_variable(tmp_path: Path) -> None:
    result = cli("run", cwd=tmp_path)
    assert result.returncode == 2
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "WATI_API_ENDPOINT",
        "WATI_ACCESS_TOKEN",
    ):
        assert name in result.stderr


def test_run_reads_dotenv_in_the_working_folder(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxp-not-a-bot-token\n")
    result = cli("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "xoxb-" in result.stderr and "SLACK_BOT_TOKEN is missing" not in result.stderr


def test_migrate_creates_the_schema_and_is_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "bridge.db"
    first = cli("migrate", env={"BRIDGE_DB": str(db)}, cwd=tmp_path)
    assert first.returncode == 0 and "applied m001_enable_wal" in first.stdout
    again = cli("migrate", "--db", str(db), cwd=tmp_path)
    assert again.returncode == 0 and "up to date" in again.stdout
    store = open_store(db, migrate=False)
    assert {"links", "chats", "threads", "messages", "outbox"} <= set(store.db.table_names())
    store.close()


def test_doctor_against_unreachable_endpoints_names_each_problem(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    result = cli(
        "doctor",
        env={
            "SLACK_BOT_TOKEN": "xoxb-1-2",
            "SLACK_SIGNING_SECRET": "s",
            "SLACK_API_URL": f"{dead}/api/",
            "WATI_API_ENDPOINT": f"{dead}/123",
            "WATI_ACCESS_TOKEN": "t",
            "BRIDGE_DB": str(tmp_path / "nowhere" / "deeper" / "b.db"),
        },
        cwd=tmp_path,
    )
    # A database folder that does not exist is a likely typo (exit 2 outranks unreachable's 1).
    assert result.returncode == 2
    assert "[FAIL] slack token: could not reach Slack" in result.stdout
    assert "[FAIL] wati: could not reach Wati at 127.0.0.1" in result.stdout
    assert "[FAIL] database:" in result.stdout and "does not exist (a typo in" in result.stdout
    assert "fix:" in result.stdout
    assert not (tmp_path / "nowhere").exists()  # doctor writes nothing
    assert "Traceback" not in result.stderr and result.stderr == ""


def test_doctor_reports_missing_configuration_and_a_read_only_database(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = cli("doctor", env={"BRIDGE_DB": str(locked / "b.db")}, cwd=tmp_path)
    finally:
        locked.chmod(0o700)
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN is missing" in result.stdout
    if os.geteuid() != 0:  # root writes anywhere
        assert "[FAIL] database" in result.stdout


def test_doctor_passes_against_the_stand_ins(
    settings: object, sandbox: object, slack: object, tmp_path: Path
) -> None:
    from bot.devtools.sandbox import Sandbox
    from bot.devtools.slack_standin.server import SlackStandIn

    assert isinstance(sandbox, Sandbox) and isinstance(slack, SlackStandIn)
    result = cli(
        "doctor",
        env={
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": "s",
            "SLACK_API_URL": slack.api_url,
            "WATI_API_ENDPOINT": sandbox.api_endpoint,
            "WATI_ACCESS_TOKEN": sandbox.token,
            "BRIDGE_DB": str(tmp_path / "ok.db"),
        },
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout
    assert "all checks passed" in result.stdout


def test_demo_passes(tmp_path: Path) -> None:
    result = cli("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "steps happened" in result.stdout and "missing:" not in result.stdout
    assert "customer → Hi! Where is my order 1001?" in result.stdout  # the WhatsApp side
    assert "[bridge] Hi! Where is my order 1001?" in result.stdout  # the Slack side
    out = result.stdout
    assert "Marks on a reply: ⏳ queued, ✅ sent, ☑️ delivered, 👀 read, ❌ failed" in " ".join(
        out.splitlines()
    )
    assert "[sam] Here is your discount code SAVE10  ❌" in out  # people by name, marks as emoji
    assert (
        "[ Resolve ]  [ Resolve and ask for a rating ]  [ Send template ]  [ Contact ]" in out
    )  # the parent's buttons
    assert "── /wati status in #support" in out and "*Wati quota:*" in out
    assert "<@U" not in out and "<#C" not in out and ":eyes:" not in out
    # Long lines wrap at word boundaries: joined again, every sentence is whole.
    joined = " ".join(line.strip() for line in out.splitlines())
    assert "Press *Retry* to send it again." in joined
    assert "Reply to this message and we will pick up where we left off. (" in joined
    assert all(len(line) <= 100 for line in out.splitlines() if line.startswith("    "))


def test_doctor_names_missing_scopes(tmp_path: Path) -> None:
    from bot.devtools.slack_standin.server import SlackStandIn
    from bot.ops.doctor import diagnose

    with SlackStandIn(scopes=["chat:write", "commands"]).start() as slack:
        findings = diagnose(
            {
                "SLACK_BOT_TOKEN": slack.bot_token,
                "SLACK_API_URL": slack.api_url,
                "BRIDGE_DB": str(tmp_path / "b.db"),
            }
        )
    [scopes] = [f for f in findings if f.check == "slack scopes"]
    assert not scopes.ok and "reactions:write" in scopes.detail and "users:read" in scopes.detail
