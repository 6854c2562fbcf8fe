"""Pure deal rules: kinds and what they do to a patent, licence terms, filing deadlines, payments."""

from __future__ import annotations

from datetime import date, timedelta

from app.patents.terms import add_months

KINDS = ("assignment", "exclusive_license", "sole_license", "nonexclusive_license", "open_license", "equity")
SOURCES = ("auction", "negotiation", "matching", "open_license")
STATUSES = ("recorded", "completed", "cancelled")
PAYMENT_STATUSES = ("unpaid", "partial", "paid")
# 作价入股 puts the patent into the company's capital: ownership moves as in an assignment.
OWNERSHIP_KINDS = frozenset({"assignment", "equity"})
LICENSE_KINDS = frozenset({"exclusive_license", "sole_license", "nonexclusive_license", "open_license"})
# While one of these runs, nothing else is done with the patent: an exclusive licence (独占) leaves nobody,
# not even the patentee, the right to work or license it; a sole licence (排他) leaves the patentee its own
# use only. So no further licence of any kind, open-licence declaration or assignment until it ends. A
# non-exclusive licence rules out nothing.
EXCLUSIVE_KINDS = frozenset({"exclusive_license", "sole_license"})
# 实施许可合同备案: within three months of the contract taking effect.
FILING_MONTHS = 3

# status -> the statuses an action may move it from
TRANSITIONS = {"complete": ("recorded", "completed"), "cancel": ("recorded", "cancelled")}


def licence_end(starts_on: date, term_months: int) -> date:
    """The last day of a licence of `term_months` from `starts_on` (the day before the monthly anniversary)."""
    return add_months(starts_on, term_months) - timedelta(days=1)


def licence_runs(starts_on: date | None, ends_on: date | None, on: date) -> bool:
    return starts_on is not None and ends_on is not None and starts_on <= on <= ends_on


def filing_due_on(effective_on: date) -> date:
    return add_months(effective_on, FILING_MONTHS)


def filing_overdue(kind: str, status: str, effective_on: date | None, registration_number: str | None,
                   on: date) -> bool:
    return (kind in LICENSE_KINDS and status != "cancelled" and registration_number is None
            and effective_on is not None and on > filing_due_on(effective_on))


def payment_status_for(amount_fen: int, received_fen: int) -> str:
    if received_fen <= 0:
        return "unpaid"
    return "paid" if received_fen >= amount_fen else "partial"


def next_status(action: str, status: str) -> str | None:
    source, target = TRANSITIONS[action]
    return target if status == source else None
