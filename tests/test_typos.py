"""No typo passes silently: unknown names with the closest known one, known endpoint mistakes
with the exact fix, business hours as people type them (and nothing else), on `Settings` and on
the real `wati-bridge run` and `doctor` processes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import bot.config
from bot.base.hours import BusinessHours
from bot.config import KNOWN_NAMES, ConfigError, Settings
from tests.kit import cli

GOOD = {
    "SLACK_BOT_TOKEN": "xoxb-1-2-3",
    "SLACK_SIGNING_SECRET": "s3cret",
    "WATI_API_ENDPOINT": "https://live-mt-server.wati.io/123456",
    "WATI_ACCESS_TOKEN": "abc.def",
}


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    return caught.value.problems


def test_every_name_the_configuration_reads_is_known() -> None:
    """The list is the one place: a variable read but not listed would be called a typo."""
    source = Path(bot.config.__file__).read_text()
    read = set(re.findall(r'get\("([A-Z_]+)"\)', source))
    read |= set(re.findall(r'env\.get\("([A-Z_]+)"', source))
    assert read and read <= KNOWN_NAMES, read - KNOWN_NAMES
    Settings.from_env({**{name: "" for name in KNOWN_NAMES}, **GOOD})  # none is called a typo


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("WATI_ACESS_TOKEN", "WATI_ACCESS_TOKEN"),
        ("BRIDGE_POLL_SECOND", "BRIDGE_POLL_SECONDS"),
        ("SLACK_BOT_TOKNE", "SLACK_BOT_TOKEN"),
        ("BRIDGE_BUISNESS_HOURS", "BRIDGE_BUSINESS_HOURS"),
        ("BRIDGE_RETENTION_DAY", "BRIDGE_RETENTION_DAYS"),
    ],
)
def test_a_misspelt_name_is_refused_with_the_closest_known_one(typo: str, meant: str) -> None:
    found = problems({**GOOD, typo: "5"})
    assert f"{typo} is not a setting of wati-bridge: did you mean {meant}? Rename it" in found


def test_a_misspelt_required_name_says_both_things() -> None:
    env = {k: v for k, v in GOOD.items() if k != "WATI_ACCESS_TOKEN"}
    found = problems({**env, "WATI_ACESS_TOKEN": "abc"})
    assert any(p.startswith("WATI_ACCESS_TOKEN is missing") for p in found)
    assert any("did you mean WATI_ACCESS_TOKEN?" in p for p in found)


def test_a_name_of_another_program_is_not_a_problem() -> None:
    Settings.from_env({**GOOD, "SLACK_WEBHOOK_URL_FOR_ALERTS": "x", "WATI_CLI_HOME": "/x"})


@pytest.mark.parametrize(
    ("endpoint", "fix"),
    [
        (
            "https://live-mt-server.wati.io/123456/api/v1",
            "WATI_API_ENDPOINT ends in '/api/v1': set it to "
            "'https://live-mt-server.wati.io/123456'",
        ),
        (
            "https://live-mt-server.wati.io/123456/api/v1/getMessages/4477",
            "WATI_API_ENDPOINT ends in '/api/v1/getMessages/4477': set it to "
            "'https://live-mt-server.wati.io/123456'",
        ),
        (
            "https://live-mt-server.wati.io/123456/api/v3/",
            "WATI_API_ENDPOINT ends in '/api/v3': set it to "
            "'https://live-mt-server.wati.io/123456'",
        ),
        (
            "https://live-mt-server.wati.io/123456?tab=api",
            "WATI_API_ENDPOINT has a '?' or '#' part: set it to "
            "'https://live-mt-server.wati.io/123456'",
        ),
        ("https://live-mt-server.wati.io/", "WATI_API_ENDPOINT has no tenant id"),
        ("https://app.wati.io/api-docs", "WATI_API_ENDPOINT is Wati's website"),
    ],
)
def test_known_endpoint_mistakes_get_the_exact_fix(endpoint: str, fix: str) -> None:
    found = problems({**GOOD, "WATI_API_ENDPOINT": endpoint})
    assert len(found) == 1 and found[0].startswith(fix), found


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("Mon-Fri 09:00-18:00 Europe/Berlin", {0, 1, 2, 3, 4}),
        ("Mon\u2013Fri 09:00-18:00 Europe/Berlin", {0, 1, 2, 3, 4}),  # en dash
        ("Mon \u2014 Fri 09:00\u201318:00 Europe/Berlin", {0, 1, 2, 3, 4}),  # em dash, spaces
        ("Monday-Friday 09:00-18:00 Europe/Berlin", {0, 1, 2, 3, 4}),
        ("mon, wed ,FRI 09:00-18:00 UTC", {0, 2, 4}),
        ("Tues-Thurs 09:00-18:00 UTC", {1, 2, 3}),
        ("Weds 09:00-18:00 UTC", {2}),
        ("Fri-Mon 09:00-18:00 UTC", {4, 5, 6, 0}),
        ("Sa-Su 10:00-14:00 UTC", {5, 6}),
    ],
)
def test_business_hours_as_people_type_them(text: str, days: set[int]) -> None:
    assert BusinessHours.parse(text).days == days
    assert Settings.from_env({**GOOD, "BRIDGE_BUSINESS_HOURS": text}).business_hours is not None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Monkey-Friday 09:00-18:00 Europe/Berlin", "'monkey-friday' is not a day"),
        ("Mon-Fryday 09:00-18:00 Europe/Berlin", "'mon-fryday' is not a day"),
        ("M-F 09:00-18:00 UTC", "'m-f' is not a day"),
        ("T 09:00-18:00 UTC", "'t' is not a day"),
        ("Mon-Fri 09:00-18:00 Europe/" + "Atlantis" * 80, "is not a time zone name"),
        ("Mon-Fri 09:00-18:00 ../../etc/passwd", "is not a time zone name"),
        ("Mon-Fri 9am-6pm Europe/Berlin", "expected days, hours and a time zone"),
        ("Mon-Fri 18:00-09:00 UTC", "the end after the start"),
    ],
)
def test_anything_else_is_refused_with_a_clear_message(text: str, words: str) -> None:
    found = problems({**GOOD, "BRIDGE_BUSINESS_HOURS": text})
    assert len(found) == 1 and found[0].startswith("BRIDGE_BUSINESS_HOURS: "), found
    assert words in found[0] and len(found[0]) < 300, found


# -- the real processes -----------------------------------------------------------------------


def test_run_names_each_typo_from_dotenv_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "SLACK_BOT_TOKEN=xoxb-1-2-3\nSLACK_SIGNING_SECRET=s\n"
        "WATI_API_ENDPOINT=https://live-mt-server.wati.io/123456/api/v1\n"
        "WATI_ACESS_TOKEN=abc\nBRIDGE_POLL_SECOND=5\n"
        "BRIDGE_BUSINESS_HOURS=Monkey-Friday 09:00-18:00 Europe/Berlin\n"
    )
    done = cli("run", cwd=tmp_path, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    for words in (
        "WATI_ACESS_TOKEN is not a setting of wati-bridge: did you mean WATI_ACCESS_TOKEN?",
        "BRIDGE_POLL_SECOND is not a setting of wati-bridge: did you mean BRIDGE_POLL_SECONDS?",
        "WATI_API_ENDPOINT ends in '/api/v1': set it to 'https://live-mt-server.wati.io/123456'",
        "BRIDGE_BUSINESS_HOURS: 'monkey-friday' is not a day",
    ):
        assert words in done.stderr, done.stderr
    assert not (tmp_path / "wati-bridge.db").exists()  # refused before anything was made


def test_doctor_puts_the_problem_and_the_fix_in_their_places(tmp_path: Path) -> None:
    env = {
        **GOOD,
        "BRIDGE_DB": str(tmp_path / "x.db"),
        "BRIDGE_POLL_SECOND": "5",
        "BRIDGE_BUSINESS_HOURS": "Mon-Fri 09:00-18:00 Mars/Olympus",
        "SLACK_ALERTS_WEBHOOK": "x",
    }
    done = cli("doctor", env=env, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert (
        "[FAIL] configuration: BRIDGE_POLL_SECOND is not a setting of wati-bridge — fix: did "
        "you mean BRIDGE_POLL_SECONDS? Rename it" in lines
    )
    hours = next(line for line in lines if "BRIDGE_BUSINESS_HOURS" in line)
    assert hours.startswith("[FAIL] configuration: BRIDGE_BUSINESS_HOURS: 'Mars/Olympus' is not")
    assert hours.endswith("— fix: set it in the environment or in .env")
    assert (
        "[ok  ] configuration: SLACK_ALERTS_WEBHOOK is not a setting of wati-bridge and is "
        "ignored (another program's?)" in lines
    )
