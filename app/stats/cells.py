"""The statistics' cells (models.py): which days and months changed, the refresh that works their cells out
again from the rows, and the cells-or-rows sources the overview adds up.

- Marking: a flush that writes a listing, a patent's field or owner, or a deal adds a `stats_dirty` row for
  each day (listings, by `listed_on`) or month (deals, by `signed_on`) it touches, in the same transaction,
  and asks for one `stats.refresh` job at the commit, which the worker runs. Bulk writers that bypass the
  ORM emit `listings.bulk_written`.
- Refresh: under one lock at a time, recomputes the cells of the dirty days and months from the rows,
  records the patents that now have more than one listing or deal, and deletes the dirty rows it read.
- Reading: a source is the stored cells of the clean units in a period plus the same cells worked out
  from the rows for the dirty units (and, for deals, the parts of months a period cuts), so a figure is
  exact whether or not the refresh has run.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy import orm

from app import events
from app.deals.models import Deal, DealPatent
from app.extensions import db
from app.jobs import Every, job, request_at_commit
from app.patents.models import Listing, ListingOutlet, Patent

from .models import DealCell, ListingCell, SellerCell, SharedPatent, StatsDirty
from .queries import dialect, month_start

LISTING, DEAL = "listing", "deal"
UNLISTED = date(1900, 1, 1)  # the day of listings never published (drafts, pending review)
ALL_OUTLETS, ALL_FIELDS = 0, "*"
REFRESH_JOB = "stats.refresh"
REFRESH_LOCK = 0x5747_0001  # the PostgreSQL advisory lock that keeps to one refresh at a time


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def _unit_of(subject: str, day: date | None) -> date:
    if subject == LISTING:
        return day or UNLISTED
    return month_of(day)


# -- marking ----------------------------------------------------------------------------------------------

def mark(subject: str, units) -> None:
    """Record in the current transaction that these days (listings) or months (deals) changed."""
    _add_dirty(db.session, {subject: set(units)})


@events.in_transaction("listings.bulk_written")
def _bulk_written(actor=None, listed_on=()) -> None:
    mark(LISTING, [date.fromisoformat(day) if day else None for day in listed_on])


def _add_dirty(session, changed: dict[str, set]) -> None:
    for subject, units in changed.items():
        units = {_unit_of(subject, unit) for unit in units if subject == LISTING or unit is not None}
        if units:
            session.add_all([StatsDirty(subject=subject, unit=unit) for unit in sorted(units)])
            request_at_commit(REFRESH_JOB)


def _changed_units(session: orm.Session) -> dict[str, set]:
    units: dict[str, set] = {LISTING: set(), DEAL: set()}
    patents = []
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, Listing):
            if obj in session.dirty and not session.is_modified(obj):
                continue
            history = sa.inspect(obj).attrs.listed_on.history
            units[LISTING].update(day for day in (*history.deleted, obj.listed_on))
        elif isinstance(obj, Deal):
            if obj in session.dirty and not session.is_modified(obj):
                continue
            history = sa.inspect(obj).attrs.signed_on.history
            units[DEAL].update(day for day in (*history.deleted, obj.signed_on) if day is not None)
        elif isinstance(obj, Patent) and obj in session.dirty:
            state = sa.inspect(obj)
            if state.attrs.field.history.has_changes() or state.attrs.owner_organization_id.history.has_changes():
                patents.append(obj.id)
    if patents:
        with session.no_autoflush:
            units[LISTING].update(session.scalars(sa.select(Listing.listed_on).where(
                Listing.patent_id.in_(patents)).distinct()))
            units[DEAL].update(session.scalars(sa.select(Deal.signed_on).join(
                DealPatent, DealPatent.deal_id == Deal.id).where(DealPatent.patent_id.in_(patents)).distinct()))
    return units


_installed = False


def install_session_hooks() -> None:
    global _installed
    if _installed:
        return
    _installed = True

    @sa.event.listens_for(orm.Session, "before_flush")
    def _mark_changed_units(session: orm.Session, _context, _instances) -> None:
        if not (db.session.registry.has() and db.session() is session):
            return
        _add_dirty(session, _changed_units(session))


# -- cells from the rows ----------------------------------------------------------------------------------

def _ranges(units: list[date], step) -> list[tuple[date, date]]:
    """Half-open date ranges covering the units (adjacent ones merged)."""
    return _merge([(unit, step(unit)) for unit in units])


def _within(column, ranges: list[tuple[date, date]]):
    if not ranges:
        return sa.false()
    return sa.or_(*[sa.and_(column >= a, column < b) for a, b in ranges])


def listing_days(days) -> sa.ColumnElement:
    """The listings of these days (UNLISTED: the never published)."""
    days = set(days)
    condition = _within(Listing.listed_on, _ranges([d for d in days if d != UNLISTED], lambda d: d + timedelta(1)))
    if UNLISTED in days:
        condition = sa.or_(condition, Listing.listed_on.is_(None))
    return condition


def listing_rows(condition) -> list[sa.Select]:
    """Listing cells worked out from the listings that meet `condition` (selects to UNION ALL: SQLite
    takes no parenthesised compound select inside another)."""
    rows = (sa.select(Listing.id, sa.func.coalesce(Listing.listed_on, UNLISTED).label("day"),
                      sa.func.coalesce(Patent.field, "").label("field"),
                      Patent.owner_organization_id.label("organization_id"), Listing.mode, Listing.status)
            .join(Patent, Patent.id == Listing.patent_id).where(condition).subquery("lr"))
    keys = (rows.c.day, rows.c.field, rows.c.organization_id, rows.c.mode, rows.c.status)
    every = (sa.select(rows.c.day, sa.literal(ALL_OUTLETS).label("outlet_id"), *keys[1:],
                       sa.func.count().label("listings")).group_by(*keys))
    shelved = (sa.select(rows.c.day, ListingOutlet.outlet_id, *keys[1:], sa.func.count().label("listings"))
               .join(ListingOutlet, ListingOutlet.listing_id == rows.c.id).group_by(ListingOutlet.outlet_id, *keys))
    return [every, shelved]


def deal_rows(condition, columns: tuple[str, ...] | None = None) -> list[sa.Select]:
    """Deal cells (or, with SELLER_COLUMNS, seller cells) worked out from the deals that count and meet
    `condition` (selects to UNION ALL)."""
    columns = columns or DEAL_COLUMNS
    counted = sa.and_(Deal.status != "cancelled", condition)
    dims = {"month": month_start(Deal.signed_on), "outlet_id": sa.func.coalesce(Deal.outlet_id, 0),
            "seller_organization_id": sa.func.coalesce(Deal.seller_organization_id, 0), "kind": Deal.kind,
            "source": Deal.source}
    names = [name for name in columns if name in dims]
    grouped = [Deal.signed_on if name == "month" else getattr(Deal, name) for name in names]
    patents = (sa.select(sa.func.count()).select_from(DealPatent).where(DealPatent.deal_id == Deal.id)
               .scalar_subquery())
    deals = (sa.select(*[dims[name].label(name) for name in names], Deal.amount_fen, patents.label("patents"))
             .where(counted).subquery("dr"))
    # A deal once per field among its patents, with its whole amount and its patents of that field.
    per_field = (sa.select(*[dims[name].label(name) for name in names],
                           sa.func.coalesce(Patent.field, "").label("field"), Deal.amount_fen,
                           sa.func.count().label("patents"))
                 .join(DealPatent, DealPatent.deal_id == Deal.id).join(Patent, Patent.id == DealPatent.patent_id)
                 .where(counted).group_by(Deal.id, *grouped, Deal.amount_fen, Patent.field).subquery("fr"))
    out = []
    for rows, field in ((deals, sa.literal(ALL_FIELDS)), (per_field, per_field.c.get("field"))):
        keys = [rows.c[name] for name in names] + ([field] if rows is per_field else [])
        values = {name: rows.c[name] for name in names}
        values |= {"field": field, "deals": sa.func.count(), "amount_fen": sa.func.sum(rows.c.amount_fen),
                   "patents": sa.func.sum(rows.c.patents)}
        out.append(sa.select(*[values[name].label(name) for name in columns]).group_by(*keys))
    return out


LISTING_COLUMNS = ("day", "outlet_id", "field", "organization_id", "mode", "status", "listings")
DEAL_COLUMNS = ("month", "outlet_id", "field", "kind", "source", "deals", "amount_fen", "patents")
SELLER_COLUMNS = ("month", "seller_organization_id", "outlet_id", "field", "deals", "amount_fen", "patents")


# -- refresh ----------------------------------------------------------------------------------------------

def _lock() -> bool:
    if dialect() == "postgresql":
        return bool(db.session.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(REFRESH_LOCK))))
    return True  # SQLite: the write transaction itself is the one lock


def refresh(limit: int = 5000) -> int:
    """Work out again the cells of (up to `limit`) dirty units; returns how many units. Commits."""
    if not _lock():
        db.session.rollback()
        return 0
    dirty = db.session.execute(sa.select(StatsDirty.id, StatsDirty.subject, StatsDirty.unit)
                               .order_by(StatsDirty.id).limit(limit)).all()
    if not dirty:
        db.session.commit()
        return 0
    days = {unit for _, subject, unit in dirty if subject == LISTING}
    months = {unit for _, subject, unit in dirty if subject == DEAL}
    if days:
        condition = listing_days(days)
        db.session.execute(sa.delete(ListingCell).where(ListingCell.day.in_(days)))
        db.session.execute(sa.insert(ListingCell).from_select(LISTING_COLUMNS, sa.union_all(*listing_rows(condition))))
        _record_shared(LISTING, sa.select(Listing.patent_id).where(condition), Listing.patent_id)
    if months:
        condition = _within(Deal.signed_on, _ranges(list(months), next_month))
        for model, columns in ((DealCell, DEAL_COLUMNS), (SellerCell, SELLER_COLUMNS)):
            db.session.execute(sa.delete(model).where(model.month.in_(months)))
            db.session.execute(sa.insert(model).from_select(columns, sa.union_all(*deal_rows(condition, columns))))
        _record_shared(DEAL, sa.select(DealPatent.patent_id).join(Deal, Deal.id == DealPatent.deal_id)
                       .where(condition), DealPatent.patent_id)
    db.session.execute(sa.delete(StatsDirty).where(StatsDirty.id.in_([row[0] for row in dirty])))
    db.session.commit()
    return len(days) + len(months)


def _record_shared(subject: str, touched: sa.Select, patent_column) -> None:
    """The patents of `touched` with more than one row (listing, or deal) anywhere become shared."""
    several = (sa.select(patent_column).where(patent_column.in_(touched.scalar_subquery()))
               .group_by(patent_column).having(sa.func.count() > 1))
    known = sa.select(SharedPatent.patent_id).where(SharedPatent.subject == subject)
    new = db.session.scalars(several.where(patent_column.not_in(known))).all()
    if new:
        db.session.execute(sa.insert(SharedPatent), [{"subject": subject, "patent_id": pid} for pid in new])


def refresh_all(progress=None) -> int:
    """Refresh until nothing is dirty (or another process is refreshing); returns how many units."""
    total = 0
    while done := refresh():
        total += done
        if progress is not None:
            progress()
    return total


def rebuild() -> int:
    """Mark every day and month with rows as dirty and refresh them all (after a bulk load, or to check)."""
    days = set(db.session.scalars(sa.select(Listing.listed_on).distinct()))
    months = set(db.session.scalars(sa.select(month_start(Deal.signed_on)).distinct()))
    for model in (ListingCell, DealCell, SellerCell):
        db.session.execute(sa.delete(model))
    mark(LISTING, days or [])
    mark(DEAL, months or [])
    db.session.commit()
    return refresh_all()


# Not eager: a write request does not wait for it (the overview is exact without it); the worker runs it
# within its poll interval, and every minute whatever a failed run left.
@job(REFRESH_JOB, coalesce=True, schedule=Every(60), lease_seconds=600)
def refresh_job(payload: dict, ctx) -> None:
    refresh_all(ctx.heartbeat)


def backlog() -> dict:
    """Days and months awaiting the refresh (read from the rows meanwhile: slower, never wrong)."""
    listing_days_, deal_months = dirty_units()
    return {"ok": True, "dirty_days": len(listing_days_), "dirty_months": len(deal_months)}


# -- reading ----------------------------------------------------------------------------------------------

def dirty_units() -> tuple[set[date], set[date]]:
    rows = db.session.execute(sa.select(StatsDirty.subject, StatsDirty.unit).distinct()).all()
    return ({unit for subject, unit in rows if subject == LISTING},
            {unit for subject, unit in rows if subject == DEAL})


def listing_source(dirty: set[date], start: date | None, end: date | None, *, published: bool) -> sa.Subquery:
    """Listing cells: of the days in [start, end] (published listings only), or of every day (`published`
    False: the present status of every listing). Stored cells for clean days, the rows for dirty ones."""
    stored = sa.select(*[getattr(ListingCell, name) for name in LISTING_COLUMNS])
    if published:
        stored = stored.where(ListingCell.day != UNLISTED)
        if start:
            stored = stored.where(ListingCell.day >= start)
        if end:
            stored = stored.where(ListingCell.day <= end)
        dirty = {day for day in dirty if day != UNLISTED and (not start or day >= start) and (not end or day <= end)}
    if not dirty:
        return stored.subquery("lc")
    stored = stored.where(ListingCell.day.not_in(dirty))
    return sa.union_all(stored, *listing_rows(listing_days(dirty))).subquery("lc")


def deal_source(dirty: set[date], start: date | None, end: date | None, *, sellers: bool = False) -> sa.Subquery:
    """Deal cells (seller cells) of [start, end]: stored cells for the whole clean months inside it; from
    the rows for dirty months and for the parts of months the period cuts."""
    model, columns = (SellerCell, SELLER_COLUMNS) if sellers else (DealCell, DEAL_COLUMNS)
    stored = sa.select(*[getattr(model, name) for name in columns])
    rows: list[tuple[date, date]] = []  # half-open ranges of signed_on read from the rows
    after = end + timedelta(1) if end else None
    if start:
        first_whole = start if start.day == 1 else next_month(month_of(start))
        stored = stored.where(model.month >= first_whole)
        if start < first_whole:
            rows.append((start, min(first_whole, after) if after else first_whole))
    if after:
        last_whole = month_of(after)  # the months before it end within the period
        stored = stored.where(model.month < last_whole)
        if last_whole < after:
            rows.append((max(last_whole, start) if start else last_whole, after))
    inside = {m for m in dirty if (not start or next_month(m) > start) and (not end or m <= end)}
    if inside:
        stored = stored.where(model.month.not_in(inside))
        for month in sorted(inside):
            a, b = month, next_month(month)
            a, b = max(a, start) if start else a, min(b, after) if after else b
            if a < b:
                rows.append((a, b))
    if not rows:
        return stored.subquery("dc")
    rows = _merge(rows)
    return sa.union_all(stored, *deal_rows(_within(Deal.signed_on, rows), columns)).subquery("dc")


def _merge(ranges: list[tuple[date, date]]) -> list[tuple[date, date]]:
    out: list[list[date]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def shared_listings(dirty: set[date]):
    """(listing id, patent id, listed_on, status, field, owner, outlet ids) of every listing of a patent
    that has more than one: the rows that distinct-patent figures count themselves."""
    shared = sa.select(SharedPatent.patent_id).where(SharedPatent.subject == LISTING)
    if dirty:
        other = Listing.__table__.alias("other")
        others = sa.select(Listing.patent_id).where(listing_days(dirty)).where(
            sa.select(sa.literal(1)).select_from(other).where(
                other.c.patent_id == Listing.patent_id, other.c.id != Listing.id).exists())
        shared = sa.union(shared, others)
    rows = db.session.execute(
        sa.select(Listing.id, Listing.patent_id, Listing.listed_on, Listing.status, Patent.field,
                  Patent.owner_organization_id)
        .join(Patent, Patent.id == Listing.patent_id).where(Listing.patent_id.in_(shared))).all()
    outlets: dict[int, list[int]] = {}
    if rows:
        for listing_id, outlet_id in db.session.execute(sa.select(ListingOutlet.listing_id, ListingOutlet.outlet_id)
                                                        .where(ListingOutlet.listing_id.in_([r[0] for r in rows]))):
            outlets.setdefault(listing_id, []).append(outlet_id)
    return [(*row, outlets.get(row[0], [])) for row in rows]


def shared_deal_patents(dirty: set[date]):
    """(deal id, patent id, signed_on, kind, outlet id, seller, field) of every counted deal of a patent
    that has been in more than one deal."""
    shared = sa.select(SharedPatent.patent_id).where(SharedPatent.subject == DEAL)
    if dirty:
        other = DealPatent.__table__.alias("other")
        others = (sa.select(DealPatent.patent_id).join(Deal, Deal.id == DealPatent.deal_id)
                  .where(_within(Deal.signed_on, _ranges(list(dirty), next_month)))
                  .where(sa.select(sa.literal(1)).select_from(other).where(
                      other.c.patent_id == DealPatent.patent_id, other.c.deal_id != DealPatent.deal_id).exists()))
        shared = sa.union(shared, others)
    return db.session.execute(
        sa.select(Deal.id, DealPatent.patent_id, Deal.signed_on, Deal.kind, Deal.outlet_id,
                  Deal.seller_organization_id, Patent.field)
        .join(DealPatent, DealPatent.deal_id == Deal.id).join(Patent, Patent.id == DealPatent.patent_id)
        .where(Deal.status != "cancelled", DealPatent.patent_id.in_(shared))).all()
