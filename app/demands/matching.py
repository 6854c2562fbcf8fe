"""Pure scoring of matches between a demand and listings: no database, no engine, no model files.

The text part is a logistic re-ranker over a handful of features (weighted BM25 with the model's
word weights, coverage of the demand's words in the whole text and in the title, coverage of the
related words the model adds, latent-space cosine and rank, the predicted probability of the
listing's IPC subclass, the pretrained encoder's cosine with its passage). Its weights are fitted on
pseudo-queries by `fit_listwise` (training.train);
the defaults below are what an untrained installation uses. The structured part (budget, mode, region,
remaining life, IPC hints) then moves the score within a band and becomes the match's reasons.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field

K1, B = 1.2, 0.75
TITLE_BOOST = 2.0
# Every feature is absolute (not relative to the other candidates), so that a score means the same in
# a demand's ranking, in a listing's list of demands and against the notification threshold.
FEATURES = ("bm25", "bigram_bm25", "coverage", "title_coverage", "related_coverage", "soft_coverage", "soft_title",
            "cosine", "ipc", "dense")
# The pretrained encoder's cosines between a demand and a passage lie in a narrow band (unrelated pairs
# about 0.85, a demand and its patent 0.89 to 0.93): the feature spreads that band over [0, 1]. A
# trained model measures the band on its own catalogue; these are the defaults.
DENSE_FLOOR, DENSE_SPAN = 0.85, 0.10
# Which listing modes serve a demand that asks for a mode: an open licence is a non-exclusive licence
# anyone may take; an assignment also serves an enterprise that wanted exclusive rights.
COMPATIBLE_MODES = {
    "assignment": {"assignment"},
    "exclusive_license": {"exclusive_license", "assignment"},
    "sole_license": {"sole_license", "exclusive_license", "assignment"},
    "nonexclusive_license": {"nonexclusive_license", "open_license"},
    "open_license": {"open_license", "nonexclusive_license"},
    "equity": {"equity"},
}
IPC_LEVELS = ("section", "class", "subclass", "group", "subgroup")
STRUCTURED_BAND = 0.2  # the structured signals move a match's score by at most this fraction


@dataclass
class RankerWeights:
    """The defaults serve until a model is trained: a listing with most of the demand's words, some in
    its title, scores about 0.75; one sharing a word or two stays under 0.1."""

    bm25: float = 2.0
    bigram_bm25: float = 2.0
    coverage: float = 2.5
    title_coverage: float = 1.0
    related_coverage: float = 0.5
    soft_coverage: float = 1.0
    soft_title: float = 0.5
    cosine: float = 3.0
    ipc: float = 1.0
    dense: float = 1.0  # 0 without a trained model: its passage vectors are part of it
    bias: float = -4.0

    def as_dict(self) -> dict:
        return asdict(self)

    def vector(self) -> list[float]:
        return [getattr(self, name) for name in FEATURES]


@dataclass
class CandidateText:
    title_words: list[str]
    body_words: list[str]
    ipc_codes: list[str]
    cosine: float | None = None  # latent-space cosine with the demand, when the model is loaded
    title_bigrams: list[str] = field(default_factory=list)
    body_bigrams: list[str] = field(default_factory=list)
    # Per demand word, its best similarity to a word of the listing (whole text, title), as the model
    # judges words said in the same contexts; empty without a model.
    soft: dict[str, float] = field(default_factory=dict)
    soft_title: dict[str, float] = field(default_factory=dict)
    dense: float | None = None  # the pretrained encoder's cosine of the demand and the listing's passage


@dataclass
class Structured:
    """What the demand asks beyond its text, and what the listing offers."""

    budget_min_fen: int | None = None
    budget_max_fen: int | None = None
    modes: list[str] = field(default_factory=list)
    region: str | None = None
    ipc_hints: list[str] = field(default_factory=list)

    @property
    def asks(self) -> bool:
        """Whether the demand asks anything beyond its text (then it may reorder a ranking)."""
        return (self.budget_min_fen is not None or self.budget_max_fen is not None or bool(self.modes)
                or bool(self.region) or bool(self.ipc_hints))


@dataclass
class Offer:
    mode: str
    price_fen: int | None  # None: negotiable, nothing to compare with a budget
    ipc_codes: list[str]
    regions: list[str]  # owner's region, outlets' cities and provinces
    remaining_years: float | None


# -- text features --------------------------------------------------------------------------------------


def text_features(*, query_weights: dict[str, float], related_weights: dict[str, float],
                  ipc_probabilities: dict[str, float], candidates: list[CandidateText],
                  avg_len: float, bigram_idf: dict[str, float] | None = None,
                  avg_bigrams: float = 1.0,
                  dense_band: tuple[float, float] = (DENSE_FLOOR, DENSE_SPAN)) -> list[list[float]]:
    """One feature vector (in FEATURES order) per candidate; values are in [0, 1]. The engine's own
    order is not a feature: the two engines score differently, and the features must mean the same
    on both."""
    total = sum(query_weights.values()) or 1.0
    related_total = sum(related_weights.values())
    # BM25's saturation bounds each word's part by weight x (k1 + 1): the sum of those is the most a
    # listing could score, which makes the feature absolute.
    ceiling = (total + related_total) * (K1 + 1)
    bigram_idf = bigram_idf or {}
    bigram_ceiling = sum(bigram_idf.values()) * (K1 + 1) or 1.0
    out = []
    for c in candidates:
        title, body = Counter(c.title_words), Counter(c.body_words)
        bm25 = _bm25({**related_weights, **query_weights}, title, body,
                     TITLE_BOOST * len(c.title_words) + len(c.body_words), avg_len)
        coverage = sum(wt for w, wt in query_weights.items() if w in title or w in body) / total
        title_coverage = sum(wt for w, wt in query_weights.items() if w in title) / total
        related = (sum(wt for w, wt in related_weights.items() if w in title or w in body) / related_total
                   if related_total else 0.0)
        ipc = max((ipc_probabilities.get(code[:4], 0.0) for code in c.ipc_codes), default=0.0)
        grams = _bm25(bigram_idf, Counter(c.title_bigrams), Counter(c.body_bigrams),
                      TITLE_BOOST * len(c.title_bigrams) + len(c.body_bigrams), avg_bigrams)
        soft = sum(wt * c.soft.get(w, 0.0) for w, wt in query_weights.items()) / total
        soft_title = sum(wt * c.soft_title.get(w, 0.0) for w, wt in query_weights.items()) / total
        dense = 0.0 if c.dense is None else min(1.0, max(0.0, (c.dense - dense_band[0]) / dense_band[1]))
        out.append([math.sqrt(bm25 / ceiling), math.sqrt(grams / bigram_ceiling), coverage, title_coverage, related,
                    soft, soft_title, max(0.0, c.cosine or 0.0), math.sqrt(ipc), dense])
    return out


def _bm25(weights: dict[str, float], title: Counter, body: Counter, length: float, avg_len: float) -> float:
    """BM25 of one document over title (boosted) and body taken as one field."""
    norm = K1 * (1 - B + B * length / (avg_len or 1.0))
    score = 0.0
    for term, weight in weights.items():
        tf = TITLE_BOOST * title.get(term, 0) + body.get(term, 0)
        if tf:
            score += weight * tf * (K1 + 1) / (tf + norm)
    return score


def text_score(features: list[float], weights: RankerWeights) -> float:
    z = weights.bias + sum(w * f for w, f in zip(weights.vector(), features, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))


def fit_ranker(examples: list[list[tuple[list[float], int]]], l2: float = 1.0, iterations: int = 25) -> RankerWeights:
    """Logistic regression of answer against the other candidates of its query (Newton's method),
    answers and non-answers weighing the same in total: one answer per query among dozens."""
    import numpy as np

    rows = [(f, y) for group in examples for f, y in group]
    if not rows or not any(y for _, y in rows) or all(y for _, y in rows):
        return RankerWeights()
    x = np.array([f + [1.0] for f, _ in rows], dtype=np.float64)
    y = np.array([y for _, y in rows], dtype=np.float64)
    sample = _balanced(y)
    penalty = np.full(x.shape[1], l2)
    penalty[-1] = 0.0  # the bias is not shrunk
    # Every feature is built so that more means a better match: a negative weight could only be an
    # artefact of the pseudo-queries, so such a feature is dropped and the rest refitted.
    active = np.ones(x.shape[1], dtype=bool)
    for _ in range(x.shape[1]):
        w = np.zeros(x.shape[1])
        for _ in range(iterations):
            xa = x[:, active]
            p = 1.0 / (1.0 + np.exp(-np.clip(xa @ w[active], -40, 40)))
            gradient = xa.T @ (sample * (p - y)) + penalty[active] * w[active]
            hessian = (xa * (sample * p * (1 - p))[:, None]).T @ xa + np.diag(penalty[active] + 1e-9)
            step = np.linalg.solve(hessian, gradient)
            w[active] -= step
            if np.abs(step).max() < 1e-6:
                break
        negative = active & (w < 0)
        negative[-1] = False
        if not negative.any():
            break
        active &= ~negative
    return RankerWeights(**{name: round(float(v), 4) for name, v in zip(FEATURES, w[:-1], strict=True)},
                        bias=round(float(w[-1]), 4))


def fit_listwise(examples: list[list[tuple[list[float], int]]], l2: float = 1.0,
                 iterations: int = 30) -> RankerWeights:
    """Weights that rank each pseudo-query's answer first among its candidates: the answer's softmax
    probability within its query (a conditional logit, Newton's method), which is what a ranking is
    judged by, rather than each candidate's answer-or-not on its own. A ranking says nothing of the
    scale of a score, so a scale and a bias are then fitted (logistic, answers and non-answers
    weighing the same) for the score to read as a probability against the notification threshold."""
    import numpy as np

    groups = [g for g in examples if any(y for _, y in g) and not all(y for _, y in g)]
    if not groups:
        return RankerWeights()
    x = np.array([f for g in groups for f, _ in g], dtype=np.float64)
    y = np.array([y for g in groups for _, y in g], dtype=np.float64)
    starts = np.cumsum([0] + [len(g) for g in groups[:-1]])
    group_of = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    active = np.ones(x.shape[1], dtype=bool)
    for _ in range(x.shape[1]):  # as fit_ranker: a feature that would weigh negatively is dropped
        w = np.zeros(x.shape[1])
        if not active.any():
            break
        xa = x[:, active]
        for _ in range(iterations):
            z = xa @ w[active]
            z -= np.maximum.reduceat(z, starts)[group_of]
            e = np.exp(z)
            p = e / np.add.reduceat(e, starts)[group_of]
            expected = np.add.reduceat(xa * p[:, None], starts, axis=0)  # per group: E_p[x]
            gradient = expected.sum(axis=0) - xa[y == 1].sum(axis=0) + l2 * w[active]
            second = (xa * p[:, None]).T @ xa - expected.T @ expected
            step = np.linalg.solve(second + np.diag(np.full(active.sum(), l2 + 1e-9)), gradient)
            w[active] -= step
            if np.abs(step).max() < 1e-6:
                break
        negative = active & (w < 0)
        if not negative.any():
            break
        active &= ~negative
    w[~active] = 0.0
    # Scale and bias: a one-feature logistic regression on the ranking score.
    score = x @ w
    sample = _balanced(y)
    s = np.stack([score, np.ones_like(score)], axis=1)

    def loss(ab):
        z = s @ ab
        return float((sample * (np.logaddexp(0.0, z) - y * z)).sum())

    ab = np.zeros(2)  # from q = 1/2 everywhere; each Newton step is halved until the loss falls
    for _ in range(iterations):
        q = 1.0 / (1.0 + np.exp(-np.clip(s @ ab, -40, 40)))
        gradient = s.T @ (sample * (q - y))
        hessian = (s * (sample * q * (1 - q))[:, None]).T @ s + np.diag([1e-9, 1e-9])
        step = np.linalg.solve(hessian, gradient)
        current = loss(ab)
        while loss(ab - step) > current and np.abs(step).max() > 1e-9:
            step /= 2
        ab -= step
        if np.abs(step).max() < 1e-6:
            break
    scale = max(float(ab[0]), 1e-3)
    return RankerWeights(**{name: round(float(v) * scale, 4) for name, v in zip(FEATURES, w, strict=True)},
                        bias=round(float(ab[1]), 4))


def _balanced(y):
    """Sample weights under which answers and non-answers weigh the same in total (one answer among
    dozens per query), scaled to sum to the number of samples."""
    import numpy as np

    return np.where(y == 1, 0.5 / y.sum(), 0.5 / (len(y) - y.sum())) * len(y)


# -- structured signals and reasons -------------------------------------------------------------------


def within_budget(demand: Structured, offer: Offer) -> bool | None:
    if offer.price_fen is None or (demand.budget_max_fen is None and demand.budget_min_fen is None):
        return None
    if demand.budget_max_fen is not None and offer.price_fen > demand.budget_max_fen:
        return False
    return True


def mode_ok(demand: Structured, offer: Offer) -> bool | None:
    if not demand.modes:
        return None
    return any(offer.mode in COMPATIBLE_MODES.get(mode, {mode}) for mode in demand.modes)


def same_region(demand: Structured, offer: Offer) -> bool | None:
    if not demand.region:
        return None
    wanted = _region_key(demand.region)
    return any(wanted and (wanted in _region_key(r) or _region_key(r) in wanted) for r in offer.regions if r)


def _region_key(region: str) -> str:
    """浙江省 / 浙江 and 湖州市 / 湖州 compare equal."""
    region = region.strip()
    for suffix in ("省", "市", "区", "县", "自治区"):
        if len(region) > 2 and region.endswith(suffix):
            return region[: -len(suffix)]
    return region


def ipc_level(code: str) -> int:
    """How deep a canonical IPC code goes: 1 section .. 5 subgroup."""
    if " " in code:
        return 4 if code.endswith("/00") else 5
    return {1: 1, 3: 2, 4: 3}.get(len(code), 0)


def shared_level(a: str, b: str) -> int:
    """The deepest level two canonical IPC codes share (0: none)."""
    depth = 0
    for level, length in ((1, 1), (2, 3), (3, 4)):
        if len(a) >= length and len(b) >= length and a[:length] == b[:length]:
            depth = level
    if depth == 3 and " " in a and " " in b:
        if a.split("/")[0] == b.split("/")[0]:
            depth = 4
            if a == b and ipc_level(a) == 5:
                depth = 5
    return min(depth, ipc_level(a), ipc_level(b))


def shared_ipc(hints: list[str], predicted: dict[str, float], codes: list[str],
               predicted_floor: float = 0.15) -> list[dict]:
    out = []
    for hint in hints:
        depth = max((shared_level(hint, code) for code in codes), default=0)
        if depth:
            out.append({"level": IPC_LEVELS[depth - 1], "code": _prefix(hint, depth), "source": "hint"})
    # A hint already reported at subclass level or deeper covers the prediction of that subclass.
    listed = {o["code"][:4] for o in out if o["level"] not in ("section", "class")}
    for subclass, p in sorted(predicted.items(), key=lambda item: -item[1]):
        if p >= predicted_floor and subclass not in listed and any(c.startswith(subclass) for c in codes):
            out.append({"level": "subclass", "code": subclass, "source": "predicted"})
    return out


def _prefix(code: str, depth: int) -> str:
    if depth <= 3:
        return code[: (1, 3, 4)[depth - 1]]
    return code if depth == 5 else code.split("/")[0] + "/00"


def structured_fit(demand: Structured, offer: Offer, shared: list[dict]) -> tuple[float, dict]:
    """A factor in [0, 1] (1: nothing speaks against the listing) and the reasons behind it."""
    budget, mode, region = within_budget(demand, offer), mode_ok(demand, offer), same_region(demand, offer)
    factors = []
    if budget is not None:
        factors.append(1.0 if budget else 0.3)
    if mode is not None:
        factors.append(1.0 if mode else 0.2)
    if region is not None:
        factors.append(1.0 if region else 0.7)
    if offer.remaining_years is not None:
        factors.append(min(1.0, max(0.0, offer.remaining_years) / 5.0))
    if demand.ipc_hints:
        factors.append(1.0 if any(s["source"] == "hint" and s["level"] != "section" for s in shared) else 0.5)
    reasons = {"within_budget": budget, "mode_ok": mode, "same_region": region,
               "remaining_years": offer.remaining_years}
    return (sum(factors) / len(factors) if factors else 1.0), reasons


def combine(text: float, fit: float) -> float:
    """The final score in [0, 1]: the text decides, the structured fit moves it within a band."""
    return round(max(0.0, min(1.0, text * (1.0 - STRUCTURED_BAND + STRUCTURED_BAND * fit))), 4)


# Function words (虚词) and the like: a model may give one weight (和 is rare in some catalogues), but as a
# reason shown to an enterprise it says nothing about the fit.
FUNCTION_WORDS = frozenset("""
的 地 得 了 着 过 和 与 及 或 并 而 且 但 也 都 又 还 就 才 只 再 很 更 最 太 是 为 被 把 给 让 从 向 往 在 于 以 之
其 此 该 这 那 哪 些 个 各 每 某 本 其他 其它 以及 或者 并且 而且 但是 因为 所以 如果 虽然 由于 对于 关于 通过 根据 按照
等 等等 中 上 下 内 外 前 后 里 间 时 对 将 已 已经 正在 不 没 没有 无 非 有 可 能 会 要 用 使 由 至 到 及其 所 我 你
他 她 它 们 我们 你们 他们 它们 自己 什么 怎么 如何 一 二 两 多 少 大 小 新 好
""".split())


def matched_terms(query_weights: dict[str, float], candidate: CandidateText, limit: int = 8,
                  skip: frozenset[str] = frozenset()) -> list[str]:
    """The demand's words found in the candidate, strongest first, as reasons: never function words or
    `skip` (a demand's boilerplate), never a sub-word of a word already reported."""
    present = set(candidate.title_words) | set(candidate.body_words)
    found = [w for w in sorted(query_weights, key=lambda w: -query_weights[w])
             if w in present and w not in FUNCTION_WORDS and w not in skip]
    # A sub-word of a word already reported adds nothing (鱼塘 after 不规则鱼塘).
    out: list[str] = []
    for word in found:
        if not any(word in longer for longer in out):
            out.append(word)
    return out[:limit]


# -- calibration ------------------------------------------------------------------------------------------

# Without a model the text score comes from the default weights, which are no probability: this table
# (isotonic, text score -> how often such a listing was the patent a pseudo-query was taken from) makes
# it one. Fitted on 1,000 pseudo-queries of the 15,556 real records, ranked as without a model, by
# `python -m bench.matching_quality --work /tmp/mq --keep-model --default-calibration 1000`
# (docs/benchmarks.md); a trained model carries its own table.
DEFAULT_CALIBRATION = {
    "x": [
        0.018, 0.025419, 0.037904, 0.055919, 0.066412, 0.075293, 0.078718, 0.082753, 0.088933, 0.093801, 0.10444,
        0.115518, 0.119573, 0.123986, 0.140664, 0.155904, 0.169747, 0.18799, 0.197233, 0.223774, 0.256382, 0.446969
    ],
    "y": [
        0.0, 0.001622, 0.003268, 0.005155, 0.006512, 0.011304, 0.011667, 0.012143, 0.012174, 0.015, 0.018113, 0.025,
        0.027273, 0.0425, 0.047429, 0.06, 0.065, 0.074286, 0.084, 0.095556, 0.1, 0.138125
    ],
}


def calibrated(score: float, table: dict | None) -> float:
    """The probability a calibration table (increasing knots x -> y) gives a score, linear between knots."""
    if not table:
        return score
    xs, ys = table["x"], table["y"]
    if score <= xs[0]:
        return ys[0]
    for i in range(1, len(xs)):
        if score <= xs[i]:
            span = xs[i] - xs[i - 1]
            share = (score - xs[i - 1]) / span if span > 0 else 1.0
            return ys[i - 1] + share * (ys[i] - ys[i - 1])
    return ys[-1]


def fit_calibration(scores: list[float], answers: list[int], knots: int = 24, min_count: int = 50) -> dict:
    """Isotonic regression (pool adjacent violators) of answer on score, reduced to at most `knots`
    points: the more a score, the likelier an answer, never the reverse. Scores are first pooled in
    runs of `min_count`, so that a handful of high scores (rare: one answer among dozens of candidates)
    cannot make a knot of their own."""
    pairs = sorted(zip(scores, answers, strict=True))
    if not pairs:
        return {"x": [0.0, 1.0], "y": [0.0, 1.0]}
    runs = [pairs[i:i + min_count] for i in range(0, len(pairs), min_count)]
    if len(runs) > 1 and len(runs[-1]) < min_count:
        runs[-2].extend(runs.pop())
    blocks: list[list[float]] = []  # [sum of answers, count, sum of scores]
    for run in runs:
        blocks.append([float(sum(a for _, a in run)), float(len(run)), float(sum(s for s, _ in run))])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            total, count, score_sum = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
            blocks[-1][2] += score_sum
    xs = [b[2] / b[1] for b in blocks]  # each block at its mean score
    ys = [b[0] / b[1] for b in blocks]
    if len(xs) > knots:  # keep the knots evenly spread over the samples, and both ends
        weights = [b[1] for b in blocks]
        total, keep, seen = sum(weights), {0, len(xs) - 1}, 0.0
        for i, w in enumerate(weights):
            seen += w
            if int(seen / total * (knots - 1)) != int((seen - w) / total * (knots - 1)):
                keep.add(i)
        xs, ys = [xs[i] for i in sorted(keep)], [ys[i] for i in sorted(keep)]
    return {"x": [round(x, 6) for x in xs], "y": [round(y, 6) for y in ys]}


def reliability(probabilities: list[float], answers: list[int], bins: int = 10) -> dict:
    """The reliability table (per bin of predicted probability: count, mean predicted, observed rate)
    and the expected calibration error, the count-weighted mean gap between the two."""
    table = []
    n = len(probabilities)
    ece = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = [(p, a) for p, a in zip(probabilities, answers, strict=True)
                  if low <= p < high or (b == bins - 1 and p == 1.0)]
        if not inside:
            continue
        mean_p = sum(p for p, _ in inside) / len(inside)
        rate = sum(a for _, a in inside) / len(inside)
        ece += len(inside) / n * abs(mean_p - rate)
        table.append({"bin": f"{low:.1f}-{high:.1f}", "count": len(inside), "predicted": round(mean_p, 4),
                      "observed": round(rate, 4)})
    return {"samples": n, "ece": round(ece, 4), "bins": table}
