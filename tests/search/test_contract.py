"""One contract, every engine: the embedded engine and Elasticsearch (osmem) must agree."""

import pytest

from search import Query, SearchUnavailable

from .documents import CATALOGUE, doc

PUBLISHED = ("in_auction", "in_negotiation", "listed")


@pytest.fixture
def loaded(engine):
    engine.index(CATALOGUE)
    return engine


def ids(result):
    return [hit.id for hit in result.hits]


def facet(result, name):
    return {fv.value: fv.count for fv in result.facets[name]}


def test_full_text_in_chinese_finds_the_words(loaded):
    result = loaded.search(Query(text="钠离子电池", statuses=PUBLISHED))
    assert set(ids(result)) == {1, 2}
    assert result.total == 2


def test_title_matches_rank_above_abstract_only_matches(loaded):
    result = loaded.search(Query(text="钠离子电池", statuses=PUBLISHED))
    assert ids(result)[0] == 1  # in the title; 2 has it only in its abstract


def test_compounds_match_however_jieba_split_them(loaded):
    assert ids(loaded.search(Query(text="盾构机", statuses=PUBLISHED))) == [3]
    assert ids(loaded.search(Query(text="投饵机", statuses=PUBLISHED))) == [4]
    assert ids(loaded.search(Query(text="鱼塘 投喂", statuses=PUBLISHED))) == [4]


def test_all_words_are_required(loaded):
    assert loaded.search(Query(text="钠离子 盾构", statuses=PUBLISHED)).total == 0


def test_quoted_phrases(loaded):
    assert ids(loaded.search(Query(text='"层状氧化物"', statuses=PUBLISHED))) == [1]
    assert loaded.search(Query(text='"氧化物层状"', statuses=PUBLISHED)).total == 0


def test_owner_and_inventor_text(loaded):
    assert set(ids(loaded.search(Query(text="之江农林", statuses=PUBLISHED)))) == {4}


def test_visibility_by_status_and_owner(loaded):
    assert 5 not in ids(loaded.search(Query(statuses=PUBLISHED, size=50)))
    assert 5 in ids(loaded.search(Query(statuses=PUBLISHED, also_owner_id=3, size=50)))
    assert loaded.search(Query(statuses=None, size=50)).total == 6


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"ipc": "H"}, {1, 2}),
        ({"ipc": "H01M"}, {1}),
        ({"ipc": "H01M 10/00"}, {1}),
        ({"ipc": "H01M 10/054"}, {1}),
        ({"field": "现代农业"}, {4}),
        ({"patent_type": "utility_model"}, {4}),
        ({"mode": "exclusive_license"}, {3}),
        ({"outlet": "wuxi"}, {2, 3}),
        ({"owner": 2}, {2, 3}),
        ({"price_min_fen": 5_000_000, "price_max_fen": 50_000_000}, {1, 2}),
        ({"negotiable": True}, {3}),
        ({"listed_since": "2026-10-01"}, {2, 3, 6}),
        ({"legal_status": "valid", "outlet": "baoshan"}, {1, 3, 6}),
        ({"application_number": "CN202110000004.0"}, {4}),
        ({"publication_number": "CN114081026A"}, {6}),
    ],
)
def test_filters(loaded, filters, expected):
    assert set(ids(loaded.search(Query(filters=filters, statuses=PUBLISHED, size=50)))) == expected


def test_text_with_filters_and_exact_facets(loaded):
    result = loaded.search(Query(text="电池", filters={"outlet": "baoshan"}, statuses=PUBLISHED))
    assert set(ids(result)) == {1, 6}
    assert facet(result, "ipc_section") == {"H": 1, "G": 1}
    assert facet(result, "ipc_subclass") == {"H01M": 1, "G06T": 1}
    assert facet(result, "field") == {"新能源": 1, "新一代信息技术": 1}
    assert facet(result, "outlet") == {"baoshan": 2}
    assert facet(result, "owner") == {"1": 2}
    assert result.facets["owner"][0].label == "沪东理工大学"
    assert facet(result, "price_band") == {"50万-100万": 1, "≥500万": 1}


def test_facets_over_everything_published(loaded):
    result = loaded.search(Query(statuses=PUBLISHED))
    assert facet(result, "mode") == {"assignment": 3, "exclusive_license": 1, "nonexclusive_license": 1}
    assert facet(result, "ipc_class") == {"H01": 1, "H02": 1, "E21": 1, "A01": 1, "G06": 1}
    assert [(fv.value, fv.count) for fv in result.facets["price_band"]] == [
        ("<10万", 2), ("50万-100万", 1), ("≥500万", 1), ("面议", 1)]
    assert facet(result, "patent_type") == {"invention": 4, "utility_model": 1}


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("newest", [6, 3, 2, 1, 4]),
        ("price_asc", [4, 2, 1, 6, 3]),
        ("price_desc", [6, 1, 2, 4, 3]),
        ("remaining_life", [3, 1, 6, 2, 4]),
    ],
)
def test_sorts(loaded, sort, expected):
    result = loaded.search(Query(statuses=PUBLISHED, sort=sort))
    if sort == "remaining_life":
        # 1 and 6 share an expiry date; only the order around them is fixed
        assert ids(result)[0] == 3 and ids(result)[-2:] == [2, 4]
    else:
        assert ids(result) == expected


def test_paging(loaded):
    first = loaded.search(Query(statuses=PUBLISHED, sort="newest", size=2))
    second = loaded.search(Query(statuses=PUBLISHED, sort="newest", size=2, offset=2))
    assert first.total == second.total == 5
    assert ids(first) + ids(second) == [6, 3, 2, 1]


def test_highlights(loaded):
    hit = loaded.search(Query(text="钠离子电池", statuses=PUBLISHED)).hits[0]
    assert any("<em>" in fragment for fragment in hit.highlight["title"])
    assert "钠离子" in "".join(hit.highlight["title"]).replace("<em>", "").replace("</em>", "")


def test_updates_and_deletes(loaded):
    loaded.index([doc(4, "一种自动投饵船", "湖泊养殖。", field="现代农业", ipc=("A01K 61/80",))])
    assert ids(loaded.search(Query(text="投饵船", statuses=PUBLISHED))) == [4]
    assert loaded.search(Query(text="智能投饵机", statuses=PUBLISHED)).total == 0
    loaded.delete([4, 999])
    assert loaded.search(Query(text="投饵", statuses=PUBLISHED)).total == 0
    assert loaded.count() == 5


def test_suggestions_from_titles_owners_and_ipc(loaded):
    titles = {(s.text, s.kind) for s in loaded.suggest("钠离子", statuses=PUBLISHED)}
    assert ("一种钠离子电池正极材料及其制备方法", "title") in titles
    owners = {(s.text, s.kind) for s in loaded.suggest("太湖", statuses=PUBLISHED)}
    assert owners == {("太湖科技大学", "owner")}
    codes = {s.text for s in loaded.suggest("H01M", statuses=PUBLISHED) if s.kind == "ipc"}
    assert codes == {"H01M 4/58", "H01M 10/054"}
    assert loaded.suggest("锂离子", statuses=PUBLISHED) == []  # only a draft has it
    assert len(loaded.suggest("一", limit=10)) <= 10


def test_rebuild_switches_with_no_gap(loaded):
    target = loaded.begin_rebuild()
    loaded.index_into(target, CATALOGUE[:3])
    # A change while the rebuild runs reaches both indexes.
    loaded.index([doc(7, "一种海上风电安装平台", "海洋工程。", field="高端装备制造", ipc=("B63B 35/00",))])
    assert ids(loaded.search(Query(text="风电", statuses=PUBLISHED))) == [7]  # the old index still answers
    assert loaded.search(Query(statuses=None, size=50)).total == 7
    loaded.finish_rebuild(target)
    assert loaded.search(Query(statuses=None, size=50)).total == 4
    assert ids(loaded.search(Query(text="风电", statuses=PUBLISHED))) == [7]


def test_aborted_rebuild_leaves_the_live_index(loaded):
    target = loaded.begin_rebuild()
    loaded.abort_rebuild(target)
    assert loaded.count() == 6
    loaded.index([doc(8, "一种可降解聚酯薄膜", field="新材料", ipc=("C08L 67/02",))])
    assert loaded.count() == 7


def test_reset(loaded):
    loaded.reset()
    assert loaded.count() == 0


def test_documents_are_validated(engine):
    with pytest.raises(ValueError):
        engine.index([{"id": 1}])


def test_unreachable_engine_raises_search_unavailable(tmp_path):
    from .osmem_transport import elastic_backend

    backend = elastic_backend("http://127.0.0.1:9")
    with pytest.raises(SearchUnavailable):
        backend.search(Query(text="电池"))


def test_embedded_file_of_an_older_layout_is_rebuilt_not_misread(tmp_path):
    import sqlite3

    from search.embedded import EmbeddedBackend

    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER)")
    old.execute("INSERT INTO meta VALUES ('active', 1)")
    old.execute("CREATE TABLE docs_1 (id INTEGER PRIMARY KEY, body TEXT)")
    old.commit()
    old.close()
    backend = EmbeddedBackend(str(path))
    assert backend.count() == 0
    backend.index(CATALOGUE)
    assert backend.search(Query(text="盾构机", statuses=PUBLISHED)).total == 1


def test_bulk_load_never_overwrites_what_a_drain_wrote_during_the_rebuild(loaded):
    target = loaded.begin_rebuild()
    loaded.index([doc(3, "盾构机刀盘的耐磨堆焊结构", ipc=("E21D 9/06",), field="高端装备制造")])  # a drain, newer
    loaded.index_into(target, CATALOGUE)  # the bulk load read the older state before that change
    loaded.finish_rebuild(target)
    assert ids(loaded.search(Query(text="耐磨堆焊结构", statuses=PUBLISHED))) == [3]
    assert loaded.count() == 6


def test_match_finds_candidates_by_any_word_best_first(loaded):
    """Matching's candidate query: any of the weighted words, published listings only, best first."""
    found = loaded.match([("鱼塘", 3.0), ("投喂", 2.0), ("钠离", 1.0), ("电池", 1.0), ("无关词汇", 1.0)], PUBLISHED, 10)
    hit_ids = [doc_id for doc_id, _ in found]
    assert hit_ids[0] == 4  # two words, in a short text
    assert set(hit_ids) == {1, 2, 4, 6}  # 6 mentions 电池 in its abstract; 5 is a draft
    assert all(score > 0 for _, score in found)
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    assert [d for d, _ in loaded.match([("电池", 1.0)], None, 10)].count(5) == 1  # staff scope: drafts too
    assert loaded.match([], PUBLISHED, 10) == []
    assert len(loaded.match([("电池", 1.0)], PUBLISHED, 1)) == 1


def test_match_reads_the_texts_not_the_owner_or_inventors(loaded):
    """A demand's word that is only in owners' names (太湖, 农林) or inventors' (王伟) finds nothing:
    matching ranks on title, abstract and claims, and an owner's name in every one of its listings
    would otherwise make a candidate of each (and, at 100k listings, a query of 150 ms)."""
    assert loaded.match([("太湖", 1.0), ("农林", 1.0), ("王伟", 1.0)], None, 10) == []
    assert [d for d, _ in loaded.match([("太湖", 1.0), ("鱼塘", 1.0)], PUBLISHED, 10)] == [4]


def test_an_index_of_an_older_release_gains_the_new_fields_in_place(osmem):
    """A live index whose strict mapping predates a field (pledged) accepts documents with it once the engine
    starts, without a reindex."""
    from .documents import doc
    from .osmem_transport import elastic_backend

    backend = elastic_backend(osmem.url)
    body = backend._index_body()
    del body["mappings"]["properties"]["pledged"]
    backend.client.indices.create(index=f"{backend.pattern[:-1]}1", **body)
    backend.client.indices.put_alias(index=f"{backend.pattern[:-1]}1", name=backend.alias)
    try:
        fresh = elastic_backend(osmem.url, prefix=backend.alias.removesuffix("-listings"))
        fresh.ensure_ready()
        assert fresh.index([{**doc(1, "一种钠离子电池正极材料"), "pledged": True}]) == 1
    finally:
        backend.client.indices.delete(index=f"{backend.pattern[:-1]}1")


RANKED = [
    doc(101, "一种鱼塘增氧装置", "池塘养殖中增加水体溶解氧的设备，包括叶轮和浮筒。"),
    doc(102, "一种水产养殖投饵机", "鱼塘自动投喂饲料，定时定量，减少饲料浪费。鱼塘里的鱼吃得更均匀。"),
    doc(103, "一种锂电池正极材料", "提高电池容量的正极材料及其制备方法。"),
    doc(104, "一种养殖池水质监测系统", "监测溶解氧、温度和氨氮，鱼塘缺氧时报警并启动增氧。"),
    doc(105, "一种鱼塘投饵船", "在鱼塘水面行驶并投喂饲料的无人船。", status="draft"),
    doc(106, "一种饲料颗粒机", "把原料压制成颗粒饲料，用于水产和畜禽养殖。"),
    doc(107, "一种温室大棚", "蔬菜种植用的保温大棚。"),
]


def _best_fields_reference(docs, text):
    """Elasticsearch's multi_match best_fields over title^2 and abstract with the cjk analyzer, computed
    here from its formulas (k1 1.2, b 0.75), independently of the engines."""
    import math
    from collections import Counter

    from search.text import index_text

    def tokens(value):
        return index_text(value).split()

    query = Counter(tokens(text))
    fields = {name: [Counter(tokens(d[name])) for d in docs] for name in ("title", "abstract")}
    scores = {}
    for i, d in enumerate(docs):
        best = 0.0
        for name, boost in (("title", 2.0), ("abstract", 1.0)):
            column = fields[name]
            avg = sum(sum(c.values()) for c in column) / len(column)
            score = 0.0
            for token, repeats in query.items():
                df = sum(1 for c in column if token in c)
                tf = column[i].get(token, 0)
                if tf:
                    idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
                    norm = 1.2 * (1 - 0.75 + 0.75 * sum(column[i].values()) / avg)
                    score += repeats * idf * tf * 2.2 / (tf + norm)
            best = max(best, boost * score)
        if best > 0:
            scores[d["id"]] = best
    return sorted(scores, key=lambda k: -scores[k])


def test_rank_text_is_best_fields_bm25(engine):
    """The engine's own ranking of a free text (what matching keeps without a model): Elasticsearch's
    default multi_match, title boosted, fields combined by their best, every token of the text."""
    engine.index(RANKED)
    text = "鱼塘缺氧怎么办。需要给鱼塘增氧的设备，也想自动投喂饲料"
    expected = [i for i in _best_fields_reference(RANKED, text) if i != 105]  # 105 is a draft
    found = engine.rank_text(text, PUBLISHED, 10)
    assert [doc_id for doc_id, _ in found] == expected
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    assert 107 not in expected and 103 not in expected
    assert [d for d, _ in engine.rank_text(text, None, 10)].count(105) == 1
    assert len(engine.rank_text(text, PUBLISHED, 2)) == 2
    assert engine.rank_text("", PUBLISHED, 10) == [] and engine.rank_text("。，", PUBLISHED, 10) == []
