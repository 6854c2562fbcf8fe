"""Auctions (拍卖): sessions, lots, registrations with deposits, bids and proxy maximums, and closing.

Bids on a lot are serialised by its row. A bid reads the standing (with the bidder's registration) without
a lock, applies rules.py, and writes in one conditional statement that updates the lot only if it is still
as read and inserts the bids (with the proxies' answers) only if it did; a bid that lost that race is
judged again, and after a few lost races under the row's lock. A refused bid therefore never waits for the
lot, and an accepted one holds its row from its write to its commit. A proxy maximum locks the row from
its read. A lot closes once: `close_lot` re-reads it under the lock and does nothing when another process
closed it first.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.orm.attributes import set_committed_value

from app import clock
from app.audit.services import record
from app.auth.models import SYSTEM, User
from app.db import lock_row
from app.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from app.extensions import db
from app.jobs import enqueue, job_row
from app.jobs.models import Job
from app.notifications.services import notify_lot_won, notify_organization, notify_staff
from app.outlets.models import Outlet
from app.patents import listings as listing_service
from app.patents.models import Listing, Patent
from app.patents.services import lock_patent

from . import rules
from .models import LOT_DEAL_KINDS, Auction, Bid, Lot, LotPatent, ProxyBid, Registration

CLOSE_JOB = "auctions.close_lot"
NOTIFY_OUTBID_JOB = "auctions.notify_outbid"
AUCTIONABLE_STATUSES = frozenset({"listed", "in_negotiation"})
REASON_MESSAGES = {
    "lot_not_open": "the session has not opened yet",
    "lot_closed": "the lot is closed",
    "already_leading": "you already hold the highest bid",
}


# -- sessions ---------------------------------------------------------------------------------------------

def _outlet(code: str) -> Outlet:
    outlet = db.session.scalar(sa.select(Outlet).where(Outlet.code == code))
    if outlet is None:
        raise Invalid("outlet_not_found", f"no outlet {code!r}", field="outlet_code")
    return outlet


def _check_schedule(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise Invalid("schedule_invalid", "the session ends before it starts", field="ends_at")


def create_auction(actor: User, data: dict) -> Auction:
    _check_schedule(data["starts_at"], data["ends_at"])
    if data["ends_at"] <= clock.now():
        raise Invalid("schedule_in_past", "the session would already be over", field="ends_at")
    auction = Auction(title=data["title"], description=data.get("description"),
                      outlet=_outlet(data["outlet_code"]), starts_at=data["starts_at"], ends_at=data["ends_at"],
                      anti_sniping_seconds=data.get("anti_sniping_seconds", 300),
                      created_by_user_id=getattr(actor, "id", None))
    db.session.add(auction)
    db.session.flush()
    record("auction", auction.id, "create", actor, to_status=auction.status,
           changes={"title": auction.title, "outlet": auction.outlet_code, "starts_at": auction.starts_at.isoformat(),
                    "ends_at": auction.ends_at.isoformat(), "anti_sniping_seconds": auction.anti_sniping_seconds})
    return auction


def get_auction(auction_id: int) -> Auction:
    auction = db.session.get(Auction, auction_id)
    if auction is None:
        raise NotFound("auction_not_found", f"no auction {auction_id}")
    return auction


def auctions_query(filters: dict) -> sa.Select:
    now = clock.now()
    stmt = sa.select(Auction)
    status = filters.get("status")
    if status == "closed":
        stmt = stmt.where(Auction.closed_at.is_not(None))
    elif status == "scheduled":
        stmt = stmt.where(Auction.closed_at.is_(None), Auction.starts_at > now)
    elif status == "open":
        stmt = stmt.where(Auction.closed_at.is_(None), Auction.starts_at <= now)
    if filters.get("outlet_code"):
        stmt = stmt.join(Outlet, Outlet.id == Auction.outlet_id).where(Outlet.code == filters["outlet_code"])
    return stmt.order_by(Auction.starts_at.desc(), Auction.id.desc())


# What bidders rely on: once the session has opened these stay as they are.
SCHEDULE_FIELDS = ("starts_at", "ends_at", "anti_sniping_seconds")


def update_auction(actor: User, auction_id: int, changes: dict) -> Auction:
    """Edit a session. Its schedule and anti-sniping window may change only before it opens; its lots
    follow (their opening, their window, and an end that was the session's)."""
    # Lots first, then the session: the order closing and withdrawing take, so they cannot deadlock.
    lots = list(db.session.scalars(sa.select(Lot).where(Lot.auction_id == auction_id).order_by(Lot.id)
                                   .with_for_update(of=Lot)))
    auction = lock_row(db.session, Auction, auction_id)
    if auction is None:
        raise NotFound("auction_not_found", f"no auction {auction_id}")
    now = clock.now()
    if auction.closed_at is not None:
        raise Conflict("auction_closed", "the session is closed")
    schedule = {key: changes[key] for key in SCHEDULE_FIELDS
                if key in changes and changes[key] != getattr(auction, key)}
    if schedule and now >= auction.starts_at:
        raise Conflict("auction_open", "the session has opened: its schedule and window no longer change",
                       field=next(iter(schedule)))
    starts_at, ends_at = schedule.get("starts_at", auction.starts_at), schedule.get("ends_at", auction.ends_at)
    _check_schedule(starts_at, ends_at)
    if "starts_at" in schedule and starts_at < now:
        raise Invalid("schedule_in_past", "a session cannot be moved to start in the past", field="starts_at")
    for lot in lots:
        if lot.closed:
            continue
        end = ends_at if lot.scheduled_ends_at == auction.ends_at else lot.scheduled_ends_at
        if end <= starts_at or end > ends_at:
            raise Conflict("lot_outside_schedule", f"lot {lot.id} ends at {lot.scheduled_ends_at.isoformat()}, "
                           "outside the new schedule", field="ends_at")
        # The lot's close job, already queued, waits again for a later end; the minute sweep closes an
        # earlier one.
        lot.opens_at, lot.scheduled_ends_at, lot.ends_at = starts_at, end, end
        lot.window_seconds = schedule.get("anti_sniping_seconds", auction.anti_sniping_seconds)
    before = {key: _jsonable(getattr(auction, key)) for key in changes}
    for key, value in changes.items():
        setattr(auction, key, value)
    record("auction", auction.id, "update", actor,
           changes={"before": before, "after": {key: _jsonable(value) for key, value in changes.items()}})
    return auction


def _jsonable(value):
    return value.isoformat() if isinstance(value, datetime) else value


# -- lots -------------------------------------------------------------------------------------------------

def increment_from(data: dict) -> rules.Increment:
    fixed, bands = data.get("increment_fen"), data.get("increment_bands")
    if (fixed is None) == (bands is None):
        raise Invalid("increment_required", "give increment_fen or increment_bands, one of them",
                      field="increment_fen")
    if fixed is not None:
        return rules.Increment.fixed(fixed)
    try:
        return rules.Increment(tuple((band["from_fen"], band["increment_fen"]) for band in bands))
    except ValueError as exc:
        raise Invalid("increment_bands_invalid", f"increment bands: {exc}", field="increment_bands") from None


def _live_lot_of_patent(patent_id: int) -> int | None:
    return db.session.scalar(sa.select(Lot.id).join(LotPatent, LotPatent.lot_id == Lot.id)
                             .where(LotPatent.patent_id == patent_id, Lot.status == "open"))


def _what_is_offered(data: dict) -> tuple[Listing | None, list[Patent], str]:
    """The listing or the package of patents of a new lot, row-locked and checked; the deal kind it sells."""
    listing_id, patent_ids = data.get("listing_id"), data.get("patent_ids")
    if (listing_id is None) == (not patent_ids):
        raise Invalid("lot_subject_required", "give a listing_id or the patent_ids of a package, one of them",
                      field="listing_id")
    if listing_id is not None:
        listing = db.session.get(Listing, listing_id)
        if listing is None:
            raise Invalid("listing_not_found", f"no listing {listing_id}", field="listing_id")
        if listing.mode not in LOT_DEAL_KINDS:
            raise Conflict("listing_not_auctionable", f"a listing offered as {listing.mode} is not auctioned",
                           field="listing_id")
        if listing.status not in AUCTIONABLE_STATUSES:
            raise Conflict("listing_not_available", f"the listing is {listing.status}", field="listing_id")
        patents, kind = [lock_patent(listing.patent_id)], listing.mode
    else:
        if len(set(patent_ids)) < 2:
            raise Invalid("package_too_small", "a package holds at least two patents; offer one by its listing",
                          field="patent_ids")
        listing, kind, patents = None, "assignment", []
        for patent_id in sorted(set(patent_ids)):  # id order: overlapping packages cannot deadlock
            patent = lock_patent(patent_id)
            if patent is None:
                raise Invalid("patent_not_found", f"no patent {patent_id}", field="patent_ids")
            patents.append(patent)
        if len({patent.owner_organization_id for patent in patents}) > 1:
            raise Invalid("package_owners_differ", "a package holds patents of one owner", field="patent_ids")
    for patent in patents:
        listing_service.check_patent_can_be_offered(patent, kind)
        live = _live_lot_of_patent(patent.id)
        if live is not None:
            raise Conflict("patent_in_auction", f"{patent.application_number} is already offered in lot {live}",
                           field="patent_ids" if listing is None else "listing_id")
    if kind in LOT_DEAL_KINDS[1:] and not data.get("license_term_months"):
        raise Invalid("license_term_required", "a licence is auctioned with its term (license_term_months)",
                      field="license_term_months")
    if kind == "assignment" and data.get("license_term_months") is not None:
        raise Invalid("license_term_not_allowed", "an assignment has no licence term", field="license_term_months")
    return listing, patents, kind


def add_lot(actor: User, auction_id: int, data: dict) -> Lot:
    """Offer a listing, or a package of patents of one owner, in a session that has not closed."""
    auction = get_auction(auction_id)
    if auction.closed_at is not None:
        raise Conflict("auction_closed", "the session is closed")
    now = clock.now()
    ends_at = data.get("ends_at") or auction.ends_at
    if ends_at <= max(now, auction.starts_at) or ends_at > auction.ends_at:
        raise Invalid("lot_end_invalid", "a lot ends after the session opens (and after now), and within "
                      f"the session, by {auction.ends_at.isoformat()}", field="ends_at")
    increment = increment_from(data)
    start, reserve = data["starting_price_fen"], data.get("reserve_price_fen")
    if reserve is not None and reserve < start:
        raise Invalid("reserve_below_start", "the reserve is below the starting price", field="reserve_price_fen")
    listing, patents, kind = _what_is_offered(data)
    first = patents[0]
    title = first.title if len(patents) == 1 else f"专利包：{first.title} 等{len(patents)}件"
    lot = Lot(auction_id=auction.id, listing_id=listing.id if listing else None,
              patent_ids=[patent.id for patent in patents],
              seller_organization_id=first.owner_organization_id, title=title[:500], deal_kind=kind,
              license_term_months=data.get("license_term_months"), starting_price_fen=start,
              reserve_price_fen=reserve, increment_bands=[list(band) for band in increment.bands],
              deposit_fen=data.get("deposit_fen", 0), opens_at=auction.starts_at, scheduled_ends_at=ends_at,
              ends_at=ends_at, window_seconds=auction.anti_sniping_seconds, status="open",
              patent_rows=[LotPatent(patent_id=patent.id) for patent in patents])
    db.session.add(lot)
    db.session.flush()
    if listing is not None:
        listing_service.move(actor, listing, "put_in_auction", f"lot {lot.id} of auction {auction.id}")
    record("lot", lot.id, "create", actor, to_status="open",
           changes={"auction_id": auction.id, "listing_id": lot.listing_id, "patent_ids": lot.patent_ids,
                    "starting_price_fen": start, "reserve_price_fen": reserve, "increment_bands": lot.increment_bands,
                    "deposit_fen": lot.deposit_fen, "ends_at": ends_at.isoformat()})
    _schedule_close(lot)
    return lot


def _schedule_close(lot: Lot) -> None:
    """The job that closes the lot at its end (it waits again when anti-sniping moved the end)."""
    enqueue(CLOSE_JOB, {"lot_id": lot.id}, run_after=lot.ends_at, dedupe_key=f"lot:{lot.id}:close")


def get_lot(lot_id: int) -> Lot:
    lot = db.session.get(Lot, lot_id)
    if lot is None:
        raise NotFound("lot_not_found", f"no lot {lot_id}")
    return lot


def lots_of_auction(auction_id: int) -> list[Lot]:
    get_auction(auction_id)
    return list(db.session.scalars(sa.select(Lot).where(Lot.auction_id == auction_id).order_by(Lot.id)))


def withdraw_lot(actor: User, lot_id: int, reason: str | None) -> Lot:
    """Take a lot out before its first bid; its listing goes back on the shelf."""
    lot = lock_row(db.session, Lot, lot_id)
    if lot is None:
        raise NotFound("lot_not_found", f"no lot {lot_id}")
    if lot.closed:
        raise Conflict("lot_closed", f"the lot is {lot.status}")
    if lot.bid_count:
        raise Conflict("lot_has_bids", "a lot with bids is not withdrawn: it closes at its end")
    now = clock.now()
    lot.status, lot.closed_at, lot.withdraw_reason = "withdrawn", now, reason
    _return_listing(actor, lot, "lot withdrawn")
    record("lot", lot.id, "withdraw", actor, from_status="open", to_status="withdrawn", reason=reason)
    close_session_if_done(lot.auction_id, now)
    return lot


# -- registrations ----------------------------------------------------------------------------------------

def register(actor: User, auction_id: int, data: dict) -> Registration:
    """An enterprise registers for a session; staff confirm it when the deposit is paid."""
    auction = get_auction(auction_id)
    if auction.closed_at is not None:
        raise Conflict("auction_closed", "the session is closed")
    if actor.organization_id is None:
        raise Forbidden("organization_required", "register as a member of an enterprise")
    existing = db.session.scalar(sa.select(Registration.id).where(
        Registration.auction_id == auction_id, Registration.organization_id == actor.organization_id))
    if existing is not None:
        raise Conflict("already_registered", f"your organisation is registered (registration {existing})")
    registration = Registration(auction_id=auction_id, organization_id=actor.organization_id, user_id=actor.id,
                                status="pending", deposit_status="unpaid", note=data.get("note"))
    db.session.add(registration)
    db.session.flush()
    record("registration", registration.id, "register", actor, to_status="pending",
           changes={"auction_id": auction_id, "organization_id": actor.organization_id})
    return registration


def get_registration(actor: User, registration_id: int) -> Registration:
    registration = db.session.get(Registration, registration_id)
    if registration is None or not (actor.is_staff or registration.organization_id == actor.organization_id):
        raise NotFound("registration_not_found", f"no registration {registration_id}")
    return registration


def registrations(actor: User, auction_id: int) -> list[Registration]:
    get_auction(auction_id)
    stmt = sa.select(Registration).where(Registration.auction_id == auction_id)
    if not actor.is_staff:
        stmt = stmt.where(Registration.organization_id == actor.organization_id)
    return list(db.session.scalars(stmt.order_by(Registration.id)))


def confirm_registration(actor: User, registration_id: int, data: dict) -> Registration:
    """The deposit is paid: the registrant may bid on every lot whose deposit it covers (by default the
    session's highest), under the next bidder number of the session."""
    registration = lock_row(db.session, Registration, registration_id)
    if registration is None:
        raise NotFound("registration_not_found", f"no registration {registration_id}")
    if registration.status == "confirmed":
        raise Conflict("already_confirmed", f"registration {registration_id} is confirmed "
                       f"(bidder number {registration.bidder_number})")
    auction = lock_row(db.session, Auction, registration.auction_id)  # bidder numbers are issued in order
    if auction.closed_at is not None:
        raise Conflict("auction_closed", "the session is closed")
    paid = data.get("deposit_paid_fen")
    if paid is None:
        paid = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(Lot.deposit_fen), 0))
                                 .where(Lot.auction_id == auction.id, Lot.status == "open"))
    auction.bidder_numbers_issued += 1
    registration.status, registration.deposit_status = "confirmed", "held"
    registration.deposit_paid_fen = paid
    registration.bidder_number = f"{auction.bidder_numbers_issued:04d}"
    registration.confirmed_at, registration.confirmed_by_user_id = clock.now(), getattr(actor, "id", None)
    record("registration", registration.id, "confirm", actor, from_status="pending", to_status="confirmed",
           changes={"bidder_number": registration.bidder_number, "deposit_paid_fen": paid})
    return registration


# -- bidding ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BidPlaced:
    bid: Bid | None  # the bidder's own bid (None when a new proxy maximum did not need to bid)
    lot: Lot
    proxy_bids: list[Bid]  # the answers of standing proxies, in order


# The lot and the caller's registration for its session, in one statement: a bid's first round trip. Built
# once (a statement built per call costs more than the rules it feeds).
_LOT_AND_BIDDER = (
    sa.select(Lot, Registration)
    .outerjoin(Registration, sa.and_(Registration.auction_id == Lot.auction_id,
                                      Registration.organization_id == sa.bindparam("organization_id")))
    .where(Lot.id == sa.bindparam("lot_id"))
    .options(orm.lazyload(Registration.organization))  # its inner join would turn the outer join inner
    .execution_options(populate_existing=True)
)
_LOT_AND_BIDDER_LOCKED = _LOT_AND_BIDDER.with_for_update(of=Lot)


def _lot_for(actor: User, lot_id: int, *, lock: bool) -> tuple[Lot, Registration]:
    """The lot, re-read (and locked to the end of the transaction if `lock`), and the actor's confirmed
    registration for its session whose deposit covers the lot's."""
    statement = _LOT_AND_BIDDER_LOCKED if lock else _LOT_AND_BIDDER
    row = db.session.execute(statement, {"lot_id": lot_id, "organization_id": actor.organization_id}).first()
    if row is None:
        raise NotFound("lot_not_found", f"no lot {lot_id}")
    lot, registration = row
    if registration is None:
        raise Conflict("not_registered", "register for this session and have the deposit confirmed to bid")
    if registration.status != "confirmed":
        raise Conflict("not_registered", "your registration awaits the deposit's confirmation")
    if (registration.deposit_paid_fen or 0) < lot.deposit_fen:
        raise Conflict("not_registered", f"this lot's deposit is {lot.deposit_fen} fen; yours covers "
                       f"{registration.deposit_paid_fen or 0} fen")
    return lot, registration


# Re-read like the lot: a bid judged again after a lost race must see a maximum raised meanwhile, not the
# one the session loaded on its first reading.
_PROXIES = (sa.select(ProxyBid).where(ProxyBid.lot_id == sa.bindparam("lot_id"))
            .execution_options(populate_existing=True))


def _proxies(lot: Lot) -> list[ProxyBid]:
    if not lot.proxies_placed:
        return []  # the common case costs no query
    return list(db.session.scalars(_PROXIES, {"lot_id": lot.id}))


def _bidders(registration: Registration, proxies: list[ProxyBid]) -> dict[int, Registration]:
    return {registration.id: registration, **{proxy.registration_id: proxy.registration for proxy in proxies}}


def _standing(lot: Lot, proxies: list[ProxyBid]) -> rules.Standing:
    return rules.Standing(
        price_fen=lot.current_price_fen,
        leader=str(lot.leader_registration_id) if lot.leader_registration_id is not None else None,
        ends_at=lot.ends_at,
        proxies=tuple(rules.Proxy(str(p.registration_id), p.max_amount_fen, p.placed) for p in proxies))


def _refuse(reason: str, lot: Lot, now: datetime, amount_fen: int | None = None) -> Conflict:
    if reason == "bid_too_low":
        message = f"the minimum next bid is {lot.min_next_bid_fen(now)} fen"
    elif reason == "off_increment":
        message = f"{amount_fen} fen is not on the lot's increment grid; the minimum next bid is " \
                  f"{lot.min_next_bid_fen(now)} fen"
    else:
        message = REASON_MESSAGES.get(reason, reason)
    return Conflict(reason, message, field="amount_fen" if reason in ("bid_too_low", "off_increment") else None)


# What a bid writes: the bid's columns, and the lot's that change.
BID_COLUMNS = ("lot_id", "registration_id", "amount_fen", "automatic", "created_at")
LOT_CHANGES = ("current_price_fen", "leader_registration_id", "bid_count", "ends_at", "updated_at")
# What the rules read from the lot besides its fixed terms: a write applies only while these are as read.
# Every bid moves bid_count, every proxy proxies_placed; closing, withdrawing and rescheduling the rest.
GUARDED = ("status", "bid_count", "proxies_placed", "ends_at", "opens_at", "window_seconds")
# Unlocked attempts of a bid before it reads the lot under its lock: each lost race means another bid
# was accepted meanwhile, so a bid that keeps losing (a busy lot) is served in the lock's queue instead.
OPTIMISTIC_ATTEMPTS = 3


def _apply(lot: Lot, outcome: rules.Outcome, now: datetime,
           bidders: dict[int, Registration]) -> list[Bid] | None:
    """Write the accepted bids and the lot's new standing, and the job that tells whoever lost the lead
    (after the commit), if the lot is still as read (GUARDED); None when it is not (nothing written).
    `bidders`: the registrations that may have bid (the bidder's, the proxies'), already in the session.
    Written by Core statements (one on PostgreSQL), not by an ORM flush: the lot's row is locked from this
    write to the commit, as short a time as a bid allows. The lot in the session is set to what was
    written; the bids returned are not in the session."""
    if not outcome.accepted:
        return []  # a leader raising its maximum: only a bid moves the standing
    before = lot.leader_registration_id
    standing = outcome.standing
    leader = int(standing.leader) if standing.leader is not None else None
    rows = [dict(zip(BID_COLUMNS, (lot.id, int(bid.bidder), bid.amount_fen, bid.automatic, now), strict=True))
            for bid in outcome.accepted]
    changes = dict(zip(LOT_CHANGES, (standing.price_fen, leader, lot.bid_count + len(rows), standing.ends_at, now),
                       strict=True))
    outbid = {row["registration_id"] for row in rows} | ({before} if before is not None else set())
    outbid.discard(leader)
    job = job_row(NOTIFY_OUTBID_JOB, {"lot_id": lot.id, "registration_ids": sorted(outbid),
                                      "amount_fen": standing.price_fen}) if outbid else None
    ids = _write_bids(lot.id, {name: getattr(lot, name) for name in GUARDED}, rows, changes, job)
    if ids is None:
        return None
    for name, value in changes.items():
        set_committed_value(lot, name, value)
    set_committed_value(lot, "leader", bidders[leader] if leader is not None else None)
    return [Bid(id=bid_id, registration=bidders[row["registration_id"]], **row)
            for bid_id, row in zip(ids, rows, strict=True)]


def _write_bids(lot_id: int, seen: dict, rows: list[dict], changes: dict, job: dict | None) -> list[int] | None:
    """Update the lot where it is still as `seen`, and only then insert the bids and the job; the bids' ids,
    in order, or None when the lot had changed. PostgreSQL takes the three in one statement
    (data-modifying CTEs whose inserts select from the update), SQLite (which serialises writers anyway)
    one after the other."""
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    params = {"lot_id": lot_id, **_prefixed("seen", seen), **_prefixed("lot", changes),
              **(_prefixed("job", job) if job is not None else {})}
    # The usual bid (one row) takes statements built once, its values as parameters: building and keying
    # the statements per bid cost more than the rest of the write. Proxies' answers vary in number.
    one = len(rows) == 1
    job_columns = tuple(job) if job is not None else ()
    statements = _one_bid_statements(job_columns) if one else _build_bid_statements(job_columns, rows)
    if one:
        params.update(_prefixed("bid", rows[0]))
    if postgresql:
        ids = list(db.session.scalars(statements.combined, params))
        return ids or None
    if db.session.execute(statements.update_lot, params).rowcount != 1:
        return None
    ids = [db.session.scalar(insert, params) for insert in statements.insert_bids]
    if statements.insert_job is not None:
        db.session.execute(statements.insert_job, params)
    return ids


class _BidStatements(NamedTuple):
    update_lot: sa.Update
    insert_bids: list[sa.Insert]  # SQLite: one per bid, in order
    insert_job: sa.Insert | None
    combined: sa.Select  # PostgreSQL: all in one


def _prefixed(prefix: str, values: dict) -> dict:
    return {f"{prefix}_{name}": value for name, value in values.items()}


def _params(table: sa.Table, prefix: str, names) -> dict:
    return {name: sa.bindparam(f"{prefix}_{name}", type_=table.c[name].type) for name in names}


@functools.cache
def _one_bid_statements(job_columns: tuple[str, ...]) -> _BidStatements:
    return _build_bid_statements(job_columns, None)


def _build_bid_statements(job_columns: tuple[str, ...], rows: list[dict] | None) -> _BidStatements:
    """A bid's write with a parameter per value: `lot_id`, `seen_<column>`, `lot_<column>`, `job_<column>`
    and, for one bid (`rows` None), `bid_<column>`; several bids' rows are values of the statement. A job
    only when someone lost the lead (`job_columns`)."""
    bids, lots, jobs = Bid.__table__, Lot.__table__, Job.__table__
    update_lot = (sa.update(lots)
                  .where(lots.c.id == sa.bindparam("lot_id", type_=lots.c.id.type),
                         *[lots.c[name] == sa.bindparam(f"seen_{name}", type_=lots.c[name].type)
                           for name in GUARDED])
                  .values(_params(lots, "lot", LOT_CHANGES)))
    # PostgreSQL: one statement of data-modifying CTEs, whose inserts select from the lot's update, so they
    # write only if it did.
    lot_update = update_lot.returning(lots.c.id).cte("lot_update")
    if rows is None:
        source = sa.select(lot_update.c.id, *_params(bids, "bid", BID_COLUMNS[1:]).values())
        one_by_one = [sa.insert(bids).values(_params(bids, "bid", BID_COLUMNS))]
    else:
        # Ids follow the rows' ordinal, so the history's order is the acceptance order.
        listed = sa.values(sa.column("ordinal", sa.Integer),
                           *[sa.column(name, bids.c[name].type) for name in BID_COLUMNS[1:]], name="new_bid_rows")
        listed = listed.data([(ordinal, *[row[name] for name in BID_COLUMNS[1:]]) for ordinal, row in enumerate(rows)])
        source = (sa.select(lot_update.c.id, *[listed.c[name] for name in BID_COLUMNS[1:]])
                  .select_from(listed).join(lot_update, sa.true()).order_by(listed.c.ordinal))
        one_by_one = [sa.insert(bids).values(row) for row in rows]
    new_bids = sa.insert(bids).from_select(BID_COLUMNS, source).returning(bids.c.id).cte("new_bids")
    combined = sa.select(new_bids.c.id).add_cte(lot_update)
    insert_job = None
    if job_columns:
        job_values = _params(jobs, "job", job_columns)
        insert_job = sa.insert(jobs).values(job_values)
        combined = combined.add_cte(sa.insert(jobs).from_select(job_columns, sa.select(*job_values.values())
                                                                .select_from(lot_update))
                                    .returning(jobs.c.id).cte("outbid_job"))
    return _BidStatements(update_lot, [insert.returning(bids.c.id) for insert in one_by_one], insert_job,
                          combined.order_by(new_bids.c.id))


def place_bid(actor: User, lot_id: int, amount_fen: int) -> BidPlaced:
    """Read the lot without locking it, apply the rules, and write only if nobody else has written since
    (a single conditional statement): a refused bid never waits for the lot, an accepted one holds its row
    from the write to the commit. A bid that lost the race is judged again on the new standing."""
    for attempt in range(1, OPTIMISTIC_ATTEMPTS + 1):
        lot, registration = _lot_for(actor, lot_id, lock=attempt == OPTIMISTIC_ATTEMPTS)
        now = clock.now()
        proxies = _proxies(lot)
        outcome = rules.place_bid(lot.rules_lot(now), _standing(lot, proxies), str(registration.id), amount_fen,
                                  now)
        if outcome.reason is not None:
            raise _refuse(outcome.reason, lot, now, amount_fen)
        bids = _apply(lot, outcome, now, _bidders(registration, proxies))
        if bids is not None:
            return BidPlaced(bids[0], lot, bids[1:])
    raise AssertionError("a bid under the lot's lock is never overtaken")


def set_proxy(actor: User, lot_id: int, max_amount_fen: int) -> tuple[ProxyBid, BidPlaced]:
    """Leave or raise a maximum; bidding for it starts at once if it does not lead. Under the lot's lock:
    a proxy is written by the ORM besides the bids, and is rare beside bids."""
    lot, registration = _lot_for(actor, lot_id, lock=True)
    now = clock.now()
    proxies = _proxies(lot)
    placed = lot.proxies_placed + 1
    outcome = rules.set_proxy(lot.rules_lot(now), _standing(lot, proxies), str(registration.id), max_amount_fen,
                              placed, now)
    proxy = next((p for p in proxies if p.registration_id == registration.id), None)
    if outcome.reason is not None:
        if outcome.reason == "bid_too_low" and proxy is not None and max_amount_fen <= proxy.max_amount_fen:
            raise Conflict("bid_too_low", f"a maximum is only raised: yours is {proxy.max_amount_fen} fen",
                           field="max_amount_fen")
        raise _refuse(outcome.reason, lot, now)
    bids = _apply(lot, outcome, now, _bidders(registration, proxies))
    if bids is None:
        raise AssertionError("a lot under its lock does not change")
    if proxy is None:
        proxy = ProxyBid(lot_id=lot.id, registration=registration, max_amount_fen=max_amount_fen, placed=placed)
        db.session.add(proxy)
    else:
        proxy.max_amount_fen, proxy.placed = max_amount_fen, placed
    lot.proxies_placed = placed
    # Audited (staff read the log) but never shown to other bidders.
    record("lot", lot.id, "proxy", actor, changes={"registration_id": registration.id,
                                                    "max_amount_fen": max_amount_fen})
    own = [bid for bid in bids if bid.registration_id == registration.id]
    return proxy, BidPlaced(own[0] if own else None, lot, [bid for bid in bids if bid not in own[:1]])


def get_proxy(actor: User, lot_id: int) -> ProxyBid:
    get_lot(lot_id)
    proxy = db.session.scalar(sa.select(ProxyBid).join(Registration, Registration.id == ProxyBid.registration_id)
                              .where(ProxyBid.lot_id == lot_id, Registration.organization_id == actor.organization_id))
    if proxy is None:
        raise NotFound("proxy_not_found", "you have no proxy maximum on this lot")
    return proxy


def bids_of_lot(lot_id: int) -> sa.Select:
    get_lot(lot_id)
    return sa.select(Bid).where(Bid.lot_id == lot_id).order_by(Bid.id.desc())


# -- closing ----------------------------------------------------------------------------------------------

def close_lot(lot_id: int, actor=SYSTEM) -> Lot | None:
    """Close a lot past its (extended) end, once: sold to the highest bid at or above the reserve (a deal
    is recorded for staff to complete), otherwise unsold (流拍). None when there is nothing to close (not
    due yet, or closed already by another process)."""
    lot = lock_row(db.session, Lot, lot_id)
    now = clock.now()
    if lot is None or not lot.due(now):
        return None
    outcome, winner_id, price = rules.result(lot.rules_lot(now), _standing(lot, []))
    lot.status, lot.closed_at = outcome, now
    if outcome == "sold":
        lot.final_price_fen, lot.winner_registration_id = price, int(winner_id)
        winner = db.session.get(Registration, lot.winner_registration_id)
        winner.deposit_status = "applied"
        lot.deal_id = _record_sale(lot, winner, price)
        if lot.listing_id is not None:
            listing = db.session.get(Listing, lot.listing_id)
            if listing.status == "in_auction":
                listing_service.move(actor, listing, "sell", f"sold in lot {lot.id}")
        notify_lot_won(winner.organization_id, lot_id=lot.id, amount_fen=price, deal_id=lot.deal_id)
    else:
        _return_listing(actor, lot, "unsold (流拍)")
    notify_organization(lot.seller_organization_id, "lot_closed",
                        f"Lot {lot.id} {'sold at ' + str(price) + ' fen' if price else 'unsold (流拍)'}",
                        data={"lot_id": lot.id, "status": outcome, "final_price_fen": price, "deal_id": lot.deal_id},
                        dedupe_key=f"lot_closed:{lot.id}")
    record("lot", lot.id, "close", actor, from_status="open", to_status=outcome,
           changes={"final_price_fen": price, "winner_bidder_number": lot.winner_bidder_number,
                    "deal_id": lot.deal_id, "bid_count": lot.bid_count, "ends_at": lot.ends_at.isoformat()})
    _tell_the_others(lot)
    close_session_if_done(lot.auction_id, now)
    return lot


def _record_sale(lot: Lot, winner: Registration, price: int) -> int | None:
    """The deal of a sale, through the deals service. A rule that no longer holds (the patent was pledged
    or preserved during the session) does not undo the hammer: the lot stays sold and staff are told
    why no deal could be recorded."""
    from app.deals.services import record_deal

    data = {"kind": lot.deal_kind, "patent_ids": lot.patent_ids, "listing_id": lot.listing_id,
            "seller_organization_id": lot.seller_organization_id, "buyer_organization_id": winner.organization_id,
            "amount_fen": price, "signed_on": clock.today(), "source": "auction",
            "license_term_months": lot.license_term_months,
            "note": f"auction {lot.auction_id}, lot {lot.id}, bidder number {winner.bidder_number}"}
    try:
        with db.session.begin_nested():
            return record_deal(SYSTEM, data).id
    except DomainError as exc:
        notify_staff("lot_closed", f"Lot {lot.id} sold, but its deal could not be recorded: {exc.message}",
                     data={"lot_id": lot.id, "reason": exc.reason}, dedupe_key=f"lot_deal_failed:{lot.id}")
        return None


def _return_listing(actor, lot: Lot, reason: str) -> None:
    if lot.listing_id is None:
        return
    listing = db.session.get(Listing, lot.listing_id)
    if listing.status == "in_auction":
        listing_service.move(actor, listing, "return_from_auction", f"lot {lot.id} {reason}")


def _tell_the_others(lot: Lot) -> None:
    """The lot's other bidders hear how it ended; their deposits are due back unless they won or lead
    something else in the session."""
    bidders = set(db.session.scalars(sa.select(Bid.registration_id).where(Bid.lot_id == lot.id).distinct()))
    bidders.discard(lot.winner_registration_id)
    if not bidders:
        return
    outcome = f"sold at {lot.final_price_fen} fen to bidder {lot.winner_bidder_number}" \
        if lot.status == "sold" else "unsold (流拍)"
    for organization_id in db.session.scalars(sa.select(Registration.organization_id)
                                              .where(Registration.id.in_(bidders))):
        notify_organization(organization_id, "lot_closed", f"Lot {lot.id} closed: {outcome}",
                            data={"lot_id": lot.id, "status": lot.status, "final_price_fen": lot.final_price_fen},
                            dedupe_key=f"lot_closed:{lot.id}")
    _release_deposits(lot, bidders)


def _release_deposits(lot: Lot, bidders: set[int]) -> None:
    session_lots = sa.select(Lot.leader_registration_id, Lot.winner_registration_id).where(
        Lot.auction_id == lot.auction_id, sa.or_(Lot.status == "open", Lot.status == "sold"),
        sa.or_(Lot.leader_registration_id.in_(bidders), Lot.winner_registration_id.in_(bidders)))
    keeping = set()
    for leader, winner in db.session.execute(session_lots):
        keeping |= {winner} if winner is not None else {leader}
    release = bidders - keeping
    if release:
        db.session.execute(sa.update(Registration).where(Registration.id.in_(release),
                                                         Registration.deposit_status == "held")
                           .values(deposit_status="refund_due"))


def close_session_if_done(auction_id: int, now: datetime) -> None:
    """The session closes with its last lot (under its row lock, taken after the lot's: two lots closing
    at once see each other's commit). Confirmed deposits not applied to a price are then due back."""
    db.session.flush()
    auction = lock_row(db.session, Auction, auction_id)
    if auction.closed_at is not None:
        return
    live = db.session.scalar(sa.select(sa.func.count()).where(Lot.auction_id == auction_id, Lot.status == "open"))
    if live or now < auction.ends_at:
        return
    auction.closed_at = now
    db.session.execute(sa.update(Registration).where(Registration.auction_id == auction_id,
                                                     Registration.deposit_status == "held")
                       .values(deposit_status="refund_due"))
    record("auction", auction_id, "close", SYSTEM, from_status="open", to_status="closed")


def due_lot_ids(auction_id: int | None = None) -> list[int]:
    """Lots past their end and still open (of one session, or all), the earliest end first."""
    stmt = sa.select(Lot.id).where(Lot.status == "open", Lot.ends_at <= clock.now()).order_by(Lot.ends_at)
    if auction_id is not None:
        stmt = stmt.where(Lot.auction_id == auction_id)
    return list(db.session.scalars(stmt))


def due_empty_sessions() -> list[int]:
    """Sessions past their end with no live lot (none were added, or all were withdrawn early)."""
    live = sa.select(Lot.id).where(Lot.auction_id == Auction.id, Lot.status == "open").exists()
    return list(db.session.scalars(sa.select(Auction.id).where(
        Auction.closed_at.is_(None), Auction.ends_at <= clock.now(), ~live)))


def results(auction_id: int) -> list[Lot]:
    """The public announcement: each lot sold at what price to which bidder number, or unsold."""
    return lots_of_auction(auction_id)

