"""Pledges (质押): registration, consents and release, and the rule a standing pledge imposes (Civil Code
art. 444): no assignment, licence or open licence of its patents without the pledgee's consent."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from app import clock
from app.audit.services import record
from app.auth.models import Organization, User
from app.db import lock_row
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.indexing.outbox import enqueue_patent
from app.patents.encumbrances import encumbrance_check
from app.patents.models import Patent
from app.patents.services import get_patent, lock_patent

from .models import Pledge, PledgeConsent, PledgePatent


def consent_action(action: str) -> str:
    """The consent an action needs: assignment (and equity, which transfers), license, open_license."""
    if action in ("assignment", "equity"):
        return "assignment"
    return "open_license" if action == "open_license" else "license"


def standing_pledges(patent_id: int) -> list[Pledge]:
    return list(db.session.scalars(
        sa.select(Pledge).join(PledgePatent, PledgePatent.pledge_id == Pledge.id)
        .where(PledgePatent.patent_id == patent_id, Pledge.status == "registered").order_by(Pledge.id)))


@encumbrance_check
def refuse_without_consent(patent: Patent, action: str, counterparty_organization_id: int | None) -> None:
    """While a pledge stands, `action` needs a consent for it, naming this counterparty or anyone."""
    if not patent.pledged:
        return
    needed = consent_action(action)
    for pledge in standing_pledges(patent.id):
        if not any(c.action == needed and c.counterparty_organization_id in (None, counterparty_organization_id)
                   for c in pledge.consents):
            raise Conflict("patent_pledged",
                           f"{patent.application_number} is pledged to {pledge.pledgee_name} (registration "
                           f"{pledge.registration_number}); the pledgee's consent to {needed.replace('_', ' ')} "
                           "is not on record", field="patent_id")


def _sync_pledged(patent: Patent) -> None:
    """The patent's pledged flag is derived from its standing pledges, kept in the same transaction."""
    pledged = bool(standing_pledges(patent.id))
    if patent.pledged != pledged:
        patent.pledged = pledged
        enqueue_patent(patent.id)


def register_pledge(actor: User, data: dict) -> Pledge:
    """Register a pledge; refused when the pledgor is not the owner on record, a patent is not granted and
    valid, is preserved or already pledged, or the debt term runs past a patent's expiry."""
    pledgor = db.session.get(Organization, data["pledgor_organization_id"])
    if pledgor is None:
        raise Invalid("organization_not_found", "no such organisation", field="pledgor_organization_id")
    if data["ends_on"] < data["starts_on"]:
        raise Invalid("pledge_term_invalid", "the debt term ends before it starts", field="ends_on")
    pledgee_org_id = data.get("pledgee_organization_id")
    if pledgee_org_id is not None and db.session.get(Organization, pledgee_org_id) is None:
        raise Invalid("organization_not_found", "no such organisation", field="pledgee_organization_id")
    number = data["registration_number"]
    if db.session.scalar(sa.select(Pledge.id).where(Pledge.registration_number == number)) is not None:
        raise Conflict("duplicate_registration", f"pledge {number} is already registered", field="registration_number")
    patent_ids = sorted(set(data["patent_ids"]))
    patents = []
    for patent_id in patent_ids:  # in id order: overlapping registrations cannot deadlock
        patent = lock_patent(patent_id)
        if patent is None:
            raise Invalid("patent_not_found", f"no patent {patent_id}", field="patent_ids")
        _check_pledgeable(patent, pledgor.id, data["ends_on"])
        patents.append(patent)
    pledge = Pledge(registration_number=number, pledgor_organization_id=pledgor.id,
                    pledgee_name=data["pledgee_name"], pledgee_organization_id=pledgee_org_id,
                    secured_amount_fen=data["secured_amount_fen"], starts_on=data["starts_on"],
                    ends_on=data["ends_on"], registered_on=data.get("registered_on") or clock.today(),
                    created_by_user_id=getattr(actor, "id", None),
                    patent_rows=[PledgePatent(patent_id=p.id) for p in patents])
    db.session.add(pledge)
    db.session.flush()
    for patent in patents:
        _sync_pledged(patent)
    record("pledge", pledge.id, "register", actor, to_status="registered",
           changes={"registration_number": number, "patent_ids": patent_ids, "pledgee": pledge.pledgee_name,
                    "secured_amount_fen": pledge.secured_amount_fen})
    return pledge


def _check_pledgeable(patent: Patent, pledgor_id: int, ends_on: date) -> None:
    number = patent.application_number
    if patent.owner_organization_id != pledgor_id:
        raise Invalid("pledgor_not_owner", f"{number} is not owned on record by the pledgor",
                      field="pledgor_organization_id")
    if patent.legal_status != "valid" or not patent.in_force:
        raise Conflict("patent_not_in_force", f"{number} is not a granted patent in force", field="patent_ids")
    if patent.preserved:
        raise Conflict("patent_preserved", f"{number} is under property preservation (保全)", field="patent_ids")
    expires = patent.expires_on
    if expires is not None and ends_on > expires:
        raise Invalid("pledge_term_beyond_expiry", f"the debt term runs past {number}'s expiry on {expires}",
                      field="ends_on")
    if standing_pledges(patent.id):
        raise Conflict("patent_already_pledged", f"{number} is already pledged", field="patent_ids")


def get_pledge(pledge_id: int) -> Pledge:
    pledge = db.session.get(Pledge, pledge_id)
    if pledge is None:
        raise NotFound("pledge_not_found", f"no pledge {pledge_id}")
    return pledge


def _lock_pledge(pledge_id: int) -> Pledge:
    return lock_row(db.session, Pledge, get_pledge(pledge_id).id)


def release_pledge(actor: User, pledge_id: int, data: dict) -> Pledge:
    """注销: the pledge no longer binds its patents."""
    pledge = _lock_pledge(pledge_id)
    if pledge.status != "registered":
        raise Conflict("pledge_released", "the pledge is already released", field="status")
    released_on = data.get("released_on") or clock.today()
    if released_on < pledge.registered_on or released_on > clock.today():
        raise Invalid("release_date_invalid", "released before registration or after today", field="released_on")
    pledge.status, pledge.released_on, pledge.release_reason = "released", released_on, data.get("reason")
    db.session.flush()
    for patent_id in pledge.patent_ids:
        _sync_pledged(lock_patent(patent_id))
    record("pledge", pledge.id, "release", actor, from_status="registered", to_status="released",
           reason=data.get("reason"))
    return pledge


def add_consent(actor: User, pledge_id: int, data: dict) -> PledgeConsent:
    pledge = _lock_pledge(pledge_id)
    if pledge.status != "registered":
        raise Conflict("pledge_released", "a released pledge needs no consent", field="status")
    counterparty = data.get("counterparty_organization_id")
    if counterparty is not None and db.session.get(Organization, counterparty) is None:
        raise Invalid("organization_not_found", "no such organisation", field="counterparty_organization_id")
    consent = PledgeConsent(pledge_id=pledge.id, action=data["action"], counterparty_organization_id=counterparty,
                            note=data.get("note"), created_by_user_id=getattr(actor, "id", None))
    pledge.consents.append(consent)
    db.session.flush()
    record("pledge", pledge.id, "consent", actor,
           changes={"consent_id": consent.id, "action": consent.action, "counterparty": counterparty})
    return consent


def pledges_query(filters: dict) -> sa.Select:
    stmt = sa.select(Pledge).order_by(Pledge.id.desc())
    if filters.get("status"):
        stmt = stmt.where(Pledge.status == filters["status"])
    if filters.get("pledgor_organization_id") is not None:
        stmt = stmt.where(Pledge.pledgor_organization_id == filters["pledgor_organization_id"])
    if filters.get("patent_id") is not None:
        stmt = stmt.where(Pledge.patent_rows.any(PledgePatent.patent_id == filters["patent_id"]))
    if filters.get("registration_number"):
        stmt = stmt.where(Pledge.registration_number == filters["registration_number"])
    return stmt


def pledges_of_patent(user: User | None, patent_id: int) -> list[Pledge]:
    """The public register of a patent's pledges, standing and released (whoever may see the patent)."""
    patent = get_patent(patent_id, user)
    return list(db.session.scalars(
        sa.select(Pledge).join(PledgePatent, PledgePatent.pledge_id == Pledge.id)
        .where(PledgePatent.patent_id == patent.id).order_by(Pledge.id.desc())))
