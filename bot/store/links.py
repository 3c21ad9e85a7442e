"""Links: which WhatsApp number each Slack channel serves (one to one)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.store.db import Db, iso


class LinkConflict(Exception):
    """The number or the channel is already linked elsewhere."""

    def __init__(self, existing: Link) -> None:
        self.existing = existing
        super().__init__(f"{existing.channel_number} is linked to {existing.slack_channel_id}")


@dataclass(frozen=True)
class Link:
    """A WhatsApp number linked to a Slack channel."""

    channel_number: str
    slack_channel_id: str
    linked_by: str
    linked_at: str


class LinkTable(Db):
    """The `links` table."""

    def link(self, channel_number: str, slack_channel_id: str, user_id: str) -> Link:
        """Link a number to a channel; LinkConflict if either is linked elsewhere."""
        with self.write() as db:
            for existing in self._all(
                Link,
                "select * from links where channel_number = ? or slack_channel_id = ?",
                [channel_number, slack_channel_id],
            ):
                if (existing.channel_number, existing.slack_channel_id) != (
                    channel_number,
                    slack_channel_id,
                ):
                    raise LinkConflict(existing)
                return existing
            row = {
                "channel_number": channel_number,
                "slack_channel_id": slack_channel_id,
                "linked_by": user_id,
                "linked_at": iso(self.clock.now()),
            }
            db.table("links").insert(row)
        return Link(**row)

    def unlink(self, slack_channel_id: str) -> Link | None:
        """Remove the channel's link; return it, or None when there was none."""
        with self.write() as db:
            found = self.link_for_channel(slack_channel_id)
            if found:
                db.execute("delete from links where slack_channel_id = ?", [slack_channel_id])
        return found

    def link_for_channel(self, slack_channel_id: str) -> Link | None:
        """The link of a Slack channel."""
        return self._one(Link, "select * from links where slack_channel_id = ?", [slack_channel_id])

    def link_for_number(self, channel_number: str) -> Link | None:
        """The link of a WhatsApp number."""
        return self._one(Link, "select * from links where channel_number = ?", [channel_number])

    def links(self) -> list[Link]:
        """Every link, oldest first."""
        return self._all(Link, "select * from links order by linked_at")
