"""Whether the matching model still describes the catalogue, and the background work that keeps it so.

A model knows the patents it was trained on. An exchange that imports its inventory after `make run`
trained on the demo data has a model that knows none of them: its word weights, latent space and
passages describe another catalogue, and ranking with it is close to random. So:

- the model serves only while it has seen at least MATCHING_MIN_COVERAGE of the catalogue; below
  that, matching ranks as the search engine does (ranking.engine_ranked), which is never worse;
- a retrain is scheduled (a job with progress) once the catalogue has grown or changed by
  MATCHING_RETRAIN_SHARE since the model was trained;
- the passages of patents the model has not seen (new or edited) are encoded by a background job and
  stored (PassageVector), so a match never encodes a listing inside the request.

The counts compare the patents' ids with the model's and their updated_at with its training time; they
are kept a short while per process, since every match asks.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import numpy as np
import sqlalchemy as sa
from flask import current_app

from app import clock, events
from app.db import read_only
from app.extensions import db
from app.indexing.service import PUBLISHED
from app.jobs import Every, enqueue, job
from app.patents.models import Listing, Patent

from . import encoder
from .analysis import doc_body
from .loading import current_model, model_dir
from .model import TextModel
from .models import PassageVector, stored_vectors
from .text import PASSAGE_CHARS, passage, passage_hash

logger = logging.getLogger(__name__)

STATE_SECONDS = 30  # how long a process trusts its counts
ENCODE_BATCH = 64
ENCODE_PER_RUN = 256  # ~17 s of encoding: the job then makes way for the others
_cache: dict = {}
_cache_lock = threading.Lock()


@dataclass
class Freshness:
    model: str | None  # the model's version, None without one
    trained_at: datetime | None
    model_documents: int
    catalogue: int  # patents in the database
    new: int  # created since the model was trained
    changed: int  # edited since
    removed: int  # in the model, no longer in the database
    change_share: float  # (new + changed + removed) / the model's documents
    coverage: float  # share of the catalogue the model was trained on
    serving: bool  # the model ranks matches (else the engine's ranking does)
    retrain_due: bool

    def as_dict(self) -> dict:
        out = asdict(self)
        out["trained_at"] = self.trained_at.isoformat() if self.trained_at else None
        out["age_seconds"] = round((clock.now() - self.trained_at).total_seconds()) if self.trained_at else None
        return out


def trained_at(model: TextModel) -> datetime:
    stamp = model.meta.get("trained_at")
    if stamp:
        return datetime.fromisoformat(stamp)
    return datetime.fromtimestamp((model.directory / "model.json").stat().st_mtime, UTC)


def measure(model: TextModel | None) -> Freshness:
    """The counts, read now: which patents the model holds (by id), which changed since it was trained."""
    config = current_app.config
    if model is None:
        catalogue = db.session.scalar(sa.select(sa.func.count()).select_from(Patent)) or 0
        return Freshness(None, None, 0, catalogue, catalogue, 0, 0, 1.0, 0.0, False,
                         catalogue >= config["MATCHING_MIN_DOCUMENTS"])
    since = trained_at(model)
    rows = db.session.execute(sa.select(Patent.id, Patent.updated_at > since)).all()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    edited = np.fromiter((bool(r[1]) for r in rows), dtype=bool, count=len(rows))
    known = np.isin(ids, np.asarray(model.doc_keys))
    catalogue = len(ids)
    new = int((~known).sum())
    changed = int((known & edited).sum())
    documents = model.documents
    removed = max(0, documents - int(known.sum()))
    share = (new + changed + removed) / max(documents, 1)
    coverage = (catalogue - new) / catalogue if catalogue else 1.0
    return Freshness(model.version, since, documents, catalogue, new, changed, removed, round(share, 4),
                     round(coverage, 4), coverage >= config["MATCHING_MIN_COVERAGE"],
                     (share >= config["MATCHING_RETRAIN_SHARE"] or outdated(model))
                     and catalogue >= config["MATCHING_MIN_DOCUMENTS"])


def outdated(model: TextModel) -> bool:
    """Whether the model reads passages another way than this release (a shorter opening): then it is
    retrained once, whatever the catalogue did."""
    return model.passage_chars != PASSAGE_CHARS


def state(model: TextModel | None) -> Freshness:
    """The counts, kept STATE_SECONDS per process and model (a retrain or an import shows within that)."""
    key = (current_app.config["SQLALCHEMY_DATABASE_URI"], model.version if model else None,
           str(model.directory) if model else None)
    with _cache_lock:
        hit = _cache.get(key)
        if hit and time.monotonic() - hit[0] < STATE_SECONDS:
            return hit[1]
    fresh = measure(model)
    with _cache_lock:
        _cache.clear()  # one database and model per process in practice: keep only the latest
        _cache[key] = (time.monotonic(), fresh)
    return fresh


def forget() -> None:
    with _cache_lock:
        _cache.clear()


def serving_model() -> TextModel | None:
    """The model matching ranks with: the current one while it has seen enough of the catalogue."""
    model = current_model()
    if model is None:
        return None
    return model if state(model).serving else None


# -- passages of patents the model has not seen --------------------------------------------------------


def stored_passages(patent_ids: list[int]) -> dict[int, tuple[int, np.ndarray]]:
    """patent id -> (passage hash, vector) of the vectors the background job stored."""
    return {pid: (digest, vector) for pid, digest, vector in stored_vectors(patent_ids)} if patent_ids else {}


def passages_to_encode(model: TextModel | None, limit: int | None = None) -> list[tuple[int, str, int]]:
    """(patent id, passage, hash) of published listings' patents whose passage neither the model nor the
    store holds, newest first."""
    rows = db.session.execute(
        sa.select(Patent.id, Patent.title, Patent.abstract, Patent.claims, PassageVector.text_hash)
        .join(Listing, Listing.patent_id == Patent.id)
        .outerjoin(PassageVector, PassageVector.patent_id == Patent.id)
        .where(Listing.status.in_(PUBLISHED)).distinct().order_by(Patent.id.desc())).all()
    out = []
    chars = model.passage_chars if model is not None else PASSAGE_CHARS  # comparable with the model's own
    for row in rows:
        text = passage(row.title or "", doc_body(row.abstract, row.claims), chars)
        digest = passage_hash(text)
        if row.text_hash == digest:
            continue
        if model is not None:
            at = model.key_row.get(row.id)
            if at is not None and int(model.passage_hashes[at]) == digest:
                continue
        out.append((row.id, text, digest))
        if limit is not None and len(out) >= limit:
            break
    return out


@job("matching.encode_passages", coalesce=True, lease_seconds=900, schedule=Every(600))
def encode_passages(payload: dict, ctx) -> None:
    """Encode, in batches, the passages matching would otherwise lack (new and edited listings): at most
    ENCODE_PER_RUN per run, then the job queues itself again behind what else is due (indexing,
    notifications), so that a large import's passages never hold up the worker for long."""
    if encode_passages_now(ctx.progress) == ENCODE_PER_RUN:
        enqueue("matching.encode_passages", {}, dedupe_key="matching.encode_passages")


def encode_passages_now(progress=None, limit: int | None = None) -> int:
    """Nothing is encoded without a model the API serves: the vectors serve its matches, and a retrain
    (due when the model has seen too little) encodes or reuses every passage anyway."""
    model = current_model()
    if model is None or not state(model).serving:
        return 0
    with read_only():
        todo = passages_to_encode(model, ENCODE_PER_RUN if limit is None else limit)
        db.session.commit()
    done = 0
    for start in range(0, len(todo), ENCODE_BATCH):
        batch = todo[start:start + ENCODE_BATCH]
        vectors = encoder.passages([text for _, text, _ in batch])  # outside any transaction
        ids = [pid for pid, _, _ in batch]
        existing = set(db.session.scalars(sa.select(PassageVector.patent_id).where(PassageVector.patent_id.in_(ids))))
        alive = set(db.session.scalars(sa.select(Patent.id).where(Patent.id.in_(ids))))
        for (patent_id, _, digest), vector in zip(batch, vectors, strict=True):
            if patent_id not in alive:  # deleted meanwhile
                continue
            values = {"text_hash": digest, "encoder": encoder.NAME, "vector": encoder.to_bytes(vector),
                      "encoded_at": clock.now()}
            if patent_id in existing:
                db.session.execute(sa.update(PassageVector).where(PassageVector.patent_id == patent_id)
                                   .values(**values))
            else:
                db.session.add(PassageVector(patent_id=patent_id, **values))
            done += 1
        if progress is not None:
            progress(min(start + ENCODE_BATCH, len(todo)), len(todo))
        db.session.commit()
    return done


events.as_job("listing.published", "matching.encode_passages")
events.as_job("import.finished", "matching.check")


# -- retraining ----------------------------------------------------------------------------------------


@job("matching.check", coalesce=True, schedule=Every(900))
def check(payload: dict, ctx) -> None:
    """Schedule a retrain when the catalogue has moved on from the model (see MATCHING_RETRAIN_SHARE)."""
    schedule_retrain_if_due()


def schedule_retrain_if_due() -> bool:
    if model_dir() is None:
        return False
    model = current_model()
    fresh = measure(model)
    if not fresh.retrain_due:
        return False
    reason = (f"passages of {model.passage_chars} characters, now {PASSAGE_CHARS}" if model and outdated(model)
              else f"catalogue changed by {fresh.change_share:.0%}")
    logger.info("matching model %s is stale (%s): retrain scheduled", fresh.model, reason)
    return enqueue("matching.train", {"reason": reason}, dedupe_key="matching.train") is not None


@job("matching.train", lease_seconds=1800, max_attempts=2)
def train_model(payload: dict, ctx) -> None:
    """Retrain the model from the catalogue, at a low CPU priority (matching keeps serving meanwhile);
    progress in the job's done/total (steps of training)."""
    from .retraining import train_in_background

    directory = model_dir()
    if directory is None:
        return
    train_in_background(directory, progress=lambda done, total: (ctx.progress(done, total), db.session.commit()))
    forget()
