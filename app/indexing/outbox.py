"""Transactional outbox: a row per change to something searchable, written in the same transaction.

The drainer (indexer.py, run as the `search.drain` job) turns rows into index operations after the commit; a row
names what changed, never the document, so a late drain always indexes the
current state of the database.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import UTCDateTime, bulk_insert
from app.extensions import db
from app.jobs import request_at_commit

ENTITIES = ("listing", "patent", "organization", "outlet")


class OutboxEvent(db.Model):
    __tablename__ = "search_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(sa.String(20))
    entity_id: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)


def _enqueue(entity: str, entity_id: int) -> None:
    db.session.add(OutboxEvent(entity=entity, entity_id=entity_id))
    request_at_commit("search.drain")  # one drain job per transaction that wrote here


def enqueue_many(entity: str, entity_ids: list[int]) -> None:
    """One outbox row per id, in one multi-row INSERT (bulk imports)."""
    if entity_ids:
        now = clock.now()
        bulk_insert(db.session, OutboxEvent,
                    [{"entity": entity, "entity_id": i, "created_at": now, "attempts": 0} for i in entity_ids])
        request_at_commit("search.drain")


def enqueue_listing(listing_id: int) -> None:
    _enqueue("listing", listing_id)


def enqueue_patent(patent_id: int) -> None:
    _enqueue("patent", patent_id)


def enqueue_organization(organization_id: int) -> None:
    _enqueue("organization", organization_id)


def enqueue_outlet(outlet_id: int) -> None:
    _enqueue("outlet", outlet_id)
