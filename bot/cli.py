"""The `wati-bridge` command: run, migrate, doctor, backfill, sandbox, demo."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from bot import __version__
from bot.config import ConfigError, Settings, db_path_from_env, read_environ

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


def configure_logging(verbose: bool) -> None:
    """Log to stderr; --verbose shows the bridge's own DEBUG lines."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # A poll round that outlasts its tick is normal; APScheduler would warn about each skip.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wati-bridge",
        description="Serve WhatsApp customers from Slack threads, through Wati.",
    )
    parser.add_argument("--version", action="version", version=f"wati-bridge {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log the bridge's DEBUG lines")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser(
        "run",
        help="run the bridge (Socket Mode when SLACK_APP_TOKEN is set, else HTTP mode)",
        description="Run the bridge. Socket Mode when SLACK_APP_TOKEN is set; otherwise HTTP mode "
        "serving POST /slack/events and GET /healthz on HOST:PORT.",
    )
    migrate = sub.add_parser(
        "migrate",
        help="apply database migrations and exit",
        description="Create or upgrade the SQLite database (BRIDGE_DB).",
    )
    migrate.add_argument("--db", help="database file (default: BRIDGE_DB or wati-bridge.db)")
    sub.add_parser(
        "doctor",
        help="check configuration, Slack, Wati and the database",
        description="Check the configuration, the Slack token and its scopes, Wati reachability "
        "and the token, and that the database is writable. Exits 1 when something is wrong.",
    )
    backfill = sub.add_parser(
        "backfill",
        help="import recent WhatsApp history into Slack",
        description="Relay recent history of every known chat of the linked numbers into Slack "
        "(for a first run, or after a long outage).",
    )
    backfill.add_argument("--days", type=float, default=3.0, help="how far back (default 3 days)")
    sandbox = sub.add_parser(
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
    demo = sub.add_parser(
        "demo",
        help="play the whole loop locally with no credentials",
        description="Start a sandbox Wati, a local Slack stand-in and the bridge; play a scripted "
        "conversation on two numbers and print what each side saw. Exits 0 only if every step "
        "happened.",
    )
    demo.add_argument("--quiet", action="store_true", help="print only the summary")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    configure_logging(args.verbose)
    if args.command is None:
        _parser().print_help()
        return 2
    env = read_environ()
    if args.command == "migrate":
        from bot.store import open_store

        path = args.db or db_path_from_env(env)
        store = open_store(path, migrate=False)
        applied = store.migrate()
        store.close()
        print(f"{path}: " + (f"applied {', '.join(applied)}" if applied else "up to date"))
        return 0
    if args.command == "doctor":
        from bot import doctor

        return doctor.report(doctor.diagnose(env))
    if args.command == "sandbox":
        from bot.devtools.sandbox import serve

        serve(
            args.db,
            host=args.host,
            port=args.port,
            token=args.token,
            channels=args.channels or ["15550000001", "15550000002"],
        )
        return 0
    if args.command == "demo":
        from bot.devtools import demo

        if not args.verbose:
            # The transcript is the demo's output; the bridge's own log lines would bury it.
            logging.getLogger("bot").setLevel(logging.WARNING)
        return demo.main(quiet=args.quiet)
    try:
        settings = Settings.from_env(env)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.command == "backfill":
        from bot.backfill import backfill

        return backfill(settings, days=args.days)
    from bot import service

    return service.run(settings)
