"""The lists bulk operations read: numbers pasted one per line and CSV files.

Pure functions. A bad line never spoils the list: it is reported (what was given, and why)
and the rest goes ahead.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from bot.slack.limits import cut
from bot.text import phone
from bot.text.formatting import escape

T = TypeVar("T")

# Header names accepted for the column holding the WhatsApp number (compared without case,
# spaces, underscores or hyphens).
PHONE_COLUMNS = frozenset(
    {"phone", "number", "phonenumber", "whatsapp", "whatsappnumber", "waid", "mobile", "wanumber"}
)
MAX_ROWS = 10_000  # Wati's own bulk limit per request family (v3 documents 10,000 recipients)
ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ .-]{0,63}$")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def decode(data: bytes) -> str:
    """CSV bytes as text: UTF-8 (with or without a BOM, as Excel writes it), else Windows-1252."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def read_csv(text: str) -> list[list[str]]:
    """Rows of a CSV text (comma, semicolon or tab separated), cells stripped, blank rows dropped."""
    text = text.removeprefix("\ufeff")
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = []
    for row in csv.reader(io.StringIO(text), dialect):
        cells = [cell.strip() for cell in row]
        if any(cells):
            rows.append(cells)
    if len(rows) > MAX_ROWS + 1:
        raise ValueError(f"the list has more than {MAX_ROWS:,} rows; split it into smaller files")
    return rows


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).casefold()


def _phone_column(header: Sequence[str]) -> int | None:
    for index, name in enumerate(header):
        if _key(name) in PHONE_COLUMNS:
            return index
    return None


def _number(raw: str) -> str | None:
    try:
        return phone.normalise(raw)
    except phone.InvalidNumber:
        return None


@dataclass
class Recipients:
    """Who a broadcast goes to, with each one's template values, and the lines refused."""

    receivers: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    duplicates: int = 0


def recipients(
    pasted: str, csv_text: str | None, params: Sequence[str], defaults: Mapping[str, str]
) -> Recipients:
    """Numbers pasted one per line plus the rows of a CSV file.

    A CSV may have a header row naming a phone column (`phone`, `number`, `whatsapp`…); its other
    columns named after template parameters give that recipient's values, overriding
    `defaults`. Without a header the first column is the number.
    """
    entries: list[tuple[str, dict[str, str]]] = []
    for line in pasted.splitlines():
        if line.strip():
            entries.append((line.strip(), {}))
    if csv_text:
        rows = read_csv(csv_text)
        column = _phone_column(rows[0]) if rows else None
        if column is None:
            entries.extend((row[0], {}) for row in rows if row and row[0])
        else:
            wanted = {_key(p): p for p in params}
            named = {i: wanted[_key(h)] for i, h in enumerate(rows[0]) if _key(h) in wanted}
            for row in rows[1:]:
                cell = row[column] if column < len(row) else ""
                values = {p: row[i] for i, p in named.items() if i < len(row) and row[i]}
                entries.append((cell, values))
    if len(entries) > MAX_ROWS:
        raise ValueError(f"the list has more than {MAX_ROWS:,} recipients; split it")
    found = Recipients()
    seen: set[str] = set()
    for raw, overrides in entries:
        number = _number(raw)
        if number is None:
            found.failures.append((raw, "not a phone number with a country code"))
            continue
        if number in seen:
            found.duplicates += 1
            continue
        seen.add(number)
        values = {p: (overrides.get(p) or defaults.get(p) or "").strip() for p in params}
        missing = [p for p, v in values.items() if not v]
        if missing:
            found.failures.append((number, f"no value for {{{{{missing[0]}}}}}"))
            continue
        found.receivers.append((number, values))
    return found


@dataclass
class AttributeRows:
    """Contacts and the attributes to set on each, the rows refused, and the columns read."""

    rows: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)


def attribute_rows(csv_text: str) -> AttributeRows:
    """A CSV whose header row is `phone,attr1,attr2…`; an empty cell leaves that attribute alone.

    Raises ValueError (plain words) when the file as a whole cannot be used.
    """
    rows = read_csv(csv_text)
    if not rows:
        raise ValueError("the CSV file is empty")
    header = rows[0]
    column = _phone_column(header)
    if column is None:
        raise ValueError(
            "the first row must name the columns, with a `phone` column "
            "(for example `phone,city,plan`)"
        )
    names = {i: h for i, h in enumerate(header) if i != column and h}
    if not names:
        raise ValueError("the CSV has no attribute columns besides `phone`")
    bad = [h for h in names.values() if not ATTRIBUTE_NAME.match(h)]
    if bad:
        raise ValueError(f"`{bad[0]}` is not a usable attribute name (letters, digits and _)")
    if len({n.casefold() for n in names.values()}) < len(names):
        raise ValueError("an attribute column is named twice")
    found = AttributeRows(columns=list(names.values()))
    seen: set[str] = set()
    for row in rows[1:]:
        raw = row[column] if column < len(row) else ""
        number = _number(raw)
        if number is None:
            found.failures.append((raw, "not a phone number with a country code"))
            continue
        if number in seen:
            found.failures.append((number, "listed twice; the first row was used"))
            continue
        seen.add(number)
        values = {name: row[i] for i, name in names.items() if i < len(row) and row[i]}
        if not values:
            found.failures.append((number, "no values in this row"))
            continue
        found.rows.append((number, values))
    return found


def shown(raw: str) -> str:
    """A recipient as a report shows it: formatted when it is a number, escaped either way."""
    number = _number(raw)
    text = phone.display(number) if number else (raw if len(raw) <= 40 else raw[:39] + "…")
    return escape(text)


REASON = 200  # characters of a failure's reason shown in a report


def failure_lines(failures: Sequence[tuple[str, str]], limit: int = 20) -> str:
    """Bullet lines `• +44 7700 900123: reason`, at most `limit`, then how many more."""
    lines = [
        f"• {shown(raw) or '(empty)'}: {escape(cut(reason, REASON))}"
        for raw, reason in failures[:limit]
    ]
    if len(failures) > limit:
        lines.append(f"…and {len(failures) - limit} more")
    return "\n".join(lines)
