from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.auth.models import Organization
from app.db import Money, TimestampMixin, UTCDateTime, enum_column
from app.extensions import db
from app.patents.models import Patent

PLEDGE_STATUSES = ("registered", "released")
CONSENT_ACTIONS = ("assignment", "license", "open_license")


class PledgePatent(db.Model):
    __tablename__ = "pledge_patents"
    __table_args__ = (sa.Index("ix_pledge_patents_patent", "patent_id", "pledge_id"),)

    pledge_id: Mapped[int] = mapped_column(sa.ForeignKey("pledges.id", ondelete="CASCADE"), primary_key=True)
    patent_id: Mapped[int] = mapped_column(sa.ForeignKey("patents.id"), primary_key=True)

    patent: Mapped[Patent] = relationship(lazy="joined", innerjoin=True)


class PledgeConsent(db.Model):
    """The pledgee's consent (Civil Code art. 444) to one kind of action, with one counterparty or any."""

    __tablename__ = "pledge_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    pledge_id: Mapped[int] = mapped_column(sa.ForeignKey("pledges.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(enum_column(*CONSENT_ACTIONS, name="consent_action"))
    counterparty_organization_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organizations.id"))
    note: Mapped[str | None] = mapped_column(sa.Text)
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)


class Pledge(TimestampMixin, db.Model):
    """A pledge (质押) of patents registered with CNIPA, until it is released (注销)."""

    __tablename__ = "pledges"
    __table_args__ = (
        sa.CheckConstraint("secured_amount_fen >= 0", name="secured_not_negative"),
        sa.CheckConstraint("ends_on >= starts_on", name="term_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_number: Mapped[str] = mapped_column(sa.String(64), unique=True)
    pledgor_organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    pledgee_name: Mapped[str] = mapped_column(sa.String(200))
    pledgee_organization_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organizations.id"))
    secured_amount_fen: Mapped[int] = mapped_column(Money)
    starts_on: Mapped[date] = mapped_column(sa.Date)
    ends_on: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(enum_column(*PLEDGE_STATUSES, name="pledge_status"), default="registered",
                                        index=True)
    registered_on: Mapped[date] = mapped_column(sa.Date)
    released_on: Mapped[date | None] = mapped_column(sa.Date)
    release_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    pledgor: Mapped[Organization] = relationship(foreign_keys=[pledgor_organization_id], lazy="joined",
                                                 innerjoin=True)
    patent_rows: Mapped[list[PledgePatent]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                           order_by=PledgePatent.patent_id)
    consents: Mapped[list[PledgeConsent]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                         order_by=PledgeConsent.id)

    @property
    def patent_ids(self) -> list[int]:
        return [row.patent_id for row in self.patent_rows]
