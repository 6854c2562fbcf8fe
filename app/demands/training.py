"""Training the matching model (`flask matching train`): from the catalogue's patents to the files the
app serves (model.py). See textmodel.py for what the model holds."""

from __future__ import annotations

import json
import math
import random
import re
import shutil
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import rjieba
from scipy import sparse

from search.text import normalise

from . import encoder, matching
from .model import FORMAT, NEIGHBOURS, RELATED_THRESHOLD, TextModel
from .text import (
    DEMAND_BOILERPLATE,
    PASSAGE_CHARS,
    Doc,
    bigrams,
    candidate_text,
    passage,
    passage_hash,
    sentences,
    words,
)

DIMENSIONS = 160
MAX_VOCABULARY = 80_000
MAX_BIGRAMS = 400_000
WINDOW = 4
PARAPHRASE_RATE = 0.8
# More pseudo-queries kept raising the held-out MRR (1,500: 0.371, 3,000: 0.391), at ~1 minute of
# training per thousand at 11k patents.
PSEUDO_QUERIES = 3000
LISTWISE_L2 = (0.1, 1.0)  # the re-ranker's regularisation, chosen on the held-out pseudo-queries
DENSE_FOR_DEMANDS = 1.5  # the encoder's weight as fitted on pseudo-queries, times this (see train)


def train(docs: list[Doc], directory: str | Path, *, dimensions: int = DIMENSIONS, seed: int = 7,
          pseudo_queries: int = PSEUDO_QUERIES, progress=None, known_passages: dict[int, np.ndarray] | None = None,
          trained_at: str | None = None) -> dict:
    """Fit every part of the model on `docs` and write it to `directory` (replaced atomically).
    `known_passages`: passage hash -> encoder vector already worked out (the background job's), reused;
    `trained_at`: when the catalogue was read (ISO), which is what the model is as fresh as."""
    rng = random.Random(seed)
    say = progress or (lambda message: None)
    say(f"analysing {len(docs)} documents")
    doc_words = [words(d.title) * 2 + words(d.body) for d in docs]
    n = len(docs)
    df: Counter = Counter()
    for ws in doc_words:
        df.update(set(ws))
    # Words in one document teach nothing about similarity; words in more than a third of them are
    # the language of patents, not of a subject.
    # Ties broken by the word itself: Counter order follows set order, which changes with Python's
    # string hashing from run to run, and the model must be the same for the same catalogue.
    vocabulary = [w for w, c in sorted(df.items(), key=_by_count) if 2 <= c <= max(2, n // 3)][:MAX_VOCABULARY]
    index = {w: i for i, w in enumerate(vocabulary)}
    idf = np.array([math.log((n + 1) / (df[w] + 0.5)) for w in vocabulary], dtype=np.float32)
    gram_df: Counter = Counter()
    gram_lengths = []
    for d in docs:
        title_grams, body_grams = bigrams(d.title), bigrams(d.body)
        gram_lengths.append(2 * len(title_grams) + len(body_grams))
        gram_df.update(set(title_grams) | set(body_grams))
    gram_vocab = [g for g, c in sorted(gram_df.items(), key=_by_count)[:MAX_BIGRAMS] if c >= 2]

    say("specificity of words to IPC subclasses")
    subclass_of = [(d.ipc[0][:4] if d.ipc else "") for d in docs]
    subclasses = sorted({s for s in subclass_of if s})
    sub_index = {s: i for i, s in enumerate(subclasses)}
    specificity = _specificity(doc_words, subclass_of, index, sub_index, len(vocabulary))
    weight = idf * (0.2 + 0.8 * specificity)
    for w in DEMAND_BOILERPLATE:
        if w in index:
            weight[index[w]] = 0.0

    say("weighted word-document matrix")
    matrix = _matrix(doc_words, index, weight)
    k = max(2, min(dimensions, min(matrix.shape) - 1))
    say(f"truncated SVD, {k} dimensions")
    _, sigma, vt = _randomized_svd(matrix, k, seed)
    term_vectors = (vt.T * 1.0).astype(np.float32)  # a document's vector = its row x V
    doc_vectors = _unit_rows(np.asarray(matrix @ term_vectors, dtype=np.float32))

    say("word postings")
    postings = _postings(doc_words, index)

    say("word vectors from local contexts")
    word_vectors = _word_vectors(docs, index, k, seed)

    say("nearest words")
    neighbours, neighbour_sims = _nearest_words(word_vectors)

    passage_hashes, passage_vectors = _encode_passages(docs, Path(directory), say, known_passages or {})

    say("IPC centroids")
    centroids = np.zeros((len(subclasses), k), dtype=np.float32)
    for row, sub in enumerate(subclass_of):
        if sub:
            centroids[sub_index[sub]] += doc_vectors[row]
    centroids = _unit_rows(centroids)

    model_meta = {"format": FORMAT, "vocabulary": vocabulary, "subclasses": subclasses, "temperature": 20.0,
                  "avg_len": float(np.mean([len(ws) for ws in doc_words])) if n else 1.0,
                  "avg_bigrams": float(np.mean(gram_lengths)) if n else 1.0, "bigrams": gram_vocab,
                  "ranker": matching.RankerWeights().as_dict(), "documents": n, "dimensions": k,
                  "version": f"lsa{k}-v{len(vocabulary)}-d{n}-s{seed}",
                  "arrays": ["idf", "specificity", "weight", "term_vectors", "doc_vectors", "doc_keys", "centroids",
                             "bigram_df", "word_vectors", "neighbours", "neighbour_sims", "postings_data",
                             "postings_indices", "postings_indptr", "passage_vectors", "passage_hashes"],
                  "encoder": encoder.NAME, "passage_chars": PASSAGE_CHARS,
                  "dense_floor": matching.DENSE_FLOOR, "dense_span": matching.DENSE_SPAN}
    arrays = {"idf": idf, "specificity": specificity.astype(np.float32), "weight": weight.astype(np.float32),
              "term_vectors": term_vectors, "doc_vectors": doc_vectors,
              "doc_keys": np.array([d.key for d in docs], dtype=np.int64), "centroids": centroids,
              "bigram_df": np.array([gram_df[g] for g in gram_vocab], dtype=np.int32), "word_vectors": word_vectors,
              "neighbours": neighbours, "neighbour_sims": neighbour_sims,
              "postings_data": postings.data, "postings_indices": postings.indices, "postings_indptr": postings.indptr,
              "passage_vectors": passage_vectors, "passage_hashes": passage_hashes}
    model = TextModel(Path(directory), model_meta, arrays)

    say(f"fitting the IPC temperature and the re-ranker on {pseudo_queries} pseudo-queries")
    samples = _pseudo_queries(docs, rng, pseudo_queries)
    model.temperature = model_meta["temperature"] = _fit_temperature(model, docs, samples)
    examples = _ranker_examples(model, docs, doc_words, samples)
    model_meta["dense_floor"], model_meta["dense_span"] = model.dense_floor, model.dense_span
    fit = fit_reranker(examples)
    held = fit.held
    bigram_only = matching.RankerWeights(**{name: 0.0 for name in matching.FEATURES}, bias=0.0)
    bigram_only.bigram_bm25 = 1.0
    model_meta["ranker"] = fit.weights.as_dict()
    model_meta["calibration"], model_meta["calibration_report"] = _calibration(held, fit.weights, seed)
    if trained_at:
        model_meta["trained_at"] = trained_at
    model_meta["fit"] = {"pseudo_queries": len(samples), "fitted_on": len(examples) - fit.cut,
                         "examples": sum(len(e) for e in examples), "held_out": len(held), "l2": fit.l2,
                         "dense_for_demands": DENSE_FOR_DEMANDS,
                         "held_out_mrr": {"fitted": fit.validation[fit.l2], "served": _mrr(held, fit.weights),
                                          "pointwise": _mrr(held, matching.fit_ranker(examples[fit.cut:])),
                                          "bigram_bm25": _mrr(held, bigram_only),
                                          "defaults": _mrr(held, matching.RankerWeights())}}
    _save(Path(directory), model_meta, arrays)
    say(f"model {model_meta['version']} written to {directory}")
    return {key: model_meta[key] for key in ("version", "documents", "dimensions", "temperature", "ranker", "fit")}


@dataclass
class RerankerFit:
    weights: matching.RankerWeights  # as served: the encoder's weight times `dense_for_demands`
    held: list  # the held-out groups of examples
    cut: int
    l2: float
    validation: dict[float, float]  # held-out MRR@10 per regularisation


def fit_reranker(examples: list, dense_for_demands: float = DENSE_FOR_DEMANDS) -> RerankerFit:
    """The re-ranker's weights from the pseudo-queries' examples. A fifth of them is held out: it
    chooses the listwise fit's regularisation, and train() reports on it what the weights do on
    queries they were not fitted on (next to the pointwise fit and the bigram BM25 feature alone)."""
    cut = max(1, len(examples) // 5)
    held = examples[:cut]
    fits = {l2: matching.fit_listwise(examples[cut:], l2=l2) for l2 in LISTWISE_L2}
    validation = {l2: _mrr(held, weights) for l2, weights in fits.items()}
    chosen = max(LISTWISE_L2, key=lambda l2: (validation[l2], l2))
    # Pseudo-queries are sentences of the patent's own abstract, taken out of it: their answer keeps
    # much of their vocabulary elsewhere in its text, but loses that sentence from its passage, so the
    # fit trusts the words more and the encoder less than real demands, which describe the same thing
    # in other words, deserve (measured on four demand sets, docs/benchmarks.md). Pseudo-queries
    # encoded as fluent sentences rather than paraphrases fit an even steeper encoder slope, and rank
    # demands no better (bench.matching_refit).
    weights = replace(fits[chosen], dense=round(fits[chosen].dense * dense_for_demands, 4))
    return RerankerFit(weights, held, cut, chosen, validation)


def _encode_passages(docs: list[Doc], directory: Path, say,
                     known_passages: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Every document's passage hash and encoder vector; vectors of passages that the model now in
    `directory` already holds are taken from it (a retrain after an import encodes only what is new)."""
    hashes = np.array([passage_hash(passage(d.title, d.body, PASSAGE_CHARS)) for d in docs], dtype=np.int64)
    vectors = np.zeros((len(docs), encoder.DIMENSIONS), dtype=np.float32)
    known = np.zeros(len(docs), dtype=bool)
    try:
        old_hashes = np.load(directory / "passage_hashes.npy")
        old_vectors = np.load(directory / "passage_vectors.npy", mmap_mode="r")
    except (OSError, ValueError):
        old_hashes = None
    if old_hashes is not None and old_vectors.shape == (len(old_hashes), encoder.DIMENSIONS):
        old_row = {int(h): i for i, h in enumerate(old_hashes)}
        rows = [(i, old_row.get(int(h))) for i, h in enumerate(hashes)]
        pairs = np.array([(i, j) for i, j in rows if j is not None], dtype=np.int64).reshape(-1, 2)
        vectors[pairs[:, 0]] = old_vectors[pairs[:, 1]]
        known[pairs[:, 0]] = True
    for i in np.flatnonzero(~known):
        vector = known_passages.get(int(hashes[i]))
        if vector is not None:
            vectors[i], known[i] = vector, True
    todo = np.flatnonzero(~known)
    say(f"encoding {len(todo)} passages with the pretrained encoder ({int(known.sum())} reused)")
    if len(todo):
        vectors[todo] = encoder.passages([passage(docs[i].title, docs[i].body, PASSAGE_CHARS) for i in todo],
                                         progress=lambda done, total: (say(f"  {done}/{total} passages")
                                                                       if done % 2048 < 256 or done == total
                                                                       else None))
    return hashes, vectors


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def _specificity(doc_words, subclass_of, index, sub_index, size) -> np.ndarray:
    """1 - exp(-KL(P(subclass | word) || P(subclass))), smoothed towards the prior."""
    if not sub_index:
        return np.ones(size, dtype=np.float32)
    counts = np.zeros((size, len(sub_index)), dtype=np.float32)
    for ws, sub in zip(doc_words, subclass_of, strict=True):
        if not sub:
            continue
        col = sub_index[sub]
        for w in set(ws):
            i = index.get(w)
            if i is not None:
                counts[i, col] += 1
    prior = counts.sum(axis=0) + 1.0
    prior /= prior.sum()
    alpha = 5.0
    totals = counts.sum(axis=1, keepdims=True)
    posterior = (counts + alpha * prior) / (totals + alpha)
    kl = (posterior * np.log(posterior / prior)).sum(axis=1)
    return (1.0 - np.exp(-kl)).astype(np.float32)


def _word_vectors(docs: list[Doc], index: dict[str, int], k: int, seed: int) -> np.ndarray:
    """Word vectors from the words around each word (a window of WINDOW on each side): positive PMI
    with smoothed context counts, reduced by SVD. Words said in the same contexts (鱼塘 / 鱼池,
    喂料 / 下料) end up close, which is what bridges a demand's words and a patent's."""
    size = len(index)
    left, right = [], []
    for d in docs:
        ids = np.array([index.get(w, -1) for w in rjieba.cut(normalise(f"{d.title}。{d.body}"))], dtype=np.int64)
        for offset in range(1, WINDOW + 1):
            a, b = ids[:-offset], ids[offset:]
            ok = (a >= 0) & (b >= 0) & (a != b)
            left.append(a[ok])
            right.append(b[ok])
    if not left or not sum(len(x) for x in left):
        return np.zeros((size, k), dtype=np.float32)
    rows, cols = np.concatenate(left), np.concatenate(right)
    counts = sparse.coo_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(size, size)).tocsr()
    counts = (counts + counts.T).tocoo()
    word_totals = np.asarray(counts.sum(axis=1)).ravel()
    context = word_totals ** 0.75
    pmi = np.log(counts.data * context.sum() / (word_totals[counts.row] * context[counts.col]))
    keep = pmi > 0
    ppmi = sparse.csr_matrix((pmi[keep].astype(np.float32), (counts.row[keep], counts.col[keep])), shape=(size, size))
    dims = max(2, min(k, size - 1))
    u, sigma, _ = _randomized_svd(ppmi, dims, seed)
    return _unit_rows((u * np.sqrt(sigma)).astype(np.float32))


def _nearest_words(word_vectors: np.ndarray, chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Each word's NEIGHBOURS most similar words (cosine of unit vectors), most similar first; in
    chunks of rows, so that the similarity matrix is never whole in memory."""
    size = len(word_vectors)
    count = min(NEIGHBOURS, size)
    neighbours = np.zeros((size, count), dtype=np.int32)
    sims = np.zeros((size, count), dtype=np.float32)
    for start in range(0, size, chunk):
        block = word_vectors[start:start + chunk] @ word_vectors.T
        top = np.argpartition(-block, count - 1, axis=1)[:, :count]
        values = np.take_along_axis(block, top, axis=1)
        order = np.argsort(-values, axis=1, kind="stable")
        neighbours[start:start + chunk] = np.take_along_axis(top, order, axis=1)
        sims[start:start + chunk] = np.take_along_axis(values, order, axis=1)
    return neighbours, sims


def _postings(doc_words, index, k1: float = 1.2, b: float = 0.75) -> sparse.csr_matrix:
    rows, cols, vals = [], [], []
    lengths = [len(ws) for ws in doc_words]
    average = (sum(lengths) / len(lengths)) if lengths else 1.0
    for col, ws in enumerate(doc_words):
        norm = k1 * (1 - b + b * lengths[col] / (average or 1.0))
        for w, tf in Counter(ws).items():
            i = index.get(w)
            if i is not None:
                rows.append(i)
                cols.append(col)
                vals.append(tf * (k1 + 1) / (tf + norm))
    matrix = sparse.csr_matrix((np.array(vals, dtype=np.float32), (rows, cols)), shape=(len(index), len(doc_words)))
    matrix.indices = matrix.indices.astype(np.int32)
    matrix.indptr = matrix.indptr.astype(np.int64)
    return matrix


def _matrix(doc_words, index, weight) -> sparse.csr_matrix:
    rows, cols, vals = [], [], []
    for r, ws in enumerate(doc_words):
        counts = Counter(w for w in ws if w in index)
        norm = 0.0
        entries = []
        for w, tf in counts.items():
            v = float(weight[index[w]]) * (1.0 + math.log(tf))
            entries.append((index[w], v))
            norm += v * v
        norm = math.sqrt(norm) or 1.0
        for c, v in entries:
            rows.append(r)
            cols.append(c)
            vals.append(v / norm)
    return sparse.csr_matrix((np.array(vals, dtype=np.float32), (rows, cols)),
                             shape=(len(doc_words), len(index)))


def _randomized_svd(matrix, k: int, seed: int, oversample: int = 20, iterations: int = 4):
    """Halko-Martinsson-Tropp: a few passes over the sparse matrix instead of ARPACK's many."""
    rng = np.random.default_rng(seed)
    n = matrix.shape[1]
    width = min(n, k + oversample)
    y = matrix @ rng.standard_normal((n, width)).astype(np.float32)
    q, _ = np.linalg.qr(y)
    for _ in range(iterations):
        z, _ = np.linalg.qr(matrix.T @ q)
        q, _ = np.linalg.qr(matrix @ z)
    b = (matrix.T @ q).T
    u_small, sigma, vt = np.linalg.svd(b, full_matrices=False)
    return (q @ u_small)[:, :k], sigma[:k], vt[:k]


def _unit_rows(a: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (a / norms).astype(np.float32)


_PURPOSE = re.compile("解决|克服|避免|防止|减少|降低|提高|实现|便于|适用|能够|有效|问题|缺点|不足")


def title_words(title: str) -> set[str]:
    """What a patent calls its thing, which an enterprise does not know: left out of pseudo-queries."""
    return {w for w in rjieba.cut(title) if len(w) >= 2}


def _pseudo_queries(docs: list[Doc], rng: random.Random, count: int) -> list[tuple[int, str, str]]:
    """(document row, sentence, query) triples whose queries read like demands rather than like the patent: preferably a
    sentence about what the invention is for (what it solves, improves, avoids), since a demand
    describes a problem and a goal; never the first sentence (it restates the title); without the
    words of the patent's title, since an enterprise does not know what the patent calls its thing;
    and with a third of its other words dropped, since a demand shares only part of a patent's
    vocabulary."""
    rows = list(range(len(docs)))
    rng.shuffle(rows)
    out = []
    for row in rows:
        candidates = sentences(docs[row].body)[1:]
        if not candidates:
            continue
        purposeful = [c for c in candidates if _PURPOSE.search(c)]
        sentence = rng.choice(purposeful or candidates)[:100]
        named = title_words(docs[row].title)
        kept = [w for w in rjieba.cut(sentence) if w not in named and rng.random() > 0.33]
        query = " ".join(kept)  # the model's neighbours replace some of these words later
        if len(words(query)) >= 3:
            out.append((row, sentence, query))
        if len(out) >= count:
            break
    return out


def _without(body: str, sentence: str) -> str:
    return body.replace(sentence, " ")


def _fit_temperature(model: TextModel, docs: list[Doc], samples) -> float:
    best, best_ll = 20.0, -math.inf
    vectors = []
    for row, _, query in samples[:600]:
        v = model.vector(model.term_weights(query))
        sub = docs[row].ipc[0][:4] if docs[row].ipc else None
        if v is not None and sub in model.subclasses:
            vectors.append((v, model.subclasses.index(sub)))
    if not vectors:
        return best
    sims = np.stack([np.asarray(model.centroids) @ v for v, _ in vectors])
    target = np.array([t for _, t in vectors])
    for temperature in (2, 4, 6, 8, 10, 14, 20, 28, 40, 60):
        logits = temperature * sims
        logits -= logits.max(axis=1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        ll = float(logp[np.arange(len(target)), target].mean())
        if ll > best_ll:
            best, best_ll = float(temperature), ll
    return best


def _ranker_examples(model: TextModel, docs, doc_words, samples, pool: int = 40, measure_band: bool = True,
                     encoder_texts: list[str] | None = None):
    """Per pseudo-query, (features, is_answer) for its candidates, computed as at serving time: the
    nearest documents by weighted word overlap, in the latent space and by the encoder's passage
    vectors. The query's sentence is taken out of its own document, and that document is a candidate
    only if it would have been retrieved on its remaining text; otherwise the query is skipped, so
    that answers and non-answers pass the same selection (else the features that choose candidates
    would look worse than they are). `encoder_texts`, one per sample: what the encoder reads of each
    pseudo-query instead of its paraphrase (bench.matching_refit compares them)."""
    postings: dict[str, list[int]] = {}
    for row, ws in enumerate(doc_words):
        for w in set(ws):
            if w in model.index:
                postings.setdefault(w, []).append(row)
    examples = []
    rng = random.Random(len(samples))
    paraphrased = [_paraphrase(model, query, rng) for _, _, query in samples]
    # One batch through the encoder: it spreads a batch over the cores. Without the spaces that join
    # the query's words, as a demand is written.
    dense_queries = encoder.queries(encoder_texts if encoder_texts is not None
                                    else [q.replace(" ", "") for q in paraphrased])
    answers = _held_out_passages(model, docs, samples)
    if measure_band:  # else the band the model was trained with (recalibrate)
        model.dense_floor, model.dense_span = _dense_band(model, samples, dense_queries, answers)
    for (row, sentence, _), query, dense_query in zip(samples, paraphrased, dense_queries, strict=True):
        weights = model.term_weights(query)
        if not weights:
            continue
        related = model.related_terms(weights)
        vector = model.vector({**weights, **related})
        target = docs[row]
        held_out = Doc(target.key, target.title, _without(target.body, sentence), target.ipc)
        held_words = set(words(held_out.title)) | set(words(held_out.body))
        held_vector = model.vector(model.doc_weights(held_out.title, held_out.body))
        overlap: Counter = Counter()
        for w, wt in weights.items():
            for r in postings.get(w, ()):
                if r != row:
                    overlap[r] += wt
        lexical = sorted(overlap.items(), key=lambda item: (-item[1], item[0]))[:pool]
        latent = [(int(model.key_row[key]), cos) for key, cos in model.nearest_documents(vector, pool + 1)
                  if int(model.key_row[key]) != row][:pool]
        dense = model.passage_vectors @ dense_query  # every passage's cosine, once per query
        answer_dense = float(answers[row] @ dense_query)
        passages = [(int(model.key_row[key]), cos) for key, cos in model._top(dense, pool + 1)
                    if int(model.key_row[key]) != row][:pool]
        target_overlap = sum(wt for w, wt in weights.items() if w in held_words)
        target_cosine = _cosine(held_vector, vector) or 0.0
        retrieved = ((len(lexical) < pool or target_overlap >= lexical[-1][1])
                     or (len(latent) < pool or target_cosine >= latent[-1][1])
                     or (len(passages) < pool or answer_dense >= passages[-1][1]))
        if not retrieved:
            continue
        rows = list(dict.fromkeys([row] + [r for r, _ in lexical] + [r for r, _ in latent] + [r for r, _ in passages]))
        candidates = [held_out if r == row else docs[r] for r in rows]
        vectors = [held_vector if r == row else np.asarray(model.doc_vectors[r]) for r in rows]
        texts = [candidate_text(c.title, c.body, c.ipc, _cosine(v, vector)) for c, v in zip(candidates, vectors,
                                                                                           strict=True)]
        for text, r in zip(texts, rows, strict=True):
            text.dense = answer_dense if r == row else float(dense[r])
        model.fill_soft_matches(weights, texts)
        features = matching.text_features(
            query_weights=weights, related_weights=related, ipc_probabilities=model.ipc_probabilities(vector),
            candidates=texts,
            avg_len=model.avg_len, bigram_idf=model.bigram_weights(query), avg_bigrams=model.avg_bigrams,
            dense_band=(model.dense_floor, model.dense_span))
        examples.append([(f, 1 if r == row else 0) for f, r in zip(features, rows, strict=True)])
    return examples


def _held_out_passages(model: TextModel, docs: list[Doc], samples) -> dict[int, np.ndarray]:
    """Each pseudo-query's answer's passage vector without the query's sentence: where the passage's
    opening held (part of) that sentence it is encoded again, else the dense feature would see the
    very words the query was made of."""
    out, changed = {}, []
    for row, sentence, _ in samples:
        doc = docs[row]
        text = passage(doc.title, _without(doc.body, sentence), PASSAGE_CHARS)
        if text == passage(doc.title, doc.body, PASSAGE_CHARS):
            out[row] = np.asarray(model.passage_vectors[row])
        else:
            changed.append((row, text))
    for (row, _), vector in zip(changed, encoder.passages([text for _, text in changed]), strict=True):
        out[row] = vector
    return out


def _dense_band(model: TextModel, samples, dense_queries: np.ndarray, answers: dict[int, np.ndarray],
                size: int = 500) -> tuple[float, float]:
    """Where the encoder's cosines lie for this catalogue: the floor is a typical unrelated pair's (the
    median over the catalogue), the top the 99th percentile of answers' (lower, and the best
    candidates would all be cut to 1 where they most need telling apart). The dense feature spreads
    that band over [0, 1]; the encoder packs every pair into a narrow range of its own."""
    floors, tops = [], []
    for (row, _, _), query in zip(samples[:size], dense_queries[:size], strict=False):
        floors.append(float(np.median(model.passage_vectors @ query)))
        tops.append(float(answers[row] @ query))
    if not floors:
        return matching.DENSE_FLOOR, matching.DENSE_SPAN
    floor = float(np.mean(floors))
    return round(floor, 4), round(max(0.01, float(np.percentile(tops, 99)) - floor), 4)


def _paraphrase(model: TextModel, query: str, rng: random.Random, rate: float = PARAPHRASE_RATE) -> str:
    """Say most of the query's words otherwise: each replaced by a word the catalogue uses in the same
    contexts, as an enterprise says 鱼塘 where a patent says 池塘. Demands share little vocabulary
    with the patents that solve them; pseudo-queries that share it all would teach the re-ranker to
    trust exact overlap alone."""
    out = []
    wv = model.word_vectors
    for token in query.split(" "):
        i = model.index.get(token)
        if i is not None and len(token) >= 2 and rng.random() < rate:
            sims = wv @ wv[i]
            sims[i] = -1.0
            best = np.argpartition(-sims, 3)[:3]
            choices = [model.vocabulary[j] for j in best if sims[j] >= RELATED_THRESHOLD]
            if choices:
                token = rng.choice(choices)
        out.append(token)
    return " ".join(out)


def _calibration(held, weights: matching.RankerWeights, seed: int) -> tuple[dict, dict]:
    """The table that turns the fitted text score into the probability that a candidate is the answer,
    fitted on the held-out pseudo-queries (isotonic), and its reliability measured honestly: fitted on
    one half of those queries, judged on the other, both ways."""
    groups = list(held)
    random.Random(seed).shuffle(groups)
    halves = (groups[: len(groups) // 2], groups[len(groups) // 2:])

    def scored(part):
        pairs = [(matching.text_score(f, weights), y) for group in part for f, y in group]
        return [p for p, _ in pairs], [y for _, y in pairs]

    predicted, observed = [], []
    for fit_on, judge in (halves, halves[::-1]):
        if not fit_on or not judge:
            continue
        table = matching.fit_calibration(*scored(fit_on))
        scores, answers = scored(judge)
        predicted.extend(matching.calibrated(p, table) for p in scores)
        observed.extend(answers)
    raw_scores, raw_answers = scored(groups)
    report = {"cross_fitted": matching.reliability(predicted, observed) if predicted else None,
              "uncalibrated": matching.reliability(raw_scores, raw_answers) if raw_scores else None,
              "queries": len(groups)}
    return matching.fit_calibration(raw_scores, raw_answers), report


def recalibrate(docs: list[Doc], directory: str | Path, *, pseudo_queries: int = 600, seed: int = 11,
                progress=None) -> dict:
    """Fit the calibration of the model in `directory` again, on fresh pseudo-queries of `docs` (the
    catalogue it was trained on), and write it into its model.json: for a model trained before
    calibration existed, or to check one. Every group is held out from the weights' fit."""
    say = progress or (lambda message: None)
    directory = Path(directory)
    model = TextModel.load(directory)
    if model is None:
        raise ValueError(f"no model in {directory}")
    by_key = {d.key: d for d in docs}
    docs = [by_key[int(k)] for k in model.doc_keys if int(k) in by_key]
    if len(docs) != len(model.doc_keys):
        raise ValueError("the catalogue is no longer the one the model was trained on; retrain instead")
    say(f"calibrating on {pseudo_queries} pseudo-queries")
    doc_words = [words(d.title) * 2 + words(d.body) for d in docs]
    samples = _pseudo_queries(docs, random.Random(seed), pseudo_queries)
    examples = _ranker_examples(model, docs, doc_words, samples, measure_band=False)
    table, report = _calibration(examples, model.weights, seed)
    meta = json.loads((directory / "model.json").read_text(encoding="utf-8"))
    meta["calibration"], meta["calibration_report"] = table, report
    tmp = directory / "model.json.tmp"
    tmp.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    tmp.replace(directory / "model.json")
    return report


def _mrr(groups, weights: matching.RankerWeights) -> float:
    total = 0.0
    for group in groups:
        scores = [(matching.text_score(f, weights), y) for f, y in group]
        answer = next(score for score, y in scores if y)
        rank = sum(1 for score, y in scores if not y and score > answer)
        total += 1.0 / (rank + 1) if rank < 10 else 0.0
    return round(total / len(groups), 3) if groups else 0.0


def _cosine(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    return None if a is None or b is None else float(a @ b)


def _save(directory: Path, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    tmp = directory.with_name(directory.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        np.save(tmp / f"{name}.npy", np.ascontiguousarray(array))
    meta = dict(meta)
    (tmp / "bigrams.json").write_text(json.dumps(meta.pop("bigrams"), ensure_ascii=False), encoding="utf-8")
    (tmp / "model.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    old = directory.with_name(directory.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if directory.exists():
        directory.rename(old)
    tmp.rename(directory)
    shutil.rmtree(old, ignore_errors=True)
