"""Settings.from_env: defaults, every rule, and all problems named at once."""

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, db_path_from_env, read_environ

GOOD = {
    "SLACK_BOT_TOKEN": "xoxb-1-2-3",
    "SLACK_SIGNING_SECRET": "s3cret",
    "WATI_API_ENDPOINT": "https://live-mt-server.wati.io/123456/",
    "WATI_ACCESS_TOKEN": "Bearer abc.def",
}


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    return caught.value.problems


def test_defaults_and_normalisation() -> None:
    s = Settings.from_env(GOOD)
    assert s.wati_api_endpoint == "https://live-mt-server.wati.io/123456"
    assert s.wati_access_token == "abc.def"
    assert s.slack_api_url == "https://slack.com/api/"
    assert (s.db_path, s.poll_seconds, s.wati_monthly_calls) == ("wati-bridge.db", 10.0, 10_000)
    assert (s.host, s.port, s.admins, s.socket_mode) == ("0.0.0.0", 3000, (), False)


def test_every_missing_variable_is_named_at_once() -> None:
    found = problems({})
    text = "\n".join(found)
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "WATI_API_ENDPOINT",
        "WATI_ACCESS_TOKEN",
    ):
        assert name in text
    assert len(found) == 4


def test_socket_mode_needs_no_signing_secret() -> None:
    env = {**GOOD, "SLACK_APP_TOKEN": "xapp-1-A-2"}
    del env["SLACK_SIGNING_SECRET"]
    assert Settings.from_env(env).socket_mode


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SLACK_BOT_TOKEN", "xoxp-user", "xoxb-"),
        ("SLACK_APP_TOKEN", "xoxb-wrong", "xapp-"),
        ("SLACK_API_URL", "ftp://x", "SLACK_API_URL"),
        ("WATI_API_ENDPOINT", "live-mt-server.wati.io/1", "http(s) URL"),
        ("WATI_ACCESS_TOKEN", "Bearer ", "WATI_ACCESS_TOKEN is missing"),
        ("BRIDGE_POLL_SECONDS", "fast", "must be a number"),
        ("BRIDGE_POLL_SECONDS", "0.1", "between"),
        ("BRIDGE_WATI_MONTHLY_CALLS", "10.5", "whole number"),
        ("BRIDGE_WATI_MONTHLY_CALLS", "5", "between"),
        ("PORT", "70000", "between"),
        ("BRIDGE_ADMINS", "U123ABC, bob", "'bob'"),
        ("BRIDGE_AGENT_PREFIX", "maybe", "true or false"),
    ],
)
def test_invalid_values(name: str, value: str, expected: str) -> None:
    found = problems({**GOOD, name: value})
    assert len(found) == 1 and expected in found[0], found


def test_values_are_typed() -> None:
    s = Settings.from_env(
        {
            **GOOD,
            "SLACK_API_URL": "http://127.0.0.1:9/api",
            "BRIDGE_POLL_SECONDS": "2.5",
            "BRIDGE_WATI_MONTHLY_CALLS": "200000",
            "BRIDGE_ADMINS": "U1AAA, W2BBB",
            "PORT": "8080",
            "BRIDGE_AGENT_PREFIX": "yes",
            "BRIDGE_NOTE_PREFIX": "internal:",
        }
    )
    assert s.slack_api_url == "http://127.0.0.1:9/api/"
    assert (s.poll_seconds, s.wati_monthly_calls, s.port) == (2.5, 200_000, 8080)
    assert s.admins == ("U1AAA", "W2BBB")
    assert s.agent_prefix and s.note_prefix == "internal:"


def test_dotenv_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text('SLACK_BOT_TOKEN="xoxb-from-file"\nBRIDGE_DB=file.db\nPORT=1\n')
    merged = read_environ({"PORT": "2"}, dotenv)
    assert merged["SLACK_BOT_TOKEN"] == "xoxb-from-file"
    assert merged["PORT"] == "2"
    assert db_path_from_env(merged) == "file.db"
    assert read_environ({}, tmp_path / "absent.env") == {}


def test_message_lists_each_problem_on_its_own_line() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"PORT": "x"})
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("wati-bridge is not configured")
    assert sum(line.startswith("  - ") for line in lines) == 5


def test_desk_settings_and_their_defaults() -> None:
    s = Settings.from_env(GOOD)
    assert (s.reply_target_minutes, s.business_hours, s.assign_on_reply) == (30, None, False)
    s = Settings.from_env(
        {
            **GOOD,
            "BRIDGE_REPLY_TARGET_MINUTES": "0",
            "BRIDGE_BUSINESS_HOURS": "Mon-Fri 09:00-18:00 Europe/Berlin",
            "BRIDGE_ASSIGN_ON_REPLY": "true",
        }
    )
    assert s.reply_target_minutes == 0 and s.assign_on_reply is True
    assert (
        s.business_hours is not None
        and s.business_hours.text == "Mon-Fri 09:00-18:00 Europe/Berlin"
    )


def test_bad_desk_settings_are_named_with_the_expected_form() -> None:
    found = problems(
        {
            **GOOD,
            "BRIDGE_REPLY_TARGET_MINUTES": "soon",
            "BRIDGE_BUSINESS_HOURS": "weekdays 9 to 5",
            "BRIDGE_ASSIGN_ON_REPLY": "maybe",
        }
    )
    text = "\n".join(found)
    assert "BRIDGE_REPLY_TARGET_MINUTES must be a whole number" in text
    assert (
        "BRIDGE_BUSINESS_HOURS: expected days, hours and a time zone, e.g. `Mon-Fri 09:00-18:00 Europe/Berlin`"
        in text
    )
    assert "BRIDGE_ASSIGN_ON_REPLY must be true or false" in text


def test_the_rating_template_is_a_template_name() -> None:
    assert Settings.from_env(GOOD).rating_template is None
    assert Settings.from_env({**GOOD, "BRIDGE_RATING_TEMPLATE": " rate_us "}).rating_template == (
        "rate_us"
    )
    [problem] = problems({**GOOD, "BRIDGE_RATING_TEMPLATE": "rate us!"})
    assert problem.startswith("BRIDGE_RATING_TEMPLATE must be a Wati template name")
