"""Pure listing rules: lifecycle transitions and which offers of one patent can stand together."""

from __future__ import annotations

from collections.abc import Iterable

ACTIVE_STATUSES = frozenset({"draft", "pending_review", "listed", "in_negotiation", "in_auction"})
PUBLISHED_STATUSES = frozenset({"listed", "in_negotiation", "in_auction"})
EXCLUSIVE_MODES = frozenset({"exclusive_license", "sole_license"})
LICENSE_MODES = frozenset({"exclusive_license", "sole_license", "nonexclusive_license", "open_license"})

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "submit": (frozenset({"draft"}), "pending_review"),
    "approve": (frozenset({"pending_review"}), "listed"),
    "reject": (frozenset({"pending_review"}), "draft"),
    "withdraw": (frozenset({"draft", "pending_review", "listed", "in_negotiation"}), "withdrawn"),
    "start_negotiation": (frozenset({"listed"}), "in_negotiation"),
    "end_negotiation": (frozenset({"in_negotiation"}), "listed"),
    "put_in_auction": (frozenset({"listed", "in_negotiation"}), "in_auction"),
    "return_from_auction": (frozenset({"in_auction"}), "listed"),
    "sell": (frozenset({"listed", "in_negotiation", "in_auction"}), "sold"),
    "license": (frozenset({"listed", "in_negotiation", "in_auction"}), "licensed"),
    # The exclusive licence that took the offer was cancelled: the offer is back on the shelf.
    "relist": (frozenset({"licensed"}), "listed"),
    "expire": (ACTIVE_STATUSES, "expired"),
}


def next_status(action: str, status: str) -> str | None:
    """The status `action` leads to from `status`, or None when the lifecycle forbids it."""
    sources, target = TRANSITIONS[action]
    return target if status in sources else None


def offer_conflict(mode: str, others: Iterable[tuple[str, str]]) -> str | None:
    """Why an offer in `mode` cannot stand beside the patent's other listings (mode, status), or None.

    - one active assignment offer per patent;
    - one exclusive-type offer at a time;
    - an open-licence declaration excludes exclusive and sole licences (Patent Law art. 51), and
      vice versa; only one declaration stands at a time.

    A granted licence is not an offer: its term is a deal's (app.deals.licences), checked through
    encumbrances.check_action.
    """
    for other_mode, other_status in others:
        if other_status not in ACTIVE_STATUSES:
            continue
        if mode == "assignment" and other_mode == "assignment":
            return "the patent already has an active assignment listing"
        if mode in EXCLUSIVE_MODES and other_mode in EXCLUSIVE_MODES:
            return "the patent already has an active exclusive or sole licence listing"
        if mode == "open_license" and other_mode == "open_license":
            return "the patent already has an open-licence declaration"
        if {mode, other_mode} & {"open_license"} and {mode, other_mode} & EXCLUSIVE_MODES:
            return "an open licence and an exclusive or sole licence exclude each other"
    return None
