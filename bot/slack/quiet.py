"""Library loggers that must never carry a message body, an envelope or a token.

Bolt and slack_sdk's Socket Mode client log whole requests and envelopes at DEBUG and INFO, and
quote request bodies in some warnings ("did not call ack() ... (body)", "Unsuccessful Bolt
execution result (status, body)"). The bridge gives them loggers held at WARNING whatever
--verbose says, whose records keep only their first words: the text up to the first "(" or
"{" or ":", where the SDKs put the details, plus the exception's type, never its message.
"""

from __future__ import annotations

import logging

_CUTS = ("(", "{", ":")


class WithholdDetails(logging.Filter):
    """Drops records below WARNING; shortens the rest to their leading words."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return False
        text = record.getMessage()
        cut = min((i for i in (text.find(c) for c in _CUTS) if i > 0), default=len(text))
        short = text[:cut].rstrip()
        if record.exc_info and record.exc_info[0] is not None:
            short += f" ({record.exc_info[0].__name__})"
        if cut < len(text):
            short += " [details withheld]"
        record.msg, record.args = short, None
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def quiet_logger(name: str) -> logging.Logger:
    """The named logger, held at WARNING with details withheld (idempotent)."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.WARNING)
    if not any(isinstance(f, WithholdDetails) for f in logger.filters):
        logger.addFilter(WithholdDetails())
    return logger
