import pytest

from app.patents.numbers import (
    InvalidNumber,
    check_character,
    normalise_publication_number,
    parse_application_number,
)


@pytest.mark.parametrize(
    ("typed", "canonical", "patent_type"),
    [
        ("CN202310123456.6", "CN202310123456.6", "invention"),
        ("202310123456.6", "CN202310123456.6", "invention"),
        ("2023101234566", "CN202310123456.6", "invention"),
        ("ZL202310123456.6", "CN202310123456.6", "invention"),
        ("zl 2023 1012 3456.6", "CN202310123456.6", "invention"),
        ("ＣＮ２０２３１０１２３４５６．６", "CN202310123456.6", "invention"),
        # Real published numbers (domain.md): they must pass.
        ("201710601862.3", "CN201710601862.3", "invention"),
        ("201220687633.0", "CN201220687633.0", "utility_model"),
        ("95115608.X", "CN95115608.X", "invention"),
        ("CN201410003340.X", "CN201410003340.X", "invention"),
        ("CN96121602.6", "CN96121602.6", "invention"),
        ("cn201410003340.x", "CN201410003340.X", "invention"),
    ],
)
def test_accepts_what_people_type(typed, canonical, patent_type):
    number = parse_application_number(typed)
    assert number.canonical == canonical
    assert number.patent_type == patent_type


@pytest.mark.parametrize(
    "typed",
    ["202310123456.7", "CN201410003340.1", "CN96121602.5", "95115608.1", "201710601862.X"],
)
def test_rejects_a_wrong_check_character(typed):
    with pytest.raises(InvalidNumber, match="check character"):
        parse_application_number(typed)


@pytest.mark.parametrize(
    "typed",
    ["", "   ", "hello", "202310123456", "20231012345.6", "CN2023101234566.6", "202350123456.X",
     "199910123456.0"],
)
def test_rejects_malformed_numbers(typed):
    with pytest.raises(InvalidNumber):
        parse_application_number(typed)


def test_check_character_weights_repeat_over_twelve_digits():
    # 2..9 then 2..5 for the last four digits; the remainder 10 is written X.
    digits = "201410003340"
    total = sum(int(d) * w for d, w in zip(digits, [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5], strict=True))
    assert total % 11 == 10
    assert check_character(digits) == "X"


def test_type_digit_and_year():
    digits = "201880012345"
    pct = parse_application_number(f"CN{digits}.{check_character(digits)}")
    assert pct.patent_type == "invention" and pct.via_pct
    assert parse_application_number("CN201220687633.0").filing_year == 2012
    assert parse_application_number("CN96121602.6").filing_year == 1996
    assert parse_application_number("CN202330001234." + check_character("202330001234")).patent_type == "design"
    assert parse_application_number("CN201220687633.0").patent_number == "ZL201220687633.0"


def test_publication_numbers():
    assert normalise_publication_number("cn 114081026 a") == "CN114081026A"
    assert normalise_publication_number("CN111504366B") == "CN111504366B"
    with pytest.raises(InvalidNumber):
        normalise_publication_number("US123456A")
