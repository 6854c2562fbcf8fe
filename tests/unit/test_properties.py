"""Property tests (hypothesis) of the parsers every input passes through: application numbers, IPC codes,
money and the project's field types. Whatever the text, they answer a value or their own error, never
anything else, and what they accept round-trips."""

from __future__ import annotations

import marshmallow as ma
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.api import Fen, Schema
from app.fields import BIGINT_MAX, BIGINT_MIN, Decimal, Text
from app.patents.ipc import InvalidIPC, parse_ipc
from app.patents.numbers import InvalidNumber, check_character, parse_application_number

PROPERTY = settings(max_examples=300, deadline=None)

TYPE_DIGITS = st.sampled_from("12389")


@PROPERTY
@given(year=st.integers(2003, 2099), kind=TYPE_DIGITS, serial=st.integers(0, 9_999_999))
def test_every_valid_number_parses_in_every_spelling(year, kind, serial):
    digits = f"{year}{kind}{serial:07d}"
    canonical = f"CN{digits}.{check_character(digits)}"
    for typed in (canonical, canonical[2:], canonical.replace(".", ""), "ZL" + canonical[2:], canonical.lower(),
                  canonical.translate(str.maketrans("0123456789.", "０１２３４５６７８９．"))):
        number = parse_application_number(typed)
        assert number.canonical == canonical and number.filing_year == year


@PROPERTY
@given(year=st.integers(2003, 2099), kind=TYPE_DIGITS, serial=st.integers(0, 9_999_999), wrong=st.integers(1, 10))
def test_a_wrong_check_character_is_always_refused(year, kind, serial, wrong):
    digits = f"{year}{kind}{serial:07d}"
    right = "0123456789X".index(check_character(digits))
    with pytest.raises(InvalidNumber):
        parse_application_number(f"{digits}.{'0123456789X'[(right + wrong) % 11]}")


@PROPERTY
@given(st.text(max_size=40))
def test_any_text_is_a_number_or_invalid_number(text):
    try:
        number = parse_application_number(text)
    except InvalidNumber:
        return
    assert parse_application_number(number.canonical) == number


@PROPERTY
@given(st.text(max_size=40))
def test_any_text_is_an_ipc_code_or_invalid_ipc(text):
    try:
        code = parse_ipc(text)
    except InvalidIPC:
        return
    assert parse_ipc(code.canonical) == code
    assert code.levels()[0] == code.section and code.levels()[-1] in (code.canonical, code.canonical + " 00/00")


@PROPERTY
@given(section=st.sampled_from("ABCDEFGH"), cls=st.integers(1, 99), sub=st.sampled_from("ABCDEFGHJKLMNPQ"),
       group=st.integers(1, 999), subgroup=st.integers(0, 99999))
def test_ipc_spellings_agree(section, cls, sub, group, subgroup):
    subgroup_text = f"{subgroup:02d}"
    spaced = parse_ipc(f"{section}{cls:02d}{sub} {group}/{subgroup_text}")
    assert parse_ipc(f"{section}{cls:02d}{sub}{group}/{subgroup_text}") == spaced
    assert parse_ipc(f"{section.lower()}{cls:02d}{sub.lower()} {group}/{subgroup_text}") == spaced


class Money(Schema):
    price_fen = Fen()


class Words(Schema):
    title = Text()
    note = Text(allow_none=True, multiline=True)


class Rate(Schema):
    rate = Decimal(places=4)


@PROPERTY
@given(st.one_of(st.integers(), st.text(max_size=30), st.floats(allow_nan=True), st.booleans(), st.none()))
def test_money_is_an_integer_within_bigint_or_a_validation_error(value):
    try:
        loaded = Money().load({"price_fen": value})["price_fen"]
    except ma.ValidationError:
        return
    assert isinstance(loaded, int) and not isinstance(loaded, bool) and BIGINT_MIN <= loaded <= BIGINT_MAX
    assert str(value).strip().lstrip("-").isascii()


@PROPERTY
@given(st.text(max_size=60))
def test_text_is_clean_or_refused(value):
    try:
        loaded = Words().load({"title": value, "note": value})
    except ma.ValidationError:
        return
    for text in (loaded["title"], loaded["note"]):
        assert text == text.strip() and text
        assert not any(ord(c) < 32 and c not in "\t\n\r" for c in text)
        text.encode("utf-8")


@PROPERTY
@given(st.decimals(allow_nan=True, allow_infinity=True, places=None))
def test_decimals_are_exact_or_refused(value):
    try:
        loaded = Rate().load({"rate": str(value)})["rate"]
    except ma.ValidationError:
        return
    assert loaded == value and loaded.is_finite() and -loaded.as_tuple().exponent <= 4
