"""Reading CUSTOMER as people type it: phone numbers, BSUIDs, usernames."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.privacy.identify import Customer, UnknownCustomer, find_chats, read_customer
from bot.store import open_store


@pytest.mark.parametrize(
    "typed",
    [
        "+44 7700 900123",
        "447700900123",
        "+44 (0)7700-900123",
        "00447700900123",
        "<tel:+447700900123>",
    ],
)
def test_phone_numbers_as_people_type_them(typed: str) -> None:
    assert read_customer(typed) == Customer("phone", "447700900123")


def test_bsuid_and_username() -> None:
    assert read_customer(" US.13491208655302741918 ") == Customer(
        "bsuid", "US.13491208655302741918"
    )
    assert read_customer("us.13491208655302741918").value == "US.13491208655302741918"
    assert read_customer("@Bob_Rivers") == Customer("username", "@bob_rivers")


@pytest.mark.parametrize("typed", ["", "bob", "@", "+1 2", "drop table chats"])
def test_anything_else_is_refused_with_an_example(typed: str) -> None:
    with pytest.raises(UnknownCustomer) as caught:
        read_customer(typed)
    assert str(caught.value)


def test_every_identity_column_there_is_finds_the_customer(tmp_path: Path) -> None:
    """Phone, BSUID and username beside the chats' key (the schema for phoneless customers)."""
    store = open_store(tmp_path / "bridge.db")
    store.ensure_chat("15550000001", "US.13491208655302741918", origin="test", next_poll_at=None)
    store.ensure_chat("15550000002", "447700900123", origin="test", next_poll_at=None)
    phoneless = ("15550000001", "US.13491208655302741918")
    with_phone = ("15550000002", "447700900123")
    assert find_chats(store, read_customer("@Bob_Rivers")) == []  # no username column yet
    assert find_chats(store, read_customer("US.13491208655302741918")) == [phoneless]
    for column in ("customer_phone", "customer_bsuid", "customer_username"):
        if column not in store.identity_columns():
            store.db["chats"].add_column(column, str)
    store.update_chat(
        *phoneless, customer_bsuid="US.13491208655302741918", customer_username="bob_rivers"
    )
    store.update_chat(
        *with_phone, customer_phone="447700900123", customer_bsuid="GB.5551200000000001"
    )
    store.update_chat(*phoneless, customer_phone="5511912345678")  # a phone that came later
    assert find_chats(store, read_customer("@BOB_rivers")) == [phoneless]
    assert find_chats(store, read_customer("+55 11 91234-5678")) == [phoneless]
    assert find_chats(store, read_customer("GB.5551200000000001")) == [with_phone]
    assert find_chats(store, read_customer("+44 7700 900123")) == [with_phone]
    store.close()
