"""`wati-bridge doctor` on the Slack mode: which one the configuration selects, what it needs,
and whether the app-level token opens a Socket Mode connection (real processes, exit codes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.devtools.sandbox import Sandbox
from bot.devtools.slack_standin.server import SlackStandIn
from tests.test_cli import cli


def _env(sandbox: Sandbox, slack: SlackStandIn, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_API_URL": slack.api_url,
        "WATI_API_ENDPOINT": sandbox.api_endpoint,
        "WATI_ACCESS_TOKEN": sandbox.token,
        "BRIDGE_DB": str(tmp_path / "ok.db"),
    }
    env.update(extra)
    return {k: v for k, v in env.items() if v}


@pytest.fixture
def narrow() -> Iterator[SlackStandIn]:
    """A stand-in whose app-level token lacks connections:write."""
    with SlackStandIn(app_scopes=("authorizations:read",)) as standin:
        yield standin


def test_socket_mode_with_a_good_app_token_passes(
    sandbox: Sandbox, slack: SlackStandIn, tmp_path: Path
) -> None:
    env = _env(sandbox, slack, tmp_path, SLACK_APP_TOKEN=slack.app_token)
    result = cli("doctor", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "[ok  ] slack mode: Socket Mode (SLACK_APP_TOKEN is set)" in result.stdout
    assert "SLACK_BOT_TOKEN (xoxb-) and SLACK_APP_TOKEN (xapp-, connections:write)" in result.stdout
    assert "[ok  ] slack app token: apps.connections.open ok" in result.stdout
    assert slack.calls_to("apps.connections.open")[-1].ok


@pytest.mark.parametrize(
    ("token", "said"),
    [
        ("xapp-bogus", "apps.connections.open answered invalid_auth"),
        ("xoxb-standin", "SLACK_APP_TOKEN is a bot token"),
    ],
    ids=["bogus", "bot-token"],
)
def test_a_bad_app_token_fails_with_how_to_fix(
    sandbox: Sandbox, slack: SlackStandIn, tmp_path: Path, token: str, said: str
) -> None:
    result = cli("doctor", env=_env(sandbox, slack, tmp_path, SLACK_APP_TOKEN=token), cwd=tmp_path)
    assert result.returncode == 2, result.stdout  # a configuration problem
    assert f"[FAIL] slack app token: {said}" in result.stdout
    assert "fix: " in result.stdout and "all checks passed" not in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_an_app_token_without_connections_write_is_named(
    sandbox: Sandbox, narrow: SlackStandIn, tmp_path: Path
) -> None:
    env = _env(sandbox, narrow, tmp_path, SLACK_APP_TOKEN=narrow.app_token)
    result = cli("doctor", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "missing_scope (the token lacks connections:write)" in result.stdout
    assert "needs the connections:write scope" in result.stdout


def test_http_mode_says_what_it_needs(
    sandbox: Sandbox, slack: SlackStandIn, tmp_path: Path
) -> None:
    # Neither token nor secret: no mode is chosen yet; both are explained, Socket Mode first.
    unset = cli("doctor", env=_env(sandbox, slack, tmp_path), cwd=tmp_path)
    assert unset.returncode == 2
    assert "[FAIL] slack mode: no mode chosen yet" in unset.stdout
    assert (
        "set SLACK_APP_TOKEN for Socket Mode, or SLACK_SIGNING_SECRET for HTTP mode" in unset.stdout
    )

    env = _env(sandbox, slack, tmp_path, SLACK_SIGNING_SECRET="s")
    complete = cli("doctor", env=env, cwd=tmp_path)
    assert complete.returncode == 0, complete.stdout
    assert "[ok  ] slack mode: HTTP mode" in complete.stdout
    assert "public HTTPS URL" in complete.stdout
    assert "slack app token" not in complete.stdout  # not checked: HTTP mode has none
