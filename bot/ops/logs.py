"""Log line formats: the plain text one, and one JSON object per line (BRIDGE_LOG_FORMAT=json).

Both carry exactly what the bridge's log calls say: those never include a token, a signing
secret or a message body, and the libraries that would log them are held at WARNING (see
`bot.cli.QUIET_LOGGERS`), in either format.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message"}`, plus `error` and `traceback` for exceptions."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
            entry["traceback"] = self.formatException(record.exc_info)
        # One line per record whatever the message holds: json.dumps escapes newlines.
        return json.dumps(entry, ensure_ascii=False)


def formatter(log_format: str) -> logging.Formatter:
    """The formatter for `text` or `json`."""
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
