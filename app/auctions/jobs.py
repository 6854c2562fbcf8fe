"""Closing lots at their end and telling the outbid, after the commit of the bid that outbid them."""

from __future__ import annotations

import sqlalchemy as sa

from app import clock
from app.extensions import db
from app.jobs import Every, Retry, job
from app.notifications.services import notify_outbid

from . import services
from .models import Lot, Registration


@job(services.CLOSE_JOB, max_attempts=10)
def close_lot(payload: dict, ctx) -> None:
    """At the lot's end: close it, or wait again for an end that anti-sniping has moved."""
    lot = db.session.get(Lot, payload["lot_id"])
    if lot is None or lot.closed:
        return
    remaining = (lot.ends_at - clock.now()).total_seconds()
    if remaining > 0:
        raise Retry(f"the lot now ends at {lot.ends_at.isoformat()}", delay_seconds=remaining)
    services.close_lot(lot.id)


@job("auctions.close_due", coalesce=True, schedule=Every(60), lease_seconds=600)
def close_due(payload: dict, ctx) -> None:
    """Every minute: whatever is past its end and still open (a close job delayed or lost closes here)."""
    close_everything_due(ctx)


def close_everything_due(ctx=None) -> int:
    """Close every lot past its end, each in its own transaction, then sessions left with no live lot."""
    closed = 0
    ids = services.due_lot_ids()
    for done, lot_id in enumerate(ids, 1):
        if services.close_lot(lot_id) is not None:
            closed += 1
        db.session.commit()
        if ctx is not None:
            ctx.progress(done, len(ids))
    for auction_id in services.due_empty_sessions():
        services.close_session_if_done(auction_id, clock.now())
        db.session.commit()
    return closed


@job(services.NOTIFY_OUTBID_JOB)
def notify_outbid_bidders(payload: dict, ctx) -> None:
    """Everyone who lost the lead to a bid hears it once that bid committed."""
    rows = db.session.execute(sa.select(Registration.organization_id, Registration.bidder_number)
                              .where(Registration.id.in_(payload["registration_ids"])))
    for organization_id, bidder_number in rows:
        notify_outbid(organization_id, lot_id=payload["lot_id"], amount_fen=payload["amount_fen"],
                      bidder_number=bidder_number)
