"""Log line formats: the plain text one, and one JSON object per line (BRIDGE_LOG_FORMAT=json).

Both carry exactly what the bridge's log calls say: those never include a token, a signing
secret or a message body, and the libraries that would log them are held at WARNING (see
`bot.cli.QUIET_LOGGERS`), in either format. As a last guard, every secret named to `hide`
(the tokens, the webhook URL's secret) is blanked out of each finished line, tracebacks and
text a remote service echoed back included.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HIDDEN = "<secret>"
MIN_SECRET = 8  # shorter values would blank ordinary words
# A secret in a URL's query (Wati's webhook URL carries `token=`), should a library or a quoted
# error message bring one into a line: the value is replaced, in either format.
_URL_SECRET = re.compile(r"(?i)([?&](?:token|access_token)=)[^&\s'\"<>]+")

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def hide(*secrets: str | None) -> None:
    """Blank these values out of every log line from now on."""
    with _secrets_lock:
        _secrets.update(s for s in secrets if s and len(s) >= MIN_SECRET)


def redact(text: str) -> str:
    """The text with every hidden secret and any other URL token's value replaced."""
    with _secrets_lock:
        found = sorted(_secrets, key=len, reverse=True)
    for secret in found:
        if secret in text:
            text = text.replace(secret, HIDDEN)
    return _URL_SECRET.sub(r"\1<token>", text)


class Redacting(logging.Formatter):
    """Formats with `inner`, then blanks secrets out of the line."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message"}`, plus `error` and `traceback` for exceptions."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
            entry["traceback"] = redact(self.formatException(record.exc_info))
        # One line per record whatever the message holds: json.dumps escapes newlines.
        return json.dumps(entry, ensure_ascii=False)


def formatter(log_format: str) -> logging.Formatter:
    """The formatter for `text` or `json`."""
    return Redacting(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
