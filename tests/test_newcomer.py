"""The smaller things a newcomer tripped on, on the real commands: `-v` after any command,
a BRIDGE_DB in a folder that does not exist, doctor's own lines only."""

from __future__ import annotations

from pathlib import Path

from tests.kit import cli

GOOD = {
    "SLACK_BOT_TOKEN": "xoxb-1-2-3",
    "SLACK_SIGNING_SECRET": "s3cret",
    "WATI_API_ENDPOINT": "http://127.0.0.1:9/123456",
    "WATI_ACCESS_TOKEN": "abc.def",
    "SLACK_API_URL": "http://127.0.0.1:9/api/",
}


def test_verbose_goes_after_every_command(tmp_path: Path) -> None:
    env = {**GOOD, "BRIDGE_DB": str(tmp_path / "w.db")}
    assert cli("migrate", "--db", str(tmp_path / "w.db")).returncode == 0
    done = cli("webhooks", "-v", env=env, cwd=tmp_path)
    assert "unrecognized arguments" not in done.stderr and done.returncode == 0, done.stderr


def test_a_database_folder_that_does_not_exist_is_not_created(tmp_path: Path) -> None:
    env = {**GOOD, "BRIDGE_DB": str(tmp_path / "typo-folder" / "wati-bridge.db")}
    done = cli("run", env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"wati-bridge: the folder of BRIDGE_DB ({tmp_path / 'typo-folder'}) does not exist — "
        "fix: correct BRIDGE_DB, or create the folder if a new database there is what you want"
    )
    assert not (tmp_path / "typo-folder").exists()
    doctor = cli("doctor", env=env, cwd=tmp_path)
    assert "[FAIL] database:" in doctor.stdout and "does not exist (a typo in BRIDGE_DB?)" in (
        doctor.stdout
    )
    assert not (tmp_path / "typo-folder").exists()


def test_doctor_prints_only_its_own_lines(tmp_path: Path) -> None:
    env = {**GOOD, "BRIDGE_DB": str(tmp_path / "w.db"), "SLACK_APP_TOKEN": "xapp-1-A-2-x"}
    done = cli("doctor", env=env, cwd=tmp_path)
    assert done.returncode == 1, done.stdout
    assert done.stderr == "", done.stderr  # no raw slack_sdk or httpx lines
    assert all(line.startswith(("[ok  ]", "[FAIL]")) for line in done.stdout.splitlines()[:-1])
