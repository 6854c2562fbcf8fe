"""Inquiries (意向): an enterprise asks about a listing; the owner answers; either side moves the thread
on to a negotiation or closes it; staff follow every thread."""

from __future__ import annotations

import sqlalchemy as sa

from app import clock
from app.audit.services import record
from app.auth.models import User
from app.db import lock_row
from app.demands.models import Demand
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.notifications.services import notify_organization
from app.patents import listings as listing_service
from app.patents.models import Listing

from .models import Inquiry, InquiryReply

# Listings whose negotiation takes the listing off the shelf: one buyer at a time. A non-exclusive
# licence can be negotiated with many enterprises at once, so it stays listed.
EXCLUSIVE_NEGOTIATION_MODES = frozenset({"assignment", "exclusive_license", "sole_license", "equity"})
# status -> statuses a PATCH may move it to; "replied" is reached by replying.
TRANSITIONS = {
    "open": {"closed"},
    "replied": {"negotiating", "closed"},
    "negotiating": {"closed"},
    "closed": set(),
}


def _side(user: User, inquiry: Inquiry) -> str | None:
    if user.organization_id == inquiry.buyer_organization_id:
        return "buyer"
    if user.organization_id == inquiry.seller_organization_id:
        return "seller"
    return "staff" if user.is_staff else None


def create_inquiry(actor: User, listing_id: int, data: dict) -> Inquiry:
    if actor.organization_id is None or actor.role != "enterprise":
        raise Forbidden("enterprise_only", "inquiries are sent by enterprises")
    listing = _lock_listing(listing_service.get_listing(listing_id, actor).id)
    if listing.status == "in_auction":
        raise Conflict("listing_in_auction", "this listing is being auctioned: register for the auction to bid",
                       field="listing_id")
    if listing.status not in ("listed", "in_negotiation"):
        raise Conflict("listing_not_available", f"the listing is {listing.status}", field="listing_id")
    demand_id = data.get("demand_id")
    if demand_id is not None:
        demand = db.session.get(Demand, demand_id)
        if demand is None or demand.organization_id != actor.organization_id:
            raise Invalid("demand_not_found", "no demand of your organisation with this id", field="demand_id")
    pending = db.session.scalar(sa.select(Inquiry.id).where(
        Inquiry.listing_id == listing.id, Inquiry.buyer_organization_id == actor.organization_id,
        Inquiry.status != "closed"))
    if pending is not None:
        raise Conflict("inquiry_exists", f"your organisation already has inquiry {pending} open on this listing",
                       field="listing_id")
    inquiry = Inquiry(listing_id=listing.id, demand_id=demand_id, buyer_organization_id=actor.organization_id,
                      seller_organization_id=listing.patent.owner_organization_id, created_by_user_id=actor.id,
                      message=data["message"].strip(), status="open", last_message_at=clock.now())
    db.session.add(inquiry)
    db.session.flush()
    record("inquiry", inquiry.id, "create", actor, to_status="open")
    notify_organization(inquiry.seller_organization_id, "inquiry_received",
                        f"New inquiry on {listing.patent.title}"[:300], body=inquiry.message[:500],
                        data={"inquiry_id": inquiry.id, "listing_id": listing.id})
    return inquiry


def get_inquiry(user: User, inquiry_id: int) -> Inquiry:
    inquiry = db.session.get(Inquiry, inquiry_id)
    if inquiry is None or _side(user, inquiry) is None:
        raise NotFound("inquiry_not_found", f"no inquiry {inquiry_id}")
    return inquiry


def inquiries_query(user: User, args: dict) -> sa.Select:
    stmt = sa.select(Inquiry)
    if not user.is_staff:
        if user.organization_id is None:
            return stmt.where(sa.false())
        side = Inquiry.buyer_organization_id if user.role == "enterprise" else Inquiry.seller_organization_id
        stmt = stmt.where(side == user.organization_id)
    for key in ("listing_id", "demand_id", "status"):
        if args.get(key) is not None:
            stmt = stmt.where(getattr(Inquiry, key) == args[key])
    return stmt.order_by(Inquiry.last_message_at.desc(), Inquiry.id.desc())


def _other_side(inquiry: Inquiry, side: str) -> list[int]:
    if side == "buyer":
        return [inquiry.seller_organization_id]
    if side == "seller":
        return [inquiry.buyer_organization_id]
    return [inquiry.buyer_organization_id, inquiry.seller_organization_id]


def reply(actor: User, inquiry_id: int, message: str) -> InquiryReply:
    inquiry = get_inquiry(actor, inquiry_id)
    if inquiry.status == "closed":
        raise Conflict("inquiry_closed", "the inquiry is closed")
    side = _side(actor, inquiry)
    entry = InquiryReply(inquiry_id=inquiry.id, author_user_id=actor.id,
                         author_organization_id=actor.organization_id, message=message.strip())
    inquiry.replies.append(entry)
    inquiry.last_message_at = clock.now()
    if side == "seller" and inquiry.status == "open":
        inquiry.status = "replied"
        record("inquiry", inquiry.id, "reply", actor, from_status="open", to_status="replied")
    db.session.flush()
    for organization_id in _other_side(inquiry, side):
        notify_organization(organization_id, "inquiry_replied", f"New reply on inquiry {inquiry.id}",
                            body=entry.message[:500], data={"inquiry_id": inquiry.id, "reply_id": entry.id,
                                                            "listing_id": inquiry.listing_id})
    return entry


def change_status(actor: User, inquiry_id: int, status: str, reason: str | None = None) -> Inquiry:
    inquiry = get_inquiry(actor, inquiry_id)
    source = inquiry.status
    if status not in TRANSITIONS[source]:
        raise Conflict("invalid_transition", f"an inquiry that is {source} cannot become {status}", field="status")
    side = _side(actor, inquiry)
    inquiry.status = status
    if status == "closed":
        inquiry.closed_at = clock.now()
    db.session.flush()
    _sync_listing(actor, inquiry, status)
    record("inquiry", inquiry.id, status, actor, from_status=source, to_status=status, reason=reason)
    for organization_id in _other_side(inquiry, side):
        notify_organization(organization_id, "inquiry_status", f"Inquiry {inquiry.id} is now {status}",
                            data={"inquiry_id": inquiry.id, "listing_id": inquiry.listing_id, "status": status})
    return inquiry


def _sync_listing(actor: User, inquiry: Inquiry, status: str) -> None:
    """A negotiation on an exclusive offer takes the listing into negotiation; when the last one
    ends, the listing is back on the shelf."""
    # Two negotiations ending at once must not both leave the listing in negotiation.
    listing = _lock_listing(inquiry.listing_id)
    if listing.mode not in EXCLUSIVE_NEGOTIATION_MODES:
        return
    if status == "negotiating" and listing.status == "listed":
        listing_service.move(actor, listing, "start_negotiation", f"inquiry {inquiry.id}")
    elif status == "closed" and listing.status == "in_negotiation":
        others = db.session.scalar(sa.select(sa.func.count()).where(
            Inquiry.listing_id == listing.id, Inquiry.status == "negotiating", Inquiry.id != inquiry.id))
        if not others:
            listing_service.move(actor, listing, "end_negotiation", f"inquiry {inquiry.id} closed")


def _lock_listing(listing_id: int) -> Listing:
    """The listing with its row locked to the end of the transaction: inquiries on one listing are written
    one at a time (its patent and owner are joined in, so only the listing's own row is locked)."""
    return lock_row(db.session, Listing, listing_id)


def close_inquiries_on_listings(actor, listing_ids: list[int], reason: str) -> int:
    """Close every open thread on these listings (their patent was assigned away), telling both sides why.
    The listings' own state is the caller's: it has just closed them."""
    if not listing_ids:
        return 0
    threads = db.session.scalars(sa.select(Inquiry).where(Inquiry.listing_id.in_(listing_ids),
                                                         Inquiry.status != "closed").order_by(Inquiry.id)).all()
    for inquiry in threads:
        source = inquiry.status
        inquiry.status, inquiry.closed_at = "closed", clock.now()
        record("inquiry", inquiry.id, "closed", actor, from_status=source, to_status="closed", reason=reason)
        for organization_id in (inquiry.buyer_organization_id, inquiry.seller_organization_id):
            notify_organization(organization_id, "inquiry_status", f"Inquiry {inquiry.id} is closed: {reason}"[:300],
                                body=reason, data={"inquiry_id": inquiry.id, "listing_id": inquiry.listing_id,
                                                   "status": "closed"})
    db.session.flush()
    return len(threads)
