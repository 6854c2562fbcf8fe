"""Matching demands and listings (供需对接): candidates from the search engine and from the model's
latent space, re-ranked by the pure scoring in matching.py with the trained model's features.

Without a trained model (a fresh installation before `flask matching train`), matching still works
on the engine's candidates, the demand's own words and the structured signals, with default weights.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, replace
from datetime import date
from math import log
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from flask import current_app

from app import clock
from app.auth.models import Organization, User
from app.errors import Forbidden, NotFound, ServiceUnavailable
from app.extensions import db
from app.indexing.documents import documents_for
from app.indexing.indexer import backend
from app.indexing.service import PUBLISHED, search_item
from app.notifications.services import notify
from app.outlets.models import Outlet
from app.patents import terms as patent_terms
from app.patents.models import Listing
from app.patents.services import can_manage_organization
from search import SearchUnavailable
from search.base import Hit
from search.text import highlight

from . import encoder, matching
from .models import Demand
from .textmodel import DEMAND_BOILERPLATE, Doc, TextModel, bigrams, candidate_text, words

logger = logging.getLogger(__name__)

ENGINE_CANDIDATES = 50
ENGINE_BIGRAMS = 16
ENGINE_WORDS = 6
MAX_BIGRAM_SHARE = 0.02
LATENT_CANDIDATES = 20
LEXICAL_CANDIDATES = 40
DENSE_CANDIDATES = 40
CLAIMS_PREFIX = 400  # the claims' opening: what is claimed, before the dependent details
NOTIFY_THRESHOLD = 0.5


# -- the model -------------------------------------------------------------------------------------------


def model_dir(app=None) -> Path | None:
    configured = (app or current_app).config.get("MATCHING_MODEL_DIR")
    return Path(configured) if configured else None


def load_model(app) -> None:
    """Called at start-up; a newer model written by `flask matching train` is picked up on next use."""
    directory = model_dir(app)
    model = None
    if directory is not None:
        try:
            model = TextModel.load(directory)
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("matching model in %s could not be loaded: %s", directory, exc)
    app.extensions["matching_model"] = model
    app.extensions["matching_model_stamp"] = _stamp(directory)


def _stamp(directory: Path | None) -> float | None:
    try:
        return (directory / "model.json").stat().st_mtime if directory else None
    except OSError:
        return None


def current_model() -> TextModel | None:
    app = current_app._get_current_object()
    if _stamp(model_dir(app)) != app.extensions.get("matching_model_stamp"):
        load_model(app)
    return app.extensions.get("matching_model")


def doc_body(abstract: str | None, claims: str | None) -> str:
    return " ".join(filter(None, [abstract, (claims or "")[:CLAIMS_PREFIX]]))


# -- analysing a demand ----------------------------------------------------------------------------------


@dataclass
class Analysis:
    weights: dict[str, float]
    related: dict[str, float]
    vector: np.ndarray | None
    ipc: dict[str, float]
    bigrams: dict[str, float]
    dense: np.ndarray | None = None  # the pretrained encoder's vector of the demand (with a model)


def analyse(text: str, model: TextModel | None, dense: np.ndarray | None = None) -> Analysis:
    """What matching reads of a demand's text; `dense`: its encoder vector when one is stored."""
    if model is None:
        # Without the catalogue's statistics a lone character (的, 是) cannot be judged: left out.
        counts = Counter(w for w in words(text) if len(w) > 1 and w not in DEMAND_BOILERPLATE)
        grams = Counter(g for g in bigrams(text) if g not in DEMAND_BOILERPLATE)
        return Analysis({w: 1.0 + log(c) for w, c in counts.items()}, {}, None, {},
                        {g: float(c) for g, c in grams.items()})
    weights = model.term_weights(text)
    related = model.related_terms(weights)
    vector = model.vector({**weights, **related})
    return Analysis(weights, related, vector, model.ipc_probabilities(vector), model.bigram_weights(text),
                    encoder.queries([text])[0] if dense is None else dense)


def stored_vector(demand: Demand) -> np.ndarray | None:
    return encoder.from_bytes(demand.text_vector, demand.text_encoder)


def store_vector(demand: Demand) -> None:
    """Encode the demand's text now (when it is written), for stored_vector to read at every match."""
    demand.text_vector = encoder.to_bytes(encoder.queries([demand_text(demand)])[0])
    demand.text_encoder = encoder.NAME


def demand_text(demand: Demand) -> str:
    return f"{demand.title}。{demand.description}"


def structured(demand: Demand) -> matching.Structured:
    return matching.Structured(budget_min_fen=demand.budget_min_fen, budget_max_fen=demand.budget_max_fen,
                               modes=list(demand.modes or []), region=demand.region,
                               ipc_hints=list(demand.ipc_hints or []))


# -- demand -> listings ----------------------------------------------------------------------------------


def matches_for_demand(demand: Demand, limit: int) -> dict:
    started = time.perf_counter()
    model = current_model()
    ranked = ranked_listings(demand_text(demand), structured(demand), model, explain=limit,
                             analysis=_demand_analysis(demand, model))[:limit]
    on = clock.today()
    items = []
    for score, reasons, doc in ranked:
        terms = [{"word": w} for w in reasons["matched_terms"] + reasons["related_terms"]]
        hit = Hit(id=doc["id"], score=score, source=doc,
                  highlight={"title": highlight(doc.get("title"), terms),
                             "abstract": highlight(doc.get("abstract"), terms)})
        listing = search_item(hit, on)
        items.append({"listing_id": doc["id"], "score": score, "reasons": reasons, "listing": listing})
    return {"demand_id": demand.id, "items": items, "model": model.version if model else "none",
            "took_ms": round((time.perf_counter() - started) * 1000, 2)}


def ranked_listings(text: str, wanted: matching.Structured, model: TextModel | None, explain: int | None = None,
                    analysis: Analysis | None = None):
    """(score, reasons, document) of the published listings that match `text`, best first; the
    word-level reasons only for the first `explain` (all when None)."""
    analysis = analyse(text, model) if analysis is None else analysis
    docs, _ = documents_for(_candidates(analysis, model))
    return rank(analysis, model, wanted, prepare([d for d in docs if d["status"] in PUBLISHED], model), explain)


def _candidates(analysis: Analysis, model: TextModel | None) -> list[int]:
    # The engine is asked for the demand's heaviest bigrams (any of them, as a bigram analyzer would)
    # and its heaviest whole words and their relatives: bigrams find a patent whatever its words'
    # segmentation, words and relatives find it when the bigrams are too common to rank it.
    # Only bigrams inside the demand's words: those across a word boundary (们的, 塘形) are rare, so
    # they would weigh most, and mean nothing.
    inside = {gram for word in analysis.weights for gram in bigrams(word)}
    # Bigrams in more than MAX_BIGRAM_SHARE of the catalogue rank nothing and cost the engine most.
    common = (lambda g: model.bigram_df.get(g, 0) > MAX_BIGRAM_SHARE * model.documents) if model else (lambda g: False)
    grams = sorted(((g, wt) for g, wt in analysis.bigrams.items() if g in inside and not common(g)),
                   key=lambda item: -item[1])[:ENGINE_BIGRAMS]
    named = sorted(((w, wt) for w, wt in {**analysis.related, **analysis.weights}.items() if len(w) > 2),
                   key=lambda item: -item[1])[:ENGINE_WORDS]
    terms = grams + named
    try:
        from_engine = [doc_id for doc_id, _ in backend().match(terms, PUBLISHED, ENGINE_CANDIDATES)]
    except SearchUnavailable as exc:
        if model is None:
            raise ServiceUnavailable("search_unavailable", "matching needs the search engine right now") from exc
        from_engine = []  # the latent space alone still finds candidates
    from_model: list[int] = []
    if model is not None:
        # The model's own candidates: nearest in the latent space, most weighted words (with their
        # relatives) over the catalogue it was trained on, and nearest passages by the encoder (which
        # finds a patent even when the demand shares no word with it).
        patent_ids = list(dict.fromkeys(
            [key for key, _ in model.nearest_documents(analysis.vector, LATENT_CANDIDATES)]
            + [key for key, _ in model.lexical_documents(model.expanded({**analysis.related, **analysis.weights}),
                                                         LEXICAL_CANDIDATES)]
            + [key for key, _ in model.nearest_passages(analysis.dense, DENSE_CANDIDATES)]))
        if patent_ids:
            order = {pid: i for i, pid in enumerate(patent_ids)}
            rows = db.session.execute(sa.select(Listing.id, Listing.patent_id).where(
                Listing.patent_id.in_(patent_ids), Listing.status.in_(PUBLISHED))).all()
            from_model = [lid for lid, _ in sorted(rows, key=lambda r: order[r.patent_id])]
    return list(dict.fromkeys(from_engine + from_model))


@dataclass
class Prepared:
    """What matching reads of candidate listings, whatever the demand: their documents, words and
    bigrams, latent vectors and places. Worked out once when one listing meets many demands."""

    docs: list[dict]
    texts: list[matching.CandidateText]
    vectors: list[np.ndarray | None]
    regions: dict[int, list[str]]
    passage_vectors: list[np.ndarray | None]


def prepare(docs: list[dict], model: TextModel | None) -> Prepared:
    texts, vectors, patents = [], [], []
    for doc in docs:
        title, codes = doc.get("title") or "", doc.get("ipc_codes") or []
        body = doc_body(doc.get("abstract"), doc.get("claims"))
        texts.append(candidate_text(title, body, codes, None))
        vectors.append(model.doc_vector(Doc(doc["patent_id"], title, body, codes)) if model is not None else None)
        patents.append((doc["patent_id"], title, body))
    passage_vectors = model.passage_vectors_of(patents) if model is not None else [None] * len(docs)
    return Prepared(docs, texts, vectors, _regions(docs) if docs else {}, passage_vectors)


def rank(analysis: Analysis, model: TextModel | None, wanted: matching.Structured, prepared: Prepared,
         explain: int | None = None):
    """(score, reasons, doc) best first; which words matched is worked out for the first `explain`."""
    if not prepared.docs:
        return []
    # Per demand: the cosine and the soft matches (fresh dicts; the prepared texts are shared).
    candidates = [replace(text, cosine=None if vector is None or analysis.vector is None
                          else float(vector @ analysis.vector), soft={}, soft_title={},
                          dense=None if dense is None or analysis.dense is None else float(dense @ analysis.dense))
                  for text, vector, dense in zip(prepared.texts, prepared.vectors, prepared.passage_vectors,
                                                 strict=True)]
    if model is not None:
        model.fill_soft_matches(analysis.weights, candidates)
    features = matching.text_features(query_weights=analysis.weights, related_weights=analysis.related,
                                      ipc_probabilities=analysis.ipc, candidates=candidates,
                                      avg_len=model.avg_len if model else 80.0, bigram_idf=analysis.bigrams,
                                      avg_bigrams=model.avg_bigrams if model else 160.0,
                                      dense_band=(model.dense_floor, model.dense_span) if model
                                      else (matching.DENSE_FLOOR, matching.DENSE_SPAN))
    weights = model.weights if model else matching.RankerWeights()
    on = clock.today()
    out = []
    for doc, candidate, f in zip(prepared.docs, candidates, features, strict=True):
        text = matching.text_score(f, weights)
        expires = date.fromisoformat(doc["expires_on"]) if doc.get("expires_on") else None
        offer = matching.Offer(mode=doc["mode"], price_fen=doc.get("price_fen"), ipc_codes=doc.get("ipc_codes") or [],
                               regions=prepared.regions[doc["id"]],
                               remaining_years=patent_terms.remaining_years(expires, on))
        shared = matching.shared_ipc(wanted.ipc_hints, analysis.ipc, offer.ipc_codes)
        fit, reasons = matching.structured_fit(wanted, offer, shared)
        reasons.update({"shared_ipc": shared, "text_similarity": round(text, 4)})
        out.append((matching.combine(text, fit), reasons, doc, candidate))
    out.sort(key=lambda item: (-item[0], item[2]["id"]))
    for i, (_, reasons, _, candidate) in enumerate(out):
        explained = explain is None or i < explain
        reasons["matched_terms"] = matching.matched_terms(analysis.weights, candidate) if explained else []
        reasons["related_terms"] = matching.matched_terms(analysis.related, candidate, limit=5) if explained else []
    return [item[:3] for item in out]


def _regions(docs: list[dict]) -> dict[int, list[str]]:
    owners = {d["owner_id"] for d in docs}
    owner_region = dict(db.session.execute(
        sa.select(Organization.id, Organization.region).where(Organization.id.in_(owners))).all())
    codes = {c for d in docs for c in d.get("outlet_codes") or []}
    outlet_places = {o.code: [o.city, o.province] for o in db.session.scalars(
        sa.select(Outlet).where(Outlet.code.in_(codes)))} if codes else {}
    return {d["id"]: [owner_region.get(d["owner_id"]) or ""] + [p for c in d.get("outlet_codes") or []
                                                                  for p in outlet_places.get(c, [])]
            for d in docs}


# -- listing -> demands ----------------------------------------------------------------------------------


def demands_for_listing(user: User, listing_id: int, limit: int) -> list[dict]:
    listing = db.session.get(Listing, listing_id)
    if listing is None:
        raise NotFound("listing_not_found", f"no listing {listing_id}")
    if not can_manage_organization(user, listing.patent.owner_organization_id):
        raise Forbidden("not_your_listing", "only the listing's owner and staff see which demands fit it")
    return _score_demands(listing_id, limit)


def _score_demands(listing_id: int, limit: int | None, floor: float = 0.0) -> list[dict]:
    docs, _ = documents_for([listing_id])
    if not docs:
        return []
    demands = db.session.scalars(sa.select(Demand).where(Demand.is_live).order_by(Demand.id)).all()
    if not demands:
        return []
    model = current_model()
    prepared = prepare(docs, model)
    out = []
    for demand in demands:
        analysis = _demand_analysis(demand, model)
        if not analysis.weights and analysis.vector is None:
            continue
        score, reasons, _ = rank(analysis, model, structured(demand), prepared)[0]
        if score > floor and (reasons["matched_terms"] or reasons["related_terms"] or analysis.vector is not None):
            out.append({"demand": demand, "score": score, "reasons": reasons})
    out.sort(key=lambda item: (-item["score"], item["demand"].id))
    return out if limit is None else out[:limit]


_ANALYSES: OrderedDict = OrderedDict()
_ANALYSES_KEPT = 4096
_ANALYSES_LOCK = threading.Lock()


def _demand_analysis(demand: Demand, model: TextModel | None) -> Analysis:
    """A demand's analysis, kept per process: its owner comes back to the same matches, every listing
    published and every reverse match reads all open demands, and a demand only changes when it is
    edited (or the model is retrained). An unsaved demand (no id) is analysed and not kept."""
    text = demand_text(demand)
    if not demand.id:
        return analyse(text, model, stored_vector(demand))
    # The text is part of the key: an edit within one clock tick would otherwise keep the old analysis.
    key = (demand.id, demand.updated_at, model.version if model else None, text)
    with _ANALYSES_LOCK:  # gthread workers share the cache
        analysis = _ANALYSES.get(key)
        if analysis is not None:
            _ANALYSES.move_to_end(key)
            return analysis
    analysis = analyse(text, model, stored_vector(demand))
    with _ANALYSES_LOCK:
        _ANALYSES[key] = analysis
        while len(_ANALYSES) > _ANALYSES_KEPT:
            _ANALYSES.popitem(last=False)
    return analysis


def demands_to_notify(listing: Listing) -> list[dict]:
    """The open demands a newly published listing fits well enough to tell their enterprises (reads only)."""
    return _score_demands(listing.id, None, floor=NOTIFY_THRESHOLD)


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
