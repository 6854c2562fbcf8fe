"""Auction sessions, their lots, the registrations (with deposits and bidder numbers), bids and proxy
maximums. The bid rules themselves are pure (rules.py); the guards that make "at most one" hold under
contention are here: one bid per amount on a lot, one proxy per bidder and lot, one live lot per listing,
one registration per organisation and session, one bidder number per session."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import clock
from app.auth.models import Organization
from app.db import Money, TimestampMixin, UTCDateTime, enum_column, partial_unique_index
from app.extensions import db
from app.outlets.models import Outlet

from . import rules

AUCTION_STATUSES = ("scheduled", "open", "closed")
# Stored: open (live, whether or not its session has started), sold, unsold, withdrawn. `pending` is how
# a live lot shows before its session opens.
LOT_STATUSES = ("pending", "open", "sold", "unsold", "withdrawn")
CLOSED_LOT_STATUSES = ("sold", "unsold", "withdrawn")
LOT_DEAL_KINDS = ("assignment", "exclusive_license", "sole_license", "nonexclusive_license")
REGISTRATION_STATUSES = ("pending", "confirmed")
# unpaid -> held (confirmed) -> applied (the winner's, towards the price) | refund_due -> refunded
DEPOSIT_STATUSES = ("unpaid", "held", "applied", "refund_due", "refunded")


class Auction(TimestampMixin, db.Model):
    """A session (e.g. a G60 achievement auction) of an outlet: a schedule and its lots."""

    __tablename__ = "auctions"
    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="schedule_ordered"),
        sa.CheckConstraint("anti_sniping_seconds >= 0", name="window_not_negative"),
        sa.Index("ix_auctions_starts_at", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)
    outlet_id: Mapped[int] = mapped_column(sa.ForeignKey("outlets.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    anti_sniping_seconds: Mapped[int] = mapped_column(default=300)
    # Set when its last lot closed; a session is closed then, or once it ended with no lot at all.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Bidder numbers (竞买号) are issued in order per session, under the session's row lock.
    bidder_numbers_issued: Mapped[int] = mapped_column(default=0)
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    outlet: Mapped[Outlet] = relationship(lazy="joined", innerjoin=True)

    @property
    def outlet_code(self) -> str:
        return self.outlet.code

    @property
    def status(self) -> str:
        now = clock.now()
        if self.closed_at is not None:
            return "closed"
        return "scheduled" if now < self.starts_at else "open"


class LotPatent(db.Model):
    """The patents a lot sells: one for a listing's lot, several for a package (of one owner)."""

    __tablename__ = "lot_patents"
    __table_args__ = (sa.Index("ix_lot_patents_patent", "patent_id", "lot_id"),)

    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("lots.id", ondelete="CASCADE"), primary_key=True)
    patent_id: Mapped[int] = mapped_column(sa.ForeignKey("patents.id"), primary_key=True)


class Lot(TimestampMixin, db.Model):
    """A listing (or a package of patents) on offer in a session, with its prices, its increment rule, its
    deposit and its (extended) end. The row is the lock every bid on the lot takes."""

    __tablename__ = "lots"
    __table_args__ = (
        sa.CheckConstraint("starting_price_fen > 0", name="starting_price_positive"),
        sa.CheckConstraint("reserve_price_fen IS NULL OR reserve_price_fen >= starting_price_fen",
                           name="reserve_at_least_start"),
        sa.CheckConstraint("deposit_fen >= 0", name="deposit_not_negative"),
        sa.CheckConstraint("ends_at > opens_at", name="ends_after_opening"),
        sa.CheckConstraint("bid_count >= 0", name="bid_count_not_negative"),
        # A listing is offered in one live lot at a time.
        partial_unique_index("uq_lots_live_listing", "listing_id", where="status = 'open'"),
        sa.Index("ix_lots_status_ends_at", "status", "ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    auction_id: Mapped[int] = mapped_column(sa.ForeignKey("auctions.id"), index=True)
    listing_id: Mapped[int | None] = mapped_column(sa.ForeignKey("listings.id"), index=True)
    # The patents sold, fixed when the lot is created: kept on the row as well as in lot_patents (which
    # answers "is this patent in a live lot?"), so that showing a lot costs no second query.
    patent_ids: Mapped[list] = mapped_column(sa.JSON)
    seller_organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(500))
    deal_kind: Mapped[str] = mapped_column(enum_column(*LOT_DEAL_KINDS, name="lot_deal_kind"))
    license_term_months: Mapped[int | None] = mapped_column()
    starting_price_fen: Mapped[int] = mapped_column(Money)
    reserve_price_fen: Mapped[int | None] = mapped_column(Money)  # None: 无保留
    # [[from_fen, increment_fen], ...], the first from 0: a fixed increment is one band.
    increment_bands: Mapped[list] = mapped_column(sa.JSON)
    deposit_fen: Mapped[int] = mapped_column(Money, default=0)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the session's start
    scheduled_ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())  # moved by anti-sniping
    window_seconds: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(enum_column(*LOT_STATUSES, name="lot_status"), default="open")
    current_price_fen: Mapped[int | None] = mapped_column(Money)
    leader_registration_id: Mapped[int | None] = mapped_column(sa.ForeignKey("auction_registrations.id"))
    bid_count: Mapped[int] = mapped_column(default=0)
    # Proxies placed (or raised) so far: the order that decides between equal maximums.
    proxies_placed: Mapped[int] = mapped_column(default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    final_price_fen: Mapped[int | None] = mapped_column(Money)
    winner_registration_id: Mapped[int | None] = mapped_column(sa.ForeignKey("auction_registrations.id"))
    deal_id: Mapped[int | None] = mapped_column(sa.ForeignKey("deals.id"))
    withdraw_reason: Mapped[str | None] = mapped_column(sa.Text)

    auction: Mapped[Auction] = relationship(lazy="raise")
    patent_rows: Mapped[list[LotPatent]] = relationship(cascade="all, delete-orphan", order_by=LotPatent.patent_id)
    seller: Mapped[Organization] = relationship(lazy="raise")
    # Plain lazy loads: a bid's own registration is already in the session, so showing the leader after
    # a bid costs no query.
    leader: Mapped[Registration | None] = relationship(foreign_keys=[leader_registration_id])
    winner: Mapped[Registration | None] = relationship(foreign_keys=[winner_registration_id])

    @property
    def leading_bidder_number(self) -> str | None:
        return self.leader.bidder_number if self.leader is not None else None

    @property
    def winner_bidder_number(self) -> str | None:
        return self.winner.bidder_number if self.winner is not None else None

    @property
    def closed(self) -> bool:
        return self.status in CLOSED_LOT_STATUSES

    def shown_status(self, now: datetime) -> str:
        if self.status == "open" and now < self.opens_at:
            return "pending"
        return self.status

    def due(self, now: datetime) -> bool:
        """Live and past its (extended) end: to be closed by whoever sees it first."""
        return self.status == "open" and now >= self.ends_at

    def rules_lot(self, now: datetime) -> rules.Lot:
        return rules.Lot(starting_price_fen=self.starting_price_fen,
                         increment=rules.Increment(tuple((int(a), int(b)) for a, b in self.increment_bands)),
                         reserve_price_fen=self.reserve_price_fen, window=timedelta(seconds=self.window_seconds),
                         status=self.shown_status(now))

    def min_next_bid_fen(self, now: datetime) -> int | None:
        if self.closed:
            return None
        return rules.min_next_bid(self.rules_lot(now), self.current_price_fen)

    @property
    def reserve_met(self) -> bool:
        return self.current_price_fen is not None and (
            self.reserve_price_fen is None or self.current_price_fen >= self.reserve_price_fen)


class Registration(TimestampMixin, db.Model):
    """An enterprise's registration (报名) for a session. Staff confirm it once the deposit is paid, which
    issues the bidder number (竞买号) that public pages show instead of the name."""

    __tablename__ = "auction_registrations"
    __table_args__ = (
        sa.UniqueConstraint("auction_id", "organization_id", name="uq_auction_registrations_organization"),
        sa.UniqueConstraint("auction_id", "bidder_number", name="uq_auction_registrations_bidder_number"),
        sa.CheckConstraint("deposit_paid_fen IS NULL OR deposit_paid_fen >= 0", name="deposit_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    auction_id: Mapped[int] = mapped_column(sa.ForeignKey("auctions.id"), index=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(enum_column(*REGISTRATION_STATUSES, name="registration_status"),
                                        default="pending")
    bidder_number: Mapped[str | None] = mapped_column(sa.String(16))
    deposit_status: Mapped[str] = mapped_column(enum_column(*DEPOSIT_STATUSES, name="deposit_status"),
                                                default="unpaid")
    deposit_paid_fen: Mapped[int | None] = mapped_column(Money)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(sa.Text)

    organization: Mapped[Organization] = relationship(lazy="joined", innerjoin=True)


class Bid(db.Model):
    """An accepted bid, manual or answered by a proxy; never edited or deleted."""

    __tablename__ = "bids"
    __table_args__ = (
        # Of two bids of the same amount only the first can be accepted.
        sa.UniqueConstraint("lot_id", "amount_fen"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("lots.id"))
    registration_id: Mapped[int] = mapped_column(sa.ForeignKey("auction_registrations.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(Money)
    automatic: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    registration: Mapped[Registration] = relationship(lazy="joined", innerjoin=True)

    @property
    def bidder_number(self) -> str | None:
        return self.registration.bidder_number

    @property
    def bidder_name(self) -> str:
        return self.registration.organization.name


class ProxyBid(TimestampMixin, db.Model):
    """A bidder's maximum (代理出价) on a lot: seen by its owner and staff only, raised, never lowered."""

    __tablename__ = "proxy_bids"
    __table_args__ = (
        sa.UniqueConstraint("lot_id", "registration_id"),
        sa.CheckConstraint("max_amount_fen > 0", name="max_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("lots.id"))
    registration_id: Mapped[int] = mapped_column(sa.ForeignKey("auction_registrations.id"), index=True)
    max_amount_fen: Mapped[int] = mapped_column(Money)
    placed: Mapped[int] = mapped_column()

    registration: Mapped[Registration] = relationship(lazy="joined", innerjoin=True)
