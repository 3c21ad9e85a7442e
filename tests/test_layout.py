"""The size limits of the core (bot/ less devtools): small modules, small classes, short listeners.

No module over 400 lines, no class over 300, no function in bot/listeners over 80. Read from the
source with `ast`, so a new oversized piece fails here with its name and size.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"
MAX_MODULE = 400
MAX_CLASS = 300
MAX_LISTENER_FUNCTION = 80


def _core_modules() -> list[Path]:
    return sorted(p for p in BOT.rglob("*.py") if "devtools" not in p.relative_to(BOT).parts)


def _name(path: Path) -> str:
    return path.relative_to(BOT).as_posix()


def _span(node: ast.AST) -> int:
    assert node.end_lineno is not None  # ast always sets it for parsed source
    return node.end_lineno - node.lineno + 1  # type: ignore[attr-defined]  # every stmt has one


def _module_cases() -> list[object]:
    return [pytest.param(path, id=_name(path)) for path in _core_modules()]


def _class_cases() -> list[object]:
    cases: list[object] = []
    for path in _core_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                key = f"{_name(path)}:{node.name}"
                cases.append(pytest.param(key, _span(node), id=key))
    return cases


def test_the_scan_sees_the_core() -> None:
    names = {_name(path) for path in _core_modules()}
    assert {"service.py", "relay/sender.py", "listeners/replies.py"} <= names
    assert not any(name.startswith("devtools/") for name in names)


@pytest.mark.parametrize("path", _module_cases())
def test_no_core_module_is_over_400_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE, f"{_name(path)} has {lines} lines (at most {MAX_MODULE})"


@pytest.mark.parametrize(("key", "lines"), _class_cases())
def test_no_core_class_is_over_300_lines(key: str, lines: int) -> None:
    assert lines <= MAX_CLASS, f"{key} has {lines} lines (at most {MAX_CLASS})"


def _long_listener_functions() -> list[str]:
    long = []
    for path in sorted((BOT / "listeners").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if _span(node) > MAX_LISTENER_FUNCTION:
                    long.append(f"{_name(path)}:{node.name} ({_span(node)} lines)")
    return long


def test_no_listener_function_is_over_80_lines() -> None:
    assert _long_listener_functions() == []
