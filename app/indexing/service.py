"""Turns API arguments into engine Queries, applies who-sees-what, and shapes the answer."""

from __future__ import annotations

from datetime import date

from app import clock
from app.auth.models import User
from app.errors import Invalid, ServiceUnavailable
from app.patents import rules, terms
from app.patents.ipc import InvalidIPC, parse_ipc
from app.patents.numbers import (
    looks_like_application_number,
    looks_like_publication_number,
    normalise_publication_number,
)
from app.patents.services import parse_number_field
from search import Query, SearchUnavailable

from .indexer import backend

PUBLISHED = tuple(sorted(rules.PUBLISHED_STATUSES))


def build_query(user: User | None, args: dict) -> Query:
    filters: dict = {}
    for key in ("field", "patent_type", "legal_status", "mode", "outlet", "owner", "price_min_fen",
                "price_max_fen", "negotiable"):
        if args.get(key) is not None:
            filters[key] = args[key]
    if args.get("ipc"):
        try:
            filters["ipc"] = parse_ipc(args["ipc"]).canonical
        except InvalidIPC as exc:
            raise Invalid("invalid_ipc", str(exc), field="ipc") from None
    if args.get("listed_since"):
        filters["listed_since"] = args["listed_since"].isoformat()
    text = (args.get("q") or "").strip() or None
    if text and looks_like_application_number(text):
        filters["application_number"] = parse_number_field(text, field="q").canonical
        text = None
    elif text and looks_like_publication_number(text):
        filters["publication_number"] = normalise_publication_number(text)
        text = None
    statuses, also_owner = visible_statuses(user), None
    if statuses is None:
        if args.get("status"):
            filters["status"] = args["status"]
    else:
        if args.get("status"):
            raise Invalid("status_filter_not_allowed", "only staff filter by status", field="status")
        if user is not None and user.organization_id is not None:
            also_owner = user.organization_id
    return Query(text=text, filters=filters, statuses=statuses, also_owner_id=also_owner, sort=args["sort"],
                 offset=(args["page"] - 1) * args["size"], size=args["size"])


def search_listings(user: User | None, args: dict) -> dict:
    query = build_query(user, args)
    try:
        result = backend().search(query)
    except SearchUnavailable as exc:
        raise ServiceUnavailable("search_unavailable", "search is unavailable right now; please retry") from exc
    on = clock.today()
    items = [search_item(hit, on) for hit in result.hits]
    facets = {name: [{"value": fv.value, "count": fv.count, **({"label": fv.label} if fv.label else {})}
                     for fv in values] for name, values in result.facets.items()}
    return {"total": result.total, "page": args["page"], "size": args["size"], "items": items, "facets": facets,
            "took_ms": round(result.took_ms, 2)}


def search_item(hit, on: date) -> dict:
    """A hit in the shape clients know from search, which matches reuse for their listings."""
    doc = hit.source
    expires = date.fromisoformat(doc["expires_on"]) if doc.get("expires_on") else None
    return {
        "listing_id": doc["id"], "patent_id": doc["patent_id"], "title": doc["title"], "abstract": doc.get("abstract"),
        "application_number": doc["application_number"], "publication_number": doc.get("publication_number"),
        "ipc_codes": doc.get("ipc_codes") or [], "field": doc.get("field"), "patent_type": doc["patent_type"],
        "legal_status": doc["legal_status"], "mode": doc["mode"], "price_fen": doc.get("price_fen"),
        "negotiable": bool(doc.get("negotiable")), "outlet_codes": doc.get("outlet_codes") or [],
        "owner": {"id": doc["owner_id"], "name": doc.get("owner_name")}, "status": doc["status"],
        "listed_at": doc.get("listed_at"), "expires_on": doc.get("expires_on"),
        "remaining_years": terms.remaining_years(expires, on), "pledged": bool(doc.get("pledged")),
        "score": hit.score,
        "highlight": {"title": hit.highlight.get("title", []), "abstract": hit.highlight.get("abstract", [])},
    }


def visible_statuses(user: User | None) -> tuple[str, ...] | None:
    """Staff see listings in every status (None); everyone else the published ones."""
    return None if user is not None and user.is_staff else PUBLISHED


def suggest(user: User | None, prefix: str) -> list[dict]:
    try:
        found = backend().suggest(prefix, 10, visible_statuses(user))
    except SearchUnavailable as exc:
        raise ServiceUnavailable("search_unavailable", "search is unavailable right now; please retry") from exc
    return [{"text": s.text, "kind": s.kind} for s in found]
