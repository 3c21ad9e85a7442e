"""Settings: every variable of design.md §3, read and checked in one place."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from dotenv import dotenv_values

from bot.base.hours import BusinessHours
from bot.envnames import (
    KNOWN_NAMES,
    endpoint_mistake,
    endpoint_problem,
    stray_note,
    typo_problem,
    unknown_names,
    wrong_token,
)

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
# Re-exported: the list of every variable lives in bot.envnames, read by nothing else.
__all__ = ["KNOWN_NAMES", "stray_note", "unknown_names"]


_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9_]{1,512}$")
_WEBHOOK_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,200}$")
LOG_FORMATS = ("text", "json")
SECRETS = (
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "WATI_ACCESS_TOKEN",
    "BRIDGE_METRICS_TOKEN",
)
# With no mode chosen, say what each one needs (Socket Mode first: it is the default).
MODE_HINT = (
    "Slack mode not set: for Socket Mode (the default, no public URL needed) set "
    "SLACK_APP_TOKEN to an App-Level Token (xapp-…, scope connections:write, Basic Information "
    "→ App-Level Tokens); for HTTP mode set SLACK_SIGNING_SECRET (Basic Information → App "
    "Credentials) and give Slack a public HTTPS URL"
)


class ConfigError(Exception):
    """Configuration is missing or invalid; `problems` names every one of them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"wati-bridge is not configured correctly:\n{lines}")


def read_environ(
    environ: Mapping[str, str] | None = None, dotenv_path: str | Path | None = ".env"
) -> dict[str, str]:
    """The process environment over a `.env` file in the working folder (the environment wins)."""
    merged: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    return merged


@dataclass(frozen=True)
class Settings:
    """Typed configuration values; build with `Settings.from_env`."""

    slack_bot_token: str
    wati_api_endpoint: str
    wati_access_token: str
    slack_app_token: str | None = None
    slack_signing_secret: str | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    db_path: str = "wati-bridge.db"
    poll_seconds: float = 10.0
    wati_monthly_calls: int = 10_000
    admins: tuple[str, ...] = ()
    host: str = "0.0.0.0"
    port: int = 3000
    note_prefix: str = "note:"
    agent_prefix: bool = False
    # Health (bot/ops/health.py): unhealthy this long -> admins get a DM; a message waiting this long
    # makes the bridge unhealthy; Slack, channels, database and backlog are checked this often.
    alert_after: float = 300.0
    stale_after: float = 900.0
    check_seconds: float = 30.0
    wati_outage: float = 120.0  # Wati answering 5xx or nothing this long makes the bridge unhealthy
    reply_target_minutes: int = 30
    business_hours: BusinessHours | None = None
    assign_on_reply: bool = False
    public_url: str | None = None
    webhook_token: str | None = None
    metrics_token: str | None = None  # lets other machines read /metrics and /healthz's details
    # The approved template that asks for a rating outside the 24-hour window (bot.survey).
    rating_template: str | None = None
    # How long the Home tab's chart of the last weeks is shown before its figures are read again.
    chart_minutes: float = 15.0
    retention_days: float | None = None  # None: keep conversations until someone erases them

    @property
    def socket_mode(self) -> bool:
        """Socket Mode when an app-level token is set, else HTTP mode."""
        return self.slack_app_token is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read and check every variable; raise ConfigError naming all problems at once."""
        problems = [typo_problem(n, close) for n, close in unknown_names(env) if close]

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        bot_token = get("SLACK_BOT_TOKEN")
        if bot_token is None:
            problems.append(
                "SLACK_BOT_TOKEN is missing: copy the Bot User OAuth Token (xoxb-…) from the "
                "app's OAuth & Permissions page"
            )
        elif not bot_token.startswith("xoxb-"):
            problems.append(wrong_token("SLACK_BOT_TOKEN", bot_token))

        app_token = get("SLACK_APP_TOKEN")
        if app_token is not None and not app_token.startswith("xapp-"):
            problems.append(wrong_token("SLACK_APP_TOKEN", app_token))

        secret = get("SLACK_SIGNING_SECRET")
        if app_token is None and secret is None:
            problems.append(MODE_HINT)
        elif secret is not None and secret.startswith(("xox", "xapp-")):
            problems.append(wrong_token("SLACK_SIGNING_SECRET", secret))

        api_url = get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
        if not _is_http_url(api_url):
            problems.append(f"SLACK_API_URL must be an http(s) URL, got {api_url!r}")
        elif not api_url.endswith("/"):
            api_url += "/"

        endpoint = get("WATI_API_ENDPOINT")
        if endpoint is None:
            problems.append(
                "WATI_API_ENDPOINT is missing: copy the API Endpoint URL from Wati's API Docs "
                "page, tenant id included (https://live-mt-server.wati.io/123456)"
            )
        elif not _is_http_url(endpoint):
            problems.append(endpoint_problem(endpoint))
        elif (mistake := endpoint_mistake(endpoint)) is not None:
            problems.append(mistake)
        else:
            endpoint = endpoint.rstrip("/")

        wati_token = get("WATI_ACCESS_TOKEN")
        if wati_token is not None:
            # Wati's dashboard sometimes shows the token with "Bearer " in front of it.
            wati_token = re.sub(r"(?i)^bearer(\s+|$)", "", wati_token).strip() or None
        if wati_token is None:
            problems.append(
                "WATI_ACCESS_TOKEN is missing: copy the access token from Wati's API Docs page"
            )
        elif wati_token.startswith(("xoxb-", "xoxp-", "xapp-")):
            problems.append(
                "WATI_ACCESS_TOKEN holds a Slack token: put the access token from Wati's API "
                "Docs page there"
            )

        poll = _number(
            get("BRIDGE_POLL_SECONDS"), "BRIDGE_POLL_SECONDS", 10.0, 1.0, 3600.0, problems
        )
        monthly = _number(
            get("BRIDGE_WATI_MONTHLY_CALLS"),
            "BRIDGE_WATI_MONTHLY_CALLS",
            10_000,
            100,
            10**9,
            problems,
            whole=True,
        )
        port = _number(get("PORT"), "PORT", 3000, 0, 65535, problems, whole=True)

        admins = tuple(a.strip() for a in (get("BRIDGE_ADMINS") or "").split(",") if a.strip())
        bad_admins = [a for a in admins if not _USER_ID.match(a)]
        if bad_admins:
            problems.append(
                "BRIDGE_ADMINS must be comma-separated Slack user ids (U…), not "
                + ", ".join(repr(a) for a in bad_admins)
            )

        agent_prefix = _flag(get("BRIDGE_AGENT_PREFIX"), "BRIDGE_AGENT_PREFIX", problems)
        assign_on_reply = _flag(get("BRIDGE_ASSIGN_ON_REPLY"), "BRIDGE_ASSIGN_ON_REPLY", problems)
        target = _number(
            get("BRIDGE_REPLY_TARGET_MINUTES"),
            "BRIDGE_REPLY_TARGET_MINUTES",
            30,
            0,
            7 * 24 * 60,
            problems,
            whole=True,
        )
        hours = None
        if (hours_text := get("BRIDGE_BUSINESS_HOURS")) is not None:
            try:
                hours = BusinessHours.parse(hours_text)
            except ValueError as exc:
                problems.append(f"BRIDGE_BUSINESS_HOURS: {exc}")

        alert_after = _number(
            get("BRIDGE_HEALTH_ALERT_SECONDS"),
            "BRIDGE_HEALTH_ALERT_SECONDS",
            300,
            0,
            86400,
            problems,
        )
        stale_after = _number(
            get("BRIDGE_HEALTH_STALE_SECONDS"),
            "BRIDGE_HEALTH_STALE_SECONDS",
            900,
            1,
            86400,
            problems,
        )
        check_seconds = _number(
            get("BRIDGE_HEALTH_CHECK_SECONDS"),
            "BRIDGE_HEALTH_CHECK_SECONDS",
            30,
            0.2,
            3600,
            problems,
        )
        wati_outage = _number(
            get("BRIDGE_WATI_OUTAGE_SECONDS"),
            "BRIDGE_WATI_OUTAGE_SECONDS",
            120,
            1,
            86400,
            problems,
        )
        if get("BRIDGE_LOG_FORMAT") is not None:
            try:
                log_format_from_env(env)
            except ConfigError as exc:
                problems.extend(exc.problems)

        public_url = get("BRIDGE_PUBLIC_URL")
        if public_url is not None:
            if not _is_http_url(public_url) or urlparse(public_url).query:
                problems.append(
                    "BRIDGE_PUBLIC_URL must be the bridge's public base URL, e.g. "
                    f"https://bridge.example.com, got {public_url!r}"
                )
            public_url = public_url.rstrip("/")
        webhook_token = get("WATI_WEBHOOK_TOKEN")
        if webhook_token is not None and not _WEBHOOK_TOKEN.match(webhook_token):
            # It goes into a URL Wati calls: keep it to characters that need no escaping.
            problems.append(
                "WATI_WEBHOOK_TOKEN must be 16 to 200 letters, digits, '-' or '_' "
                "(leave it unset and the bridge makes one)"
            )
        chart_minutes = _number(
            get("BRIDGE_CHART_MINUTES"), "BRIDGE_CHART_MINUTES", 15, 0, 24 * 60, problems
        )
        rating_template = (get("BRIDGE_RATING_TEMPLATE") or "").strip() or None
        if rating_template is not None and not _TEMPLATE_NAME.match(rating_template):
            problems.append(
                "BRIDGE_RATING_TEMPLATE must be a Wati template name (letters, digits and '_'), "
                f"got {rating_template!r}"
            )

        metrics_token = get("BRIDGE_METRICS_TOKEN")
        if metrics_token is not None and not _WEBHOOK_TOKEN.match(metrics_token):
            problems.append(
                "BRIDGE_METRICS_TOKEN must be 16 to 200 letters, digits, '-' or '_' "
                "(e.g. the output of: openssl rand -hex 24)"
            )
        retention = get("BRIDGE_RETENTION_DAYS")
        retention_days = (
            None
            if retention is None
            else _number(retention, "BRIDGE_RETENTION_DAYS", 0, 1, 36500, problems)
        )

        if problems:
            raise ConfigError(problems)
        assert bot_token is not None and endpoint is not None and wati_token is not None
        return cls(
            slack_bot_token=bot_token,
            slack_app_token=app_token,
            slack_signing_secret=secret,
            slack_api_url=api_url,
            wati_api_endpoint=endpoint,
            wati_access_token=wati_token,
            db_path=get("BRIDGE_DB") or "wati-bridge.db",
            poll_seconds=float(poll),
            wati_monthly_calls=int(monthly),
            admins=admins,
            host=get("HOST") or "0.0.0.0",
            port=int(port),
            note_prefix=get("BRIDGE_NOTE_PREFIX") or "note:",
            agent_prefix=agent_prefix,
            reply_target_minutes=int(target),
            business_hours=hours,
            assign_on_reply=assign_on_reply,
            alert_after=float(alert_after),
            stale_after=float(stale_after),
            check_seconds=float(check_seconds),
            wati_outage=float(wati_outage),
            public_url=public_url,
            webhook_token=webhook_token,
            metrics_token=metrics_token,
            rating_template=rating_template,
            chart_minutes=float(chart_minutes),
            retention_days=retention_days,
        )


def db_path_from_env(env: Mapping[str, str]) -> str:
    """The database path alone, for commands that need nothing else (`migrate`)."""
    return env.get("BRIDGE_DB", "").strip() or "wati-bridge.db"


def log_format_from_env(env: Mapping[str, str]) -> str:
    """BRIDGE_LOG_FORMAT: `text` (the default) or `json` (one JSON object per line)."""
    value = env.get("BRIDGE_LOG_FORMAT", "").strip().lower() or "text"
    if value not in LOG_FORMATS:
        raise ConfigError([f"BRIDGE_LOG_FORMAT must be text or json, got {value!r}"])
    return value


def hide_secrets(environ: MutableMapping[str, str] | None = None) -> None:
    """Take the secrets out of the process environment once they have been read.

    Settings carry them from here on. Left in place, libraries pick them up on their own
    (Bolt reads SLACK_BOT_TOKEN itself and then warns, at every start, that the client it is
    given wins over it) and every child process would inherit them.
    """
    target = os.environ if environ is None else environ
    for name in SECRETS:
        target.pop(name, None)


def _is_http_url(value: str) -> bool:
    parsed = urlparse(value)
    return parsed.scheme in {"http", "https"} and bool(parsed.netloc)


def _flag(raw: str | None, name: str, problems: list[str]) -> bool:
    value = (raw or "false").lower()
    if value not in {"true", "false", "1", "0", "yes", "no"}:
        problems.append(f"{name} must be true or false, got {value!r}")
    return value in {"true", "1", "yes"}


def _number(
    raw: str | None,
    name: str,
    default: float,
    low: float,
    high: float,
    problems: list[str],
    *,
    whole: bool = False,
) -> float:
    if raw is None:
        return default
    try:
        value = float(int(raw)) if whole else float(raw)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        problems.append(f"{name} must be {kind}, got {raw!r}")
        return default
    if not low <= value <= high:
        problems.append(f"{name} must be between {low:g} and {high:g}, got {raw}")
        return default
    return value
