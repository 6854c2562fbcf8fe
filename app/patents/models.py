from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app import clock
from app.auth.models import Organization
from app.db import Money, TimestampMixin, UTCDateTime, enum_column, partial_unique_index
from app.extensions import db
from app.outlets.models import Outlet

from . import terms

PATENT_TYPES = ("invention", "utility_model", "design")
LEGAL_STATUSES = ("pending", "valid", "lapsed")
LISTING_MODES = (
    "assignment",
    "exclusive_license",
    "sole_license",
    "nonexclusive_license",
    "open_license",
    "equity",
)
LISTING_STATUSES = (
    "draft",
    "pending_review",
    "listed",
    "in_negotiation",
    "in_auction",
    "sold",
    "licensed",
    "withdrawn",
    "expired",
)
PAYMENT_METHODS = ("lump_sum", "royalty", "entry_fee_plus_royalty")
# rules.ACTIVE_STATUSES as SQL, for the partial unique indexes (a literal: revisions must not import rules).
_ACTIVE_SQL = "('draft', 'pending_review', 'listed', 'in_negotiation', 'in_auction')"


class PatentIpc(db.Model):
    __tablename__ = "patent_ipc_codes"

    patent_id: Mapped[int] = mapped_column(sa.ForeignKey("patents.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), index=True)


class Patent(TimestampMixin, db.Model):
    __tablename__ = "patents"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    publication_number: Mapped[str | None] = mapped_column(sa.String(20), index=True)
    title: Mapped[str] = mapped_column(sa.String(500))
    abstract: Mapped[str | None] = mapped_column(sa.Text)
    claims: Mapped[str | None] = mapped_column(sa.Text)
    patent_type: Mapped[str] = mapped_column(enum_column(*PATENT_TYPES, name="patent_type"))
    legal_status: Mapped[str] = mapped_column(enum_column(*LEGAL_STATUSES, name="legal_status"), index=True)
    filing_date: Mapped[date | None] = mapped_column(sa.Date)
    grant_date: Mapped[date | None] = mapped_column(sa.Date)
    expires_on_override: Mapped[date | None] = mapped_column(sa.Date)
    owner_organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    inventors: Mapped[list] = mapped_column(sa.JSON, default=list)
    ipc_main: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    field: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    field_overridden: Mapped[bool] = mapped_column(default=False)
    # Overlays beside the legal status (domain.md): not statuses of their own.
    pledged: Mapped[bool] = mapped_column(default=False)
    preserved: Mapped[bool] = mapped_column(default=False)
    evaluation_report: Mapped[bool] = mapped_column(default=False)

    owner: Mapped[Organization] = relationship(lazy="joined")
    ipc_rows: Mapped[list[PatentIpc]] = relationship(
        order_by=PatentIpc.position, cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def ipc_codes(self) -> list[str]:
        return [row.code for row in self.ipc_rows]

    @property
    def expires_on(self) -> date | None:
        if self.expires_on_override is not None:
            return self.expires_on_override
        if self.filing_date is None:
            return None
        return terms.expiry_date(self.patent_type, self.filing_date)

    @property
    def remaining_years(self) -> float | None:
        return terms.remaining_years(self.expires_on, clock.today())

    @property
    def in_force(self) -> bool:
        expires = self.expires_on
        return self.legal_status != "lapsed" and (expires is None or expires >= clock.today())


class ListingOutlet(db.Model):
    __tablename__ = "listing_outlets"

    listing_id: Mapped[int] = mapped_column(sa.ForeignKey("listings.id", ondelete="CASCADE"), primary_key=True)
    outlet_id: Mapped[int] = mapped_column(sa.ForeignKey("outlets.id"), primary_key=True, index=True)


class Listing(TimestampMixin, db.Model):
    __tablename__ = "listings"
    __table_args__ = (
        sa.CheckConstraint("price_fen IS NULL OR price_fen >= 0", name="price_not_negative"),
        sa.Index("ix_listings_patent_status", "patent_id", "status"),
        # The database's guards of rules.offer_conflict's "at most one active ... per patent" (services
        # also lock the patent row, which covers the rules that span modes).
        partial_unique_index("uq_listings_one_active_assignment", "patent_id",
                             where=f"mode = 'assignment' AND status IN {_ACTIVE_SQL}"),
        partial_unique_index("uq_listings_one_active_exclusive", "patent_id",
                             where=f"mode IN ('exclusive_license', 'sole_license') AND status IN {_ACTIVE_SQL}"),
        partial_unique_index("uq_listings_one_active_open_license", "patent_id",
                             where=f"mode = 'open_license' AND status IN {_ACTIVE_SQL}"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patent_id: Mapped[int] = mapped_column(sa.ForeignKey("patents.id"))
    mode: Mapped[str] = mapped_column(enum_column(*LISTING_MODES, name="listing_mode"))
    price_fen: Mapped[int | None] = mapped_column(Money)
    negotiable: Mapped[bool] = mapped_column(default=False)
    description: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(enum_column(*LISTING_STATUSES, name="listing_status"), index=True,
                                        default="draft")
    ol_payment_method: Mapped[str | None] = mapped_column(enum_column(*PAYMENT_METHODS, name="ol_payment_method"))
    ol_fee_fen: Mapped[int | None] = mapped_column(Money)
    ol_royalty_rate: Mapped[Decimal | None] = mapped_column(sa.Numeric(6, 4))
    ol_term_months: Mapped[int | None] = mapped_column()
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    listed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The business date of listed_at, kept beside it: what the statistics count a listing under (by day,
    # through an index), in the zone the exchange reports in. Its old value is loaded before a change, so
    # the statistics can mark the day it leaves.
    listed_on: Mapped[date | None] = mapped_column(sa.Date, index=True, active_history=True)
    # Optimistic concurrency: two staff approving at once cannot both win.
    version: Mapped[int] = mapped_column(default=1)

    patent: Mapped[Patent] = relationship(lazy="joined", innerjoin=True)
    outlets: Mapped[list[Outlet]] = relationship(secondary="listing_outlets", lazy="selectin",
                                                 order_by=Outlet.id)

    __mapper_args__ = {"version_id_col": version}

    @validates("listed_at")
    def _listed_on(self, _key, value: datetime | None) -> datetime | None:
        self.listed_on = clock.business_date(value) if value is not None else None
        return value

    @property
    def outlet_codes(self) -> list[str]:
        return [outlet.code for outlet in self.outlets]

    @property
    def owner_organization_id(self) -> int:
        return self.patent.owner_organization_id

    @property
    def open_license(self) -> dict | None:
        if self.mode != "open_license":
            return None
        return {
            "payment_method": self.ol_payment_method,
            "fee_fen": self.ol_fee_fen,
            "royalty_rate": self.ol_royalty_rate,
            "term_months": self.ol_term_months,
        }
