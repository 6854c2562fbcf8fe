"""Listings (挂牌): creation, editing, the review lifecycle and who may see what."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from app import clock, events
from app.audit.services import record
from app.auth.models import User
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.indexing.outbox import enqueue_listing
from app.outlets.models import Outlet
from app.outlets.services import outlets_by_codes

from . import encumbrances, rules, terms
from .models import Listing, ListingOutlet, Patent
from .services import can_manage_organization, get_patent_to_edit, lock_patent

# Who may start each transition: the patent's owner organisation or staff, or staff only.
OWNER_OR_STAFF = {"submit", "withdraw"}
STAFF_ONLY = {"approve", "reject"}
EDITABLE_BY_OWNER = frozenset({"draft"})
EDITABLE_BY_STAFF = frozenset({"draft", "pending_review", "listed"})


def check_patent_can_be_offered(patent: Patent, mode: str) -> None:
    if not patent.in_force:
        raise Conflict("patent_not_in_force", f"{patent.application_number} is not in force", field="patent_id")
    if patent.preserved:
        raise Conflict("patent_preserved", "the patent is under property preservation (保全)", field="patent_id")
    if patent.legal_status == "pending" and mode != "assignment":
        raise Conflict("patent_not_granted",
                       "a pending application can only be offered for assignment of the application right",
                       field="mode")
    if mode == "open_license":
        if patent.patent_type in ("utility_model", "design") and not patent.evaluation_report:
            raise Conflict("evaluation_report_required",
                           "utility models and designs need an evaluation report (专利权评价报告) on file",
                           field="patent_id")
    # Running exclusive or sole licences (deals) and standing pledges (pledges) answer here.
    encumbrances.check_action(patent, mode)


def _check_no_conflicting_offer(patent: Patent, mode: str, exclude_id: int | None) -> None:
    stmt = sa.select(Listing.mode, Listing.status).where(Listing.patent_id == patent.id)
    if exclude_id is not None:
        stmt = stmt.where(Listing.id != exclude_id)
    conflict = rules.offer_conflict(mode, db.session.execute(stmt).all())
    if conflict:
        raise Conflict("listing_conflict", conflict, field="mode")


def check_terms(listing: Listing) -> None:
    if listing.mode == "open_license":
        method = listing.ol_payment_method
        if method is None:
            raise Invalid("open_license_terms_required", "an open licence states its payment method",
                          field="open_license")
        if method in ("lump_sum", "entry_fee_plus_royalty") and listing.ol_fee_fen is None:
            raise Invalid("open_license_terms_required", f"{method} needs fee_fen", field="open_license")
        if method in ("royalty", "entry_fee_plus_royalty") and listing.ol_royalty_rate is None:
            raise Invalid("open_license_terms_required", f"{method} needs royalty_rate", field="open_license")
        if listing.ol_term_months is None or listing.ol_term_months < 12:
            raise Invalid("open_license_term_too_short", "an open licence runs at least 12 months",
                          field="open_license")
        expires = listing.patent.expires_on
        if expires is not None and terms.add_months(clock.today(), listing.ol_term_months) > expires:
            raise Invalid("license_term_beyond_expiry", f"the term runs past the patent's expiry on {expires}",
                          field="open_license")
        return
    if listing.ol_payment_method or listing.ol_fee_fen is not None or listing.ol_royalty_rate is not None:
        raise Invalid("open_license_terms_not_allowed", "open-licence terms belong to open_license listings",
                      field="open_license")
    if listing.price_fen is None and not listing.negotiable:
        raise Invalid("price_required", "give price_fen or mark the listing negotiable (面议)", field="price_fen")


def _apply(listing: Listing, data: dict) -> None:
    for key in ("mode", "price_fen", "negotiable", "description"):
        if key in data:
            setattr(listing, key, data[key])
    if "open_license" in data:
        terms_in = data["open_license"] or {}
        listing.ol_payment_method = terms_in.get("payment_method")
        listing.ol_fee_fen = terms_in.get("fee_fen")
        rate = terms_in.get("royalty_rate")
        listing.ol_royalty_rate = Decimal(str(rate)) if rate is not None else None
        listing.ol_term_months = terms_in.get("term_months")
    if "outlet_codes" in data:
        listing.outlets = outlets_by_codes(data["outlet_codes"])


def create_listing(actor: User | None, data: dict, *, status: str = "draft", announce: bool = True) -> Listing:
    """A new listing (a draft, or `listed` for staff importing reviewed inventory). With `announce`
    False the caller emits listing.published itself (an import, once per batch)."""
    try:
        # The patent's row lock serialises racing offers of one patent (one active assignment, ...).
        patent = get_patent_to_edit(data["patent_id"], actor, lock=True)
    except NotFound:
        raise Invalid("patent_not_found", f"no patent {data['patent_id']}", field="patent_id") from None
    check_patent_can_be_offered(patent, data["mode"])
    _check_no_conflicting_offer(patent, data["mode"], None)
    listing = Listing(patent=patent, status=status, created_by_user_id=getattr(actor, "id", None))
    _apply(listing, {"negotiable": False, **data})
    check_terms(listing)
    if status == "listed":
        listing.listed_at = clock.now()
    db.session.add(listing)
    db.session.flush()
    record("listing", listing.id, "create", actor, to_status=status,
           changes={"patent_id": patent.id, "mode": listing.mode})
    enqueue_listing(listing.id)
    if status == "listed" and announce:
        events.emit("listing.published", actor, listing_ids=[listing.id])
    return listing


def _may_see(user: User | None, listing: Listing) -> bool:
    return listing.status in rules.PUBLISHED_STATUSES or can_manage_organization(
        user, listing.patent.owner_organization_id
    )


def get_listing(listing_id: int, user: User | None = None) -> Listing:
    listing = db.session.get(Listing, listing_id)
    if listing is None or not _may_see(user, listing):
        raise NotFound("listing_not_found", f"no listing {listing_id}")
    return listing


def listings_query(user: User | None, filters: dict) -> sa.Select:
    stmt = sa.select(Listing).join(Listing.patent).order_by(Listing.id.desc())
    if user is None or not user.is_staff:
        visible = Listing.status.in_(rules.PUBLISHED_STATUSES)
        if user is not None and user.organization_id is not None:
            visible = sa.or_(visible, Patent.owner_organization_id == user.organization_id)
        stmt = stmt.where(visible)
    if filters.get("status"):
        stmt = stmt.where(Listing.status == filters["status"])
    if filters.get("mode"):
        stmt = stmt.where(Listing.mode == filters["mode"])
    if filters.get("patent_id") is not None:
        stmt = stmt.where(Listing.patent_id == filters["patent_id"])
    if filters.get("owner_organization_id") is not None:
        stmt = stmt.where(Patent.owner_organization_id == filters["owner_organization_id"])
    if filters.get("outlet"):
        stmt = stmt.where(
            sa.select(ListingOutlet.listing_id)
            .join(Outlet, Outlet.id == ListingOutlet.outlet_id)
            .where(ListingOutlet.listing_id == Listing.id, Outlet.code == filters["outlet"])
            .exists()
        )
    return stmt


def update_listing(actor: User | None, listing_id: int, changes: dict) -> Listing:
    listing = get_listing(listing_id, actor)
    if not can_manage_organization(actor, listing.patent.owner_organization_id):
        raise Forbidden("not_your_organization", "this listing belongs to another organisation")
    editable = EDITABLE_BY_STAFF if actor.is_staff else EDITABLE_BY_OWNER
    if listing.status not in editable:
        raise Conflict("listing_not_editable", f"a {listing.status} listing cannot be changed", field="status")
    if listing.status != "draft" and set(changes) - {"outlet_codes", "description"}:
        raise Conflict("listing_not_editable", "once submitted, only outlets and description can change",
                       field="status")
    mode_changed = "mode" in changes and changes["mode"] != listing.mode
    if mode_changed:
        lock_patent(listing.patent_id)
        check_patent_can_be_offered(listing.patent, changes["mode"])
        _check_no_conflicting_offer(listing.patent, changes["mode"], listing.id)
        if changes["mode"] != "open_license" and "open_license" not in changes:
            changes["open_license"] = None
    before = {"mode": listing.mode, "price_fen": listing.price_fen, "outlet_codes": listing.outlet_codes}
    _apply(listing, changes)
    check_terms(listing)
    _flush_versioned()
    record("listing", listing.id, "update", actor, changes={"before": before, "after": _jsonable(changes)})
    enqueue_listing(listing.id)
    return listing


def transition(actor: User | None, listing_id: int, action: str, reason: str | None = None) -> Listing:
    listing = get_listing(listing_id, actor)
    if action in OWNER_OR_STAFF and not can_manage_organization(actor, listing.patent.owner_organization_id):
        raise Forbidden("not_your_organization", "this listing belongs to another organisation")
    if action in STAFF_ONLY and (actor is None or not actor.is_staff):
        raise Forbidden("role_not_allowed", "only exchange staff review listings")
    return move(actor, listing, action, reason)


def move(actor: User | None, listing: Listing, action: str, reason: str | None = None) -> Listing:
    """Apply a lifecycle action (rules.TRANSITIONS) to a listing, audited and reindexed. The caller has
    decided that `actor` may: other packages' services (inquiries, auctions, deals) call this."""
    target = rules.next_status(action, listing.status)
    if target is None:
        raise Conflict("invalid_transition", f"cannot {action} a listing that is {listing.status}",
                       field="status")
    if action in ("submit", "approve"):
        # The patent may have lapsed or gained a conflicting offer since the draft was written.
        lock_patent(listing.patent_id)
        check_patent_can_be_offered(listing.patent, listing.mode)
        _check_no_conflicting_offer(listing.patent, listing.mode, listing.id)
        check_terms(listing)
    source = listing.status
    listing.status = target
    if target == "listed" and listing.listed_at is None:
        listing.listed_at = clock.now()
    _flush_versioned()
    record("listing", listing.id, action, actor, from_status=source, to_status=target, reason=reason)
    enqueue_listing(listing.id)
    if action == "approve":
        events.emit("listing.published", actor, listing_ids=[listing.id])
    return listing


def _flush_versioned() -> None:
    """Flush a listing change; another transaction that changed the same listing first makes it a 409
    (the version column), and the request or job boundary rolls this one back."""
    try:
        db.session.flush()
    except StaleDataError:
        raise Conflict("concurrent_update", "the listing was changed meanwhile; reload and retry") from None


@events.in_transaction("patent.out_of_force")
def expire_listings_of_patent(actor: User | None, patent_id: int, reason: str) -> int:
    active = db.session.scalars(
        sa.select(Listing).where(Listing.patent_id == patent_id, Listing.status.in_(rules.ACTIVE_STATUSES))
    ).all()
    for listing in active:
        move(actor, listing, "expire", reason)
    return len(active)


def expire_lapsed_listings(actor: User | None = None) -> int:
    """Expire active listings whose patent has run out of term or lapsed (run daily)."""
    patents = db.session.scalars(
        sa.select(Patent).where(
            sa.select(Listing.id)
            .where(Listing.patent_id == Patent.id, Listing.status.in_(rules.ACTIVE_STATUSES))
            .exists()
        )
    ).all()
    return sum(
        expire_listings_of_patent(actor, patent.id, "the patent is no longer in force")
        for patent in patents
        if not patent.in_force
    )


def _jsonable(values: dict) -> dict:
    out = {}
    for key, value in values.items():
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, dict):
            value = _jsonable(value)
        out[key] = value
    return out
