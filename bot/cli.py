"""The `wati-bridge` command: run, migrate, doctor, backup, backfill, sandbox, demo, forget."""

from __future__ import annotations

import argparse
import logging
import socket
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import __version__
from bot.config import (
    ConfigError,
    Settings,
    db_path_from_env,
    hide_secrets,
    log_format_from_env,
    read_environ,
    stray_note,
    unknown_names,
)
from bot.ops.logs import formatter, hide
from bot.store import lock

# Libraries that log request URLs or bodies (Wati puts message text in the URL; slack_sdk
# logs payloads at DEBUG): held at WARNING even with --verbose, so no secret or message
# body reaches the logs.
QUIET_LOGGERS = (
    "httpx",
    "httpcore",
    "slack_sdk",
    "slack_bolt",
    "urllib3",
    "apscheduler",
    "uvicorn.access",
)


def configure_logging(verbose: bool, log_format: str = "text") -> None:
    """Log to stderr, as text or one JSON object per line; --verbose shows the bridge's DEBUG lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # A poll round that outlasts its tick is normal; APScheduler would warn about each skip.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


def _parser() -> argparse.ArgumentParser:
    # The global flags, accepted after the subcommand too (`wati-bridge run -v`). SUPPRESS keeps
    # a subcommand that was not given the flag from resetting what came before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log the bridge's DEBUG lines",
    )
    parser = argparse.ArgumentParser(
        prog="wati-bridge",
        description="Serve WhatsApp customers from Slack threads, through Wati.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"wati-bridge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, *, help: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], help=help, description=description)

    command(
        "run",
        help="run the bridge (Socket Mode when SLACK_APP_TOKEN is set, else HTTP mode)",
        description="Run the bridge. Socket Mode when SLACK_APP_TOKEN is set; otherwise HTTP mode "
        "serving POST /slack/events, GET /healthz and GET /metrics on HOST:PORT. One bridge per "
        "database: a second one on the same BRIDGE_DB exits with status 2. Exit statuses: 0 "
        "stopped; 1 Slack or Wati could not be reached (worth a retry); 2 a problem a restart "
        "cannot fix (configuration, a port in use, a refused token), found before any call.",
    )
    migrate = command(
        "migrate",
        help="apply database migrations and exit",
        description="Create or upgrade the SQLite database (BRIDGE_DB).",
    )
    migrate.add_argument("--db", help="database file (default: BRIDGE_DB or wati-bridge.db)")
    command(
        "doctor",
        help="check configuration, Slack, Wati and the database",
        description="Check the configuration, the Slack token and its scopes, Wati reachability "
        "and the token, and that the database is writable; writes nothing. Exits 2 when the "
        "configuration is wrong, 1 when a host cannot be reached.",
    )
    backup = command(
        "backup",
        help="copy the database consistently, even while the bridge runs",
        description="Write a consistent copy of the database (BRIDGE_DB) to FILE with SQLite's "
        "online backup API; safe while the bridge runs. Restore: stop the bridge, remove the "
        "database's -wal and -shm files, copy FILE over the database, start the bridge.",
    )
    backup.add_argument("file", metavar="FILE", help="where to write the copy")
    backup.add_argument("--db", help="database file (default: BRIDGE_DB or wati-bridge.db)")
    backfill = command(
        "backfill",
        help="import recent WhatsApp history into Slack",
        description="Relay recent history of every known chat of the linked numbers into Slack "
        "(for a first run, or after a long outage).",
    )
    backfill.add_argument(
        "--days", type=_days, default=3.0, help="how far back, up to 365 (default 3 days)"
    )
    sandbox = command(
        "sandbox",
        help="run a local Wati stand-in with a customer-phone web page",
        description="A local Wati on loopback (same API shapes, rate limits and 24-hour rule) with "
        "a web page that plays the customer's phone.",
    )
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8090)
    sandbox.add_argument("--db", default="wati-sandbox.db", help="the sandbox's own state file")
    sandbox.add_argument("--token", default="sandbox-token", help="the access token it accepts")
    sandbox.add_argument(
        "--channel",
        action="append",
        dest="channels",
        help="a channel number it serves (repeatable; default 15550000001 and 15550000002)",
    )
    demo = command(
        "demo",
        help="play the whole loop locally with no credentials",
        description="Start a sandbox Wati, a local Slack stand-in and the bridge; play a scripted "
        "conversation on two numbers and print what each side saw. Exits 0 only if every step "
        "happened.",
    )
    demo.add_argument("--quiet", action="store_true", help="print only the summary")
    webhooks = command(
        "webhooks",
        help="show each linked number's Wati webhook: URL, registration, last event",
        description="Per linked number: the webhook URL to paste into Wati's dashboard, what the "
        "bridge registered (with BRIDGE_PUBLIC_URL set), the last event seen and whether polling "
        "is only the safety net.",
    )
    webhooks.add_argument(
        "--retry",
        action="store_true",
        help="forget failed registrations, so the running bridge tries again",
    )
    forget = command(
        "forget",
        help="erase one customer from the bridge and from its Slack posts",
        description="Erase one customer (a phone number as people write it, a BSUID such as "
        "US.13491208655302741918, or a username such as @bob_rivers) on every number: the "
        "bridge's records and the bridge's own Slack posts of those conversations. Reports what "
        "it could not erase (teammates' replies, Wati's copy, older backups). Safe beside a "
        "running bridge; a run that was stopped midway is finished by the next run.",
    )
    forget.add_argument("customer", metavar="CUSTOMER", help="number, BSUID or @username")
    forget.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return parser


def _days(text: str) -> float:
    """--days: a number of days above 0, a year at most."""
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if not 0 < days <= 365:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 365, got {text}")
    return days


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    verbose = bool(getattr(args, "verbose", False))
    env = read_environ()
    try:
        log_format = log_format_from_env(env)
    except ConfigError as exc:
        configure_logging(verbose)
        print(exc, file=sys.stderr)
        return 2
    configure_logging(verbose, log_format)
    if args.command is None:
        _parser().print_help()
        return 2
    from bot.store import StoreUnavailable

    try:
        return _command(args, env)
    except StoreUnavailable as exc:
        # One line naming the file and SQLite's or the system's reason, never a traceback.
        print(f"wati-bridge: {exc}", file=sys.stderr)
        return 2


def _command(args: argparse.Namespace, env: dict[str, str]) -> int:
    if args.command == "migrate":
        from bot.store import open_store

        path = args.db or db_path_from_env(env)
        store = open_store(path)  # migrates; a file it cannot use raises StoreUnavailable
        applied = store.migrated
        store.close()
        print(f"{path}: " + (f"applied {', '.join(applied)}" if applied else "up to date"))
        return 0
    if args.command == "backup":
        return _backup(args.db or db_path_from_env(env), args.file)
    if args.command == "doctor":
        from bot.ops import doctor

        return doctor.report(doctor.diagnose(env))
    if args.command == "sandbox":
        from bot.devtools.sandbox import serve
        from bot.web import bind_problem

        try:
            serve(
                args.db,
                host=args.host,
                port=args.port,
                token=args.token,
                channels=args.channels or ["15550000001", "15550000002"],
            )
        except OSError as exc:
            # A busy port or a host that is not this machine's: one line, never a traceback.
            problem = bind_problem(
                args.host, args.port, exc, host_name="--host", port_name="--port"
            )
            print(f"wati-bridge: sandbox: {problem}", file=sys.stderr)
            return 2
        return 0
    if args.command == "demo":
        from bot.devtools import demo

        if not getattr(args, "verbose", False):
            # The transcript is the demo's output; the bridge's own log lines would bury it.
            logging.getLogger("bot").setLevel(logging.WARNING)
        return demo.main(quiet=args.quiet)
    try:
        settings = Settings.from_env(env)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    for name, closest in unknown_names(env):
        if closest is None:  # a close one is a typo, refused by from_env
            logging.getLogger("bot.cli").warning("%s", stray_note(name))
    hide(
        settings.slack_bot_token,
        settings.slack_app_token,
        settings.slack_signing_secret,
        settings.wati_access_token,
        settings.webhook_token,
    )
    if args.command == "webhooks":
        # Beside a running bridge (it reads the database, and holds no bridge lock).
        from bot.webhooks.registration import show

        return show(settings, retry=args.retry)
    hide_secrets()
    folder = Path(settings.db_path).absolute().parent
    if not folder.exists() and not any(p.is_file() for p in folder.parents):
        # A typo in the path would otherwise start an empty bridge in a new folder.
        print(
            f"wati-bridge: the folder of BRIDGE_DB ({folder}) does not exist — fix: correct "
            "BRIDGE_DB, or create the folder if a new database there is what you want",
            file=sys.stderr,
        )
        return 2
    if args.command == "forget":
        # Beside a running bridge too: it erases the rows in one transaction and leaves the
        # Slack clean-up to whoever holds the lock (bot.privacy.command).
        from bot.privacy.command import forget

        return forget(
            settings, args.customer, yes=args.yes, ask=input if sys.stdin.isatty() else None
        )
    try:
        held = lock.acquire(settings.db_path)
    except lock.DatabaseLocked as exc:
        print(f"wati-bridge: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"wati-bridge: cannot create {lock.lock_path(settings.db_path)} ({exc.strerror}) — "
            "fix: point BRIDGE_DB at a file in a folder the bridge's user can write",
            file=sys.stderr,
        )
        return 2
    listener: socket.socket | None = None
    try:
        # The database first: it is local, so a file the bridge cannot use is named at once
        # (StoreUnavailable: one line, exit 2) before any network check.
        from bot.store import open_store

        open_store(settings.db_path, writable=True).close()
        if args.command == "run":
            # The port next, bound and held: still nothing has called Wati or Slack.
            from bot.web import ListenError, bind

            try:
                listener = bind(settings.host, settings.port)
            except ListenError as exc:
                print(f"wati-bridge: {exc}", file=sys.stderr)
                return 2
        status = _preflight(settings)
        if status:
            return status
        if listener is None:
            from bot.backfill import backfill

            return backfill(settings, days=args.days)
        from bot import service

        return service.run(settings, listener)
    finally:
        if listener is not None:
            listener.close()
        held.release()


def _preflight(settings: Settings) -> int:
    """Check the Slack token and Wati before starting; 0, or the exit status of the problem.

    A bad token or an unreachable host would otherwise surface as a traceback from deep inside
    Bolt or the first poll; here it is one line with the fix.
    """
    from bot.ops import doctor

    findings = doctor.check_slack(settings.slack_bot_token, settings.slack_api_url, 10.0)
    if findings[0].ok:
        findings.append(
            doctor.check_wati(settings.wati_api_endpoint, settings.wati_access_token, None, 10.0)
        )
    for finding in findings:
        if finding.ok:
            continue
        line = f"wati-bridge: {finding.check}: {finding.detail} — fix: {finding.fix}"
        if finding.check == "slack scopes":
            logging.getLogger("bot.cli").warning("%s", line)  # some features fail; not all
            continue
        print(line, file=sys.stderr)
        return finding.status
    return 0


def _backup(db_path: str, target: str) -> int:
    from bot.store.files import backup

    try:
        info = backup(db_path, target)
    except ValueError as exc:  # a target that cannot be right: trying again will not help
        print(f"wati-bridge: backup refused: {exc}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.Error) as exc:
        print(f"wati-bridge: backup of {db_path} failed: {exc}", file=sys.stderr)
        return 1
    print(
        f"{info.path}: {info.size} bytes, {info.links} link(s), {info.messages} message(s), "
        f"{info.replies} reply(ies)"
    )
    return 0
