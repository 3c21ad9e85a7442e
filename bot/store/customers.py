"""Which chat key a customer is filed under (see `bot.customers.identity`)."""

from __future__ import annotations

from bot.store.db import Db

UNIDENTIFIED_KEY = "unidentified_contacts"  # kv: contacts with neither phone nor BSUID
IDENTITY_COLUMNS = ("customer_phone", "customer_bsuid", "customer_username", "wati_contact_id")


class CustomerTable(Db):
    """Identity columns of `chats`: `customer_number` is the key (phone, else BSUID);
    `customer_phone`, `customer_bsuid`, `customer_username`, `wati_contact_id` what Wati said."""

    def customer_key(
        self, *, phone: str | None, bsuid: str | None, contact_id: str | None
    ) -> str | None:
        """The key of the chats this customer already has on any number, or None."""
        given = [v for v in (phone, bsuid) if v]
        if not given and not contact_id:
            return None
        marks = ",".join("?" * len(given)) or "null"
        rows = self.query(
            f"select customer_number from chats where customer_number in ({marks}) "
            "or customer_bsuid = ? or customer_phone = ? or wati_contact_id = ? "
            # a chat keyed on the BSUID wins over one keyed on the phone: the older identity
            "order by (customer_number = ?) desc, created_at limit 1",
            [*given, bsuid, phone, contact_id, bsuid],
        )
        return str(rows[0]["customer_number"]) if rows else None

    def note_customer(self, customer_number: str, columns: dict[str, str]) -> None:
        """Keep what Wati said about the customer filed under this key, on every number."""
        values = {k: v for k, v in columns.items() if k in IDENTITY_COLUMNS and v}
        if not values:
            return
        sets = ", ".join(f"{k} = ?" for k in values)
        changed = " or ".join(f"{k} is not ?" for k in values)
        with self.write() as db:
            db.execute(
                f"update chats set {sets} where customer_number = ? and ({changed})",
                [*values.values(), customer_number, *values.values()],
            )
