"""The overview added up from the cells (cells.py) instead of the rows: the same figures as
queries.overview_from_rows, by the same definitions (queries.py), in a few queries over a few thousand
cells. Distinct patents: a cell counts listings (or a deal's patents), which is the number of patents
for every patent with one listing (one deal); the few patents with more are counted from their rows and
the difference is taken off."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date

import sqlalchemy as sa

from app.auth.models import Organization
from app.deals.rules import LICENSE_KINDS, OWNERSHIP_KINDS
from app.extensions import db
from app.outlets.models import Outlet
from app.patents.rules import PUBLISHED_STATUSES

from . import cells, queries
from .queries import Filters, _rate, month_of_date


def _field(name: str) -> str | None:
    return name or None  # cells keep '' for a patent without a field


def _distinct(rows_by_group: Counter, shared: list[tuple], group_of) -> Counter:
    """Patents per group: the cells' rows per group, less the shared patents' rows, plus those patents
    once per group (`shared`: (patent id, row) pairs of the selection; `group_of(row)`: its groups)."""
    out = Counter(rows_by_group)
    seen: dict = defaultdict(set)
    for patent_id, row in shared:
        for group in group_of(row):
            out[group] -= 1
            seen[group].add(patent_id)
    for group, patents in seen.items():
        out[group] += len(patents)
    return out


def _in_period(day: date | None, f: Filters) -> bool:
    return day is not None and (not f.start or day >= f.start) and (not f.end or day <= f.end)


def overview(f: Filters, top: int = 10) -> dict:
    """The figures of `f`; for an organisation (seller or buyer) from the rows, since the cells keep no
    buyers and one organisation's rows are few."""
    if f.organization_id is not None:
        return queries.overview_from_rows(f, top)
    dirty_days, dirty_months = cells.dirty_units()
    listings = _listings(f, dirty_days)
    deals = _deals(f, dirty_months)
    by_kind = {kind: {"deals": n, "amount_fen": amount} for kind, (n, amount) in sorted(deals["by_kind"].items())}
    converted, listed = deals["converted"][()], listings["patents"][()]
    rows, patents = _top_sellers(f, dirty_months, deals["shared"], top)
    return {
        "period": {"from": f.start, "to": f.end},
        "totals": {
            "deals": sum(row["deals"] for row in by_kind.values()),
            "amount_fen": sum(row["amount_fen"] for row in by_kind.values()),
            "deals_by_kind": by_kind,
            "deals_by_source": {source: {"deals": n, "amount_fen": amount}
                                for source, (n, amount) in sorted(deals["by_source"].items())},
            "patents_converted": converted,
            "patents_transferred": deals["converted"]["ownership"],
            "patents_licensed": deals["converted"]["licence"],
            "listings_published": listings["published"],
            "patents_listed": listed,
            "conversion_rate": _rate(converted, listed),
            "listings_by_status": listings["by_status"],
            "patents_on_offer": listings["on_offer"],
            **queries.lot_figures(f), **queries.demand_figures(f),
        },
        "by_outlet": _by_outlet(f, listings, deals),
        "by_university": queries.university_rows(
            rows, patents, {org_id: listings["patents"][("org", org_id)] for org_id, *_ in rows}),
        "by_field": _by_field(listings, deals),
        "by_mode": [{"mode": mode, "listings_published": listings["by_mode"].get(mode, 0),
                     **by_kind.get(mode, {"deals": 0, "amount_fen": 0})}
                    for mode in sorted(set(by_kind) | set(listings["by_mode"]))],
        "by_month": _by_month(f, listings, deals),
    }


def public_figures() -> dict:
    """The headline figures of a public page (all time, every outlet), by the overview's own counts."""
    dirty_days, dirty_months = cells.dirty_units()
    f = Filters()
    deals = _deals(f, dirty_months)
    return {"outlets": db.session.scalar(sa.select(sa.func.count()).select_from(Outlet)) or 0,
            "patents_on_offer": _listings(f, dirty_days)["on_offer"],
            "patents_converted": deals["converted"][()],
            "amount_fen": sum(amount for _, amount in deals["by_kind"].values())}


def _listings(f: Filters, dirty: set[date]) -> dict:
    scope = f.outlet_id or cells.ALL_OUTLETS
    published = cells.listing_source(dirty, f.start, f.end, published=True)
    where = [published.c.field == f.field] if f.field else []
    month = month_of_date(published.c.day)
    keys = (month, published.c.field, published.c.organization_id, published.c.mode)
    by_month, by_mode, rows = Counter(), Counter(), Counter()
    for m, field, org, mode, n in db.session.execute(
            sa.select(*keys, sa.func.sum(published.c.listings)).where(published.c.outlet_id == scope, *where)
            .group_by(*keys)):
        n = int(n)
        by_month[m] += n
        by_mode[mode] += n
        rows[()] += n
        rows[("field", _field(field))] += n
        rows[("org", org)] += n
    outlets = (published.c.outlet_id == f.outlet_id) if f.outlet_id else (published.c.outlet_id != cells.ALL_OUTLETS)
    for outlet_id, n in db.session.execute(sa.select(published.c.outlet_id, sa.func.sum(published.c.listings))
                                           .where(outlets, *where).group_by(published.c.outlet_id)):
        rows[("outlet", outlet_id)] += int(n)
    published_n = rows[()]

    every = cells.listing_source(dirty, None, None, published=False)
    by_status = {status: int(n) for status, n in db.session.execute(
        sa.select(every.c.status, sa.func.sum(every.c.listings))
        .where(every.c.outlet_id == scope, *([every.c.field == f.field] if f.field else []))
        .group_by(every.c.status))}
    offered = Counter({(): sum(n for status, n in by_status.items() if status in PUBLISHED_STATUSES)})

    in_scope, in_period = [], []
    for row in cells.shared_listings(dirty):
        _, patent_id, listed_on, status, field, _org, outlet_ids = row
        if (f.field and field != f.field) or (f.outlet_id and f.outlet_id not in outlet_ids):
            continue
        in_scope.append((patent_id, row))
        if _in_period(listed_on, f):
            in_period.append((patent_id, row))

    def groups(row):
        _, _, _, _, field, org, outlet_ids = row
        return [(), ("field", field), ("org", org), *(("outlet", o) for o in outlet_ids
                                                      if not f.outlet_id or o == f.outlet_id)]

    return {"published": published_n, "by_month": by_month, "by_mode": dict(by_mode), "rows": rows,
            "patents": _distinct(rows, in_period, groups), "by_status": by_status,
            "on_offer": _distinct(offered, [(p, r) for p, r in in_scope if r[3] in PUBLISHED_STATUSES],
                                  lambda row: [()])[()]}


def _deals(f: Filters, dirty: set[date]) -> dict:
    source = cells.deal_source(dirty, f.start, f.end)
    where = [source.c.field == (f.field or cells.ALL_FIELDS)]
    if f.outlet_id:
        where.append(source.c.outlet_id == f.outlet_id)
    month = month_of_date(source.c.month)
    keys = (month, source.c.outlet_id, source.c.kind, source.c.source)
    by_kind, by_source, by_outlet, by_month = (defaultdict(lambda: [0, 0]) for _ in range(4))
    patents = Counter()
    for m, outlet_id, kind, origin, n, amount, count in db.session.execute(
            sa.select(*keys, sa.func.sum(source.c.deals), sa.func.sum(source.c.amount_fen),
                      sa.func.sum(source.c.patents)).where(*where).group_by(*keys)):
        n, amount, count = int(n), int(amount), int(count)
        for table, key in ((by_kind, kind), (by_source, origin), (by_outlet, outlet_id), (by_month, m)):
            table[key][0] += n
            table[key][1] += amount
        for group in _deal_groups(kind, outlet_id, m):
            patents[group] += count
    fields = {}
    field_where = [source.c.field != cells.ALL_FIELDS]
    if f.field:
        field_where = [source.c.field == f.field]
    if f.outlet_id:
        field_where.append(source.c.outlet_id == f.outlet_id)
    for field, n, amount, count in db.session.execute(
            sa.select(source.c.field, sa.func.sum(source.c.deals), sa.func.sum(source.c.amount_fen),
                      sa.func.sum(source.c.patents)).where(*field_where).group_by(source.c.field)):
        fields[_field(field)] = (int(n), int(amount))
        patents[("field", _field(field))] += int(count)

    selected = []
    for row in cells.shared_deal_patents(dirty):
        _, patent_id, signed_on, kind, outlet_id, _seller, field = row
        if (f.field and field != f.field) or (f.outlet_id and outlet_id != f.outlet_id) or not _in_period(signed_on, f):
            continue
        selected.append((patent_id, row))

    def groups(row):
        _, _, signed_on, kind, outlet_id, _, field = row
        return _deal_groups(kind, outlet_id or 0, signed_on.strftime("%Y-%m"), field)

    return {"by_kind": dict(by_kind), "by_source": dict(by_source), "by_outlet": dict(by_outlet),
            "by_month": dict(by_month), "fields": fields, "converted": _distinct(patents, selected, groups),
            "shared": selected}


def _top_sellers(f: Filters, dirty: set[date], shared: list[tuple], top: int) -> tuple[list, dict[int, int]]:
    """queries.top_sellers from the seller cells: the universities and institutes first by amount, then by
    deals, then by id; and the patents each converted."""
    source = cells.deal_source(dirty, f.start, f.end, sellers=True)
    where = [source.c.field == (f.field or cells.ALL_FIELDS)]
    if f.outlet_id:
        where.append(source.c.outlet_id == f.outlet_id)
    totals = {seller: (int(n), int(amount), int(count)) for seller, n, amount, count in db.session.execute(
        sa.select(source.c.seller_organization_id, sa.func.sum(source.c.deals), sa.func.sum(source.c.amount_fen),
                  sa.func.sum(source.c.patents)).where(*where).group_by(source.c.seller_organization_id))}
    names = {org_id: (name, kind) for org_id, name, kind in db.session.execute(
        sa.select(Organization.id, Organization.name, Organization.kind).where(
            Organization.id.in_(list(totals)), Organization.kind.in_(("university", "institute"))))}
    ranked = sorted(names, key=lambda org_id: (-totals[org_id][1], -totals[org_id][0], org_id))[:top]
    patents = _distinct(Counter({("seller", org_id): totals[org_id][2] for org_id in ranked}), shared,
                        lambda row: [("seller", row[5])])
    return ([(org_id, *names[org_id], totals[org_id][0], totals[org_id][1]) for org_id in ranked],
            {org_id: patents[("seller", org_id)] for org_id in ranked})


def _deal_groups(kind: str, outlet_id: int, month: str, *field) -> list:
    """The groups a deal's patent counts in; its field's group only when `field` is given (the cells count
    fields apart, in their field scope)."""
    kind_class = "ownership" if kind in OWNERSHIP_KINDS else "licence" if kind in LICENSE_KINDS else "other"
    return [(), kind_class, ("outlet", outlet_id), ("month", month), *(("field", name) for name in field)]


def _by_outlet(f: Filters, listings: dict, deals: dict) -> list[dict]:
    outlets = db.session.execute(sa.select(Outlet.id, Outlet.code, Outlet.name).order_by(Outlet.code)
                                 .where(Outlet.id == f.outlet_id if f.outlet_id else sa.true())).all()
    return [{"outlet_code": code, "name": name, "listings_published": listings["rows"][("outlet", outlet_id)],
             "patents_listed": listings["patents"][("outlet", outlet_id)],
             "deals": deals["by_outlet"].get(outlet_id, (0, 0))[0],
             "amount_fen": deals["by_outlet"].get(outlet_id, (0, 0))[1],
             "patents_converted": deals["converted"][("outlet", outlet_id)]} for outlet_id, code, name in outlets]


def _by_field(listings: dict, deals: dict) -> list[dict]:
    listed = {key[1]: n for key, n in listings["patents"].items() if key and key[0] == "field" and n}
    names = sorted(set(deals["fields"]) | set(listed), key=lambda name: (name is None, name or ""))
    out = [{"field": name, "patents_listed": listed.get(name, 0),
            "patents_converted": deals["converted"][("field", name)],
            "deals": deals["fields"].get(name, (0, 0))[0], "amount_fen": deals["fields"].get(name, (0, 0))[1]}
           for name in names]
    return sorted(out, key=lambda row: (-row["amount_fen"], -row["patents_listed"], row["field"] or "~"))


def _by_month(f: Filters, listings: dict, deals: dict) -> list[dict]:
    sold = queries.lots_sold_by_month(f)
    months = sorted(set(deals["by_month"]) | {m for m, n in listings["by_month"].items() if n} | set(sold))
    none = (0, 0)
    return [{"month": m, "deals": deals["by_month"].get(m, none)[0], "amount_fen": deals["by_month"].get(m, none)[1],
             "patents_converted": deals["converted"][("month", m)], "listings_published": listings["by_month"][m],
             "lots_sold": sold.get(m, 0)} for m in months]
