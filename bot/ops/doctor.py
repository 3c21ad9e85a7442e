"""`wati-bridge doctor`: check configuration, Slack, Wati and the database; say how to fix each."""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import (
    MODE_HINT,
    ConfigError,
    Settings,
    db_path_from_env,
    stray_note,
    unknown_names,
)
from bot.slack.socket_mode import refusal_hint
from bot.store import lock
from bot.store.files import pending_migrations
from bot.wati.client import WatiClient
from bot.wati.errors import (
    WatiAuthError,
    WatiBlocked,
    WatiError,
    WatiRateLimited,
    WatiUnavailable,
)
from bot.web import ListenError, bind

# The bot scopes the code uses; manifest.yml lists the same (a test holds them together).
BOT_SCOPES = frozenset(
    {
        "channels:history",
        "channels:read",
        "chat:write",
        "chat:write.customize",  # customers' posts under their own name and avatar
        "commands",
        "files:read",
        "files:write",
        "groups:history",
        "groups:read",
        "reactions:write",
        "users:read",
        "users:read.email",  # a teammate's e-mail is their Wati operator (assignOperator)
    }
)


_QUIET = logging.getLogger("bot.ops.doctor.slack_sdk")
_QUIET.setLevel(logging.CRITICAL)
_QUIET.propagate = False

_NAME_ONLY = re.compile(r"^[A-Z][A-Z0-9_]*$")
CONFIG = 2  # exit status: the configuration is wrong
UNREACHABLE = 1  # exit status: a host could not be reached or refused us for a reason of its own

# auth.test errors that mean the bot token itself is wrong, and what to do about each.
_SLACK_TOKEN_FIXES = {
    "invalid_auth": "Slack does not know this token: copy the Bot User OAuth Token (xoxb-…) "
    "again from the app's OAuth & Permissions page",
    "not_authed": "no token reached Slack: set SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-…)",
    "token_revoked": "the token was revoked (the app was uninstalled or reinstalled): reinstall "
    "the app and copy the new Bot User OAuth Token (xoxb-…)",
    "account_inactive": "the token's app or workspace is deactivated: reinstall the app and copy "
    "the new Bot User OAuth Token (xoxb-…)",
    "token_expired": "the token expired (token rotation is on): turn token rotation off in OAuth & "
    "Permissions, reinstall, and copy the new Bot User OAuth Token",
    "team_disabled": "the workspace is disabled: install the app to an active workspace",
}


@dataclass(frozen=True)
class Finding:
    """One check's outcome; `status` is the exit status a failure stands for (2 or 1)."""

    check: str
    ok: bool
    detail: str
    fix: str = ""
    status: int = CONFIG


def diagnose(
    env: Mapping[str, str],
    *,
    wati_transport: httpx.BaseTransport | None = None,
    timeout: float = 10.0,
) -> list[Finding]:
    """Run every check that the available configuration allows; nothing is written anywhere."""
    findings: list[Finding] = []
    try:
        settings: Settings | None = Settings.from_env(env)
        mode = "Socket Mode" if settings and settings.socket_mode else "HTTP mode"
        findings.append(Finding("configuration", True, f"every variable {mode} needs is set"))
    except ConfigError as exc:
        settings = None
        for problem in exc.problems:
            if problem == MODE_HINT:
                continue  # the slack mode check below says it, mode by mode
            # Each problem reads "what is wrong: what to do" when config knows what to do.
            detail, _, fix = problem.partition(": ")
            if not fix or _NAME_ONLY.match(detail):
                # "NAME: what is wrong" names no fix: the whole line is the problem.
                detail, fix = problem, "set it in the environment or in .env"
            problem = detail
            findings.append(Finding("configuration", False, problem, fix))
    findings.extend(
        Finding("configuration", True, stray_note(name))
        for name, closest in unknown_names(env)
        if closest is None
    )
    raw = {k: v.strip() for k, v in env.items()}
    bot_token = raw.get("SLACK_BOT_TOKEN") or ""
    api_url = (
        settings.slack_api_url
        if settings
        else (raw.get("SLACK_API_URL") or "https://slack.com/api/")
    )
    # A token of the wrong kind or a malformed URL is already reported; calling with it would
    # only add a second, vaguer complaint about the same thing.
    if bot_token.startswith("xoxb-") and _usable_url(api_url):
        findings.extend(check_slack(bot_token, api_url, timeout))
    app_token = raw.get("SLACK_APP_TOKEN") or ""
    findings.append(_mode(raw, app_token))
    if app_token and _usable_url(api_url):
        findings.append(_check_app_token(app_token, api_url, timeout))
    endpoint = settings.wati_api_endpoint if settings else raw.get("WATI_API_ENDPOINT", "")
    token = settings.wati_access_token if settings else raw.get("WATI_ACCESS_TOKEN", "")
    if endpoint and token and _usable_url(endpoint):
        findings.append(check_wati(endpoint, token, wati_transport, timeout))
    db_path = settings.db_path if settings else db_path_from_env(env)
    findings.append(check_db(db_path))
    if settings is not None:
        findings.append(check_port(settings.host, settings.port, db_path))
    return findings


def _usable_url(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def check_slack(token: str, api_url: str, timeout: float) -> list[Finding]:
    """auth.test with the bot token, then the scopes Slack reports for it."""
    client = WebClient(
        token=token,
        base_url=api_url if api_url.endswith("/") else api_url + "/",
        timeout=int(timeout),
        logger=_QUIET,  # slack_sdk logs a failed connection at ERROR; the finding says it once
    )
    try:
        response = client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown"))
        fix = _SLACK_TOKEN_FIXES.get(error)
        if fix is not None:
            return [Finding("slack token", False, f"auth.test answered {error}", fix)]
        return [
            Finding(
                "slack token",
                False,
                f"Slack answered auth.test with {error} (HTTP {exc.response.status_code})",
                "try again in a minute; if it lasts, check https://slack-status.com",
                UNREACHABLE,
            )
        ]
    except Exception as exc:  # network failures come in many types
        return [
            Finding(
                "slack token",
                False,
                f"could not reach Slack at {api_url} ({type(exc).__name__})",
                "check this machine's network, DNS and proxy, or SLACK_API_URL if you set it",
                UNREACHABLE,
            )
        ]
    found = [
        Finding(
            "slack token", True, f"auth.test ok as {response.get('user')} in {response.get('team')}"
        )
    ]
    header = response.headers.get("x-oauth-scopes") or response.headers.get("X-OAuth-Scopes")
    if header is None:
        found.append(Finding("slack scopes", True, "Slack did not report scopes; not checked"))
        return found
    granted = {s.strip() for s in str(header).split(",") if s.strip()}
    missing = sorted(BOT_SCOPES - granted)
    if missing:
        found.append(
            Finding(
                "slack scopes",
                False,
                "missing scopes: " + ", ".join(missing),
                "add them from manifest.yml (OAuth & Permissions → Scopes) and reinstall the app",
            )
        )
    else:
        found.append(Finding("slack scopes", True, "every scope of manifest.yml is granted"))
    return found


def _mode(raw: Mapping[str, str], app_token: str) -> Finding:
    """Which Slack mode the configuration selects, and whether it has what that mode needs."""
    bot = "SLACK_BOT_TOKEN" if raw.get("SLACK_BOT_TOKEN") else None
    if app_token:
        missing = [] if bot else ["SLACK_BOT_TOKEN"]
        needs = "SLACK_BOT_TOKEN (xoxb-) and SLACK_APP_TOKEN (xapp-, connections:write)"
        detail = f"Socket Mode (SLACK_APP_TOKEN is set): needs {needs}; no public URL"
        fix = "set SLACK_BOT_TOKEN"
    elif not raw.get("SLACK_SIGNING_SECRET"):
        # Nothing chooses a mode yet: Socket Mode is the default, so it is not a missing
        # signing secret; say what each mode needs.
        return Finding(
            "slack mode",
            False,
            "no mode chosen yet (neither SLACK_APP_TOKEN nor SLACK_SIGNING_SECRET is set): "
            "Socket Mode, the default, needs SLACK_APP_TOKEN (xapp-, connections:write) and no "
            "public URL; HTTP mode needs SLACK_SIGNING_SECRET and a public HTTPS URL reaching "
            "HOST:PORT",
            "set SLACK_APP_TOKEN for Socket Mode, or SLACK_SIGNING_SECRET for HTTP mode",
        )
    else:
        secret = "SLACK_SIGNING_SECRET"
        missing = [
            n for n, ok in (("SLACK_BOT_TOKEN", bot), ("SLACK_SIGNING_SECRET", secret)) if not ok
        ]
        detail = (
            "HTTP mode (no SLACK_APP_TOKEN): needs SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and a "
            "public HTTPS URL reaching HOST:PORT, with /slack/events as the Request URL of "
            "events, the slash command and interactivity"
        )
        fix = "set " + " and ".join(missing) + ", or set SLACK_APP_TOKEN for Socket Mode"
    if missing:
        return Finding("slack mode", False, f"{detail}; missing {', '.join(missing)}", fix)
    return Finding("slack mode", True, detail)


def _check_app_token(token: str, api_url: str, timeout: float) -> Finding:
    """apps.connections.open with the app-level token: what `run` does first in Socket Mode."""
    if not token.startswith("xapp-"):
        kind = "a bot token" if token.startswith("xoxb-") else "not an app-level token"
        return Finding(
            "slack app token",
            False,
            f"SLACK_APP_TOKEN is {kind}",
            refusal_hint("not_allowed_token_type"),
        )
    client = WebClient(
        base_url=api_url if api_url.endswith("/") else api_url + "/",
        timeout=int(timeout),
        logger=_QUIET,  # the finding says what went wrong, once
    )
    try:
        client.apps_connections_open(app_token=token)
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown"))
        detail = f"apps.connections.open answered {error}"
        if error == "missing_scope":
            detail += " (the token lacks connections:write)"
        status = (
            UNREACHABLE if error in ("ratelimited", "internal_error", "fatal_error") else CONFIG
        )
        return Finding("slack app token", False, detail, refusal_hint(error), status)
    except Exception as exc:  # noqa: BLE001 - network failures come in many types
        return Finding(
            "slack app token",
            False,
            f"could not reach Slack at {api_url} ({type(exc).__name__})",
            "check this machine's network, DNS and proxy, or SLACK_API_URL if you set it",
            UNREACHABLE,
        )
    return Finding("slack app token", True, "apps.connections.open ok: Socket Mode can connect")


def check_wati(
    endpoint: str, token: str, transport: httpx.BaseTransport | None, timeout: float
) -> Finding:
    """One cheap read (a page of one template) that needs a working endpoint and token."""
    host = urlparse(endpoint).netloc
    try:
        with WatiClient(endpoint, token, transport=transport, timeout=timeout) as wati:
            wati.get_message_templates(page_size=1)
    except WatiBlocked as exc:
        return Finding(
            "wati",
            False,
            exc.reason,
            "Cloudflare in front of Wati blocks this machine or its network: ask Wati support to "
            "allow this server's address, or run the bridge from another network",
            UNREACHABLE,
        )
    except WatiAuthError as exc:
        return Finding(
            "wati",
            False,
            f"Wati refused the access token ({exc.reason})",
            "copy the access token again from Wati's API Docs page; it changes when someone "
            "regenerates it",
        )
    except WatiRateLimited:
        return Finding("wati", True, "reachable (rate limited right now, which is fine)")
    except WatiUnavailable as exc:
        return Finding(
            "wati",
            False,
            f"could not reach Wati at {host}: {exc.reason}",
            "check this machine's network and DNS, and the host in WATI_API_ENDPOINT",
            UNREACHABLE,
        )
    except WatiError as exc:
        return Finding(
            "wati",
            False,
            f"could not use Wati at {endpoint}: {exc.reason}",
            "WATI_API_ENDPOINT must be the API Endpoint URL from Wati's API Docs page, tenant id "
            "included, e.g. https://live-mt-server.wati.io/123456",
        )
    return Finding("wati", True, "reachable, and the token works")


def check_db(path: str) -> Finding:
    """Whether the bridge could open and write the database, without creating or changing it."""
    target = Path(path)
    running = lock.holder(path)
    if target.exists():
        if not os.access(target, os.R_OK | os.W_OK) or not os.access(
            target.parent, os.W_OK | os.X_OK
        ):
            return Finding(
                "database",
                False,
                f"{path} is not writable (the bridge also writes {target.name}-wal beside it)",
                "give the bridge's user write access to the file and its folder, or point "
                "BRIDGE_DB elsewhere",
            )
        try:
            pending = pending_migrations(path)
        except sqlite3.DatabaseError as exc:
            return Finding(
                "database",
                False,
                f"{path} is not a readable SQLite database ({exc})",
                "restore it from a backup (see README, Backups), or point BRIDGE_DB elsewhere",
            )
        state = f"{len(pending)} migration(s) to apply at start" if pending else "up to date"
        who = f"; a bridge is running on it (pid {running.get('pid')})" if running else ""
        return Finding("database", True, f"{path} is writable, {state}{who}")
    if not target.absolute().parent.exists():
        return Finding(
            "database",
            False,
            f"{path}: its folder {target.absolute().parent} does not exist (a typo in BRIDGE_DB?)",
            "correct BRIDGE_DB, or create the folder if a new database there is what you want",
        )
    folder = next((p for p in target.absolute().parents if p.exists()), Path("/"))
    if not os.access(folder, os.W_OK | os.X_OK):
        return Finding(
            "database",
            False,
            f"{path} does not exist and {folder} is not writable, so it cannot be created",
            "point BRIDGE_DB at a file in a folder the bridge's user can write",
        )
    return Finding("database", True, f"{path} does not exist yet; `run` will create it")


def check_port(host: str, port: int, db_path: str) -> Finding:
    """Whether `run` could listen on HOST:PORT: bound and let go at once, as `run` binds first."""
    try:
        bind(host, port).close()
    except ListenError as exc:
        running = lock.holder(db_path)
        if running and "already in use" in str(exc):
            # Most likely the running bridge itself; doctor beside it is a normal use.
            pid = running.get("pid")
            return Finding("port", True, f"{host}:{port} is in use, by the bridge (pid {pid})")
        problem, _, fix = str(exc).partition(" — fix: ")
        return Finding("port", False, problem, fix)
    return Finding("port", True, f"{host}:{port} is free for the listener")


def report(findings: list[Finding], echo: Callable[[str], None] = print) -> int:
    """Print one line per finding; 0 when all passed, else 2 (configuration) or 1 (unreachable)."""
    for f in findings:
        mark = "ok  " if f.ok else "FAIL"
        fix = f" — fix: {f.fix}" if not f.ok and f.fix else ""
        echo(f"[{mark}] {f.check}: {f.detail}{fix}")
    failed = [f for f in findings if not f.ok]
    echo("all checks passed" if not failed else f"{len(failed)} problem(s) found")
    return max((f.status for f in failed), default=0)
