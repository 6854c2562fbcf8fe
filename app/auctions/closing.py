"""Closing a lot when a request is the first to see it past its end.

The one place outside the request boundary that commits: a read (or a bid refused as too late) that
finds a lot past its end closes it in a writer's transaction of its own, committed before the answer,
so the answer shows the result and no later reader has to close it again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import orm

from app import clock, jobs
from app.db import WRITE_INTENT
from app.errors import Conflict
from app.extensions import db

from . import services
from .models import Lot


def settle(lot_id: int) -> Lot | None:
    """Close the lot now if it is past its end and still open; nothing otherwise (one cheap read). The lot
    as it now stands (None if there is none): showing it costs no further query (the session holds its
    rows only while someone holds the object)."""
    # With the leader and the winner, whom showing the lot names.
    lot = db.session.get(Lot, lot_id, options=[orm.joinedload(Lot.leader), orm.joinedload(Lot.winner)])
    if lot is None or not lot.due(clock.now()):
        return lot
    # End the request's transaction so far (on SQLite a reader's BEGIN): the close begins as a writer.
    db.session.commit()
    intent = WRITE_INTENT.set(True)
    try:
        services.close_lot(lot_id)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    finally:
        WRITE_INTENT.reset(intent)
    jobs.run_after_commit()
    return lot


@contextlib.contextmanager
def closing_when_refused_as_late(lot_id: int) -> Iterator[None]:
    """Around a bid or a proxy: one refused with `lot_closed` closes the lot if it is past its end (its
    own work rolled back first), so the hot path pays nothing for closing."""
    try:
        yield
    except Conflict as refusal:
        if refusal.reason != "lot_closed":
            raise
        db.session.rollback()
        settle(lot_id)
        raise


def settle_auction(auction_id: int) -> None:
    """Close every lot of the session that is past its end (its results, its lot list)."""
    for lot_id in services.due_lot_ids(auction_id):
        settle(lot_id)
