"""`wati-bridge doctor`: check configuration, Slack, Wati and the database; say how to fix each."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import ConfigError, Settings, db_path_from_env
from bot.slack.socket_mode import refusal_hint
from bot.store import open_store
from bot.wati.client import WatiClient
from bot.wati.errors import WatiAuthError, WatiError, WatiFirewall, WatiRateLimited

# The bot scopes the code uses; manifest.yml lists the same (a test holds them together).
BOT_SCOPES = frozenset(
    {
        "channels:history",
        "channels:read",
        "chat:write",
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


@dataclass(frozen=True)
class Finding:
    """One check's outcome."""

    check: str
    ok: bool
    detail: str
    fix: str = ""


def diagnose(
    env: Mapping[str, str],
    *,
    wati_transport: httpx.BaseTransport | None = None,
    timeout: float = 10.0,
) -> list[Finding]:
    """Run every check that the available configuration allows."""
    findings: list[Finding] = []
    try:
        settings: Settings | None = Settings.from_env(env)
        findings.append(Finding("configuration", True, "every required variable is set"))
    except ConfigError as exc:
        settings = None
        for problem in exc.problems:
            findings.append(
                Finding("configuration", False, problem, "set it in the environment or in .env")
            )
    raw = {k: v.strip() for k, v in env.items()}
    bot_token = raw.get("SLACK_BOT_TOKEN") or ""
    api_url = (
        settings.slack_api_url
        if settings
        else (raw.get("SLACK_API_URL") or "https://slack.com/api/")
    )
    app_token = raw.get("SLACK_APP_TOKEN") or ""
    findings.append(_mode(raw, app_token))
    if bot_token:
        findings.extend(_check_slack(bot_token, api_url, timeout))
    if app_token:
        findings.append(_check_app_token(app_token, api_url, timeout))
    endpoint = settings.wati_api_endpoint if settings else raw.get("WATI_API_ENDPOINT", "")
    token = settings.wati_access_token if settings else raw.get("WATI_ACCESS_TOKEN", "")
    if endpoint and token:
        findings.append(_check_wati(endpoint, token, wati_transport, timeout))
    findings.append(_check_db(settings.db_path if settings else db_path_from_env(env)))
    return findings


def _check_slack(token: str, api_url: str, timeout: float) -> list[Finding]:
    client = WebClient(
        token=token,
        base_url=api_url if api_url.endswith("/") else api_url + "/",
        timeout=int(timeout),
    )
    try:
        response = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown")
        return [
            Finding(
                "slack token",
                False,
                f"auth.test answered {error}",
                "copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page; "
                "reinstall the app if it was revoked",
            )
        ]
    except Exception as exc:  # network failures come in many types
        return [
            Finding(
                "slack token",
                False,
                f"could not reach Slack at {api_url}: {type(exc).__name__}",
                "check the network, or SLACK_API_URL if you set it",
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
    else:
        secret = "SLACK_SIGNING_SECRET" if raw.get("SLACK_SIGNING_SECRET") else None
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
        base_url=api_url if api_url.endswith("/") else api_url + "/", timeout=int(timeout)
    )
    try:
        client.apps_connections_open(app_token=token)
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown"))
        detail = f"apps.connections.open answered {error}"
        if error == "missing_scope":
            detail += " (the token lacks connections:write)"
        return Finding("slack app token", False, detail, refusal_hint(error))
    except Exception as exc:  # noqa: BLE001 - network failures come in many types
        return Finding(
            "slack app token",
            False,
            f"could not reach Slack at {api_url}: {type(exc).__name__}",
            "check the network, or SLACK_API_URL if you set it",
        )
    return Finding("slack app token", True, "apps.connections.open ok: Socket Mode can connect")


def _check_wati(
    endpoint: str, token: str, transport: httpx.BaseTransport | None, timeout: float
) -> Finding:
    try:
        with WatiClient(endpoint, token, transport=transport, timeout=timeout) as wati:
            wati.get_message_templates(page_size=1)
    except WatiFirewall as exc:
        return Finding(
            "wati",
            False,
            exc.reason,
            "Cloudflare in front of Wati blocks some clients (by network or HTTP signature); "
            "the token was not checked. Try from the server the bridge runs on, or ask Wati "
            "support to allow its IP address",
        )
    except WatiAuthError as exc:
        return Finding(
            "wati",
            False,
            f"Wati refused the token ({exc.status_code})",
            "copy the access token again from Wati's API Docs page; check it has not expired",
        )
    except WatiRateLimited:
        return Finding("wati", True, "reachable (rate limited right now, which is fine)")
    except WatiError as exc:
        return Finding(
            "wati",
            False,
            f"could not use Wati at {endpoint}: {exc.reason}",
            "WATI_API_ENDPOINT must be the API Endpoint URL from Wati's API Docs page, tenant id "
            "included, e.g. https://live-mt-server.wati.io/123456",
        )
    return Finding("wati", True, "reachable, and the token works")


def _check_db(path: str) -> Finding:
    try:
        store = open_store(path)
        try:
            store.put("doctor_check", "ok")
        finally:
            store.close()
    except Exception as exc:  # any failure means the database is unusable
        return Finding(
            "database",
            False,
            f"{path} is not writable: {exc}",
            "point BRIDGE_DB at a file in a writable folder",
        )
    return Finding("database", True, f"{path} is writable and migrated")


def report(findings: list[Finding], echo: Callable[[str], None] = print) -> int:
    """Print the findings; 0 when all passed, 1 otherwise."""
    for f in findings:
        mark = "ok  " if f.ok else "FAIL"
        echo(f"[{mark}] {f.check}: {f.detail}")
        if not f.ok and f.fix:
            echo(f"       fix: {f.fix}")
    problems = sum(not f.ok for f in findings)
    echo("all checks passed" if not problems else f"{problems} problem(s) found")
    return 0 if not problems else 1
