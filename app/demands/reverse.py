"""Which open demands fit a listing (the reverse view, and the notifications a new listing sends), at
the scale of an exchange with ten thousand open demands.

Scoring every open demand against the listing costs about a millisecond each; so each process keeps
an index of the open demands' analyses (refreshed from their ids and updated_at on every call: only
new and edited demands are analysed again) with an inverted index of their words and matrices of
their latent and encoder vectors. A listing's candidate demands are those sharing its weighted words
most, and those nearest in either space; only they are scored in full, as a demand's own matches
score a listing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa

from app.extensions import db

from . import matching
from .analysis import Analysis, analyse, demand_text, stored_vector, structured
from .model import TextModel
from .models import Demand

LEXICAL_CANDIDATES = 60
NEAREST_CANDIDATES = 30
LOAD_BATCH = 500


@dataclass
class Entry:
    version: tuple
    analysis: Analysis
    wanted: matching.Structured
    total: float  # the sum of the demand's word weights


@dataclass
class DemandIndex:
    model: str | None
    entries: dict[int, Entry] = field(default_factory=dict)
    postings: dict[str, dict[int, float]] = field(default_factory=dict)  # word -> demand id -> weight
    ids: np.ndarray | None = None  # row -> demand id, for the matrices
    latent: np.ndarray | None = None
    dense: np.ndarray | None = None

    def refresh(self, model: TextModel | None) -> None:
        # What identifies a demand's version: its times and its texts' lengths (ids are reused after a
        # rollback, and a frozen clock gives two versions one time).
        live = {row[0]: tuple(row[1:]) for row in db.session.execute(
            sa.select(Demand.id, Demand.updated_at, Demand.created_at, sa.func.length(Demand.title),
                      sa.func.length(Demand.description)).where(Demand.is_live))}
        gone = [i for i in self.entries if i not in live]
        stale = [i for i, at in live.items() if i not in self.entries or self.entries[i].version != at]
        if not gone and not stale:
            return
        for demand_id in gone + stale:
            self._remove(demand_id)
        for start in range(0, len(stale), LOAD_BATCH):
            batch = db.session.scalars(sa.select(Demand).where(Demand.id.in_(stale[start:start + LOAD_BATCH]))).all()
            for demand in batch:
                analysis = analyse(demand_text(demand), model, stored_vector(demand) if model else None)
                if not analysis.weights and analysis.vector is None:
                    continue
                entry = Entry(live[demand.id], analysis, structured(demand), sum(analysis.weights.values()) or 1.0)
                self.entries[demand.id] = entry
                for word, weight in {**analysis.related, **analysis.weights}.items():
                    self.postings.setdefault(word, {})[demand.id] = weight
        self._matrices()

    def _remove(self, demand_id: int) -> None:
        entry = self.entries.pop(demand_id, None)
        if entry is None:
            return
        for word in {**entry.analysis.related, **entry.analysis.weights}:
            posting = self.postings.get(word)
            if posting is not None:
                posting.pop(demand_id, None)
                if not posting:
                    del self.postings[word]

    def _matrices(self) -> None:
        ids = sorted(self.entries)
        self.ids = np.array(ids, dtype=np.int64)
        latent = [self.entries[i].analysis.vector for i in ids]
        dense = [self.entries[i].analysis.dense for i in ids]
        self.latent = _stack(latent)
        self.dense = _stack(dense)

    def candidates(self, words: set[str], vector: np.ndarray | None, passage: np.ndarray | None) -> list[int]:
        """The demands worth scoring in full for a listing with these words and vectors."""
        overlap: dict[int, float] = {}
        for word in words:
            for demand_id, weight in self.postings.get(word, {}).items():
                overlap[demand_id] = overlap.get(demand_id, 0.0) + weight
        lexical = sorted(overlap, key=lambda i: (-overlap[i] / self.entries[i].total, i))[:LEXICAL_CANDIDATES]
        nearest: list[int] = []
        for matrix, query in ((self.latent, vector), (self.dense, passage)):
            if matrix is not None and query is not None and len(self.ids):
                scores = matrix @ query
                scores[np.isnan(scores)] = -1.0
                top = np.argsort(-scores)[:NEAREST_CANDIDATES]
                nearest.extend(int(self.ids[r]) for r in top)
        return list(dict.fromkeys(lexical + nearest))


def _stack(vectors: list[np.ndarray | None]) -> np.ndarray | None:
    """Rows of the vectors, NaN where a demand has none (so it is never nearest)."""
    size = next((len(v) for v in vectors if v is not None), None)
    if size is None:
        return None
    out = np.full((len(vectors), size), np.nan, dtype=np.float32)
    for row, v in enumerate(vectors):
        if v is not None:
            out[row] = v
    return out


_indexes: dict = {}
_lock = threading.Lock()


def demand_index(model: TextModel | None) -> DemandIndex:
    """This process's index for this database and model, brought up to date."""
    key = (db.engine.url.render_as_string(), model.version if model else None)
    with _lock:  # gthread workers share it; a refresh reads only what changed
        index = _indexes.get(key)
        if index is None:
            _indexes.clear()
            index = _indexes[key] = DemandIndex(model.version if model else None)
        index.refresh(model)
        return index
