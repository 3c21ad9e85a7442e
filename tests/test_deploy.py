"""What an operator installs from the repository: the systemd unit, the licence, the README."""

from __future__ import annotations

import configparser
import shlex
import tomllib
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string((ROOT / "deploy" / "wati-bridge.service").read_text())
    return parser


def test_the_systemd_unit_runs_the_bridge_from_its_folder_and_restarts_sensibly() -> None:
    service = unit()["Service"]
    workdir = PurePosixPath(service["WorkingDirectory"])
    assert workdir.is_absolute()
    command = shlex.split(service["ExecStart"])
    assert command[1:] == ["run"] and PurePosixPath(command[0]).name == "wati-bridge"
    assert PurePosixPath(command[0]).is_relative_to(workdir)  # the venv beside the data
    assert PurePosixPath(service["EnvironmentFile"]).is_relative_to(workdir)
    assert service["Restart"] == "on-failure"
    # A configuration error (exit 2) is not retried in a loop; unreachable hosts (1) are.
    assert "2" in service["RestartPreventExitStatus"].split()
    assert service["User"] not in ("", "root")
    assert service["KillSignal"] == "SIGTERM"
    assert service["UMask"] == "0077"
    if service.get("ProtectSystem") == "strict":
        writable = [PurePosixPath(p) for p in service["ReadWritePaths"].split()]
        assert any(workdir.is_relative_to(p) for p in writable)  # the database can be written
    assert unit()["Install"]["WantedBy"] == "multi-user.target"
    assert "network-online.target" in unit()["Unit"]["After"]


def test_the_licence_is_the_one_pyproject_names() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert declared == {"text": "MIT"}
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_the_readme_points_operators_at_what_they_need() -> None:
    readme = (ROOT / "README.md").read_text()
    for needed in (
        "docs/ARCHITECTURE.md",
        "deploy/wati-bridge.service",
        "wati-bridge backup",
        "BRIDGE_LOG_FORMAT",
        "/metrics",
        "prometheus-client",
        "python3 -m venv",
    ):
        assert needed in readme, needed
    assert (ROOT / "docs" / "ARCHITECTURE.md").is_file()
