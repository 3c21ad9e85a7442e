"""Bulk attributes: contact attributes set on many contacts, CHUNK per Wati call.

Template broadcasts are `bot.chatops.broadcasts` (recorded, then sent by a scheduled job).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.chatops.errors import explain
from bot.chatops.recipients import chunks
from bot.wati.client import WatiClient
from bot.wati.errors import WatiError

CHUNK = 100


@dataclass
class BulkReport:
    """How a bulk operation went: numbers accepted by Wati and (given, reason) failures."""

    total: int
    accepted: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def done(self) -> int:
        """Recipients dealt with so far."""
        return self.accepted + len(self.failed)


class Bulk:
    """Runs bulk attribute calls in chunks."""

    def __init__(self, *, wati: WatiClient, chunk_size: int = CHUNK) -> None:
        self.wati = wati
        self.chunk_size = max(1, min(chunk_size, CHUNK))

    def update_attributes(
        self, rows: list[tuple[str, dict[str, str]]], refused: list[tuple[str, str]]
    ) -> BulkReport:
        """Set attributes on many contacts, CHUNK per call."""
        report = BulkReport(total=len(rows) + len(refused), failed=list(refused))
        for chunk in chunks(rows, self.chunk_size):
            try:
                self.wati.update_contact_attributes_for_multi_contacts(list(chunk))
                report.accepted += len(chunk)
            except (WatiError, ValueError) as exc:
                reason = explain(exc)
                report.failed.extend((number, reason) for number, _ in chunk)
        return report
