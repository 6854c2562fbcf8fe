from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.auth.models import Organization
from app.db import Money, TimestampMixin, UTCDateTime, enum_column
from app.extensions import db
from app.outlets.models import Outlet
from app.patents.models import Patent

from . import rules
from .rules import KINDS, PAYMENT_STATUSES, SOURCES, STATUSES


class DealPatent(db.Model):
    """A patent of a deal: a package of several patents is one deal with one amount."""

    __tablename__ = "deal_patents"
    __table_args__ = (sa.Index("ix_deal_patents_patent", "patent_id", "deal_id"),)

    deal_id: Mapped[int] = mapped_column(sa.ForeignKey("deals.id", ondelete="CASCADE"), primary_key=True)
    patent_id: Mapped[int] = mapped_column(sa.ForeignKey("patents.id"), primary_key=True)

    patent: Mapped[Patent] = relationship(lazy="joined", innerjoin=True)


class Deal(TimestampMixin, db.Model):
    """A conversion (转化) of patents into money: a transfer, a licence with its term, or an equity deal."""

    __tablename__ = "deals"
    __table_args__ = (
        sa.CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
        sa.CheckConstraint("amount_received_fen >= 0", name="received_not_negative"),
        sa.CheckConstraint("license_ends_on IS NULL OR license_ends_on >= license_starts_on",
                           name="license_term_ordered"),
        sa.CheckConstraint("seller_organization_id <> buyer_organization_id", name="parties_differ"),
        sa.Index("ix_deals_signed_on", "signed_on"),
        sa.Index("ix_deals_kind_status", "kind", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(enum_column(*KINDS, name="deal_kind"))
    status: Mapped[str] = mapped_column(enum_column(*STATUSES, name="deal_status"), default="recorded", index=True)
    source: Mapped[str] = mapped_column(enum_column(*SOURCES, name="deal_source"))
    listing_id: Mapped[int | None] = mapped_column(sa.ForeignKey("listings.id"), index=True)
    outlet_id: Mapped[int | None] = mapped_column(sa.ForeignKey("outlets.id"), index=True)
    seller_organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    buyer_organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(Money)
    contract_number: Mapped[str | None] = mapped_column(sa.String(64))
    signed_on: Mapped[date] = mapped_column(sa.Date, active_history=True)  # the statistics mark the old month too
    # 拟成交: agreed after an auction or negotiation had ended; recorded and counted like any other.
    after_event: Mapped[bool] = mapped_column(default=False)
    license_starts_on: Mapped[date | None] = mapped_column(sa.Date)
    license_ends_on: Mapped[date | None] = mapped_column(sa.Date)
    payment_status: Mapped[str] = mapped_column(enum_column(*PAYMENT_STATUSES, name="payment_status"),
                                                default="unpaid")
    amount_received_fen: Mapped[int] = mapped_column(Money, default=0)
    # CNIPA: 著录项目变更 (assignment) or 实施许可合同备案 (licence).
    registration_number: Mapped[str | None] = mapped_column(sa.String(64))
    registered_on: Mapped[date | None] = mapped_column(sa.Date)
    note: Mapped[str | None] = mapped_column(sa.Text)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text)
    recorded_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    filing_overdue_notified: Mapped[bool] = mapped_column(default=False)

    patent_rows: Mapped[list[DealPatent]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                         order_by=DealPatent.patent_id)
    seller: Mapped[Organization] = relationship(foreign_keys=[seller_organization_id], lazy="joined",
                                                innerjoin=True)
    buyer: Mapped[Organization] = relationship(foreign_keys=[buyer_organization_id], lazy="joined",
                                               innerjoin=True)
    outlet: Mapped[Outlet | None] = relationship(lazy="joined")

    @property
    def patent_ids(self) -> list[int]:
        return [row.patent_id for row in self.patent_rows]

    @property
    def patents(self) -> list[Patent]:
        return [row.patent for row in self.patent_rows]

    @property
    def filing_due_on(self) -> date | None:
        """Licences: the filing (实施许可合同备案) is due three months after the contract took effect (signing)."""
        return rules.filing_due_on(self.signed_on) if self.kind in rules.LICENSE_KINDS else None

    @property
    def filing_overdue(self) -> bool:
        return rules.filing_overdue(self.kind, self.status, self.signed_on, self.registration_number, clock.today())

    @property
    def outlet_code(self) -> str | None:
        return self.outlet.code if self.outlet else None
