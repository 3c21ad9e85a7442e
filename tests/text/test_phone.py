import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.text.phone import InvalidNumber, display, looks_like_number, normalise


@pytest.mark.parametrize(
    ("typed", "digits"),
    [
        ("+1 415-555-0100", "14155550100"),
        ("14155550100", "14155550100"),
        ("+14155550100", "14155550100"),
        ("+1 (415) 555-0100", "14155550100"),
        ("1.415.555.0100", "14155550100"),
        ("  +1 415 555 0100  ", "14155550100"),
        ("(+44) 20 7946 0958", "442079460958"),
        ("0044 20 7946 0958", "442079460958"),
        ("+44 (0)20 7946 0958", "442079460958"),
        ("+55 (11) 91234-5678", "5511912345678"),
        ("+852 6431 8721", "85264318721"),
        ("260977000000", "260977000000"),
        ("+39 06 1234 5678", "390612345678"),  # Italy keeps its leading zero
        ("+1 555 123 4567", "15551234567"),  # fictional 555 numbers are fine
        ("+1\u00a0415\u2011555\u20110100", "14155550100"),  # no-break space and hyphen
        ("\u200e+1 415 555 0100\u200f", "14155550100"),  # direction marks from copy-paste
        ("+٤٤ ٢٠ ٧٩٤٦ ٠٩٥٨", "442079460958"),  # Arabic-Indic digits
        ("<tel:+14155550100|+1 415 555 0100>", "14155550100"),  # Slack's auto-link
        ("<tel:14155550100>", "14155550100"),
    ],
)
def test_normalise_accepts(typed: str, digits: str) -> None:
    assert normalise(typed) == digits


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("12", "too short"),
        ("+1 2", "too short"),
        ("+1 555 0100", "area code"),
        ("+1 415 555 0100 0100 0100", "too long"),
        ("020 7946 0958", "no country code"),
        ("+0044 20 7946 0958", "no country code"),
        ("+999 1234567", "unknown country code"),
        ("1-800-FLOWERS", "only digits"),
        ("+1 415 555 0100 ext 12", "only digits"),
        ("Ana Souza", "only digits"),
        ("+1 415 +555 0100", "a + can only come first"),
        ("1+4155550100", "a + can only come first"),
        ("9" * 40, "too long"),
    ],
)
def test_normalise_rejects_with_reason(typed: str, reason: str) -> None:
    with pytest.raises(InvalidNumber) as caught:
        normalise(typed)
    message = str(caught.value)
    assert reason in message
    assert "country code, e.g. +1 415 555 0100" in message
    assert caught.value.text == typed


@pytest.mark.parametrize("typed", ["", "   ", "\n"])
def test_normalise_asks_for_a_number_when_given_nothing(typed: str) -> None:
    with pytest.raises(InvalidNumber, match="^Give a phone number with the country code"):
        normalise(typed)


@pytest.mark.parametrize("typed", ["+", "00", "()", "<tel:>", "-"])
def test_normalise_rejects_no_digits(typed: str) -> None:
    with pytest.raises(InvalidNumber, match="is not a phone number"):
        normalise(typed)


def test_invalid_number_message_reads_well() -> None:
    with pytest.raises(InvalidNumber) as caught:
        normalise("12")
    assert str(caught.value) == (
        "“12” is not a phone number (too short): "
        "write it with the country code, e.g. +1 415 555 0100"
    )
    assert isinstance(caught.value, ValueError)


def test_invalid_number_message_shortens_long_input() -> None:
    with pytest.raises(InvalidNumber) as caught:
        normalise("call me maybe " * 20)
    assert "…”" in str(caught.value)
    assert len(str(caught.value)) < 160


@pytest.mark.parametrize(
    ("digits", "shown"),
    [
        ("14155550100", "+1 415-555-0100"),
        ("+14155550100", "+1 415-555-0100"),
        ("442079460958", "+44 20 7946 0958"),
        ("5511912345678", "+55 11 91234-5678"),
        ("85264318721", "+852 6431 8721"),
        ("15551234567", "+1 555-123-4567"),
        ("1234", "+1234"),  # too short to be a number: shown as it is
        ("999123456", "+999123456"),  # unknown country code
        ("", ""),
        ("US.123124141512", "US.123124141512"),  # a BSUID is not digits: unchanged
    ],
)
def test_display(digits: str, shown: str) -> None:
    assert display(digits) == shown


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+1 415-555-0100", True),
        ("14155550100", True),
        ("12", True),  # a number, if not a valid one: normalise() explains
        ("<tel:+14155550100|+1 415 555 0100>", True),
        ("Ana", False),
        ("Ana 2", False),
        ("1-800-FLOWERS", False),
        ("", False),
        ("+ -", False),
    ],
)
def test_looks_like_number(text: str, expected: bool) -> None:
    assert looks_like_number(text) is expected


@given(st.text())
def test_normalise_returns_digits_or_raises_invalid_number(text: str) -> None:
    try:
        digits = normalise(text)
    except InvalidNumber:
        return
    assert digits.isascii() and digits.isdigit()
    assert 4 <= len(digits) <= 15
    assert normalise(digits) == digits  # stable
    assert looks_like_number(text)


@given(st.from_regex(r"\A\+?[0-9 ()\-.]{0,25}\Z"))
def test_normalise_number_like_text(text: str) -> None:
    try:
        digits = normalise(text)
    except InvalidNumber:
        return
    assert digits.isdigit()
    assert display(digits).startswith("+")


@given(st.text(alphabet="0123456789", max_size=20))
def test_display_never_raises(digits: str) -> None:
    shown = display(digits)
    assert shown == "" or shown.startswith("+")
