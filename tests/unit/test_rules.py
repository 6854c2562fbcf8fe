from datetime import date

import pytest

from app.patents import rules, terms


@pytest.mark.parametrize(
    ("action", "source", "target"),
    [
        ("submit", "draft", "pending_review"),
        ("approve", "pending_review", "listed"),
        ("reject", "pending_review", "draft"),
        ("withdraw", "listed", "withdrawn"),
        ("withdraw", "draft", "withdrawn"),
        ("expire", "in_auction", "expired"),
    ],
)
def test_allowed_transitions(action, source, target):
    assert rules.next_status(action, source) == target


@pytest.mark.parametrize(
    ("action", "source"),
    [("approve", "draft"), ("submit", "listed"), ("reject", "listed"), ("withdraw", "sold"),
     ("withdraw", "in_auction"), ("submit", "withdrawn"), ("expire", "sold")],
)
def test_forbidden_transitions(action, source):
    assert rules.next_status(action, source) is None


def test_one_active_assignment_offer():
    assert rules.offer_conflict("assignment", [("assignment", "listed")])
    assert rules.offer_conflict("assignment", [("assignment", "draft")])
    assert rules.offer_conflict("assignment", [("assignment", "withdrawn")]) is None
    assert rules.offer_conflict("assignment", [("nonexclusive_license", "listed")]) is None


def test_open_licence_excludes_exclusive_and_sole():
    assert rules.offer_conflict("exclusive_license", [("open_license", "listed")])
    assert rules.offer_conflict("open_license", [("sole_license", "pending_review")])
    assert rules.offer_conflict("nonexclusive_license", [("open_license", "listed")]) is None
    assert rules.offer_conflict("open_license", [("open_license", "listed")])


def test_granted_licences_are_not_offers():
    # A running licence's block is a deal's term (app.deals), not a listing status.
    assert rules.offer_conflict("assignment", [("exclusive_license", "licensed")]) is None
    assert rules.offer_conflict("assignment", [("nonexclusive_license", "licensed")]) is None


def test_terms_from_filing_date():
    assert terms.expiry_date("invention", date(2003, 5, 10)) == date(2023, 5, 9)
    assert terms.expiry_date("utility_model", date(2020, 1, 1)) == date(2029, 12, 31)
    assert terms.expiry_date("design", date(2021, 5, 31)) == date(2031, 5, 30)
    assert terms.expiry_date("design", date(2021, 6, 1)) == date(2036, 5, 31)
    assert terms.expiry_date("invention", date(2004, 2, 29)) == date(2024, 2, 28)
    assert terms.expiry_date("utility_model", date(2004, 2, 29)) == date(2014, 2, 27)
    assert terms.remaining_years(date(2030, 1, 1), date(2026, 1, 1)) == 4.0
    assert terms.remaining_years(date(2020, 1, 1), date(2026, 1, 1)) == 0.0
    assert terms.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert terms.add_months(date(2026, 11, 22), 14) == date(2028, 1, 22)
