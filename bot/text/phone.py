"""Phone numbers: parse what people type, store digits, show them readably.

Wati wants a WhatsApp number as digits with the country code and no ``+`` (``14155550100``).
People type ``+1 415-555-0100``, ``(+44) 20 7946 0958``, ``0044 20 7946 0958`` or paste Slack's
auto-link ``<tel:+14155550100|+1 415 555 0100>``. :func:`normalise` turns all of those into digits
or raises :class:`InvalidNumber` with a message fit to show a Slack user.

There is no default region: a number without its country code is refused rather than guessed.
Numbers only need to be *possible* (right length for the country), not assigned, so test and
fictional numbers such as ``+1 555 123 4567`` are accepted.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

EXAMPLE = "+1 415 555 0100"

# Slack turns a typed number into <tel:+14155550100|+1 415 555 0100>.
_TEL_LINK = re.compile(r"^<tel:([^|>]*)(?:\|[^>]*)?>$", re.IGNORECASE)
# Separators people put between digit groups; whitespace is accepted separately.
_SEPARATORS = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2212.()/[]")
# Invisible direction marks that copy-paste from RTL text or phone apps leaves behind.
_INVISIBLE = frozenset(
    "\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
)
_MAX_DIGITS = (
    17  # E.164 allows 15; leave room for a "(0)" trunk prefix, phonenumbers checks the rest
)


class InvalidNumber(ValueError):
    """The text is not a phone number with a country code. ``str(err)`` is for the user."""

    def __init__(self, text: str, reason: str | None = None) -> None:
        self.text = text
        shown = " ".join(text.split())
        if len(shown) > 40:
            shown = shown[:39] + "…"
        if not shown:
            message = f"Give a phone number with the country code, e.g. {EXAMPLE}"
        else:
            because = f" ({reason})" if reason else ""
            message = (
                f"“{shown}” is not a phone number{because}: "
                f"write it with the country code, e.g. {EXAMPLE}"
            )
        super().__init__(message)


def _unwrap(text: str) -> str:
    """Strip surrounding whitespace and Slack's ``<tel:…|…>`` wrapper."""
    stripped = text.strip()
    match = _TEL_LINK.match(stripped)
    return match.group(1).strip() if match else stripped


def _ascii_digits(text: str) -> str:
    """Map any Unicode decimal digit (Arabic-Indic, full-width…) to its ASCII digit."""
    return "".join(str(int(ch)) if ch.isdecimal() else ch for ch in text)


def _compact(text: str) -> str | None:
    """Digits and ``+`` only, or None when the text holds anything but number characters."""
    kept = []
    for ch in text:
        if ch.isdecimal() or ch == "+":
            kept.append(ch)
        elif not (ch.isspace() or ch in _SEPARATORS or ch in _INVISIBLE):
            return None
    return _ascii_digits("".join(kept))


def looks_like_number(text: str) -> bool:
    """True when ``text`` is made of number characters only (digits, ``+``, separators).

    For commands taking "a number or a name": a True answer means "treat it as a number and let
    :func:`normalise` explain what is wrong with it", not that the number is valid.
    """
    compact = _compact(_unwrap(text))
    return compact is not None and any(ch.isdigit() for ch in compact)


def normalise(text: str) -> str:
    """Return the number as digits with the country code and no ``+``, or raise InvalidNumber.

    Accepted prefixes: ``+``, ``00`` (international dialling prefix), or none (the digits then
    start with the country code, as Wati writes them). A national trunk ``(0)`` after the country
    code is dropped. Letters (vanity numbers, "ext") are refused.
    """
    candidate = _unwrap(text)
    compact = _compact(candidate)
    if not candidate:
        raise InvalidNumber(text)
    if compact is None:
        raise InvalidNumber(text, "only digits, spaces, + and - please")
    if compact.count("+") > 1 or compact.find("+") > 0:
        raise InvalidNumber(text, "a + can only come first")
    digits = compact.lstrip("+")
    if not compact.startswith("+") and digits.startswith("00"):
        digits = digits[2:]
    if not digits:
        raise InvalidNumber(text)
    if len(digits) > _MAX_DIGITS:
        raise InvalidNumber(text, "too long")
    if digits.startswith("0"):
        raise InvalidNumber(text, "no country code")
    try:
        number = phonenumbers.parse("+" + digits, None)
    except NumberParseException as err:
        unknown = err.error_type == NumberParseException.INVALID_COUNTRY_CODE
        raise InvalidNumber(text, "unknown country code" if unknown else "too short") from None
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason != ValidationResult.IS_POSSIBLE:
        raise InvalidNumber(text, _REASONS.get(reason, "wrong length for its country"))
    e164: str = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return e164.lstrip("+")


_REASONS = {
    ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.TOO_LONG: "too long",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "too short: is the area code missing?",
}


def display(digits: str) -> str:
    """``14155550100`` → ``+1 415-555-0100``.

    A leading ``+`` in the input is tolerated. Digits that do not parse come back as
    ``+digits``; anything that is not digits at all (a Wati contact id, a BSUID such as
    ``US.123``) comes back unchanged.
    """
    bare = digits.strip().removeprefix("+")
    if not (bare.isascii() and bare.isdigit()):
        return digits.strip()
    try:
        number = phonenumbers.parse("+" + bare, None)
    except NumberParseException:
        return "+" + bare
    if not phonenumbers.is_possible_number(number):
        return "+" + bare
    shown: str = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    return shown
