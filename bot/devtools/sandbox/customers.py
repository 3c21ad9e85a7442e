"""Who a customer is, as Wati says it in 2026 (docs/WATI.md#bsuids-and-usernames).

Every contact has a business-scoped user id (BSUID, `US.13491208655302741918`) and may have a
WhatsApp username; a customer who hides their number has no phone at all. The sandbox keys a
customer's rows (`contacts.wa_id`, `conversations.customer`, `messages.customer`) on the
identity it first had: the phone number, or the BSUID of a phoneless customer. That key never
changes, even when a phone number appears later (`Sandbox.reveal_phone`); every v1 path
parameter is read through `resolve`, which accepts a phone number, a BSUID or a Wati contact id.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3

from . import shapes

_BSUID = re.compile(r"^[A-Z]{2}\.\d{6,30}$")
_COLUMNS = {"bsuid": "TEXT", "username": "TEXT", "phone": "TEXT"}


def is_bsuid(text: str) -> bool:
    """Letters, a dot, digits: `US.13491208655302741918`."""
    return bool(_BSUID.match(text))


def valid_key(text: str) -> bool:
    """A phone number or a BSUID: what the sandbox's helpers take for a customer."""
    return shapes.valid_number(text) or is_bsuid(text)


def bsuid_of(phone: str) -> str:
    """The BSUID Meta gives a phone customer (stable: derived from the number)."""
    digits = str(int(hashlib.sha1(phone.encode()).hexdigest()[:16], 16)).rjust(20, "0")
    return f"US.{digits[:20]}"


def upgrade(db: sqlite3.Connection) -> None:
    """Add the 2026 identity columns to a contacts table made before them."""
    have = {row[1] for row in db.execute("PRAGMA table_info(contacts)")}
    for name, kind in _COLUMNS.items():
        if name not in have:
            db.execute(f"ALTER TABLE contacts ADD COLUMN {name} {kind}")
    db.execute("UPDATE contacts SET phone = wa_id WHERE phone IS NULL AND bsuid IS NULL")
    for (key,) in list(db.execute("SELECT wa_id FROM contacts WHERE bsuid IS NULL")):
        db.execute("UPDATE contacts SET bsuid = ? WHERE wa_id = ?", (bsuid_of(key), key))


def new_identity(key: str) -> tuple[str | None, str]:
    """(phone, bsuid) of a new contact keyed on `key`."""
    if is_bsuid(key):
        return None, key
    return key, bsuid_of(key)


def resolve(db: sqlite3.Connection, ref: str) -> str | None:
    """The key of the contact that a phone number, BSUID or Wati contact id names."""
    ref = ref.strip()
    if not ref:
        return None
    digits = shapes.normalise(ref) if not is_bsuid(ref) else ""
    row = db.execute(
        "SELECT wa_id FROM contacts WHERE wa_id = ? OR bsuid = ? OR id = ?"
        " OR (phone = ? AND phone != '') ORDER BY wa_id = ? DESC LIMIT 1",
        (ref, ref, ref, digits, ref),
    ).fetchone()
    return None if row is None else str(row[0])
