"""Small pure helpers: Wati-style ids, timestamps, numbers and template rendering."""

from __future__ import annotations

import base64
import re
import secrets
import uuid
from datetime import UTC, datetime

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PARAM = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
DAY = 24 * 3600.0


def new_id(now: float) -> str:
    """A 24-hex id shaped like a MongoDB ObjectId (4 bytes of time, 8 random)."""
    return f"{int(now) & 0xFFFFFFFF:08x}{secrets.token_hex(8)}"


def new_wamid() -> str:
    return "wamid.HBgL" + base64.b64encode(secrets.token_bytes(27)).decode("ascii")


def new_local_id() -> str:
    return str(uuid.uuid4())


def iso(t: float) -> str:
    """ISO-8601 UTC with milliseconds and a trailing Z, as Wati's `created`."""
    seconds, millis = divmod(round(t * 1000), 1000)
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}Z"


def contact_date(t: float) -> str:
    """Contacts' `created` is not ISO: `May-14-2024`."""
    moment = datetime.fromtimestamp(t, UTC)
    return f"{_MONTHS[moment.month - 1]}-{moment.day:02d}-{moment.year}"


def month_key(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m")


def parse_when(text: str) -> float | None:
    """`YYYY-MM-DD[ HH:MM:SS]` or `MM-DD-YYYY` (UTC) to epoch seconds; None if unparseable."""
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d", "%m-%d-%Y"):
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    return None


def normalise(number: str) -> str:
    """Digits only (drops `+`, spaces, hyphens, brackets): for the helpers and the phone page."""
    return "".join(ch for ch in number if ch.isdigit())


def valid_number(number: str) -> bool:
    """What the API accepts as a WhatsApp number: 7 to 15 digits and nothing else."""
    return number.isdigit() and 7 <= len(number) <= 15


def template_params(body: str) -> list[str]:
    """Parameter names in the order they first appear: `{{name}}`, `{{1}}`."""
    seen: list[str] = []
    for match in _PARAM.finditer(body):
        if match.group(1) not in seen:
            seen.append(match.group(1))
    return seen


def render(body: str, values: dict[str, str]) -> str:
    return _PARAM.sub(lambda m: values.get(m.group(1), m.group(0)), body)


def numbered(body: str) -> str:
    """The Meta-side `bodyOriginal`: named params replaced by `{{1}}`, `{{2}}`, ..."""
    order = {name: str(i) for i, name in enumerate(template_params(body), start=1)}
    return _PARAM.sub(lambda m: "{{" + order[m.group(1)] + "}}", body)


def media_kind(content_type: str) -> str:
    major = content_type.split("/", 1)[0].lower()
    return major if major in ("image", "video", "audio") else "document"


def first_name(name: str) -> str:
    parts = name.split()
    return parts[0] if parts else name
