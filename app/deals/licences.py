"""Licences recorded as deals, read as terms: what runs on a patent, and the rule it imposes on others."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from app import clock
from app.errors import Conflict
from app.extensions import db
from app.patents.encumbrances import encumbrance_check
from app.patents.models import Patent

from . import rules
from .models import Deal, DealPatent


def unexpired_licences(patent_id: int, kinds: frozenset[str], on: date, *,
                       buyer_organization_id: int | None = None) -> list[Deal]:
    """Licences of `kinds` on the patent that are not cancelled and have not ended by `on` (a licence
    recorded to start later binds from its recording)."""
    stmt = (sa.select(Deal).join(DealPatent, DealPatent.deal_id == Deal.id)
            .where(DealPatent.patent_id == patent_id, Deal.kind.in_(kinds), Deal.status != "cancelled",
                   Deal.license_ends_on >= on)
            .order_by(Deal.license_ends_on.desc()))
    if buyer_organization_id is not None:
        stmt = stmt.where(Deal.buyer_organization_id == buyer_organization_id)
    return list(db.session.scalars(stmt))


@encumbrance_check
def refuse_under_exclusive_licence(patent: Patent, action: str, counterparty_organization_id: int | None) -> None:
    """While an exclusive or sole licence runs, nothing else is done with the patent (rules.EXCLUSIVE_KINDS)."""
    blocking = unexpired_licences(patent.id, rules.EXCLUSIVE_KINDS, clock.today())
    if blocking:
        deal = blocking[0]
        raise Conflict("exclusive_license_running",
                       f"{patent.application_number} is under a {deal.kind.replace('_', ' ')} (deal {deal.id}) "
                       f"until {deal.license_ends_on}", field="patent_id")
