"""`wati-bridge forget` as a user runs it: usage errors, confirmation, nothing known, a report."""

from __future__ import annotations

from pathlib import Path

from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_standin.server import SlackStandIn
from bot.store import open_store
from tests.kit import ADMIN, CHANNEL_A, SLACK_A, cli


def env_for(tmp_path: Path, sandbox: Sandbox, slack: SlackStandIn) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": "secret-for-the-cli-test",
        "SLACK_API_URL": slack.api_url,
        "WATI_API_ENDPOINT": sandbox.api_endpoint,
        "WATI_ACCESS_TOKEN": sandbox.token,
        "BRIDGE_DB": str(tmp_path / "bridge.db"),
    }


def test_bad_customer_and_missing_confirmation_exit_2(
    tmp_path: Path, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    env = env_for(tmp_path, sandbox, slack)
    bad = cli("forget", "bob", env=env, cwd=tmp_path)
    assert bad.returncode == 2 and "BSUID" in bad.stderr and "Traceback" not in bad.stderr
    store = open_store(tmp_path / "bridge.db")
    store.link(CHANNEL_A, SLACK_A, ADMIN)
    store.ensure_chat(CHANNEL_A, "447700900123", origin="test", next_poll_at=None)
    store.close()
    unconfirmed = cli("forget", "+44 7700 900123", env=env, cwd=tmp_path)
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
    store = open_store(tmp_path / "bridge.db")
    assert store.chat(CHANNEL_A, "447700900123") is not None  # nothing erased unasked
    store.close()
    done = cli("forget", "+44 7700 900123", "--yes", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Erased one customer: 1 conversations." in done.stdout
    assert "Wati" in done.stdout and "backups" in done.stdout


def test_an_unknown_customer_erases_nothing(
    tmp_path: Path, sandbox: Sandbox, slack: SlackStandIn
) -> None:
    result = cli("forget", "@bob_rivers", env=env_for(tmp_path, sandbox, slack), cwd=tmp_path)
    assert result.returncode == 0 and "nothing to erase" in result.stdout
