from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.auth.models import Organization
from app.db import TimestampMixin, UTCDateTime, enum_column, partial_unique_index
from app.extensions import db

INQUIRY_STATUSES = ("open", "replied", "negotiating", "closed")


class Inquiry(TimestampMixin, db.Model):
    """An enterprise's expression of interest (意向) in a listing; the thread that starts a negotiation."""

    __tablename__ = "inquiries"
    __table_args__ = (
        # One open thread per buyer organisation and listing, also between racing requests.
        partial_unique_index("uq_inquiries_one_open_per_buyer", "listing_id", "buyer_organization_id",
                             where="status != 'closed'"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(sa.ForeignKey("listings.id"), index=True)
    demand_id: Mapped[int | None] = mapped_column(sa.ForeignKey("demands.id"), index=True)
    # Both sides as they were when the inquiry was sent: a later assignment of the patent does not
    # hand the thread to the new owner.
    buyer_organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    seller_organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    message: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(enum_column(*INQUIRY_STATUSES, name="inquiry_status"), default="open",
                                        index=True)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    buyer: Mapped[Organization] = relationship(foreign_keys=[buyer_organization_id], lazy="joined", innerjoin=True)
    seller: Mapped[Organization] = relationship(foreign_keys=[seller_organization_id], lazy="joined",
                                                innerjoin=True)
    replies: Mapped[list[InquiryReply]] = relationship(lazy="selectin", order_by="InquiryReply.id",
                                                       cascade="all, delete-orphan")


class InquiryReply(db.Model):
    __tablename__ = "inquiry_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(sa.ForeignKey("inquiries.id", ondelete="CASCADE"), index=True)
    author_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    author_organization_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organizations.id"))
    message: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
