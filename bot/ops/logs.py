"""Log line formats: the plain text one, and one JSON object per line (BRIDGE_LOG_FORMAT=json).

Both carry exactly what the bridge's log calls say: those never include a token, a signing
secret or a message body, and the libraries that would log them are held at WARNING (see
`bot.cli.QUIET_LOGGERS`), in either format.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# A secret in a URL's query (Wati's webhook URL carries `token=`), should a library or a quoted
# error message bring one into a line: the value is replaced, in either format.
_URL_SECRET = re.compile(r"(?i)([?&](?:token|access_token)=)[^&\s'\"<>]+")


def redact(text: str) -> str:
    """The line with any URL token's value replaced."""
    return _URL_SECRET.sub(r"\1<token>", text)


class TextFormatter(logging.Formatter):
    """TEXT_FORMAT, with URL tokens redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


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
    return JsonFormatter() if log_format == "json" else TextFormatter(TEXT_FORMAT)
