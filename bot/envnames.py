"""The configuration's names and the mistakes people make with them: the one list of every
variable the bridge reads (`KNOWN_NAMES`; a variable added to `bot.config` is added here once,
and tests/test_typos.py holds the two together), the closest known name for a typo, and the
exact fix for the API endpoints people paste by mistake.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from urllib.parse import urlparse

# Every variable the bridge reads: the one list. An unknown SLACK_*, WATI_* or BRIDGE_* name is
# most likely a typo of one of these (tests/test_config.py holds the list and the code together).
KNOWN_NAMES = frozenset(
    {
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_API_URL",
        "WATI_API_ENDPOINT",
        "WATI_ACCESS_TOKEN",
        "WATI_WEBHOOK_TOKEN",
        "BRIDGE_DB",
        "BRIDGE_POLL_SECONDS",
        "BRIDGE_WATI_MONTHLY_CALLS",
        "BRIDGE_ADMINS",
        "BRIDGE_PUBLIC_URL",
        "BRIDGE_LOG_FORMAT",
        "BRIDGE_REPLY_TARGET_MINUTES",
        "BRIDGE_BUSINESS_HOURS",
        "BRIDGE_ASSIGN_ON_REPLY",
        "BRIDGE_RETENTION_DAYS",
        "BRIDGE_RATING_TEMPLATE",
        "BRIDGE_CHART_MINUTES",
        "BRIDGE_NOTE_PREFIX",
        "BRIDGE_AGENT_PREFIX",
        "BRIDGE_HEALTH_ALERT_SECONDS",
        "BRIDGE_HEALTH_STALE_SECONDS",
        "BRIDGE_HEALTH_CHECK_SECONDS",
        "BRIDGE_WATI_OUTAGE_SECONDS",
        "BRIDGE_METRICS_TOKEN",
        "HOST",
        "PORT",
        "WATI_BRIDGE_TEST_REFUSE_WRITES_FLAG",  # the tests' simulated full disk (bot.store)
    }
)
CHECKED_PREFIXES = ("SLACK_", "WATI_", "BRIDGE_")


def unknown_names(env: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """Each SLACK_*, WATI_* or BRIDGE_* name the bridge does not know, with the closest known one.

    A close match is a typo that leaves the intended setting unset (a configuration problem);
    a name with no close match may belong to another program sharing the environment, and is
    only named (a warning at start, a line in doctor).
    """
    found: list[tuple[str, str | None]] = []
    for name in sorted(env):
        if name.startswith(CHECKED_PREFIXES) and name not in KNOWN_NAMES:
            close = difflib.get_close_matches(name, KNOWN_NAMES, n=1, cutoff=0.75)
            found.append((name, close[0] if close else None))
    return found


def typo_problem(name: str, closest: str) -> str:
    return f"{name} is not a setting of wati-bridge: did you mean {closest}? Rename it"


def stray_note(name: str) -> str:
    return f"{name} is not a setting of wati-bridge and is ignored (another program's?)"


def endpoint_mistake(endpoint: str) -> str | None:
    """The exact fix for a WATI_API_ENDPOINT that is a URL but not the API Endpoint."""
    parsed = urlparse(endpoint)
    path = parsed.path.rstrip("/")
    base = f"{parsed.scheme}://{parsed.netloc}"
    if "/api/" in path + "/":
        # Copied from an example request: the bridge adds /api/v1/… itself.
        fixed = base + path[: (path + "/").index("/api/")]
        return f"WATI_API_ENDPOINT ends in {path[path.index('/api') :]!r}: set it to {fixed!r}"
    if parsed.query or parsed.fragment:
        return f"WATI_API_ENDPOINT has a '?' or '#' part: set it to {base + path!r}"
    if parsed.netloc.lower() in ("app.wati.io", "www.wati.io", "wati.io"):
        return (
            f"WATI_API_ENDPOINT is Wati's website ({parsed.netloc}), not the API: copy the API "
            "Endpoint from Wati's API Docs page (https://live-mt-server.wati.io/123456)"
        )
    if parsed.netloc.lower().endswith(".wati.io") and not path:
        return (
            f"WATI_API_ENDPOINT has no tenant id after {parsed.netloc}: copy the whole API "
            "Endpoint from Wati's API Docs page, e.g. https://live-mt-server.wati.io/123456"
        )
    return None


def wrong_token(name: str, value: str) -> str:
    """Name the kind of token found where another belongs (the value itself is never shown)."""
    kinds = {
        "xoxb-": "a bot token (xoxb-…), which belongs in SLACK_BOT_TOKEN",
        "xapp-": "an app-level token (xapp-…), which belongs in SLACK_APP_TOKEN",
        "xoxp-": "a user token (xoxp-…), which the bridge does not use",
        "xoxe": "a token-rotation token (xoxe…); turn token rotation off for the app",
    }
    found = next((k for p, k in kinds.items() if value.startswith(p)), "no Slack token")
    wanted = {
        "SLACK_BOT_TOKEN": "the Bot User OAuth Token (xoxb-…) from OAuth & Permissions",
        "SLACK_APP_TOKEN": "an App-Level Token (xapp-…) with connections:write, from Basic "
        "Information → App-Level Tokens",
        "SLACK_SIGNING_SECRET": "the Signing Secret from Basic Information → App Credentials",
    }[name]
    return f"{name} holds {found}: set it to {wanted}"


def endpoint_problem(endpoint: str) -> str:
    """WATI_API_ENDPOINT that is no http(s) URL: what to set instead."""
    if "://" not in endpoint and not endpoint.startswith("/"):
        return (
            f"WATI_API_ENDPOINT must be an http(s) URL ({endpoint!r} has no https:// in front): "
            f"set it to 'https://{endpoint}'"
        )
    return (
        f"WATI_API_ENDPOINT must be an http(s) URL, got {endpoint!r}: copy the API Endpoint "
        "from Wati's API Docs page (https://live-mt-server.wati.io/123456)"
    )
