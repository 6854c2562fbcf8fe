"""Deals (成交): recording transfers, licences and equity deals, their payment and CNIPA registration,
completion (ownership moves) and cancellation; open-licence grants (开放许可) recorded at once."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from app import clock
from app.audit.services import record
from app.auth.models import SYSTEM, Organization, User
from app.db import lock_row
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.indexing.outbox import enqueue_patent
from app.inquiries.services import close_inquiries_on_listings
from app.notifications.services import notify_deal_changed, notify_deal_recorded, notify_staff
from app.outlets.models import Outlet
from app.patents import encumbrances
from app.patents import listings as listing_service
from app.patents import rules as listing_rules
from app.patents.models import Listing, Patent
from app.patents.services import can_manage_organization, lock_patent

from . import rules
from .licences import unexpired_licences
from .models import Deal, DealPatent

PARTY_KINDS = ("university", "institute", "enterprise")
# A deal comes from an offer that was published; a draft never was, a sold or expired one is over.
LISTING_CLOSED = frozenset({"draft", "pending_review", "sold", "expired"})


# -- recording ----------------------------------------------------------------------------------------

def _organization(organization_id: int, field: str) -> Organization:
    org = db.session.get(Organization, organization_id)
    if org is None:
        raise Invalid("organization_not_found", f"no organisation {organization_id}", field=field)
    if org.kind not in PARTY_KINDS:
        raise Invalid("party_kind_not_allowed", f"a {org.kind} is not a party to a patent deal", field=field)
    return org


def _lock_patents(patent_ids: list[int]) -> list[Patent]:
    """Row-lock the deal's patents in id order (two deals over overlapping packages cannot deadlock)."""
    patents = []
    for patent_id in sorted(set(patent_ids)):
        patent = lock_patent(patent_id)
        if patent is None:
            raise Invalid("patent_not_found", f"no patent {patent_id}", field="patent_ids")
        patents.append(patent)
    return patents


def licence_term(kind: str, data: dict, signed_on: date) -> tuple[date | None, date | None]:
    """A licence's first and last day from `license_starts_on` (default: the signing date) and either
    `license_ends_on` or `license_term_months`; other kinds have no term."""
    given = [key for key in ("license_starts_on", "license_ends_on", "license_term_months")
             if data.get(key) is not None]
    if kind not in rules.LICENSE_KINDS:
        if given:
            raise Invalid("license_term_not_allowed", f"an {kind} deal has no licence term", field=given[0])
        return None, None
    starts = data.get("license_starts_on") or signed_on
    if data.get("license_ends_on") is not None and data.get("license_term_months") is not None:
        raise Invalid("license_term_ambiguous", "give license_ends_on or license_term_months, not both",
                      field="license_term_months")
    if data.get("license_term_months") is not None:
        ends = rules.licence_end(starts, data["license_term_months"])
    elif data.get("license_ends_on") is not None:
        ends = data["license_ends_on"]
    else:
        raise Invalid("license_term_required", "a licence has a term: license_ends_on or license_term_months",
                      field="license_term_months")
    if ends < starts:
        raise Invalid("license_term_invalid", "the licence ends before it starts", field="license_ends_on")
    return starts, ends


def check_patent_for_deal(patent: Patent, kind: str, seller_id: int, buyer_id: int, ends_on: date | None, *,
                          deal_id: int | None = None) -> None:
    """The rules a patent must meet for `kind` between these parties, read under the patent's row lock."""
    number = patent.application_number
    if patent.owner_organization_id != seller_id:
        raise Invalid("seller_not_owner", f"{number} is owned on record by organisation "
                      f"{patent.owner_organization_id}, not the seller", field="seller_organization_id")
    if not patent.in_force:
        raise Conflict("patent_not_in_force", f"{number} is not in force", field="patent_ids")
    if patent.preserved:
        raise Conflict("patent_preserved", f"{number} is under property preservation (保全)", field="patent_ids")
    if patent.legal_status == "pending" and kind != "assignment":
        raise Conflict("patent_not_granted", f"{number} is an application: only its right can be assigned",
                       field="patent_ids")
    expires = patent.expires_on
    if ends_on is not None and expires is not None and ends_on > expires:
        raise Invalid("license_term_beyond_expiry", f"the licence runs past {number}'s expiry on {expires}",
                      field="license_ends_on")
    # Pledges (without the pledgee's consent) and running exclusive licences.
    encumbrances.check_action(patent, kind, buyer_id)
    if kind in rules.EXCLUSIVE_KINDS:
        declared = db.session.scalar(sa.select(Listing.id).where(
            Listing.patent_id == patent.id, Listing.mode == "open_license",
            Listing.status.in_(listing_rules.ACTIVE_STATUSES)))
        if declared is not None:
            raise Conflict("open_license_declared", f"{number} is under an open-licence declaration (listing "
                           f"{declared}): no exclusive or sole licence while it stands", field="kind")
    if kind in rules.OWNERSHIP_KINDS:
        pending = db.session.scalar(
            sa.select(Deal.id).join(DealPatent, DealPatent.deal_id == Deal.id)
            .where(DealPatent.patent_id == patent.id, Deal.kind.in_(rules.OWNERSHIP_KINDS),
                   Deal.status == "recorded", Deal.id != (deal_id or 0)))
        if pending is not None:
            raise Conflict("assignment_pending", f"{number} is already being transferred (deal {pending})",
                           field="patent_ids")


def _listing_for(data: dict, patent_ids: list[int]) -> Listing | None:
    if data.get("listing_id") is None:
        return None
    listing = db.session.get(Listing, data["listing_id"])
    if listing is None:
        raise Invalid("listing_not_found", f"no listing {data['listing_id']}", field="listing_id")
    if listing.patent_id not in patent_ids:
        raise Invalid("listing_patent_mismatch", "the listing offers a patent that is not in patent_ids",
                      field="listing_id")
    if listing.status in LISTING_CLOSED:
        raise Conflict("listing_not_available", f"the listing is {listing.status}", field="listing_id")
    return listing


def _outlet(code: str | None, listing: Listing | None) -> Outlet | None:
    if code is None:
        return listing.outlets[0] if listing is not None and listing.outlets else None
    outlet = db.session.scalar(sa.select(Outlet).where(Outlet.code == code))
    if outlet is None:
        raise Invalid("outlet_not_found", f"no outlet {code!r}", field="outlet_code")
    return outlet


def record_deal(actor: User, data: dict) -> Deal:
    """Record a deal agreed between a seller (the owner on record) and a buyer; staff do this, auctions and
    open licences through their own calls. Effects that bind at once (an exclusive licence takes its
    listing off the shelf) happen in this transaction; ownership moves on completion."""
    kind = data["kind"]
    patent_ids = list(dict.fromkeys(data.get("patent_ids") or []))
    if not patent_ids and data.get("listing_id") is not None:
        listing = db.session.get(Listing, data["listing_id"])
        if listing is None:
            raise Invalid("listing_not_found", f"no listing {data['listing_id']}", field="listing_id")
        patent_ids = [listing.patent_id]
    if not patent_ids:
        raise Invalid("patents_required", "name the patents (patent_ids) or the listing", field="patent_ids")
    seller = _organization(data["seller_organization_id"], "seller_organization_id")
    buyer = _organization(data["buyer_organization_id"], "buyer_organization_id")
    if seller.id == buyer.id:
        raise Invalid("same_party", "the buyer is the seller", field="buyer_organization_id")
    signed_on = data["signed_on"]
    if signed_on > clock.today():
        raise Invalid("signed_in_future", "the contract cannot be signed after today", field="signed_on")
    starts, ends = licence_term(kind, data, signed_on)
    patents = _lock_patents(patent_ids)
    listing = _listing_for(data, patent_ids)
    if kind == "open_license":
        _check_declared(listing, patents)
        for patent in patents:
            _check_not_licensed_yet(patent, buyer.id)
    for patent in patents:
        check_patent_for_deal(patent, kind, seller.id, buyer.id, ends)
    amount = data["amount_fen"]
    received = data.get("amount_received_fen", 0)
    if received > amount:
        raise Invalid("received_above_amount", "more received than the deal's amount", field="amount_received_fen")
    deal = Deal(kind=kind, status="recorded", source=data["source"], listing_id=listing.id if listing else None,
                outlet=_outlet(data.get("outlet_code"), listing), seller_organization_id=seller.id,
                buyer_organization_id=buyer.id, amount_fen=amount, contract_number=data.get("contract_number"),
                signed_on=signed_on, after_event=bool(data.get("after_event")), license_starts_on=starts,
                license_ends_on=ends, amount_received_fen=received,
                payment_status=rules.payment_status_for(amount, received), note=data.get("note"),
                recorded_by_user_id=getattr(actor, "id", None),
                patent_rows=[DealPatent(patent_id=patent.id) for patent in patents])
    db.session.add(deal)
    db.session.flush()
    record("deal", deal.id, "record", actor, to_status="recorded",
           changes={"kind": kind, "patent_ids": deal.patent_ids, "amount_fen": amount, "source": deal.source,
                    "seller": seller.id, "buyer": buyer.id})
    if listing is not None and kind in rules.EXCLUSIVE_KINDS and listing.status in listing_rules.PUBLISHED_STATUSES:
        listing_service.move(actor, listing, "license", f"deal {deal.id}")
    notify_deal_recorded((seller.id, buyer.id), deal_id=deal.id, kind=kind, amount_fen=amount)
    return deal


def _check_declared(listing: Listing | None, patents: list[Patent]) -> None:
    """An open licence is granted under a standing declaration (an open_license listing on the shelf)."""
    for patent in patents:
        declared = listing if listing is not None and listing.patent_id == patent.id else None
        if declared is None:
            declared = db.session.scalar(sa.select(Listing).where(
                Listing.patent_id == patent.id, Listing.mode == "open_license",
                Listing.status.in_(listing_rules.PUBLISHED_STATUSES)))
        if declared is None or declared.mode != "open_license" or declared.status != "listed":
            raise Conflict("open_license_not_declared",
                           f"{patent.application_number} has no open-licence declaration on the shelf",
                           field="listing_id")


def _check_not_licensed_yet(patent: Patent, buyer_id: int) -> None:
    """One running open licence per licensee and patent: a second grant would be paid for twice."""
    if unexpired_licences(patent.id, frozenset({"open_license"}), clock.today(), buyer_organization_id=buyer_id):
        raise Conflict("already_licensed", f"the buyer already holds a running open licence of "
                       f"{patent.application_number}", field="listing_id")


# -- reading --------------------------------------------------------------------------------------------

def _may_see(user: User, deal: Deal) -> bool:
    return user.is_staff or user.organization_id in (deal.seller_organization_id, deal.buyer_organization_id)


def get_deal(user: User, deal_id: int) -> Deal:
    deal = db.session.get(Deal, deal_id)
    if deal is None or not _may_see(user, deal):
        raise NotFound("deal_not_found", f"no deal {deal_id}")
    return deal


def overdue_cutoff(on: date) -> date:
    """The latest signing date whose licence filing is overdue on `on` (due = signed + 3 months)."""
    day = on - timedelta(days=130)  # due ~92 days after signing: start before the boundary, walk to it
    while rules.filing_due_on(day + timedelta(days=1)) < on:
        day += timedelta(days=1)
    while rules.filing_due_on(day) >= on:
        day -= timedelta(days=1)
    return day


def deals_query(user: User, filters: dict) -> sa.Select:
    stmt = sa.select(Deal).order_by(Deal.signed_on.desc(), Deal.id.desc())
    if not user.is_staff:
        if user.organization_id is None:
            return stmt.where(sa.false())
        stmt = stmt.where(sa.or_(Deal.seller_organization_id == user.organization_id,
                                 Deal.buyer_organization_id == user.organization_id))
    for key in ("kind", "status", "source", "payment_status", "listing_id"):
        if filters.get(key) is not None:
            stmt = stmt.where(getattr(Deal, key) == filters[key])
    if filters.get("organization_id") is not None:
        org = filters["organization_id"]
        stmt = stmt.where(sa.or_(Deal.seller_organization_id == org, Deal.buyer_organization_id == org))
    if filters.get("outlet"):
        stmt = stmt.where(Deal.outlet.has(Outlet.code == filters["outlet"]))
    if filters.get("patent_id") is not None:
        stmt = stmt.where(Deal.patent_rows.any(DealPatent.patent_id == filters["patent_id"]))
    if filters.get("signed_from") is not None:
        stmt = stmt.where(Deal.signed_on >= filters["signed_from"])
    if filters.get("signed_to") is not None:
        stmt = stmt.where(Deal.signed_on <= filters["signed_to"])
    if filters.get("after_event") is not None:
        stmt = stmt.where(Deal.after_event.is_(filters["after_event"]))
    if filters.get("filing_overdue") is not None:
        overdue = sa.and_(Deal.kind.in_(rules.LICENSE_KINDS), Deal.status != "cancelled",
                          Deal.registration_number.is_(None), Deal.signed_on <= overdue_cutoff(clock.today()))
        stmt = stmt.where(overdue if filters["filing_overdue"] else sa.not_(overdue))
    return stmt


# -- changing -------------------------------------------------------------------------------------------

def _lock_deal(deal_id: int, user: User) -> Deal:
    return lock_row(db.session, Deal, get_deal(user, deal_id).id)


def update_deal(actor: User, deal_id: int, changes: dict) -> Deal:
    """Payment received and the CNIPA registration (著录项目变更 / 实施许可合同备案)."""
    deal = _lock_deal(deal_id, actor)
    if deal.status == "cancelled":
        raise Conflict("deal_cancelled", "a cancelled deal is not changed", field="status")
    before = {key: _plain(getattr(deal, key)) for key in changes}
    received = changes.get("amount_received_fen", deal.amount_received_fen)
    if received > deal.amount_fen:
        raise Invalid("received_above_amount", "more received than the deal's amount", field="amount_received_fen")
    status = changes.get("payment_status")
    if status is not None and "amount_received_fen" not in changes:
        # The status alone: paid means the whole amount, unpaid nothing; partial needs the amount.
        received = {"paid": deal.amount_fen, "unpaid": 0}.get(status, received)
    derived = rules.payment_status_for(deal.amount_fen, received)
    if status is not None and status != derived:
        raise Invalid("payment_inconsistent", f"{received} fen received of {deal.amount_fen} is {derived}, "
                      f"not {status}", field="payment_status")
    deal.amount_received_fen, deal.payment_status = received, derived
    for key in ("contract_number", "registration_number", "registered_on", "note"):
        if key in changes:
            setattr(deal, key, changes[key])
    if (deal.registration_number is None) != (deal.registered_on is None):
        raise Invalid("registration_incomplete", "a CNIPA registration has a number and a date",
                      field="registered_on" if deal.registered_on is None else "registration_number")
    if deal.registered_on is not None:
        if deal.registered_on < deal.signed_on:
            raise Invalid("registered_before_signing", "registered before the contract was signed",
                          field="registered_on")
        if deal.registered_on > clock.today():
            raise Invalid("registered_in_future", "the registration date is after today", field="registered_on")
    db.session.flush()
    record("deal", deal.id, "update", actor,
           changes={"before": before, "after": {key: _plain(getattr(deal, key)) for key in changes}})
    return deal


def complete_deal(actor: User, deal_id: int) -> Deal:
    """The deal is performed. An assignment or equity deal moves each patent to the buyer now: its
    active listings close (sold), open inquiries on them close with a notice, and search follows."""
    deal = _lock_deal(deal_id, actor)
    target = rules.next_status("complete", deal.status)
    if target is None:
        raise Conflict("invalid_transition", f"a {deal.status} deal cannot be completed", field="status")
    if deal.kind in rules.OWNERSHIP_KINDS:
        for patent in _lock_patents(deal.patent_ids):
            check_patent_for_deal(patent, deal.kind, deal.seller_organization_id, deal.buyer_organization_id, None,
                                  deal_id=deal.id)
            _transfer(actor, deal, patent)
    deal.status, deal.completed_at = target, clock.now()
    db.session.flush()
    record("deal", deal.id, "complete", actor, from_status="recorded", to_status=target)
    notify_deal_changed((deal.seller_organization_id, deal.buyer_organization_id), deal_id=deal.id,
                        kind=deal.kind, status="completed")
    return deal


def _transfer(actor: User, deal: Deal, patent: Patent) -> None:
    previous = patent.owner_organization_id
    patent.owner_organization_id = deal.buyer_organization_id
    patent.owner = db.session.get(Organization, deal.buyer_organization_id)
    record("patent", patent.id, "transfer", actor, reason=f"deal {deal.id}",
           changes={"owner_organization_id": {"before": previous, "after": deal.buyer_organization_id}})
    reason = f"the patent was transferred (deal {deal.id})"
    active = db.session.scalars(sa.select(Listing).where(
        Listing.patent_id == patent.id, Listing.status.in_(listing_rules.ACTIVE_STATUSES)).order_by(Listing.id)).all()
    for listing in active:
        action = "sell" if listing.status in listing_rules.PUBLISHED_STATUSES else "withdraw"
        listing_service.move(actor, listing, action, reason)
    close_inquiries_on_listings(actor, [listing.id for listing in active], reason)
    enqueue_patent(patent.id)


def cancel_deal(actor: User, deal_id: int, reason: str) -> Deal:
    """A recorded deal that will not be performed; it no longer counts, and an exclusive licence it
    granted stops binding (its listing returns to the shelf if the patent is still in force)."""
    deal = _lock_deal(deal_id, actor)
    target = rules.next_status("cancel", deal.status)
    if target is None:
        raise Conflict("invalid_transition", f"a {deal.status} deal cannot be cancelled", field="status")
    deal.status, deal.cancelled_at, deal.cancel_reason = target, clock.now(), reason
    db.session.flush()
    record("deal", deal.id, "cancel", actor, from_status="recorded", to_status=target, reason=reason)
    if deal.kind in rules.EXCLUSIVE_KINDS and deal.listing_id is not None:
        listing = db.session.get(Listing, deal.listing_id)
        patent = lock_patent(listing.patent_id)
        if listing.status == "licensed" and patent.in_force and not unexpired_licences(
                patent.id, rules.EXCLUSIVE_KINDS, clock.today()):
            listing_service.move(actor, listing, "relist", f"deal {deal.id} cancelled")
    notify_deal_changed((deal.seller_organization_id, deal.buyer_organization_id), deal_id=deal.id,
                        kind=deal.kind, status="cancelled")
    return deal


# -- open licences (开放许可) -------------------------------------------------------------------------------

def accept_open_license(actor: User, listing_id: int) -> Deal:
    """An enterprise takes a non-exclusive licence on the declared terms: granted at once, recorded as a
    deal (source open_license). The declaration's refusals are checked again now: the patent may have
    lapsed, been preserved or pledged since it was declared."""
    if actor.role != "enterprise" or actor.organization_id is None:
        raise Forbidden("enterprise_only", "open licences are accepted by enterprises")
    listing = listing_service.get_listing(listing_id, actor)
    # Acceptances of one patent run one at a time, so one enterprise cannot hold two running licences.
    patent = lock_patent(listing.patent_id)
    db.session.refresh(listing)
    if listing.mode != "open_license" or listing.status != "listed":
        raise Conflict("open_license_not_available", "this listing is not an open-licence declaration on offer",
                       field="listing_id")
    buyer_id = actor.organization_id
    _check_not_licensed_yet(patent, buyer_id)
    today = clock.today()
    ends = rules.licence_end(today, listing.ol_term_months)
    check_patent_for_deal(patent, "open_license", patent.owner_organization_id, buyer_id, ends)
    if patent.patent_type in ("utility_model", "design") and not patent.evaluation_report:
        raise Conflict("evaluation_report_required", "utility models and designs need an evaluation report",
                       field="listing_id")
    amount = listing.ol_fee_fen or 0
    deal = Deal(kind="open_license", status="recorded", source="open_license", listing_id=listing.id,
                outlet=listing.outlets[0] if listing.outlets else None,
                seller_organization_id=patent.owner_organization_id, buyer_organization_id=buyer_id,
                amount_fen=amount, signed_on=today, license_starts_on=today, license_ends_on=ends,
                payment_status=rules.payment_status_for(amount, 0), amount_received_fen=0,
                recorded_by_user_id=actor.id, patent_rows=[DealPatent(patent_id=patent.id)])
    db.session.add(deal)
    db.session.flush()
    record("deal", deal.id, "open_license_accept", actor, to_status="recorded",
           changes={"listing_id": listing.id, "amount_fen": amount, "license_ends_on": ends.isoformat()})
    notify_deal_recorded((deal.seller_organization_id, buyer_id), deal_id=deal.id, kind=deal.kind, amount_fen=amount)
    return deal


def withdraw_open_license(actor: User, listing_id: int, reason: str | None = None) -> Listing:
    """The declaration stops: no new grants; licences already granted stand (they are deals)."""
    listing = listing_service.get_listing(listing_id, actor)
    if not can_manage_organization(actor, listing.patent.owner_organization_id):
        raise Forbidden("not_your_organization", "this declaration belongs to another organisation")
    lock_patent(listing.patent_id)
    db.session.refresh(listing)
    if listing.mode != "open_license":
        raise Conflict("not_open_license", "this listing is not an open-licence declaration", field="listing_id")
    return listing_service.move(actor, listing, "withdraw", reason or "open licence withdrawn")


# -- filings ------------------------------------------------------------------------------------------

def notify_overdue_filings() -> int:
    """Tell staff, once per deal, of each licence whose filing (备案) fell overdue."""
    overdue = db.session.scalars(deals_query(SYSTEM, {"filing_overdue": True})
                                 .where(Deal.filing_overdue_notified.is_(False))).all()
    for deal in overdue:
        notify_staff("filing_overdue", f"Deal {deal.id}: licence filing overdue since {deal.filing_due_on}",
                     data={"deal_id": deal.id, "filing_due_on": deal.filing_due_on.isoformat()},
                     dedupe_key=f"filing_overdue:{deal.id}")
        deal.filing_overdue_notified = True
    db.session.flush()
    return len(overdue)


def _plain(value):
    return value.isoformat() if isinstance(value, date) else value
