"""Ranking listings for a demand's analysis: candidates from the search engine and the model, prepared
once per listing, scored by the pure functions of matching.py."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import sqlalchemy as sa

from app import clock
from app.auth.models import Organization
from app.errors import ServiceUnavailable
from app.extensions import db
from app.indexing.documents import documents_for
from app.indexing.indexer import backend
from app.indexing.service import PUBLISHED
from app.outlets.models import Outlet
from app.patents import terms as patent_terms
from app.patents.models import Listing
from search import SearchUnavailable

from . import freshness, matching
from .analysis import Analysis, analyse, doc_body
from .model import TextModel
from .text import DEMAND_BOILERPLATE, Doc, bigrams, candidate_text

ENGINE_CANDIDATES = 50
ENGINE_BIGRAMS = 16
ENGINE_WORDS = 6
MAX_BIGRAM_SHARE = 0.02
LATENT_CANDIDATES = 20
LEXICAL_CANDIDATES = 40
DENSE_CANDIDATES = 40
ENGINE_RANKED = 50  # how much of the engine's ranking a model-less match reads


def ranked_listings(text: str, wanted: matching.Structured, model: TextModel | None, explain: int | None = None,
                    analysis: Analysis | None = None):
    """(score, reasons, document) of the published listings that match `text`, best first; the
    word-level reasons only for the first `explain` (all when None)."""
    analysis = analyse(text, model) if analysis is None else analysis
    if model is None:
        return engine_ranked(text, analysis, wanted, explain)
    docs, _ = documents_for(candidate_listings(analysis, model))
    return rank(analysis, model, wanted, prepare([d for d in docs if d["status"] in PUBLISHED], model), explain)


def engine_ranked(text: str, analysis: Analysis, wanted: matching.Structured, explain: int | None = None):
    """Without a model it can trust, the search engine's own ranking of the demand's text, in its order:
    the features of a model-less ranker, measured, rank below it (docs/benchmarks.md), and a ranking
    must never be worse than the engine it takes its candidates from. The scores are the default
    weights' text score, calibrated, and never higher than the score of a listing above."""
    # What the demand asks may move a listing up from below the first `explain`: then read more.
    size = ENGINE_RANKED if wanted.asks or explain is None else min(explain, ENGINE_RANKED)
    try:
        ranked = backend().rank_text(text, PUBLISHED, size)
    except SearchUnavailable as exc:
        raise ServiceUnavailable("search_unavailable", "matching needs the search engine right now") from exc
    docs, _ = documents_for([doc_id for doc_id, _ in ranked])
    by_id = {d["id"]: d for d in docs if d["status"] in PUBLISHED}
    ordered = [by_id[doc_id] for doc_id, _ in ranked if doc_id in by_id]
    return rank(analysis, None, wanted, prepare(ordered, None), explain, keep_order=True)


def candidate_listings(analysis: Analysis, model: TextModel | None) -> list[int]:
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
    if model is not None:
        unseen = [pid for pid, _, _ in patents if pid not in model.key_row]
        passage_vectors = model.passage_vectors_of(patents, freshness.stored_passages(unseen))
    else:
        passage_vectors = [None] * len(docs)
    return Prepared(docs, texts, vectors, _regions(docs) if docs else {}, passage_vectors)


def rank(analysis: Analysis, model: TextModel | None, wanted: matching.Structured, prepared: Prepared,
         explain: int | None = None, keep_order: bool = False):
    """(score, reasons, doc) best first; which words matched is worked out for the first `explain`.
    With `keep_order` the prepared documents are already ranked (the engine's order), which only what
    the demand asks may change. Scores never rise down the list."""
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
    table = model.calibration if model else matching.DEFAULT_CALIBRATION
    on = clock.today()
    out = []
    for position, (doc, candidate, f) in enumerate(zip(prepared.docs, candidates, features, strict=True)):
        raw = matching.text_score(f, weights)
        text = matching.calibrated(raw, table)
        expires = date.fromisoformat(doc["expires_on"]) if doc.get("expires_on") else None
        offer = matching.Offer(mode=doc["mode"], price_fen=doc.get("price_fen"), ipc_codes=doc.get("ipc_codes") or [],
                               regions=prepared.regions[doc["id"]],
                               remaining_years=patent_terms.remaining_years(expires, on))
        shared = matching.shared_ipc(wanted.ipc_hints, analysis.ipc, offer.ipc_codes)
        fit, reasons = matching.structured_fit(wanted, offer, shared)
        reasons.update({"shared_ipc": shared, "text_similarity": round(text, 4)})
        # Ranked by the raw score (calibration flattens where answers are as rare); in the engine's order
        # only what the demand asks (budget, mode, region, IPC) moves a listing.
        order = ((-matching.structured_fit(wanted, replace(offer, remaining_years=None), shared)[0], position)
                 if keep_order else (-matching.combine(raw, fit), doc["id"]))
        out.append((matching.combine(text, fit), reasons, doc, candidate, order))
    out.sort(key=lambda item: item[4])
    ceiling = 1.0
    for i, item in enumerate(out):  # a score is never above the one before it
        ceiling = min(ceiling, item[0])
        out[i] = (ceiling, *item[1:])
    for i, (_, reasons, _, candidate, _) in enumerate(out):
        explained = explain is None or i < explain
        quiet = DEMAND_BOILERPLATE
        reasons["matched_terms"] = matching.matched_terms(analysis.weights, candidate, skip=quiet) if explained else []
        reasons["related_terms"] = (matching.matched_terms(analysis.related, candidate, limit=5, skip=quiet)
                                    if explained else [])
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
