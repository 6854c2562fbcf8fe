from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.auth.models import Organization
from app.db import Money, TimestampMixin, UTCDateTime, enum_column
from app.extensions import db

DEMAND_STATUSES = ("open", "closed")


class Demand(TimestampMixin, db.Model):
    """An enterprise's technology demand (技术需求), in its own words."""

    __tablename__ = "demands"
    __table_args__ = (
        sa.CheckConstraint("budget_min_fen IS NULL OR budget_min_fen >= 0", name="budget_min_not_negative"),
        sa.CheckConstraint("budget_min_fen IS NULL OR budget_max_fen IS NULL OR budget_min_fen <= budget_max_fen",
                           name="budget_range_ordered"),
        sa.Index("ix_demands_status_deadline", "status", "deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text)
    fields: Mapped[list] = mapped_column(sa.JSON, default=list)
    ipc_hints: Mapped[list] = mapped_column(sa.JSON, default=list)
    budget_min_fen: Mapped[int | None] = mapped_column(Money)
    budget_max_fen: Mapped[int | None] = mapped_column(Money)
    modes: Mapped[list] = mapped_column(sa.JSON, default=list)
    region: Mapped[str | None] = mapped_column(sa.String(100))
    deadline: Mapped[date | None] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(enum_column(*DEMAND_STATUSES, name="demand_status"), default="open")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The pretrained encoder's vector of the demand's text (float32 bytes) and which encoder made it:
    # worked out when the text is written, so that reading matches does not pay for it (~40-80 ms).
    text_vector: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    text_encoder: Mapped[str | None] = mapped_column(sa.String(64))

    organization: Mapped[Organization] = relationship(lazy="joined", innerjoin=True)

    @hybrid_property
    def is_live(self) -> bool:
        """Open and not past its deadline: what universities see and what new listings are matched to."""
        return self.status == "open" and (self.deadline is None or self.deadline >= clock.today())

    @is_live.inplace.expression
    @classmethod
    def _is_live_expression(cls):
        return sa.and_(cls.status == "open", sa.or_(cls.deadline.is_(None), cls.deadline >= clock.today()))


class PassageVector(db.Model):
    """The pretrained encoder's vector of a patent's passage (text.passage), encoded by a background job
    for patents the matching model has not seen or whose text has changed since: a match reads it
    instead of encoding inside the request, and the next retrain reuses it."""

    __tablename__ = "passage_vectors"

    patent_id: Mapped[int] = mapped_column(sa.ForeignKey("patents.id", ondelete="CASCADE"), primary_key=True)
    text_hash: Mapped[int] = mapped_column(sa.BigInteger)  # text.passage_hash of the passage encoded
    encoder: Mapped[str] = mapped_column(sa.String(64))
    vector: Mapped[bytes] = mapped_column(sa.LargeBinary)
    encoded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)


def stored_vectors(patent_ids: list[int] | None = None):
    """(patent id, passage hash, vector) of the stored passage vectors (of `patent_ids`, else all) that
    the current encoder made."""
    from . import encoder

    stmt = sa.select(PassageVector.patent_id, PassageVector.text_hash, PassageVector.vector, PassageVector.encoder)
    if patent_ids is not None:
        stmt = stmt.where(PassageVector.patent_id.in_(patent_ids))
    for row in db.session.execute(stmt):
        vector = encoder.from_bytes(row.vector, row.encoder)
        if vector is not None:
            yield row.patent_id, int(row.text_hash), vector
