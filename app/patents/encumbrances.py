"""What is recorded against a patent elsewhere (licences with a term, pledges) and the actions it rules out.

Deals and pledges sit above patents: listings must not import them, yet a listing's approval has to
respect a running exclusive licence or a standing pledge. Those packages register a check here
(`@encumbrance_check`); patents ask `check_action` without knowing who answers. Every caller holds the
patent's row lock (`lock_patent`), so a check and the write it guards are not separated by a race.
"""

from __future__ import annotations

from collections.abc import Callable

from .models import Patent

# An action is what is done with a patent: the listing modes and deal kinds share these names.
ACTIONS = ("assignment", "exclusive_license", "sole_license", "nonexclusive_license", "open_license", "equity")

Check = Callable[[Patent, str, "int | None"], None]
_CHECKS: list[Check] = []


def encumbrance_check(func: Check) -> Check:
    """Register `func(patent, action, counterparty_organization_id)`: it raises a DomainError to refuse."""
    if func not in _CHECKS:
        _CHECKS.append(func)
    return func


def check_action(patent: Patent, action: str, counterparty_organization_id: int | None = None) -> None:
    """Refuse `action` on `patent` (with the counterparty when one is known: a deal's buyer) when a
    registered encumbrance forbids it."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    for check in _CHECKS:
        check(patent, action, counterparty_organization_id)
