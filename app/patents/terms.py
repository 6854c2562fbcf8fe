"""Patent terms (Patent Law 2020, art. 42), counted from the filing date."""

from __future__ import annotations

from datetime import date, timedelta

DESIGN_TERM_CHANGE = date(2021, 6, 1)


def term_years(patent_type: str, filing_date: date) -> int:
    if patent_type == "invention":
        return 20
    if patent_type == "utility_model":
        return 10
    return 15 if filing_date >= DESIGN_TERM_CHANGE else 10


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def expiry_date(patent_type: str, filing_date: date) -> date:
    """The last day of protection: the day before the anniversary of filing."""
    return _add_years(filing_date, term_years(patent_type, filing_date)) - timedelta(days=1)


def remaining_years(expires_on: date | None, on: date) -> float | None:
    if expires_on is None:
        return None
    return round(max((expires_on - on).days, 0) / 365.25, 1)


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError("unreachable")
