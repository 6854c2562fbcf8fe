"""Read-only aggregates over deals, listings, lots and demands: what the network achieved, by outlet,
university, field, mode and month, in the business calendar (dates and months of BUSINESS_TIMEZONE).

Definitions (the API's schema repeats them):
- A deal counts when it is not cancelled and was signed (`signed_on`) in the period, whenever it was
  recorded (拟成交 after the event included). A package counts each of its patents once and its amount
  once. Patents *transferred*: in assignment or equity deals; *licensed*: in licence deals (open licences
  included); *converted*: in any deal.
- Listings *published* in the period: first put on the shelf (`listed_at`) within it; `listings_by_status`
  is the present status of the listings the filters select, whatever the period.
- Conversion rate: patents converted in the period / patents published in the period (two flows of the
  same period, so a short period may show more than 1).
- Lots *offered*: their session opened in the period (withdrawn ones not counted); *sold* / *unsold*:
  closed in the period; sale rate = sold / (sold + unsold).
- Demands posted in the period, and those of them with at least one inquiry: exchange-wide (a demand has
  no outlet, field or seller).
- Filters: `outlet` selects deals recorded at the outlet, listings shelved there and lots of its sessions;
  `field` deals, listings and lots with a patent of that field; `organization` deals where it is seller
  or buyer, listings and lots of its patents. By field, a package spanning fields counts in each field it
  touches, with its whole amount there (so field rows may add up to more than the total); its patents
  count once, in their own field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from app import clock
from app.auctions.models import Auction, Lot, LotPatent
from app.auth.models import Organization
from app.deals.models import Deal, DealPatent
from app.deals.rules import LICENSE_KINDS, OWNERSHIP_KINDS
from app.demands.models import Demand
from app.errors import Forbidden, Invalid
from app.extensions import db
from app.inquiries.models import Inquiry
from app.outlets.models import Outlet
from app.patents.models import Listing, ListingOutlet, Patent
from app.patents.rules import PUBLISHED_STATUSES


@dataclass(frozen=True)
class Filters:
    start: date | None = None  # business dates, inclusive
    end: date | None = None
    outlet_id: int | None = None
    field: str | None = None
    organization_id: int | None = None

    @property
    def since(self) -> datetime | None:
        return clock.start_of_business_day(self.start) if self.start else None

    @property
    def until(self) -> datetime | None:
        return clock.start_of_business_day(self.end + timedelta(days=1)) if self.end else None


def within(column, since, until) -> list:
    out = []
    if since is not None:
        out.append(column >= since)
    if until is not None:
        out.append(column < until)
    return out


def dialect() -> str:
    return db.session.get_bind().dialect.name


def month_of_date(column):
    if dialect() == "postgresql":
        return sa.func.to_char(column, "YYYY-MM")
    return sa.func.strftime("%Y-%m", column)


def month_start(column):
    """The first day of a date's month, as a date."""
    if dialect() == "postgresql":
        return sa.cast(sa.func.date_trunc(sa.literal_column("'month'"), column), sa.Date)
    return sa.func.date(column, sa.literal_column("'start of month'"), type_=sa.Date)


def month_of_moment(column):
    """The business month (YYYY-MM) of a UTC timestamp."""
    if dialect() == "postgresql":
        return sa.func.to_char(sa.func.timezone(clock.zone().key, column), "YYYY-MM")
    # SQLite has no time zones: the business zone's offset now (fixed for Asia/Shanghai, which keeps no DST).
    offset = int(clock.now().astimezone(clock.zone()).utcoffset().total_seconds() // 60)
    return sa.func.strftime("%Y-%m", column, f"{offset:+d} minutes")


# -- the selected rows ------------------------------------------------------------------------------------

def deals(f: Filters) -> sa.Select:
    """The deals that count, as (id, kind, source, amount_fen, signed_on, outlet_id, seller, buyer)."""
    stmt = sa.select(Deal.id, Deal.kind, Deal.source, Deal.amount_fen, Deal.signed_on, Deal.outlet_id,
                     Deal.seller_organization_id, Deal.buyer_organization_id).where(Deal.status != "cancelled")
    if f.start:
        stmt = stmt.where(Deal.signed_on >= f.start)
    if f.end:
        stmt = stmt.where(Deal.signed_on <= f.end)
    if f.outlet_id:
        stmt = stmt.where(Deal.outlet_id == f.outlet_id)
    if f.organization_id:
        stmt = stmt.where(sa.or_(Deal.seller_organization_id == f.organization_id,
                                 Deal.buyer_organization_id == f.organization_id))
    if f.field:
        stmt = stmt.where(sa.select(DealPatent.deal_id).join(Patent, Patent.id == DealPatent.patent_id)
                          .where(DealPatent.deal_id == Deal.id, Patent.field == f.field).exists())
    return stmt


def deal_patents(f: Filters, d) -> sa.Select:
    """(deal id, kind, patent id, field) of the selected deals; with a field filter, that field's patents."""
    stmt = (sa.select(d.c.id.label("deal_id"), d.c.kind, d.c.signed_on, DealPatent.patent_id, Patent.field)
            .join(DealPatent, DealPatent.deal_id == d.c.id).join(Patent, Patent.id == DealPatent.patent_id))
    if f.field:
        stmt = stmt.where(Patent.field == f.field)
    return stmt


def listings(f: Filters, *, published_in_period: bool) -> sa.Select:
    stmt = (sa.select(Listing.id, Listing.patent_id, Listing.mode, Listing.status, Listing.listed_at,
                      Patent.field, Patent.owner_organization_id)
            .join(Patent, Patent.id == Listing.patent_id))
    if published_in_period:
        stmt = stmt.where(Listing.listed_at.is_not(None), *within(Listing.listed_at, f.since, f.until))
    if f.outlet_id:
        stmt = stmt.where(sa.select(ListingOutlet.listing_id).where(
            ListingOutlet.listing_id == Listing.id, ListingOutlet.outlet_id == f.outlet_id).exists())
    if f.field:
        stmt = stmt.where(Patent.field == f.field)
    if f.organization_id:
        stmt = stmt.where(Patent.owner_organization_id == f.organization_id)
    return stmt


def lots(f: Filters) -> sa.Select:
    stmt = (sa.select(Lot.id, Lot.status, Lot.opens_at, Lot.closed_at, Lot.final_price_fen, Lot.seller_organization_id)
            .join(Auction, Auction.id == Lot.auction_id))
    if f.outlet_id:
        stmt = stmt.where(Auction.outlet_id == f.outlet_id)
    if f.organization_id:
        stmt = stmt.where(Lot.seller_organization_id == f.organization_id)
    if f.field:
        stmt = stmt.where(sa.select(LotPatent.lot_id).join(Patent, Patent.id == LotPatent.patent_id)
                          .where(LotPatent.lot_id == Lot.id, Patent.field == f.field).exists())
    return stmt


# -- the overview -----------------------------------------------------------------------------------------

def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def selections(f: Filters) -> tuple:
    """The CTEs every breakdown reads: the deals that count, their patents, the listings published."""
    d = deals(f).cte("d")
    return d, deal_patents(f, d).cte("dp"), listings(f, published_in_period=True).cte("published")


def lot_figures(f: Filters) -> dict:
    """Lots offered, sold and unsold in the period, and what the sold ones fetched."""
    lot_rows = lots(f).subquery("l")
    offered = db.session.scalar(sa.select(sa.func.count()).select_from(lot_rows).where(
        lot_rows.c.status != "withdrawn", *within(lot_rows.c.opens_at, f.since, f.until))) or 0
    closed = {status: (n, total or 0) for status, n, total in db.session.execute(
        sa.select(lot_rows.c.status, sa.func.count(), sa.func.sum(lot_rows.c.final_price_fen))
        .where(lot_rows.c.status.in_(("sold", "unsold")), *within(lot_rows.c.closed_at, f.since, f.until))
        .group_by(lot_rows.c.status))}
    (sold, sold_amount), (unsold, _) = closed.get("sold", (0, 0)), closed.get("unsold", (0, 0))
    return {"lots_offered": offered, "lots_sold": sold, "lots_unsold": unsold,
            "lot_sale_rate": _rate(sold, sold + unsold), "lots_sold_amount_fen": int(sold_amount)}


def demand_figures(f: Filters) -> dict:
    """Demands posted in the period and those of them with an inquiry (exchange-wide)."""
    posted = sa.select(Demand.id).where(*within(Demand.created_at, f.since, f.until)).subquery("dm")
    demands_posted = db.session.scalar(sa.select(sa.func.count()).select_from(posted)) or 0
    demands_inquired = db.session.scalar(sa.select(sa.func.count(sa.distinct(Inquiry.demand_id))).where(
        Inquiry.demand_id.in_(sa.select(posted.c.id)))) or 0
    return {"demands_posted": demands_posted, "demands_with_inquiry": demands_inquired}


def lots_sold_by_month(f: Filters) -> dict[str, int]:
    lot_rows = lots(f).where(Lot.status == "sold", *within(Lot.closed_at, f.since, f.until)).subquery("sl")
    lot_month = month_of_moment(lot_rows.c.closed_at)
    return dict(db.session.execute(sa.select(lot_month, sa.func.count()).group_by(lot_month)).all())


def overview_from_rows(f: Filters, top: int = 10) -> dict:
    """Every figure computed from the rows themselves: an organisation's view (rollup.overview), and what
    the tests hold the cells' figures to."""
    d, dp, published = selections(f)
    by_kind = {kind: {"deals": n, "amount_fen": int(total)} for kind, n, total in db.session.execute(
        sa.select(d.c.kind, sa.func.count(), sa.func.sum(d.c.amount_fen)).group_by(d.c.kind).order_by(d.c.kind))}
    count = sum(row["deals"] for row in by_kind.values())
    amount = sum(row["amount_fen"] for row in by_kind.values())
    by_source = {source: {"deals": n, "amount_fen": int(total)} for source, n, total in db.session.execute(
        sa.select(d.c.source, sa.func.count(), sa.func.sum(d.c.amount_fen)).group_by(d.c.source)
        .order_by(d.c.source))}

    def distinct_patents(*where) -> int:
        return db.session.scalar(sa.select(sa.func.count(sa.distinct(dp.c.patent_id))).where(*where)) or 0

    converted = distinct_patents()
    listed = db.session.scalar(sa.select(sa.func.count(sa.distinct(published.c.patent_id)))) or 0
    status_counts = dict(db.session.execute(
        sa.select(sa.literal_column("s.status"), sa.func.count()).select_from(
            listings(f, published_in_period=False).subquery("s")).group_by(sa.literal_column("s.status"))).all())
    offering = listings(f, published_in_period=False).where(
        Listing.status.in_(sorted(PUBLISHED_STATUSES))).subquery("o")
    on_offer = db.session.scalar(sa.select(sa.func.count(sa.distinct(offering.c.patent_id)))) or 0
    return {
        "period": {"from": f.start, "to": f.end},
        "totals": {
            "deals": count, "amount_fen": int(amount),
            "deals_by_kind": by_kind, "deals_by_source": by_source,
            "patents_converted": converted,
            "patents_transferred": distinct_patents(dp.c.kind.in_(sorted(OWNERSHIP_KINDS))),
            "patents_licensed": distinct_patents(dp.c.kind.in_(sorted(LICENSE_KINDS))),
            "listings_published": db.session.scalar(sa.select(sa.func.count()).select_from(published)) or 0,
            "patents_listed": listed,
            "conversion_rate": _rate(converted, listed),
            "listings_by_status": status_counts,
            "patents_on_offer": on_offer,
            **lot_figures(f), **demand_figures(f),
        },
        "by_outlet": by_outlet(f, d, dp, published),
        "by_university": _by_university(d, dp, published, top),
        "by_field": _by_field(d, dp, published),
        "by_mode": _by_mode(by_kind, published),
        "by_month": _by_month(f, d, dp, published),
    }


def by_outlet(f: Filters, d, dp, published) -> list[dict]:
    outlets = db.session.execute(sa.select(Outlet.id, Outlet.code, Outlet.name).order_by(Outlet.code)
                                 .where(Outlet.id == f.outlet_id if f.outlet_id else sa.true())).all()
    deal_rows = {row[0]: row[1:] for row in db.session.execute(
        sa.select(d.c.outlet_id, sa.func.count(), sa.func.sum(d.c.amount_fen)).group_by(d.c.outlet_id))}
    patent_rows = dict(db.session.execute(
        sa.select(d.c.outlet_id, sa.func.count(sa.distinct(dp.c.patent_id))).join(dp, dp.c.deal_id == d.c.id)
        .group_by(d.c.outlet_id)).all())
    listed_rows = {row[0]: row[1:] for row in db.session.execute(
        sa.select(ListingOutlet.outlet_id, sa.func.count(), sa.func.count(sa.distinct(published.c.patent_id)))
        .join(published, published.c.id == ListingOutlet.listing_id).group_by(ListingOutlet.outlet_id))}
    out = []
    for outlet_id, code, name in outlets:
        n, amount = deal_rows.get(outlet_id, (0, 0))
        listings_n, patents_n = listed_rows.get(outlet_id, (0, 0))
        out.append({"outlet_code": code, "name": name, "listings_published": listings_n, "patents_listed": patents_n,
                    "deals": n, "amount_fen": int(amount or 0), "patents_converted": patent_rows.get(outlet_id, 0)})
    return out


def _by_university(d, dp, published, top: int) -> list[dict]:
    rows, patents = top_sellers(d, dp, top)
    ids = [row[0] for row in rows]
    listed = dict(db.session.execute(
        sa.select(published.c.owner_organization_id, sa.func.count(sa.distinct(published.c.patent_id)))
        .where(published.c.owner_organization_id.in_(ids)).group_by(published.c.owner_organization_id)).all())
    return university_rows(rows, patents, listed)


def top_sellers(d, dp, top: int) -> tuple[list, dict[int, int]]:
    """The most active sellers (universities and institutes) by amount, then by deals, and the patents
    each converted."""
    seller = d.c.seller_organization_id
    rows = db.session.execute(
        sa.select(Organization.id, Organization.name, Organization.kind, sa.func.count(), sa.func.sum(d.c.amount_fen))
        .join(Organization, Organization.id == seller)
        .where(Organization.kind.in_(("university", "institute")))
        .group_by(Organization.id, Organization.name, Organization.kind)
        .order_by(sa.func.sum(d.c.amount_fen).desc(), sa.func.count().desc(), Organization.id).limit(top)).all()
    ids = [row[0] for row in rows]
    patents = dict(db.session.execute(
        sa.select(d.c.seller_organization_id, sa.func.count(sa.distinct(dp.c.patent_id)))
        .join(dp, dp.c.deal_id == d.c.id).where(d.c.seller_organization_id.in_(ids))
        .group_by(d.c.seller_organization_id)).all())
    return rows, patents


def university_rows(rows, patents: dict, listed: dict) -> list[dict]:
    return [{"organization_id": org_id, "name": name, "kind": kind, "deals": n, "amount_fen": int(amount),
             "patents_converted": patents.get(org_id, 0), "patents_listed": listed.get(org_id, 0)}
            for org_id, name, kind, n, amount in rows]


def _by_field(d, dp, published) -> list[dict]:
    field_deals = sa.select(dp.c.field, dp.c.deal_id).distinct().subquery("fd")
    deal_rows = {row[0]: row[1:] for row in db.session.execute(
        sa.select(field_deals.c.field, sa.func.count(), sa.func.sum(d.c.amount_fen))
        .join(d, d.c.id == field_deals.c.deal_id).group_by(field_deals.c.field))}
    converted = dict(db.session.execute(
        sa.select(dp.c.field, sa.func.count(sa.distinct(dp.c.patent_id))).group_by(dp.c.field)).all())
    listed = dict(db.session.execute(
        sa.select(published.c.field, sa.func.count(sa.distinct(published.c.patent_id))).group_by(published.c.field)
    ).all())
    fields = sorted(set(deal_rows) | set(listed), key=lambda name: (name is None, name or ""))
    out = [{"field": name, "patents_listed": listed.get(name, 0), "patents_converted": converted.get(name, 0),
            "deals": deal_rows.get(name, (0, 0))[0], "amount_fen": int(deal_rows.get(name, (0, 0))[1] or 0)}
           for name in fields]
    return sorted(out, key=lambda row: (-row["amount_fen"], -row["patents_listed"], row["field"] or "~"))


def _by_mode(by_kind: dict, published) -> list[dict]:
    """Listings published by mode beside the deals of the same kind (a deal's kind is the mode it took)."""
    listed = dict(db.session.execute(sa.select(published.c.mode, sa.func.count()).group_by(published.c.mode)).all())
    none = {"deals": 0, "amount_fen": 0}
    return [{"mode": mode, "listings_published": listed.get(mode, 0), **by_kind.get(mode, none)}
            for mode in sorted(set(by_kind) | set(listed))]


def _by_month(f: Filters, d, dp, published) -> list[dict]:
    month = month_of_date(d.c.signed_on)
    deal_rows = {row[0]: row[1:] for row in db.session.execute(
        sa.select(month, sa.func.count(), sa.func.sum(d.c.amount_fen)).group_by(month))}
    patent_month = month_of_date(dp.c.signed_on)
    converted = dict(db.session.execute(
        sa.select(patent_month, sa.func.count(sa.distinct(dp.c.patent_id))).group_by(patent_month)).all())
    listed_month = month_of_moment(published.c.listed_at)
    listed = dict(db.session.execute(sa.select(listed_month, sa.func.count()).group_by(listed_month)).all())
    sold = lots_sold_by_month(f)
    months = sorted(set(deal_rows) | set(listed) | set(sold))
    return [{"month": m, "deals": deal_rows.get(m, (0, 0))[0], "amount_fen": int(deal_rows.get(m, (0, 0))[1] or 0),
             "patents_converted": converted.get(m, 0), "listings_published": listed.get(m, 0),
             "lots_sold": sold.get(m, 0)} for m in months]


def filters_for(actor, args: dict) -> Filters:
    """The filters a caller may use: staff any; a university or institute its own organisation only."""
    outlet_id = None
    if args.get("outlet"):
        outlet_id = db.session.scalar(sa.select(Outlet.id).where(Outlet.code == args["outlet"]))
        if outlet_id is None:
            raise Invalid("outlet_not_found", f"no outlet {args['outlet']!r}", field="outlet")
    organization_id = args.get("organization")
    if not actor.is_staff:
        if organization_id is not None and organization_id != actor.organization_id:
            raise Forbidden("not_your_organization", "a university sees the figures of its own organisation")
        organization_id = actor.organization_id
    elif organization_id is not None and db.session.get(Organization, organization_id) is None:
        raise Invalid("organization_not_found", f"no organisation {organization_id}", field="organization")
    return Filters(start=args.get("start"), end=args.get("end"), outlet_id=outlet_id, field=args.get("field"),
                   organization_id=organization_id)
