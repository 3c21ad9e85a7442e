"""The database file as a whole: looking at it without changing it, and backing it up live."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from bot.store.db import load_migrations


def _read_only(path: str) -> sqlite3.Connection:
    """A connection that creates and changes no file.

    `mode=ro` still needs the -shm file of a WAL database; when there is none (nothing runs
    on it and the last close cleaned up), `immutable=1` reads the main file alone, which then
    holds everything.
    """
    wal_files = all(os.path.exists(path + suffix) for suffix in ("-wal", "-shm"))
    flag = "mode=ro" if wal_files else "immutable=1"
    uri = Path(path).absolute().as_uri() + "?" + flag
    return sqlite3.connect(uri, uri=True)


def pending_migrations(path: str) -> list[str]:
    """Names of the migrations `run` would apply to this database; the file is left untouched."""
    with contextlib.closing(_read_only(path)) as conn:
        conn.execute("select count(*) from sqlite_master").fetchone()  # fails on a non-database
        return [m.name for m in load_migrations().pending(Database(conn))]


@dataclass(frozen=True)
class BackupInfo:
    """What a backup holds."""

    path: str
    size: int
    links: int
    messages: int
    replies: int


def backup_refusal(database: Path, target: Path) -> str | None:
    """Why `target` cannot take a backup of `database`, or None.

    However the path is spelt (`sub/../wati-bridge.db`, a symbolic or hard link): writing the
    copy there would replace the live database, or its journal, under the running bridge.
    """
    live = database.resolve()
    companions = {live, *(Path(f"{live}{end}") for end in ("-wal", "-shm", "-journal", ".lock"))}
    if target.resolve() in companions or (target.exists() and os.path.samefile(target, database)):
        return f"{target} is the live database {database} (or one of its files): give another file"
    if target.is_dir():
        return f"{target} is a folder: give a file name, e.g. {target / 'wati-bridge-backup.db'}"
    folder = target.absolute().parent
    if not folder.is_dir():
        return f"the folder {folder} does not exist: create it first or give another path"
    return None


def backup(db_path: str, target: str) -> BackupInfo:
    """Copy the database to `target` with SQLite's online backup API, while the bridge runs.

    The copy is one consistent snapshot (a single read transaction over every page, the WAL's
    committed frames included), written to a temporary file, checked, then renamed into place,
    so `target` is never a half-written file. Created owner-only: it holds customers' numbers.
    """
    source_file = Path(db_path)
    if not source_file.is_file():
        raise FileNotFoundError(f"{db_path} does not exist")
    refusal = backup_refusal(source_file, Path(target))
    if refusal is not None:
        raise ValueError(refusal)
    partial = f"{target}.partial"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(partial)
    os.close(os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600))
    try:
        with contextlib.closing(sqlite3.connect(db_path, timeout=30)) as source:
            with contextlib.closing(sqlite3.connect(partial)) as copy:
                source.backup(copy)  # pages=-1: all of it in one step, so one snapshot
                check = copy.execute("pragma quick_check").fetchone()[0]
                if check != "ok":
                    raise sqlite3.DatabaseError(f"the copy failed its check: {check}")
                counts = [
                    copy.execute(f"select count(*) from {table}").fetchone()[0]
                    for table in ("links", "messages", "outbox")
                ]
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
    return BackupInfo(target, os.path.getsize(target), *counts)
