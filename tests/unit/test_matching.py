"""The pure scoring of matches: no database, no engine, no model files."""

import pytest

from app.demands import matching as m


def offer(**overrides):
    data = {"mode": "assignment", "price_fen": 30_000_000, "ipc_codes": ["A01K 61/80"],
            "regions": ["上海", "宝山", "上海市"], "remaining_years": 12.0}
    data.update(overrides)
    return m.Offer(**data)


@pytest.mark.parametrize(("low", "high", "price", "expected"), [
    (None, None, 30_000_000, None),
    (None, 40_000_000, 30_000_000, True),
    (None, 20_000_000, 30_000_000, False),
    (5_000_000, None, 30_000_000, True),
    (None, 40_000_000, None, None),  # negotiable: nothing to compare
    (None, 30_000_000, 30_000_000, True),
])
def test_within_budget(low, high, price, expected):
    assert m.within_budget(m.Structured(budget_min_fen=low, budget_max_fen=high), offer(price_fen=price)) is expected


@pytest.mark.parametrize(("wanted", "mode", "expected"), [
    ([], "assignment", None),
    (["assignment"], "assignment", True),
    (["nonexclusive_license"], "open_license", True),
    (["exclusive_license"], "assignment", True),
    (["exclusive_license"], "nonexclusive_license", False),
    (["assignment"], "equity", False),
    (["equity", "assignment"], "equity", True),
])
def test_mode_compatibility(wanted, mode, expected):
    assert m.mode_ok(m.Structured(modes=wanted), offer(mode=mode)) is expected


@pytest.mark.parametrize(("region", "regions", expected := "expected"), [
    (None, ["上海"], None),
    ("上海", ["上海"], True),
    ("上海市", ["上海"], True),
    ("浙江省", ["湖州", "浙江"], True),
    ("湖州", ["湖州市"], True),
    ("浙江", ["上海", "宝山"], False),
    ("江苏", [""], False),
])
def test_same_region(region, regions, expected):
    assert m.same_region(m.Structured(region=region), offer(regions=regions)) is expected


@pytest.mark.parametrize(("a", "b", "level"), [
    ("A", "A01K 61/80", 1),
    ("A01", "A01K 61/80", 2),
    ("A01K", "A01K 61/80", 3),
    ("A01K 61/00", "A01K 61/80", 4),
    ("A01K 61/80", "A01K 61/80", 5),
    ("A01K 61/80", "A01K 61/85", 4),
    ("A01K 63/00", "A01K 61/80", 3),
    ("H01M", "A01K 61/80", 0),
    ("A01B", "A01K", 2),
])
def test_shared_ipc_levels(a, b, level):
    assert m.shared_level(a, b) == level == m.shared_level(b, a)


def test_shared_ipc_reports_hints_and_confident_predictions():
    predicted = {"A01K": 0.6, "A01G": 0.3, "A01D": 0.05}
    shared = m.shared_ipc(["A01K 61/00", "H01M"], predicted, ["A01K 61/80", "A01G 9/02"])
    assert shared == [{"level": "group", "code": "A01K 61/00", "source": "hint"},
                      {"level": "subclass", "code": "A01G", "source": "predicted"}]


def test_structured_fit_rewards_what_the_demand_asked_for():
    wanted = m.Structured(budget_max_fen=40_000_000, modes=["assignment"], region="上海", ipc_hints=["A01K"])
    good, reasons = m.structured_fit(wanted, offer(), m.shared_ipc(["A01K"], {}, ["A01K 61/80"]))
    assert good == pytest.approx(1.0)
    assert reasons == {"within_budget": True, "mode_ok": True, "same_region": True, "remaining_years": 12.0}
    bad, reasons = m.structured_fit(wanted, offer(price_fen=90_000_000, mode="equity", regions=["北京"],
                                                  remaining_years=1.0, ipc_codes=["H01M 4/58"]), [])
    assert bad < 0.5 and reasons["within_budget"] is False and reasons["mode_ok"] is False
    neutral, _ = m.structured_fit(m.Structured(), offer(remaining_years=None), [])
    assert neutral == 1.0


def test_combine_keeps_scores_in_range_and_lets_text_decide():
    assert m.combine(1.0, 1.0) == 1.0 and m.combine(0.0, 1.0) == 0.0
    assert m.combine(0.9, 0.0) == pytest.approx(0.72)
    # Structured signals move a score by at most STRUCTURED_BAND of it: a weak text match stays weak.
    assert m.combine(0.3, 1.0) < m.combine(0.9, 0.0)


def candidate(title: str, body: str, ipc=("A01K 61/80",), cosine=None):
    return m.CandidateText(title.split(), body.split(), list(ipc), cosine, title.split(), body.split())


def test_title_matches_score_above_body_only_matches():
    weights = {"投饵": 3.0, "鱼塘": 2.0, "饲料": 1.0}
    features = m.text_features(
        query_weights=weights, related_weights={}, ipc_probabilities={"A01K": 0.8},
        candidates=[candidate("投饵 鱼塘 装置", "饲料 抛撒"), candidate("增氧 装置", "投饵 鱼塘 饲料"),
                    candidate("电池 正极", "材料", ipc=("H01M 4/58",))],
        avg_len=4.0, bigram_idf={"投饵": 2.0, "鱼塘": 1.0}, avg_bigrams=4.0)
    scores = [m.text_score(f, m.RankerWeights()) for f in features]
    assert scores[0] > scores[1] > scores[2]
    assert all(0.0 <= value <= 1.0 for f in features for value in f)
    title_first = dict(zip(m.FEATURES, features[0], strict=True))
    body_only = dict(zip(m.FEATURES, features[1], strict=True))
    assert title_first["coverage"] == body_only["coverage"] == 1.0
    assert title_first["title_coverage"] == pytest.approx(5 / 6) and body_only["title_coverage"] == 0.0
    unrelated = dict(zip(m.FEATURES, features[2], strict=True))
    assert unrelated["bm25"] == unrelated["coverage"] == unrelated["ipc"] == 0.0


def test_features_are_absolute_not_relative_to_the_other_candidates():
    weights = {"投饵": 3.0, "鱼塘": 2.0}
    alone = m.text_features(query_weights=weights, related_weights={}, ipc_probabilities={},
                            candidates=[candidate("投饵", "鱼塘")], avg_len=2.0)
    crowded = m.text_features(query_weights=weights, related_weights={}, ipc_probabilities={},
                              candidates=[candidate("投饵", "鱼塘"), candidate("投饵 鱼塘 投饵", "鱼塘 鱼塘")],
                              avg_len=2.0)
    assert alone[0] == crowded[0]


def test_related_words_count_apart_from_the_demands_own():
    features = m.text_features(query_weights={"喂料": 2.0}, related_weights={"投饵": 1.0}, ipc_probabilities={},
                               candidates=[candidate("投饵 装置", "池塘")], avg_len=2.0)
    named = dict(zip(m.FEATURES, features[0], strict=True))
    assert named["coverage"] == 0.0 and named["related_coverage"] == 1.0 and named["bm25"] > 0


def test_fit_ranker_learns_the_informative_feature_and_never_a_negative_weight():
    def vector(**values):
        return [values.get(name, 0.3) for name in m.FEATURES]

    groups = []
    for _ in range(60):
        answer = vector(coverage=0.8, cosine=0.7, ipc=0.1)
        # "ipc" is higher on non-answers: a real negative association would flip its sign.
        noise = [vector(coverage=0.2 + (j % 3) * 0.1, cosine=0.2, ipc=0.9) for j in range(8)]
        groups.append([(answer, 1)] + [(f, 0) for f in noise])
    fitted = m.fit_ranker(groups)
    assert fitted.coverage > 1.0 and fitted.cosine > 1.0
    assert fitted.ipc == 0.0  # dropped rather than made negative
    assert all(value >= 0 for name, value in fitted.as_dict().items() if name != "bias")
    answer_score = m.text_score(groups[0][0][0], fitted)
    assert all(answer_score > m.text_score(f, fitted) for f, _ in groups[0][1:])
    assert m.fit_ranker([]) == m.RankerWeights()


def test_fit_listwise_learns_what_ranks_within_a_query_and_never_a_negative_weight():
    def vector(**values):
        return [values.get(name, 0.3) for name in m.FEATURES]

    groups = []
    for i in range(80):
        # "cosine" only tells the queries apart (the same for all of a query's candidates); queries
        # with a high one have fewer candidates, so answers are commoner among them: a pointwise fit
        # reads that as a signal, a ranking learns nothing from it.
        level, size = (0.9, 3) if i % 2 else (0.1, 12)
        answer = vector(bm25=0.7 + 0.002 * i, cosine=level, ipc=0.1)
        noise = [vector(bm25=0.3 + 0.05 * (j % 5), cosine=level, ipc=0.8) for j in range(size)]
        groups.append([(answer, 1)] + [(f, 0) for f in noise])
    listwise, pointwise = m.fit_listwise(groups), m.fit_ranker(groups)
    assert pointwise.cosine > 0.5
    assert listwise.bm25 > 1.0 and listwise.cosine < 0.05
    assert listwise.ipc == 0.0  # dropped rather than made negative
    assert all(value >= 0 for name, value in listwise.as_dict().items() if name != "bias")
    for group in groups:
        answer_score = m.text_score(group[0][0], listwise)
        assert answer_score > 0.5 and all(answer_score > m.text_score(f, listwise) for f, _ in group[1:])
    assert m.fit_listwise([]) == m.RankerWeights()
    # Every feature speaking against the answers: all are dropped, and the fit still returns.
    against = [[(vector(bm25=0.1), 1), (vector(bm25=0.9), 0)] for _ in range(5)]
    assert all(value == 0 for name, value in m.fit_listwise(against).as_dict().items() if name != "bias")


def test_matched_terms_are_reported_strongest_first_without_sub_words():
    cand = candidate("不规则鱼塘 投饵", "鱼塘 饲料")
    assert m.matched_terms({"鱼塘": 2.0, "不规则鱼塘": 3.0, "饲料": 1.0, "电池": 5.0}, cand) == ["不规则鱼塘", "饲料"]


def test_reasons_never_show_function_words_or_boilerplate():
    cand = m.CandidateText(["饲料", "和", "投喂", "的", "方法"], ["鱼塘", "技术"], [], None)
    weights = {"和": 9.0, "的": 8.0, "饲料": 2.0, "技术": 5.0, "鱼塘": 1.0}
    assert m.matched_terms(weights, cand, skip=frozenset({"技术", "方法"})) == ["饲料", "鱼塘"]


# -- calibration ------------------------------------------------------------------------------------------


def test_calibration_is_isotonic_and_reads_as_a_rate():
    import random

    rng = random.Random(3)
    # Answers become likelier with the score: P(answer | s) = s^2.
    scores = [rng.random() for _ in range(20000)]
    answers = [1 if rng.random() < s * s else 0 for s in scores]
    table = m.fit_calibration(scores, answers)
    assert len(table["x"]) <= 24 and table["x"] == sorted(table["x"]) and table["y"] == sorted(table["y"])
    for s in (0.1, 0.3, 0.5, 0.7, 0.9):
        assert abs(m.calibrated(s, table) - s * s) < 0.06
    assert m.calibrated(-1.0, table) == table["y"][0] and m.calibrated(2.0, table) == table["y"][-1]
    report = m.reliability([m.calibrated(s, table) for s in scores], answers)
    assert report["ece"] < 0.02 and sum(b["count"] for b in report["bins"]) == len(scores)
    raw = m.reliability(scores, answers)  # the raw scores overstate: s is not s^2
    assert raw["ece"] > 0.1


def test_calibration_never_reverses_the_order_and_keeps_the_base_rate():
    scores, answers = [0.2, 0.9, 0.5, 0.7] * 50, [0, 0, 1, 0] * 50  # a higher score is not a likelier answer
    table = m.fit_calibration(scores, answers)
    assert table["y"] == sorted(table["y"])
    assert table["y"][0] == 0.0 and abs(table["y"][-1] - 1 / 3) < 1e-6  # 0.5, 0.7, 0.9 pooled: one answer in three
    assert m.calibrated(0.9, table) == m.calibrated(0.7, table)  # tied where the data would reverse them
    assert m.calibrated(0.8, None) == 0.8  # no table: the score as it is
    assert m.fit_calibration([], []) == {"x": [0.0, 1.0], "y": [0.0, 1.0]}


def test_reliability_bins_and_expected_calibration_error():
    report = m.reliability([0.05, 0.05, 0.95, 0.95], [0, 1, 1, 1])
    assert report["bins"][0] == {"bin": "0.0-0.1", "count": 2, "predicted": 0.05, "observed": 0.5}
    assert report["bins"][-1]["count"] == 2 and report["bins"][-1]["observed"] == 1.0
    assert report["ece"] == round(0.5 * 0.45 + 0.5 * 0.05, 4)
