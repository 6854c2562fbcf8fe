"""Matching demands and listings (供需对接): what the API and the jobs call. A demand's matches (its analysis,
analysis.py, ranked by ranking.py with the model of loading.py), a listing's fitting demands, and the
notifications a newly published listing sends.

Without a trained model (a fresh installation before `flask matching train`), or with one that has
seen too little of the catalogue (freshness.py), matching keeps the engine's own ranking of the
demand's text and explains it with the demand's own words and the structured signals.

A score is the estimated probability that the listing answers the demand (calibrated, see
matching.calibrated); from MATCHING_STRONG_SCORE on it is a strong match, which is what notifies.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from flask import current_app

from app import clock
from app.auth.models import User
from app.errors import Forbidden, NotFound
from app.extensions import db
from app.indexing.documents import documents_for
from app.indexing.service import search_item
from app.notifications.services import notify
from app.patents.models import Listing
from app.patents.services import can_manage_organization
from search.base import Hit
from search.text import highlight

from .analysis import demand_analysis, demand_text, doc_body, store_vector, stored_vector, structured  # noqa: F401
from .freshness import serving_model
from .loading import current_model, load_model, model_dir  # noqa: F401
from .models import Demand
from .ranking import prepare, rank, ranked_listings  # noqa: F401
from .reverse import demand_index


def strong_score() -> float:
    return current_app.config["MATCHING_STRONG_SCORE"]


def matches_for_demand(demand: Demand, limit: int) -> dict:
    started = time.perf_counter()
    model = serving_model()
    strong = strong_score()
    ranked = ranked_listings(demand_text(demand), structured(demand), model, explain=limit,
                             analysis=demand_analysis(demand, model))[:limit]
    on = clock.today()
    items = []
    for score, reasons, doc in ranked:
        terms = [{"word": w} for w in reasons["matched_terms"] + reasons["related_terms"]]
        hit = Hit(id=doc["id"], score=score, source=doc,
                  highlight={"title": highlight(doc.get("title"), terms),
                             "abstract": highlight(doc.get("abstract"), terms)})
        listing = search_item(hit, on)
        items.append({"listing_id": doc["id"], "score": score, "strong_match": score >= strong,
                      "reasons": reasons, "listing": listing})
    return {"demand_id": demand.id, "items": items, "model": model.version if model else "none",
            "ranked_by": "model" if model else "engine", "strong_score": strong,
            "took_ms": round((time.perf_counter() - started) * 1000, 2)}


# -- listing -> demands ----------------------------------------------------------------------------------


def demands_for_listing(user: User, listing_id: int, limit: int) -> list[dict]:
    listing = db.session.get(Listing, listing_id)
    if listing is None:
        raise NotFound("listing_not_found", f"no listing {listing_id}")
    if not can_manage_organization(user, listing.patent.owner_organization_id):
        raise Forbidden("not_your_listing", "only the listing's owner and staff see which demands fit it")
    return _score_demands(listing_id, limit)


def _score_demands(listing_id: int, limit: int | None, at_least: float | None = None) -> list[dict]:
    """The open demands the listing fits, best first: those scoring `at_least`, else above 0."""
    docs, _ = documents_for([listing_id])
    if not docs:
        return []
    model = serving_model()
    index = demand_index(model)
    if not index.entries:
        return []
    prepared = prepare(docs, model)
    text = prepared.texts[0]
    found = []
    for demand_id in index.candidates(set(text.title_words) | set(text.body_words), prepared.vectors[0],
                                      prepared.passage_vectors[0]):
        entry = index.entries[demand_id]
        score, reasons, _ = rank(entry.analysis, model, entry.wanted, prepared)[0]
        explained = reasons["matched_terms"] or reasons["related_terms"] or entry.analysis.vector is not None
        if (score >= at_least if at_least is not None else score > 0) and explained:
            found.append((score, demand_id, reasons))
    found.sort(key=lambda item: (-item[0], item[1]))
    if limit is not None:
        found = found[:limit]
    demands = {d.id: d for d in db.session.scalars(sa.select(Demand).where(Demand.id.in_([i for _, i, _ in found])))}
    strong = strong_score()
    return [{"demand": demands[demand_id], "score": score, "strong_match": score >= strong, "reasons": reasons}
            for score, demand_id, reasons in found if demand_id in demands]


def demands_to_notify(listing: Listing) -> list[dict]:
    """The open demands a newly published listing fits well enough to tell their enterprises (reads only)."""
    return _score_demands(listing.id, None, at_least=strong_score())


def notify_matching_demands(listing: Listing, fitting: list[dict] | None = None) -> int:
    """Tell the enterprises whose open demands the listing fits well (once per demand and listing)."""
    sent = 0
    for item in demands_to_notify(listing) if fitting is None else fitting:
        demand = item["demand"]
        recipients = [demand.created_by_user_id] if demand.created_by_user_id else []
        sent += len(notify(recipients, "demand_match", f"A new listing fits your demand “{demand.title}”"[:300],
                           body=listing.patent.title,
                           data={"demand_id": demand.id, "listing_id": listing.id, "score": item["score"]},
                           dedupe_key=f"demand_match:{demand.id}:{listing.id}"))
    return sent
