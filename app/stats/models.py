"""The statistics' cells: counts kept per business day (listings) and month (deals) and dimension, so that the
overview adds up a few thousand cells instead of a million rows. They are derived, never the truth:
`stats_dirty` names the days and months whose rows changed since their cells were last worked out, and
the overview reads those from the rows themselves (cells.py), so a figure is exact whether or not the
refresh job has run yet."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Money
from app.extensions import db


class StatsDirty(db.Model):
    """A day ('listing') or month ('deal', its first day) whose cells are out of date. Only ever inserted
    by business transactions (no unique key: writers never wait on one another here) and deleted by the
    refresh, by id."""

    __tablename__ = "stats_dirty"
    __table_args__ = (sa.Index("ix_stats_dirty_subject_unit", "subject", "unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(sa.String(16))
    unit: Mapped[date] = mapped_column(sa.Date)


class ListingCell(db.Model):
    """Listings by the business day they were first published (UNLISTED: never published), the outlet
    (0: every listing once; otherwise each listing once per outlet it is shelved at), the patent's field
    ('' for none) and owner, the mode and the present status."""

    __tablename__ = "stats_listing_cells"
    __table_args__ = (sa.Index("ix_stats_listing_cells_day", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date)
    outlet_id: Mapped[int] = mapped_column()
    field: Mapped[str] = mapped_column(sa.String(40))
    organization_id: Mapped[int] = mapped_column()
    mode: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(32))
    listings: Mapped[int] = mapped_column()


class DealCell(db.Model):
    """Deals that count (not cancelled) by the month they were signed in, outlet (0: none), field scope
    ('*': every deal once; otherwise each deal once per field among its patents, '' for patents without
    one), kind and source: how many, their amount, and how many of their patents (of that field)."""

    __tablename__ = "stats_deal_cells"
    __table_args__ = (sa.Index("ix_stats_deal_cells_month", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column(sa.Date)
    outlet_id: Mapped[int] = mapped_column()
    field: Mapped[str] = mapped_column(sa.String(40))
    kind: Mapped[str] = mapped_column(sa.String(32))
    source: Mapped[str] = mapped_column(sa.String(32))
    deals: Mapped[int] = mapped_column()
    amount_fen: Mapped[int] = mapped_column(Money)
    patents: Mapped[int] = mapped_column()


class SellerCell(db.Model):
    """Deals that count by month, seller (0: none), outlet (0: none) and field scope (as DealCell): the
    most active universities without reading every deal."""

    __tablename__ = "stats_seller_cells"
    __table_args__ = (sa.Index("ix_stats_seller_cells_month", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column(sa.Date)
    seller_organization_id: Mapped[int] = mapped_column()
    outlet_id: Mapped[int] = mapped_column()
    field: Mapped[str] = mapped_column(sa.String(40))
    deals: Mapped[int] = mapped_column()
    amount_fen: Mapped[int] = mapped_column(Money)
    patents: Mapped[int] = mapped_column()


class SharedPatent(db.Model):
    """A patent with more than one listing ('listing') or deal ('deal'): counting distinct patents, the
    cells' counts are exact for every other patent, and these few are counted from their rows."""

    __tablename__ = "stats_shared_patents"

    subject: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    patent_id: Mapped[int] = mapped_column(primary_key=True)
