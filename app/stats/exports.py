"""Exports for Excel (staff live in it): deals, listings, outlets, auction lots, as CSV (UTF-8 with a BOM,
so Excel reads the Chinese headers) or real XLSX (openpyxl's write-only workbook: typed date and amount
cells, amounts in yuan with two decimals, a frozen header row).

Rows are read from a server-side cursor in batches and written as they come, so a 100,000-row export
never sits in memory: CSV is streamed to the client line by line; XLSX (a zip, written at the end) goes
to a temporary file first (XlsxWriter's constant-memory mode) and is streamed from it. A text cell that
begins with =, +, - or @ (or a tab or carriage return) is neutralised: in CSV it gets a leading
apostrophe, in XLSX it is written as a string cell, never as a formula: imported titles come from outside.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app import clock
from app.auctions.models import Auction, Lot, Registration
from app.auth.models import Organization
from app.deals.models import Deal, DealPatent
from app.extensions import db
from app.outlets.models import Outlet
from app.patents.models import Listing, ListingOutlet, Patent

from . import queries

BATCH = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
KIND_LABELS = {"assignment": "转让", "exclusive_license": "独占许可", "sole_license": "排他许可",
               "nonexclusive_license": "普通许可", "open_license": "开放许可", "equity": "作价入股"}
SOURCE_LABELS = {"auction": "拍卖", "negotiation": "协商", "matching": "供需对接", "open_license": "开放许可"}
STATUS_LABELS = {"recorded": "已登记", "completed": "已完成", "cancelled": "已取消", "draft": "草稿",
                 "pending_review": "待审核", "listed": "挂牌中", "in_negotiation": "洽谈中", "in_auction": "拍卖中",
                 "sold": "已成交", "licensed": "已许可", "withdrawn": "已撤回", "expired": "已失效", "open": "竞价中",
                 "unsold": "流拍", "pending": "未开始"}
PAYMENT_LABELS = {"unpaid": "未付款", "partial": "部分付款", "paid": "已付清"}


class Yuan(Decimal):
    """An amount in yuan from fen: written as a number with two decimals."""

    @classmethod
    def of(cls, fen: int | None) -> Yuan | None:
        return None if fen is None else cls(Decimal(fen) / 100)


@dataclass(frozen=True)
class Report:
    name: str  # file name stem
    headers: list[str]
    rows: Callable[[queries.Filters], Iterable[list]]


def _label(labels: dict, value):
    return labels.get(value, value)


def _stream(stmt: sa.Select) -> Iterator[sa.Row]:
    """Rows in batches from a server-side cursor (PostgreSQL; SQLite reads its file as it goes)."""
    result = db.session.execute(stmt.execution_options(yield_per=BATCH))
    yield from result


def _deal_rows(f: queries.Filters) -> Iterator[list]:
    d = queries.deals(f).subquery("d")
    seller, buyer = aliased(Organization), aliased(Organization)
    # The patents of every selected deal in one grouped pass (not a lookup per row).
    patents = (sa.select(DealPatent.deal_id, _aggregate(Patent.application_number, Patent.id).label("numbers"),
                         _aggregate(Patent.title, Patent.id).label("titles"))
               .join(Patent, Patent.id == DealPatent.patent_id).join(d, d.c.id == DealPatent.deal_id)
               .group_by(DealPatent.deal_id).subquery("p"))
    stmt = (sa.select(Deal.id, Deal.signed_on, Deal.kind, Deal.source, patents.c.numbers, patents.c.titles,
                      seller.name, buyer.name, Outlet.name, Deal.amount_fen, Deal.amount_received_fen,
                      Deal.payment_status, Deal.contract_number, Deal.registration_number, Deal.registered_on,
                      Deal.status, Deal.after_event)
            .join(d, d.c.id == Deal.id).join(patents, patents.c.deal_id == Deal.id)
            .join(seller, seller.id == Deal.seller_organization_id)
            .join(buyer, buyer.id == Deal.buyer_organization_id).outerjoin(Outlet, Outlet.id == Deal.outlet_id)
            .order_by(Deal.signed_on, Deal.id))
    for row in _stream(stmt):
        (deal_id, signed_on, kind, source, numbers_, titles_, seller_name, buyer_name, outlet, amount, received,
         payment, contract, registration, registered_on, status, after_event) = row
        yield [deal_id, signed_on, _label(KIND_LABELS, kind), _label(SOURCE_LABELS, source), numbers_, titles_,
               seller_name, buyer_name, outlet, Yuan.of(amount), Yuan.of(received), _label(PAYMENT_LABELS, payment),
               contract, registration, registered_on, _label(STATUS_LABELS, status), "是" if after_event else "否"]


def _listing_rows(f: queries.Filters) -> Iterator[list]:
    selected = queries.listings(f, published_in_period=True).subquery("s")
    owner = aliased(Organization)
    outlets = sa.select(_aggregate(Outlet.name)).select_from(ListingOutlet).join(
        Outlet, Outlet.id == ListingOutlet.outlet_id).where(ListingOutlet.listing_id == Listing.id).scalar_subquery()
    stmt = (sa.select(Listing.id, Patent.application_number, Patent.title, owner.name, Listing.mode, Listing.status,
                      Listing.price_fen, Listing.negotiable, Listing.listed_at, outlets, Patent.field, Patent.ipc_main)
            .join(selected, selected.c.id == Listing.id).join(Patent, Patent.id == Listing.patent_id)
            .join(owner, owner.id == Patent.owner_organization_id).order_by(Listing.listed_at, Listing.id))
    for (listing_id, number, title, owner_name, mode, status, price, negotiable, listed_at, outlet_names, field,
         ipc) in _stream(stmt):
        yield [listing_id, number, title, owner_name, _label(KIND_LABELS, mode), _label(STATUS_LABELS, status),
               Yuan.of(price), "面议" if negotiable else "", clock.business_date(listed_at) if listed_at else None,
               outlet_names, field, ipc]


def _aggregate(value, order=None):
    if db.session.get_bind().dialect.name == "postgresql" and order is not None:
        from sqlalchemy.dialects.postgresql import aggregate_order_by

        return sa.func.string_agg(value, aggregate_order_by(sa.literal_column("'；'"), order))
    return sa.func.aggregate_strings(value, "；")


def _outlet_rows(f: queries.Filters) -> Iterator[list]:
    for row in queries.by_outlet(f, *queries.selections(f)):
        yield [row["outlet_code"], row["name"], row["listings_published"], row["patents_listed"], row["deals"],
               row["patents_converted"], Yuan.of(row["amount_fen"])]


def _auction_rows(f: queries.Filters) -> Iterator[list]:
    selected = queries.lots(f).where(Lot.status != "withdrawn", *queries.within(Lot.opens_at, f.since, f.until)
                                     ).subquery("l")
    winner = aliased(Registration)
    stmt = (sa.select(Auction.title, Outlet.name, Lot.id, Lot.title, Lot.starting_price_fen, Lot.status,
                      Lot.final_price_fen, winner.bidder_number, Lot.bid_count, Lot.ends_at)
            .join(selected, selected.c.id == Lot.id).join(Auction, Auction.id == Lot.auction_id)
            .join(Outlet, Outlet.id == Auction.outlet_id).outerjoin(winner, winner.id == Lot.winner_registration_id)
            .order_by(Auction.starts_at, Lot.id))
    for session_title, outlet, lot_id, title, start, status, final, number, bids, ends_at in _stream(stmt):
        yield [session_title, outlet, lot_id, title, Yuan.of(start), _label(STATUS_LABELS, status), Yuan.of(final),
               number, bids, clock.business_date(ends_at)]


REPORTS = {
    "deals": Report("deals", ["成交编号", "签约日期", "类型", "来源", "专利号", "专利名称", "卖方", "买方",
                              "网点", "金额（元）", "已收款（元）", "付款状态", "合同编号", "登记号", "登记日期",
                              "状态", "拟成交"], _deal_rows),
    "listings": Report("listings", ["挂牌编号", "专利号", "专利名称", "权利人", "方式", "状态", "价格（元）", "面议",
                                    "挂牌日期", "网点", "领域", "主分类号"], _listing_rows),
    "outlets": Report("outlets", ["网点代码", "网点", "挂牌数", "挂牌专利数", "成交笔数", "转化专利数",
                                  "成交金额（元）"], _outlet_rows),
    "auctions": Report("auctions", ["拍卖会", "网点", "拍品编号", "标的", "起拍价（元）", "状态", "成交价（元）",
                                    "买受人竞买号", "出价次数", "结束日期"], _auction_rows),
}


def neutralised(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_chunks(report: Report, f: queries.Filters) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> bytes:
        data = buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
        return data

    buffer.write("\ufeff")
    writer.writerow(report.headers)
    for count, row in enumerate(report.rows(f), 1):
        writer.writerow([_csv_cell(value) for value in row])
        if count % 500 == 0:
            yield flush()
    yield flush()


def _csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, Yuan):
        return f"{value:.2f}"
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, str):
        return neutralised(value)
    return value


def xlsx_file(report: Report, f: queries.Filters):
    """The workbook in a temporary file (deleted on close), positioned at its start. XlsxWriter in its
    constant-memory mode writes each row as it comes; every cell is written by its type, so no text ever
    becomes a formula."""
    import xlsxwriter

    handle = tempfile.NamedTemporaryFile(suffix=".xlsx")
    workbook = xlsxwriter.Workbook(handle.name, {"constant_memory": True, "in_memory": False})
    sheet = workbook.add_worksheet(report.name)
    header, money, day = (workbook.add_format({"bold": True}), workbook.add_format({"num_format": "#,##0.00"}),
                          workbook.add_format({"num_format": "yyyy-mm-dd"}))
    sheet.freeze_panes(1, 0)
    for column, text in enumerate(report.headers):
        sheet.write_string(0, column, text, header)
    for row_number, row in enumerate(report.rows(f), 1):
        for column, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, Yuan):
                sheet.write_number(row_number, column, float(value), money)
            elif isinstance(value, date):
                sheet.write_datetime(row_number, column, datetime(value.year, value.month, value.day), day)
            elif isinstance(value, bool | str):
                sheet.write_string(row_number, column, str(value))
            else:
                sheet.write_number(row_number, column, value)
    workbook.close()
    handle.seek(0)
    return handle


def file_chunks(handle, size: int = 64 * 1024) -> Iterator[bytes]:
    try:
        while chunk := handle.read(size):
            yield chunk
    finally:
        handle.close()
