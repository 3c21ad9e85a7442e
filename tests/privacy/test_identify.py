"""Reading CUSTOMER as people type it: phone numbers, BSUIDs, usernames."""

from __future__ import annotations

import pytest

from bot.privacy.identify import Customer, UnknownCustomer, read_customer


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
