"""Statistics and exports against hand-computed figures: deals across outlets, months, kinds and sources,
a cancelled deal, a package, a deal agreed after the event, a listing published just after midnight in
Shanghai (still March in UTC), an unsold lot, demands with and without an inquiry."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from app import clock
from app.auctions import services as auctions
from app.auth.models import SYSTEM
from app.deals import services as deal_services
from app.extensions import db
from app.jobs import run_due
from app.outlets.models import Outlet
from app.patents import listings as listing_services
from app.patents.models import Listing
from app.stats import cells, queries, rollup

from .. import factories

NEW_ENERGY, FARMING, IT = "新能源", "现代农业", "新一代信息技术"


def bring_cells_up(state: str) -> None:
    """The overview's sources in each state they can be in: every day and month still dirty (read from the
    rows), all refreshed into cells, or some of each."""
    if state == "cells":
        while cells.refresh():
            pass
    elif state == "some cells":
        cells.refresh(limit=3)


@pytest.fixture(params=["rows", "cells", "some cells"])
def network(world, request):
    """Four listings (March, April), five deals (one cancelled, one a package), an unsold lot, two demands."""
    uni, other = world.uni.org, world.other_uni.org
    buyer = world.enterprise.org

    def patent(owner, ipc, title="一种测试专利"):
        return factories.patent(owner, ipc_codes=[ipc], title=title)

    clock.freeze(datetime(2026, 3, 10, 2, 0, tzinfo=UTC))
    p1, p2 = patent(uni, "H01M 4/58"), patent(other, "A01B 1/00")
    l1 = factories.listing(p1, "listed", outlet_codes=["baoshan"])
    l2 = factories.listing(p2, "listed", mode="exclusive_license", outlet_codes=["wuxi"])
    clock.freeze(datetime(2026, 3, 31, 17, 30, tzinfo=UTC))  # 2026-04-01 01:30 in Shanghai
    p3, p4 = patent(uni, "H01M 10/05"), patent(other, "G06F 17/00", "=HYPERLINK(\"http://x\")恶意标题")
    l3 = factories.listing(p3, "listed", outlet_codes=["baoshan"])
    l4 = factories.listing(p4, "listed", outlet_codes=["wuxi"])
    p5, p6 = patent(uni, "A01G 9/00"), patent(uni, "H01M 8/00")
    clock.freeze(datetime(2026, 6, 20, 1, 0, tzinfo=UTC))
    world.staff, world.uni, world.other_uni = (world.staff.renewed(), world.uni.renewed(),
                                               world.other_uni.renewed())
    enterprise = world.enterprise = world.enterprise.renewed()
    factories.deal([p1.id], uni, buyer, listing_id=l1.id, amount_fen=1_000_000, signed_on=date(2026, 3, 20))
    factories.deal([p2.id], other, buyer, listing_id=l2.id, kind="exclusive_license", license_term_months=12,
                   amount_fen=500_000, signed_on=date(2026, 4, 10), source="matching")
    factories.deal([p3.id, p5.id], uni, buyer, outlet_code="baoshan", amount_fen=2_000_000,
                   signed_on=date(2026, 4, 25), source="auction", after_event=True)
    cancelled = factories.deal([p4.id], other, buyer, listing_id=l4.id, amount_fen=3_000_000,
                               signed_on=date(2026, 5, 2))
    deal_services.cancel_deal(SYSTEM, cancelled.id, "买方放弃")
    factories.deal([p6.id], uni, buyer, kind="nonexclusive_license", license_term_months=12, amount_fen=300_000,
                   signed_on=date(2026, 5, 15))
    # An unsold lot in May (no bid): offered 1, unsold 1.
    clock.freeze(datetime(2026, 5, 9, 1, 0, tzinfo=UTC))
    session = auctions.create_auction(SYSTEM, {"title": "五月拍卖会", "outlet_code": "wuxi",
                                               "starts_at": datetime(2026, 5, 10, 1, 0, tzinfo=UTC),
                                               "ends_at": datetime(2026, 5, 11, 1, 0, tzinfo=UTC)})
    lot = auctions.add_lot(SYSTEM, session.id, {"listing_id": l4.id, "starting_price_fen": 100_000,
                                                "increment_fen": 10_000})
    clock.freeze(datetime(2026, 5, 12, 1, 0, tzinfo=UTC))
    auctions.close_lot(lot.id)
    clock.freeze(datetime(2026, 5, 1, 3, 0, tzinfo=UTC))
    asked = factories.demand(enterprise.user, title="求购电池正极材料技术")
    factories.demand(enterprise.user, title="求购农机具技术")
    factories.inquiry(enterprise.user, l3, demand_id=asked.id)
    clock.freeze(datetime(2026, 6, 20, 1, 0, tzinfo=UTC))
    db.session.commit()
    bring_cells_up(request.param)
    yield world
    clock.unfreeze()


def overview(client, world, headers=None, **args):
    response = client.get("/api/v1/stats/overview", query_string=args, headers=headers or world.staff.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_totals_over_all_time(client, network):
    totals = overview(client, network)["totals"]
    assert totals["deals"] == 4 and totals["amount_fen"] == 3_800_000  # the cancelled deal does not count
    assert totals["deals_by_kind"] == {"assignment": {"deals": 2, "amount_fen": 3_000_000},
                                       "exclusive_license": {"deals": 1, "amount_fen": 500_000},
                                       "nonexclusive_license": {"deals": 1, "amount_fen": 300_000}}
    assert totals["deals_by_source"] == {"auction": {"deals": 1, "amount_fen": 2_000_000},
                                         "matching": {"deals": 1, "amount_fen": 500_000},
                                         "negotiation": {"deals": 2, "amount_fen": 1_300_000}}
    assert (totals["patents_converted"], totals["patents_transferred"], totals["patents_licensed"]) == (5, 3, 2)
    assert (totals["listings_published"], totals["patents_listed"], totals["conversion_rate"]) == (4, 4, 1.25)
    assert totals["listings_by_status"] == {"listed": 3, "licensed": 1}
    assert totals["patents_on_offer"] == 3
    assert (totals["lots_offered"], totals["lots_sold"], totals["lots_unsold"], totals["lot_sale_rate"]) == \
        (1, 0, 1, 0.0)
    assert (totals["demands_posted"], totals["demands_with_inquiry"]) == (2, 1)


def test_breakdowns(client, network):
    body = overview(client, network)
    outlets = {row["outlet_code"]: row for row in body["by_outlet"]}
    assert outlets["baoshan"] == {"outlet_code": "baoshan", "name": "baoshan 店", "listings_published": 2,
                                  "patents_listed": 2, "deals": 2, "amount_fen": 3_000_000, "patents_converted": 3}
    assert outlets["wuxi"] == {"outlet_code": "wuxi", "name": "wuxi 店", "listings_published": 2,
                               "patents_listed": 2, "deals": 1, "amount_fen": 500_000, "patents_converted": 1}
    assert [(row["name"], row["deals"], row["amount_fen"], row["patents_converted"], row["patents_listed"])
            for row in body["by_university"]] == [("沪东理工大学", 3, 3_300_000, 4, 2),
                                                  ("太湖科技大学", 1, 500_000, 1, 2)]
    fields = {row["field"]: row for row in body["by_field"]}
    assert fields[NEW_ENERGY] == {"field": NEW_ENERGY, "patents_listed": 2, "patents_converted": 3, "deals": 3,
                                  "amount_fen": 3_300_000}
    # The package (新能源 + 现代农业) counts with its whole amount in both fields.
    assert fields[FARMING] == {"field": FARMING, "patents_listed": 1, "patents_converted": 2, "deals": 2,
                               "amount_fen": 2_500_000}
    assert fields[IT] == {"field": IT, "patents_listed": 1, "patents_converted": 0, "deals": 0, "amount_fen": 0}
    assert body["by_mode"] == [
        {"mode": "assignment", "listings_published": 3, "deals": 2, "amount_fen": 3_000_000},
        {"mode": "exclusive_license", "listings_published": 1, "deals": 1, "amount_fen": 500_000},
        {"mode": "nonexclusive_license", "listings_published": 0, "deals": 1, "amount_fen": 300_000}]
    assert body["by_month"] == [
        {"month": "2026-03", "deals": 1, "amount_fen": 1_000_000, "patents_converted": 1, "listings_published": 2,
         "lots_sold": 0},
        {"month": "2026-04", "deals": 2, "amount_fen": 2_500_000, "patents_converted": 3, "listings_published": 2,
         "lots_sold": 0},
        {"month": "2026-05", "deals": 1, "amount_fen": 300_000, "patents_converted": 1, "listings_published": 0,
         "lots_sold": 0}]


def test_filters_by_period_outlet_field_and_organisation(client, network):
    april = overview(client, network, **{"from": "2026-04-01", "to": "2026-04-30"})["totals"]
    assert (april["deals"], april["amount_fen"], april["patents_converted"]) == (2, 2_500_000, 3)
    assert (april["patents_transferred"], april["patents_licensed"]) == (2, 1)
    # The listing published at 01:30 on 1 April in Shanghai (31 March in UTC) is April's.
    assert (april["listings_published"], april["conversion_rate"]) == (2, 1.5)
    assert april["demands_posted"] == 0 and april["lots_offered"] == 0
    wuxi = overview(client, network, outlet="wuxi")["totals"]
    assert (wuxi["deals"], wuxi["amount_fen"], wuxi["listings_published"], wuxi["lots_unsold"]) == (1, 500_000, 2, 1)
    farming = overview(client, network, field=FARMING)["totals"]
    assert (farming["deals"], farming["amount_fen"], farming["patents_converted"]) == (2, 2_500_000, 2)
    assert (farming["patents_transferred"], farming["patents_licensed"], farming["listings_published"]) == (1, 1, 1)
    # A university sees its own organisation only, asked or not.
    own = overview(client, network, headers=network.other_uni.headers)["totals"]
    assert (own["deals"], own["amount_fen"], own["listings_published"]) == (1, 500_000, 2)
    refused = client.get("/api/v1/stats/overview", query_string={"organization": network.uni.org.id},
                         headers=network.other_uni.headers)
    assert refused.status_code == 403


def test_bad_queries_are_422_and_roles_are_enforced(client, network):
    def status(headers=None, **args):
        response = client.get("/api/v1/stats/overview", query_string=args, headers=headers or network.staff.headers)
        return response.status_code, response.get_json()

    code, body = status(**{"from": "2026-05-01", "to": "2026-04-01"})
    assert code == 422 and "from" in body["errors"]
    code, body = status(outlet="atlantis")
    assert code == 422 and body["reason"] == "outlet_not_found"
    assert status(field="炼金术")[0] == 422
    assert status(**{"from": "2026-13-01"})[0] == 422
    assert status(organization=999999)[0] == 422
    assert status(colour="red")[0] == 422
    assert status(headers=network.enterprise.headers)[0] == 403
    assert client.get("/api/v1/stats/overview").status_code == 401
    assert client.get("/api/v1/stats/export?report=deals", headers=network.uni.headers).status_code == 403
    assert client.get("/api/v1/stats/export?report=nothing", headers=network.staff.headers).status_code == 422


def test_public_figures_are_cacheable(client, network):
    response = client.get("/api/v1/stats/public")
    assert response.status_code == 200 and "max-age" in response.headers["Cache-Control"]
    assert response.get_json() == {"outlets": 2, "patents_on_offer": 3, "patents_converted": 5,
                                   "amount_fen": 3_800_000}
    again = client.get("/api/v1/stats/public", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def _export(client, world, report, fmt, **args):
    response = client.get("/api/v1/stats/export", query_string={"report": report, "format": fmt, **args},
                          headers=world.staff.headers)
    assert response.status_code == 200, response.data[:300]
    return response


def test_csv_exports_open_in_excel_and_match_the_overview(client, network):
    response = _export(client, network, "deals", "csv")
    assert response.data.startswith("\ufeff".encode()) and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["成交编号", "签约日期", "类型", "来源"]
    assert len(rows) == 1 + 4
    amounts = [row[rows[0].index("金额（元）")] for row in rows[1:]]
    assert amounts == ["10000.00", "5000.00", "20000.00", "3000.00"]
    assert rows[3][rows[0].index("拟成交")] == "是" and rows[3][rows[0].index("类型")] == "转让"
    outlets = list(csv.reader(io.StringIO(_export(client, network, "outlets", "csv").data.decode("utf-8-sig"))))
    by_code = {row[0]: row for row in outlets[1:]}
    for row in overview(client, network)["by_outlet"]:
        exported = by_code[row["outlet_code"]]
        assert [int(exported[2]), int(exported[4]), exported[6]] == [
            row["listings_published"], row["deals"], f"{row['amount_fen'] / 100:.2f}"]
    listings = list(csv.reader(io.StringIO(_export(client, network, "listings", "csv").data.decode("utf-8-sig"))))
    titles = [row[2] for row in listings[1:]]
    assert any(title.startswith("'=HYPERLINK") for title in titles)  # neutralised
    assert not any(title.startswith("=") for title in titles)


def test_xlsx_exports_are_typed_frozen_and_safe(client, network):
    workbook = load_workbook(io.BytesIO(_export(client, network, "deals", "xlsx", **{"from": "2026-04-01"}).data))
    sheet = workbook.active
    assert sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    assert header[0] == "成交编号" and len(rows) == 1 + 3
    amount = header.index("金额（元）")
    assert [row[amount] for row in rows[1:]] == [5000.0, 20000.0, 3000.0]
    assert sum(row[amount] for row in rows[1:]) * 100 == overview(client, network, **{"from": "2026-04-01"})[
        "totals"]["amount_fen"]
    signed = rows[1][header.index("签约日期")]
    assert isinstance(signed, datetime) and signed.date() == date(2026, 4, 10)
    assert sheet.cell(row=2, column=amount + 1).number_format == "#,##0.00"
    listings = load_workbook(io.BytesIO(_export(client, network, "listings", "xlsx").data)).active
    titles = [row[2] for row in listings.iter_rows(min_row=2, values_only=True)]
    hostile = [title for title in titles if title.startswith("=HYPERLINK")]
    assert hostile  # kept as written, but as text
    cell = next(c for c in listings["C"] if c.value in hostile)
    assert cell.data_type == "s"
    lots = load_workbook(io.BytesIO(_export(client, network, "auctions", "xlsx").data)).active
    assert [row[5] for row in lots.iter_rows(min_row=2, values_only=True)] == ["流拍"]


@pytest.mark.parametrize("state", ["rows", "cells", "some cells"])
def test_the_cells_add_up_to_the_rows_with_shared_patents_and_cut_months(world, state):
    """A patent listed twice (two modes, two outlets, two days), one licensed twice and one in a package
    beside it, deals either side of month ends, a patent moved to another field and a listing withdrawn
    after the refresh: whatever the cells' state, every figure of every filter equals the rows' own."""
    uni, buyer = world.uni.org, world.enterprise.org
    clock.freeze(datetime(2026, 1, 30, 3, 0, tzinfo=UTC))
    twice = factories.patent(uni, ipc_codes=["H01M 4/58"])
    first = factories.listing(twice, "listed", mode="nonexclusive_license", outlet_codes=["baoshan", "wuxi"])
    farm = factories.patent(uni, ipc_codes=["A01B 1/00"])
    factories.listing(farm, "listed", outlet_codes=["wuxi"])
    clock.freeze(datetime(2026, 2, 2, 3, 0, tzinfo=UTC))
    factories.listing(twice, "listed", mode="assignment", outlet_codes=["wuxi"])
    chip = factories.patent(uni, ipc_codes=["H01L 21/00"])
    draft = factories.listing(chip, "draft")
    clock.freeze(datetime(2026, 3, 5, 3, 0, tzinfo=UTC))
    licence = {"kind": "nonexclusive_license", "license_term_months": 12}
    factories.deal([twice.id], uni, buyer, amount_fen=100_000, signed_on=date(2026, 1, 31), **licence)
    factories.deal([twice.id, farm.id], uni, buyer, amount_fen=250_000, signed_on=date(2026, 2, 1),
                   outlet_code="wuxi", **licence)
    factories.deal([chip.id], uni, world.enterprise.org, amount_fen=70_000, signed_on=date(2026, 2, 28),
                   outlet_code="baoshan")
    db.session.commit()
    bring_cells_up(state)
    # Changes after the refresh leave their units dirty again (read from the rows, not the stale cells).
    farm.field = "新材料"
    listing_services.move(SYSTEM, first, "withdraw", None)
    db.session.commit()
    # Published after the refresh, from a row read afresh: it leaves the never-published cells for today's.
    db.session.expire_all()
    for action in ("submit", "approve"):
        listing_services.move(SYSTEM, db.session.get(Listing, draft.id), action, None)
    db.session.commit()
    outlet_ids = dict(db.session.execute(sa.select(Outlet.code, Outlet.id)).all())
    filter_sets = [{}, {"start": date(2026, 1, 31)}, {"end": date(2026, 2, 1)},
                   {"start": date(2026, 1, 31), "end": date(2026, 2, 1)}, {"start": date(2026, 2, 1)},
                   {"start": date(2026, 2, 2), "end": date(2026, 2, 27)}, {"outlet_id": outlet_ids["wuxi"]},
                   {"outlet_id": outlet_ids["baoshan"], "start": date(2026, 1, 1), "end": date(2026, 1, 31)},
                   {"field": NEW_ENERGY}, {"field": "新材料", "outlet_id": outlet_ids["wuxi"]}, {"field": "集成电路"}]
    for args in filter_sets:
        f = queries.Filters(**args)
        assert rollup.overview(f, 10) == queries.overview_from_rows(f, 10), args
    whole = rollup.overview(queries.Filters(), 10)["totals"]
    # The patent listed twice is one patent; licensed twice, one patent converted.
    assert (whole["listings_published"], whole["patents_listed"], whole["patents_converted"]) == (4, 3, 3)
    clock.unfreeze()


def test_writes_mark_their_units_and_the_refresh_and_commands_clear_them(app, client, network):
    from app.stats.models import DealCell, ListingCell, StatsDirty

    def dirty() -> set:
        return set(db.session.execute(sa.select(StatsDirty.subject, StatsDirty.unit)).all())

    before = overview(client, network)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["stats", "rebuild"])
    assert result.exit_code == 0 and "rebuilt" in result.output, result.output
    assert dirty() == set() and db.session.scalar(sa.select(sa.func.count()).select_from(ListingCell)) > 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DealCell)) > 0
    assert overview(client, network) == before
    # A deal recorded through the API marks its month and asks for the refresh job, which the worker runs.
    p = factories.patent(network.uni.org, ipc_codes=["H01M 4/58"])
    db.session.commit()
    body = factories.deal_body([p.id], network.uni.org, network.enterprise.org, amount_fen=90_000,
                               signed_on="2026-06-02")
    response = client.post("/api/v1/deals", json=body, headers={**network.staff.headers, **factories.deal_key()})
    assert response.status_code == 201, response.get_json()
    assert dirty() == {("deal", date(2026, 6, 1))}
    assert run_due() >= 1 and dirty() == set()
    june = overview(client, network, **{"from": "2026-06-01", "to": "2026-06-30"})["totals"]
    assert (june["deals"], june["amount_fen"], june["patents_converted"]) == (1, 90_000, 1)
    # Written by a service with no job run after it: marked, read from the rows, then refreshed.
    factories.deal([p.id], network.uni.org, network.enterprise.org, kind="nonexclusive_license",
                   license_term_months=12, amount_fen=10_000, signed_on=date(2026, 6, 3))
    assert dirty() == {("deal", date(2026, 6, 1))}
    assert client.get("/readyz").get_json()["checks"]["statistics"] == {"ok": True, "dirty_days": 0,
                                                                         "dirty_months": 1}
    june = overview(client, network, **{"from": "2026-06-01", "to": "2026-06-30"})["totals"]
    assert (june["deals"], june["amount_fen"], june["patents_converted"]) == (2, 100_000, 1)
    result = runner.invoke(args=["stats", "refresh"])
    assert result.exit_code == 0 and "1 day(s) and month(s) refreshed" in result.output, result.output
    assert dirty() == set()
    assert overview(client, network, **{"from": "2026-06-01", "to": "2026-06-30"})["totals"] == june


def test_a_change_to_a_row_read_before_the_commit_marks_the_unit_it_leaves(world):
    """The old day of a listing (the old month of a deal) is known even when the row was expired by a
    commit before the change: both units are marked."""
    from app.stats.models import StatsDirty

    p = factories.patent(world.uni.org, ipc_codes=["H01M 4/58"])
    draft = factories.listing(p, "draft")
    deal = factories.deal([p.id], world.uni.org, world.enterprise.org, signed_on=date(2026, 3, 31))
    while cells.refresh():
        pass
    listing = db.session.get(Listing, draft.id)
    db.session.commit()  # expires it
    listing.listed_at = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
    deal.signed_on = date(2026, 4, 1)
    db.session.commit()
    assert set(db.session.execute(sa.select(StatsDirty.subject, StatsDirty.unit)).all()) == {
        ("listing", cells.UNLISTED), ("listing", date(2026, 3, 1)), ("deal", date(2026, 3, 1)),
        ("deal", date(2026, 4, 1))}
