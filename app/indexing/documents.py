"""Rows -> search documents: one document per listing, with everything search filters on."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import sqlalchemy as sa

from app.auth.models import Organization
from app.extensions import db
from app.outlets.models import Outlet
from app.patents import terms
from app.patents.ipc import all_levels, parse_ipc
from app.patents.models import Listing, ListingOutlet, Patent, PatentIpc


def _document(row, codes: list[str], outlets: list[str]) -> dict:
    parsed = [parse_ipc(code) for code in codes]
    expires = row.expires_on_override or (
        terms.expiry_date(row.patent_type, row.filing_date) if row.filing_date else None)
    return {
        "id": row.id,
        "patent_id": row.patent_id,
        "title": row.title,
        "abstract": row.abstract,
        "claims": row.claims,
        "application_number": row.application_number,
        "publication_number": row.publication_number,
        "ipc_codes": codes,
        "ipc_levels": all_levels(codes),
        "ipc_section": sorted({c.section for c in parsed}),
        "ipc_class": sorted({c.section + c.cls for c in parsed if c.cls}),
        "ipc_subclass": sorted({c.subclass_code for c in parsed if c.subclass_code}),
        "field": row.field,
        "patent_type": row.patent_type,
        "legal_status": row.legal_status,
        "mode": row.mode,
        "status": row.status,
        # An open licence's price is its stated fee.
        "price_fen": row.ol_fee_fen if row.mode == "open_license" else row.price_fen,
        "negotiable": bool(row.negotiable),
        "outlet_codes": outlets,
        "owner_id": row.owner_organization_id,
        "owner_name": row.owner_name,
        "inventors": list(row.inventors or []),
        "listed_at": row.listed_at.isoformat() if row.listed_at else None,
        "expires_on": expires.isoformat() if expires else None,
        "pledged": bool(row.pledged),
    }


def documents_for(listing_ids: Iterable[int]) -> tuple[list[dict], list[int]]:
    """Documents of the listings that exist, and the ids that no longer do (to delete).

    Three Core queries per batch, not the ORM: a reindex reads every listing, and this is its
    hot path.
    """
    wanted = sorted(set(listing_ids))
    if not wanted:
        return [], []
    listing, patent = Listing.__table__, Patent.__table__
    rows = db.session.execute(
        sa.select(listing.c.id, listing.c.patent_id, listing.c.mode, listing.c.status, listing.c.price_fen,
                  listing.c.negotiable, listing.c.ol_fee_fen, listing.c.listed_at, patent.c.title,
                  patent.c.abstract, patent.c.claims, patent.c.application_number, patent.c.publication_number,
                  patent.c.field, patent.c.patent_type, patent.c.legal_status, patent.c.owner_organization_id,
                  patent.c.inventors, patent.c.filing_date, patent.c.expires_on_override, patent.c.pledged,
                  Organization.name.label("owner_name"))
        .join(patent, patent.c.id == listing.c.patent_id)
        .join(Organization, Organization.id == patent.c.owner_organization_id)
        .where(listing.c.id.in_(wanted))
    ).all()
    codes = ipc_codes_by_patent({row.patent_id for row in rows})
    outlets: dict[int, list[str]] = defaultdict(list)
    for listing_id, code in db.session.execute(
        sa.select(ListingOutlet.listing_id, Outlet.code).join(Outlet, Outlet.id == ListingOutlet.outlet_id)
        .where(ListingOutlet.listing_id.in_(wanted)).order_by(ListingOutlet.listing_id, Outlet.id)
    ):
        outlets[listing_id].append(code)
    found = {row.id for row in rows}
    documents = [_document(row, codes[row.patent_id], outlets[row.id]) for row in rows]
    return documents, [i for i in wanted if i not in found]


def ipc_codes_by_patent(patent_ids: Iterable[int]) -> dict[int, list[str]]:
    """Each patent's IPC codes, main code first, in one query."""
    codes: dict[int, list[str]] = defaultdict(list)
    for patent_id, code in db.session.execute(
        sa.select(PatentIpc.patent_id, PatentIpc.code)
        .where(PatentIpc.patent_id.in_(set(patent_ids)))
        .order_by(PatentIpc.patent_id, PatentIpc.position)
    ):
        codes[patent_id].append(code)
    return codes


def listing_ids_for(events: Iterable[tuple[str, int]]) -> set[int]:
    """The listings whose documents the (entity, id) changes touch: one query per kind of entity."""
    by_entity: dict[str, set[int]] = defaultdict(set)
    for entity, entity_id in events:
        by_entity[entity].add(entity_id)
    found = set(by_entity.pop("listing", set()))
    queries = {
        "patent": lambda ids: sa.select(Listing.id).where(Listing.patent_id.in_(ids)),
        "organization": lambda ids: sa.select(Listing.id).join(Patent, Patent.id == Listing.patent_id)
        .where(Patent.owner_organization_id.in_(ids)),
        "outlet": lambda ids: sa.select(ListingOutlet.listing_id).where(ListingOutlet.outlet_id.in_(ids)),
    }
    for entity, ids in by_entity.items():
        if entity in queries:
            found.update(db.session.scalars(queries[entity](ids)))
    return found


def all_listing_ids(batch: int = 1000) -> Iterable[list[int]]:
    last = 0
    while True:
        ids = list(db.session.scalars(sa.select(Listing.id).where(Listing.id > last).order_by(Listing.id).limit(batch)))
        if not ids:
            return
        yield ids
        last = ids[-1]
