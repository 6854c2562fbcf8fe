from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import UTCDateTime, enum_column
from app.extensions import db

# demand_match .. inquiry_status are sent by this code; outbid, lot_won and the deal kinds are the
# hooks the auction and deal services call.
NOTIFICATION_KINDS = ("demand_match", "inquiry_received", "inquiry_replied", "inquiry_status", "outbid",
                      "lot_won", "lot_closed", "deal_recorded", "deal_completed", "deal_cancelled", "filing_overdue")


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        # The same event never reaches a user twice (a listing approved again after a rejection, say).
        sa.UniqueConstraint("user_id", "dedupe_key"),
        sa.Index("ix_notifications_user_unread", "user_id", "read_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(enum_column(*NOTIFICATION_KINDS, name="notification_kind"))
    title: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str | None] = mapped_column(sa.Text)
    data: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
