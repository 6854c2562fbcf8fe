"""Matching work that runs after the commit, never inside the write transaction that caused it."""

from __future__ import annotations

import sqlalchemy as sa

from app import events
from app.db import read_only
from app.extensions import db
from app.jobs import job
from app.patents.models import Listing

from . import encoder
from .analysis import demand_text
from .matcher import demands_to_notify, notify_matching_demands
from .models import Demand


@job("demands.notify_matching", lease_seconds=1800)
def notify_for_published_listings(payload: dict, ctx) -> None:
    """Enterprises whose open demands a newly published listing fits well hear of it (deduplicated per
    demand and listing, so a retried job notifies nobody twice)."""
    ids = payload.get("listing_ids") or []
    # Scoring reads only, and may take a while: on SQLite it must not hold the write lock meanwhile.
    with read_only():
        listings = db.session.scalars(sa.select(Listing).where(Listing.id.in_(ids), Listing.status == "listed")).all()
        fitting = [(listing, demands_to_notify(listing)) for listing in listings]
        db.session.commit()
    for listing, items in fitting:
        notify_matching_demands(listing, items)
    ctx.progress(len(ids), len(ids))


@job("demands.encode", eager=True, max_attempts=3)
def encode_demand_text(payload: dict, ctx) -> None:
    """Store the encoder's vector of a demand's text (run right after the request that wrote it)."""
    with read_only():
        demand = db.session.get(Demand, payload["demand_id"])
        text = demand_text(demand) if demand is not None else None
        db.session.commit()
    if text is None:
        return
    vector = encoder.to_bytes(encoder.queries([text])[0])  # outside any transaction: it takes ~50 ms
    demand = db.session.get(Demand, payload["demand_id"], populate_existing=True)
    if demand is not None and demand_text(demand) == text:  # not edited again meanwhile
        demand.text_vector, demand.text_encoder = vector, encoder.NAME


events.as_job("listing.published", "demands.notify_matching")
