"""Rows -> search documents: one document per listing, with everything search filters on."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from app.extensions import db
from app.patents.ipc import all_levels, parse_ipc
from app.patents.models import Listing, ListingOutlet, Patent


def listing_document(listing: Listing) -> dict:
    patent = listing.patent
    codes = patent.ipc_codes
    parsed = [parse_ipc(code) for code in codes]
    return {
        "id": listing.id,
        "patent_id": patent.id,
        "title": patent.title,
        "abstract": patent.abstract,
        "claims": patent.claims,
        "application_number": patent.application_number,
        "publication_number": patent.publication_number,
        "ipc_codes": codes,
        "ipc_levels": all_levels(codes),
        "ipc_section": sorted({c.section for c in parsed}),
        "ipc_class": sorted({c.section + c.cls for c in parsed if c.cls}),
        "ipc_subclass": sorted({c.subclass_code for c in parsed if c.subclass_code}),
        "field": patent.field,
        "patent_type": patent.patent_type,
        "legal_status": patent.legal_status,
        "mode": listing.mode,
        "status": listing.status,
        "price_fen": listing.price_fen if listing.mode != "open_license" else listing.ol_fee_fen,
        "negotiable": listing.negotiable,
        "outlet_codes": listing.outlet_codes,
        "owner_id": patent.owner_organization_id,
        "owner_name": patent.owner.name,
        "inventors": list(patent.inventors or []),
        "listed_at": listing.listed_at.isoformat() if listing.listed_at else None,
        "expires_on": patent.expires_on.isoformat() if patent.expires_on else None,
    }


def documents_for(listing_ids: Iterable[int]) -> tuple[list[dict], list[int]]:
    """Documents of the listings that exist, and the ids that no longer do (to delete)."""
    wanted = sorted(set(listing_ids))
    if not wanted:
        return [], []
    listings = db.session.scalars(sa.select(Listing).where(Listing.id.in_(wanted))).unique().all()
    found = {listing.id for listing in listings}
    return [listing_document(listing) for listing in listings], [i for i in wanted if i not in found]


def listing_ids_for(entity: str, entity_id: int) -> list[int]:
    if entity == "listing":
        return [entity_id]
    if entity == "patent":
        stmt = sa.select(Listing.id).where(Listing.patent_id == entity_id)
    elif entity == "organization":
        stmt = sa.select(Listing.id).join(Patent, Patent.id == Listing.patent_id).where(
            Patent.owner_organization_id == entity_id)
    elif entity == "outlet":
        stmt = sa.select(ListingOutlet.listing_id).where(ListingOutlet.outlet_id == entity_id)
    else:
        return []
    return list(db.session.scalars(stmt))


def all_listing_ids(batch: int = 1000) -> Iterable[list[int]]:
    last = 0
    while True:
        ids = list(db.session.scalars(sa.select(Listing.id).where(Listing.id > last).order_by(Listing.id).limit(batch)))
        if not ids:
            return
        yield ids
        last = ids[-1]
