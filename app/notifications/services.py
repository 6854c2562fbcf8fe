"""Notifications (站内通知): one row per recipient user, written in the transaction of the event.

The auction and deal services call notify_outbid / notify_lot_won / notify_deal_recorded; the
demand and inquiry services below call the rest.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from app import clock
from app.auth.models import User
from app.errors import NotFound
from app.extensions import db

from .models import NOTIFICATION_KINDS, Notification


def organization_users(organization_id: int) -> list[int]:
    return list(db.session.scalars(
        sa.select(User.id).where(User.organization_id == organization_id, User.is_active.is_(True))
        .order_by(User.id)))


def notify(user_ids: Iterable[int], kind: str, title: str, *, body: str | None = None, data: dict | None = None,
           dedupe_key: str | None = None) -> list[Notification]:
    """Notify each user once; with a dedupe_key, a user who already has that key gets nothing new."""
    if kind not in NOTIFICATION_KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    user_ids = list(dict.fromkeys(user_ids))
    if dedupe_key is not None and user_ids:
        already = set(db.session.scalars(sa.select(Notification.user_id).where(
            Notification.user_id.in_(user_ids), Notification.dedupe_key == dedupe_key)))
        user_ids = [uid for uid in user_ids if uid not in already]
    rows = [Notification(user_id=uid, kind=kind, title=title[:300], body=body, data=data or {},
                         dedupe_key=dedupe_key) for uid in user_ids]
    db.session.add_all(rows)
    db.session.flush()
    return rows


def notify_organization(organization_id: int, kind: str, title: str, **kwargs) -> list[Notification]:
    return notify(organization_users(organization_id), kind, title, **kwargs)


# -- hooks for the auction and deal services ----------------------------------------------------------

def notify_outbid(organization_id: int, *, lot_id: int, amount_fen: int, bidder_number: str | None = None):
    return notify_organization(organization_id, "outbid", f"Lot {lot_id}: you have been outbid",
                               data={"lot_id": lot_id, "amount_fen": amount_fen, "bidder_number": bidder_number})


def notify_lot_won(organization_id: int, *, lot_id: int, amount_fen: int, deal_id: int | None = None):
    return notify_organization(organization_id, "lot_won", f"Lot {lot_id}: you won at {amount_fen} fen",
                               data={"lot_id": lot_id, "amount_fen": amount_fen, "deal_id": deal_id},
                               dedupe_key=f"lot_won:{lot_id}")


def _notify_parties(organization_ids: Iterable[int], kind: str, title: str, *, data: dict, dedupe_key: str):
    out = []
    for organization_id in dict.fromkeys(organization_ids):
        out += notify_organization(organization_id, kind, title, data=data, dedupe_key=dedupe_key)
    return out


def notify_deal_recorded(organization_ids: Iterable[int], *, deal_id: int, kind: str, amount_fen: int | None):
    return _notify_parties(organization_ids, "deal_recorded", f"Deal {deal_id} recorded ({kind})",
                           data={"deal_id": deal_id, "kind": kind, "amount_fen": amount_fen},
                           dedupe_key=f"deal:{deal_id}")


def notify_deal_changed(organization_ids: Iterable[int], *, deal_id: int, kind: str, status: str):
    """A deal was completed or cancelled: both parties hear it once."""
    return _notify_parties(organization_ids, f"deal_{status}", f"Deal {deal_id} {status} ({kind})",
                           data={"deal_id": deal_id, "kind": kind, "status": status},
                           dedupe_key=f"deal:{deal_id}:{status}")


def notify_staff(kind: str, title: str, **kwargs) -> list[Notification]:
    """Every active member of the exchange's staff (and admins)."""
    staff = db.session.scalars(sa.select(User.id).where(User.role.in_(("staff", "admin")),
                                                        User.is_active.is_(True)).order_by(User.id))
    return notify(list(staff), kind, title, **kwargs)


# -- reading ----------------------------------------------------------------------------------------------

def notifications_query(user: User, unread: bool | None, kind: str | None) -> sa.Select:
    stmt = sa.select(Notification).where(Notification.user_id == user.id)
    if unread is True:
        stmt = stmt.where(Notification.read_at.is_(None))
    elif unread is False:
        stmt = stmt.where(Notification.read_at.is_not(None))
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    return stmt.order_by(Notification.id.desc())


def unread_count(user: User) -> int:
    return db.session.scalar(sa.select(sa.func.count()).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))) or 0


def mark_read(user: User, notification_id: int) -> Notification:
    notification = db.session.get(Notification, notification_id)
    # Somebody else's notification is as absent as a missing one: its id says nothing.
    if notification is None or notification.user_id != user.id:
        raise NotFound("notification_not_found", f"no notification {notification_id}")
    if notification.read_at is None:
        notification.read_at = clock.now()
    return notification
