"""The trained matching model as the app serves it: loaded from its directory (numpy files, memory-mapped,
shared by gunicorn workers), read by the analysis and ranking of every match."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
from scipy import sparse

from . import matching
from .text import DEMAND_BOILERPLATE, Doc, bigrams, passage, passage_hash, words

FORMAT = 5
MIN_RELATED_SPECIFICITY = 0.25
RELATED_THRESHOLD = 0.45
SOFT_THRESHOLD = 0.35
NEIGHBOURS = 6  # what related_terms (5) and expanded (6) read, the word itself included


class TextModel:
    def __init__(self, directory: Path, meta: dict, arrays: dict[str, np.ndarray]):
        self.directory = directory
        self.meta = meta
        self.vocabulary: list[str] = meta["vocabulary"]
        self.index = {w: i for i, w in enumerate(self.vocabulary)}
        self.idf = arrays["idf"]
        self.specificity = arrays["specificity"]
        self.weight = arrays["weight"]
        self.term_vectors = arrays["term_vectors"]  # vocabulary x k, rows = projection of each word
        # vocabulary x k, unit rows, from local contexts; a plain view of the mapped file, because
        # slicing a numpy memmap costs more than the arithmetic done on the slice.
        self.word_vectors = np.asarray(arrays["word_vectors"])
        # Each word's NEIGHBOURS most similar words (itself included), most similar first: found once
        # at training, so that a match looks them up instead of comparing with the whole vocabulary.
        self.neighbours = np.asarray(arrays["neighbours"])
        self.neighbour_sims = np.asarray(arrays["neighbour_sims"])
        self.doc_vectors = arrays["doc_vectors"]  # documents x k, unit rows
        self.passage_vectors = np.asarray(arrays["passage_vectors"])  # documents x 384, the encoder's, unit rows
        self.passage_hashes = np.asarray(arrays["passage_hashes"])
        self.passage_chars = int(meta.get("passage_chars", 64))  # how much of an abstract its passages read
        self.dense_floor = float(meta["dense_floor"])
        self.dense_span = float(meta["dense_span"])
        self.doc_keys = arrays["doc_keys"]
        self.key_row = {int(k): i for i, k in enumerate(self.doc_keys)}
        # word x document BM25 term parts (saturated tf, length-normalised), column-compressed by
        # word: a demand's words add up their columns to rank the catalogue by weighted overlap.
        self.postings = sparse.csr_matrix(
            (np.asarray(arrays["postings_data"]), np.asarray(arrays["postings_indices"]),
             np.asarray(arrays["postings_indptr"])), shape=(len(meta["vocabulary"]), len(self.doc_keys)))
        self.subclasses: list[str] = meta["subclasses"]
        self.centroids = arrays["centroids"]
        self.temperature = float(meta["temperature"])
        self.weights = matching.RankerWeights(**meta["ranker"])
        self.avg_len = float(meta["avg_len"])
        self.avg_bigrams = float(meta["avg_bigrams"])
        self.documents = int(meta["documents"])
        # A model being trained carries its bigrams in meta; a saved one in bigrams.json beside it.
        vocab = meta.get("bigrams")
        if vocab is None:
            vocab = json.loads((directory / "bigrams.json").read_text(encoding="utf-8"))
        self.bigram_df = dict(zip(vocab, (int(v) for v in arrays["bigram_df"]), strict=True))
        self.version = meta["version"]
        # Text score -> probability that the listing answers the demand, fitted on held-out pseudo-queries.
        self.calibration = meta.get("calibration")

    # -- loading and saving ------------------------------------------------------------------------------

    @classmethod
    def load(cls, directory: str | Path) -> TextModel | None:
        directory = Path(directory)
        meta_file = directory / "model.json"
        if not meta_file.exists():
            return None
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            return None
        arrays = {name: np.load(directory / f"{name}.npy", mmap_mode="r") for name in meta["arrays"]}
        return cls(directory, meta, arrays)

    # -- demand side -----------------------------------------------------------------------------------

    def term_weights(self, text: str) -> dict[str, float]:
        """The demand's words and how much each should count: catalogue weight x (1 + log tf)."""
        counts = Counter(w for w in words(text) if w not in DEMAND_BOILERPLATE)
        out = {}
        for word, tf in counts.items():
            i = self.index.get(word)
            if i is not None and self.weight[i] > 0:
                out[word] = float(self.weight[i]) * (1.0 + math.log(tf))
        return out

    def bigram_weights(self, text: str) -> dict[str, float]:
        """The demand's bigrams, each as Elasticsearch would weigh a repeated query token: IDF x count.
        Bigrams that are demand boilerplate words (我们, 希望) do not count."""
        counts = Counter(g for g in bigrams(text) if g not in DEMAND_BOILERPLATE)
        n = self.documents
        out = {}
        for gram, count in counts.items():
            df = self.bigram_df.get(gram, 1)
            out[gram] = math.log(1 + (n - df + 0.5) / (df + 0.5)) * count
        return out

    def vector(self, weights: dict[str, float]) -> np.ndarray | None:
        rows = [self.index[w] for w in weights]
        if not rows:
            return None
        values = np.array([weights[w] for w in weights], dtype=np.float32)
        v = values @ np.asarray(self.term_vectors[rows], dtype=np.float32)
        norm = float(np.linalg.norm(v))
        return v / norm if norm > 0 else None

    def doc_vector(self, doc: Doc) -> np.ndarray | None:
        row = self.key_row.get(doc.key)
        if row is not None:
            return np.asarray(self.doc_vectors[row], dtype=np.float32)
        return self.vector(self.doc_weights(doc.title, doc.body))

    def passage_vectors_of(self, patents: list[tuple[int, str, str]],
                           stored: dict[int, tuple[int, np.ndarray]] | None = None) -> list[np.ndarray | None]:
        """The encoder's vectors of (patent id, title, body): from the model while the passage is the one
        it was trained on, else from `stored` (patent id -> (passage hash, vector), what the background
        job encoded) when it holds this passage, else None: a match never encodes a listing itself."""
        stored = stored or {}
        out: list[np.ndarray | None] = []
        for key, title, body in patents:
            digest = passage_hash(passage(title, body, self.passage_chars))
            row = self.key_row.get(key)
            if row is not None and int(self.passage_hashes[row]) == digest:
                out.append(self.passage_vectors[row])
            elif key in stored and stored[key][0] == digest:
                out.append(stored[key][1])
            else:
                out.append(None)
        return out

    def nearest_passages(self, vector: np.ndarray | None, size: int) -> list[tuple[int, float]]:
        """(patent id, cosine) of the `size` catalogue passages nearest to an encoded demand."""
        if vector is None or not len(self.doc_keys):
            return []
        return self._top(self.passage_vectors @ vector, size)

    def doc_weights(self, title: str, body: str) -> dict[str, float]:
        counts = Counter(words(title) * 2 + words(body))
        return {w: float(self.weight[self.index[w]]) * (1.0 + math.log(tf))
                for w, tf in counts.items() if w in self.index}

    def nearest_documents(self, vector: np.ndarray, size: int) -> list[tuple[int, float]]:
        """(patent id, cosine) of the `size` nearest catalogue documents."""
        if vector is None or not len(self.doc_keys):
            return []
        return self._top(np.asarray(self.doc_vectors) @ vector, size)

    def _top(self, scores: np.ndarray, size: int) -> list[tuple[int, float]]:
        size = min(size, len(scores))
        top = np.argpartition(-scores, size - 1)[:size]
        top = top[np.argsort(-scores[top])]
        return [(int(self.doc_keys[i]), float(scores[i])) for i in top]

    def lexical_documents(self, weights: dict[str, float], size: int) -> list[tuple[int, float]]:
        """(patent id, score) of the `size` catalogue documents with the most weighted words of the
        demand (BM25 over the model's words, weighted by the model's word weights)."""
        rows = [self.index[w] for w in weights if w in self.index]
        if not rows or not len(self.doc_keys):
            return []
        values = np.array([weights[self.vocabulary[r]] for r in rows], dtype=np.float32)
        scores = np.asarray(self.postings[rows].T @ values).ravel()
        size = min(size, int((scores > 0).sum()))
        return self._top(scores, size) if size > 0 else []

    def ipc_probabilities(self, vector: np.ndarray | None) -> dict[str, float]:
        if vector is None or not self.subclasses:
            return {}
        logits = self.temperature * (np.asarray(self.centroids) @ vector)
        logits -= logits.max()
        p = np.exp(logits)
        p /= p.sum()
        top = np.argsort(-p)[:20]
        return {self.subclasses[i]: float(p[i]) for i in top if p[i] >= 0.005}

    def related_terms(self, weights: dict[str, float], per_word: int = 4, limit_words: int = 8,
                      threshold: float = RELATED_THRESHOLD) -> dict[str, float]:
        """Catalogue words used in the same contexts as the demand's strongest words (query expansion),
        with weight = the source word's weight x similarity x 0.5 x the related word's specificity."""
        out: dict[str, float] = {}
        for word in sorted(weights, key=weights.get, reverse=True)[:limit_words]:
            for other, i, s in self._neighbours_of(word, per_word + 1):
                specific = float(self.specificity[i])
                # A word that every field uses is near everything: not a synonym.
                if (other in weights or s < threshold or self.weight[i] <= 0 or specific < MIN_RELATED_SPECIFICITY
                        or other in DEMAND_BOILERPLATE or len(other) < 2):
                    continue
                out[other] = max(out.get(other, 0.0), weights[word] * s * 0.5 * specific)
        return out

    def expanded(self, weights: dict[str, float], per_word: int = 5) -> dict[str, float]:
        """The demand's words and, for every one of them, the words used in the same contexts (at
        least SOFT_THRESHOLD similar), weighted by similarity: the query the soft matches imply, for
        finding candidates that share few of the demand's own words."""
        out = dict(weights)
        for word in weights:
            for other, _, s in self._neighbours_of(word, per_word + 1):
                if other != word and s >= SOFT_THRESHOLD and other not in DEMAND_BOILERPLATE:
                    out[other] = max(out.get(other, 0.0), weights[word] * s)
        return out

    def _neighbours_of(self, word: str, count: int) -> list[tuple[str, int, float]]:
        row = self.index.get(word)
        if row is None:
            return []
        return [(self.vocabulary[i], int(i), float(s))
                for i, s in zip(self.neighbours[row, :count], self.neighbour_sims[row, :count], strict=True)]

    def fill_soft_matches(self, weights: dict[str, float], candidates: list[matching.CandidateText]) -> None:
        """For each demand word and candidate, the word's best similarity to a word of the listing
        (1 for the word itself, 0 below SOFT_THRESHOLD), over the whole text and over the title.
        One matrix product for all candidates: this runs on every match."""
        query = [w for w in weights if w in self.index]
        if not query or not candidates:
            return
        index, wv = self.index, self.word_vectors
        q = wv[[index[w] for w in query]]
        segments: list[list[int]] = []  # per candidate: its words' rows, then its title's
        for c in candidates:
            title = set(c.title_words)
            segments.append([index[w] for w in title.union(c.body_words) if w in index])
            segments.append([index[w] for w in title if w in index])
        lengths = np.array([len(segment) for segment in segments])
        rows = [r for segment in segments for r in segment]
        if not rows:
            return
        starts = np.concatenate([[0], np.cumsum(lengths[:-1])])
        # A zero column closes the last segment: an empty segment at the end starts past the last row,
        # and clipping its start would cut that row off the segment before it.
        sims = np.concatenate([q @ wv[rows].T, np.zeros((len(query), 1), dtype=np.float32)], axis=1)
        best = np.maximum.reduceat(sims, starts, axis=1)
        best[:, lengths == 0] = 0.0
        # The listing's own use of the word: its unit vector against itself, 1 up to rounding.
        best[best >= 1.0 - 1e-4] = 1.0
        # Only the pairs that count reach Python (a loop over every word and candidate cost ~15 ms).
        ks, js = np.nonzero(best >= SOFT_THRESHOLD)
        for k, j, value in zip(ks.tolist(), js.tolist(), best[ks, js].tolist(), strict=True):
            candidate = candidates[j >> 1]
            (candidate.soft_title if j & 1 else candidate.soft)[query[k]] = value


# -- training ----------------------------------------------------------------------------------------
