"""Matching work that runs after the commit, never inside the write transaction that caused it."""

from __future__ import annotations

import sqlalchemy as sa

from app import events
from app.extensions import db
from app.jobs import job
from app.patents.models import Listing

from .matcher import notify_matching_demands


@job("demands.notify_matching", lease_seconds=1800)
def notify_for_published_listings(payload: dict, ctx) -> None:
    """Enterprises whose open demands a newly published listing fits well hear of it (deduplicated per
    demand and listing, so a retried job notifies nobody twice)."""
    ids = payload.get("listing_ids") or []
    for done, listing in enumerate(db.session.scalars(sa.select(Listing).where(Listing.id.in_(ids))), start=1):
        if listing.status == "listed":
            notify_matching_demands(listing)
        ctx.progress(done, len(ids))


events.as_job("listing.published", "demands.notify_matching")
