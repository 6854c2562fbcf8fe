"""The Elasticsearch engine, through the official client.

A versioned index (`<prefix>-listings-v<ms>`) sits behind the alias `<prefix>-listings`; during a
rebuild the alias `<prefix>-listings-building` names the new index, and every write goes to both
until the read alias is switched in one atomic `_aliases` call.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch, NotFoundError, helpers

from . import text as analysis
from .base import (
    KEYWORD_FILTERS,
    NEGOTIABLE_BAND,
    PRICE_BANDS,
    FacetValue,
    Hit,
    Query,
    Result,
    SearchUnavailable,
    Suggestion,
    price_band,
    validate_document,
)

TEXT_FIELDS = ["title^10", "abstract^3", "claims", "owner_name^2", "inventors^2"]
# Matching reads what a patent is about, not who owns or invented it.
RANK_TEXT_FIELDS = ["title^2", "abstract"]
MATCH_FIELDS = ["title^3", "abstract^2", "claims"]
TERMS_FACETS = {"field": "field", "patent_type": "patent_type", "mode": "mode", "price_band": "price_band",
                "ipc_section": "ipc_section", "ipc_class": "ipc_class", "ipc_subclass": "ipc_subclass",
                "outlet": "outlet_codes", "owner": "owner_key"}
SORTS = {
    "newest": [{"listed_at": {"order": "desc", "missing": "_last"}}, {"id": "desc"}],
    "price_asc": [{"price_fen": {"order": "asc", "missing": "_last"}}, {"id": "desc"}],
    "price_desc": [{"price_fen": {"order": "desc", "missing": "_last"}}, {"id": "desc"}],
    "remaining_life": [{"expires_on": {"order": "desc", "missing": "_last"}}, {"id": "desc"}],
}
_ERRORS = (ApiError, TransportError, TransportConnectionError, helpers.BulkIndexError)


def _keyword(**extra) -> dict:
    return {"type": "keyword", **extra}


class ElasticBackend:
    name = "elasticsearch"

    def __init__(self, url: str, *, prefix: str = "patent-supermarket", analyzer: str = "cjk",
                 node_class: Any = None, refresh: bool = False, client: Elasticsearch | None = None):
        options: dict[str, Any] = {"retry_on_timeout": True, "max_retries": 3, "request_timeout": 10,
                                   "retry_on_status": (502, 503, 504)}
        if node_class is not None:
            options["node_class"] = node_class
        self.client = client or Elasticsearch(url, **options)
        self.alias = f"{prefix}-listings"
        self.building_alias = f"{prefix}-listings-building"
        self.pattern = f"{prefix}-listings-v*"
        self.analyzer = analyzer
        self.refresh = refresh
        self._mapping_current = False

    # -- index management ---------------------------------------------------------------------

    def _index_body(self) -> dict:
        if self.analyzer == "cjk":
            settings = {"analysis": {"analyzer": {"zh": {"type": "cjk"}}}}
            analyzer = "zh"
        else:  # ik_max_word, smartcn: provided by the cluster's plugins
            settings, analyzer = {}, self.analyzer
        text = {"type": "text", "analyzer": analyzer}
        properties = {
            "id": {"type": "integer"}, "patent_id": {"type": "integer"},
            "title": {**text, "fields": {"raw": _keyword()}}, "abstract": text, "claims": text,
            "owner_name": {**text, "fields": {"raw": _keyword()}}, "inventors": text,
            "application_number": _keyword(), "publication_number": _keyword(),
            "ipc_codes": _keyword(), "ipc_levels": _keyword(), "ipc_section": _keyword(), "ipc_class": _keyword(),
            "ipc_subclass": _keyword(), "field": _keyword(), "patent_type": _keyword(), "legal_status": _keyword(),
            "mode": _keyword(), "status": _keyword(), "outlet_codes": _keyword(), "owner_id": {"type": "integer"},
            "owner_key": _keyword(), "price_fen": {"type": "long"}, "negotiable": {"type": "boolean"},
            "price_band": _keyword(), "listed_at": {"type": "date"}, "expires_on": {"type": "date"},
            "title_keys": _keyword(), "owner_norm": _keyword(), "pledged": {"type": "boolean"},
        }
        return {"settings": {"number_of_shards": 1, **settings},
                "mappings": {"dynamic": "strict", "properties": properties}}

    def _new_index(self) -> str:
        name = f"{self.pattern[:-1]}{int(time.time() * 1000)}"
        self.client.indices.create(index=name, **self._index_body())
        return name

    def _call(self, func, *args, **kwargs):
        try:
            return func(*args, **kwargs)
        except NotFoundError:
            raise
        except _ERRORS as exc:
            raise SearchUnavailable(f"elasticsearch: {exc}") from exc

    def ensure_ready(self) -> None:
        def create_if_missing():
            if not self.client.indices.exists_alias(name=self.alias):
                index = self._new_index()
                self.client.indices.put_alias(index=index, name=self.alias)
            elif not self._mapping_current:
                # An index built by an older release lacks the fields added since (its mapping is strict):
                # adding a field is allowed in place, so documents that carry it index at once, no reindex.
                self.client.indices.put_mapping(index=self.alias,
                                                properties=self._index_body()["mappings"]["properties"])
            self._mapping_current = True

        self._call(create_if_missing)

    def _current(self, alias: str) -> list[str]:
        try:
            return list(self._call(self.client.indices.get_alias, name=alias).body)
        except NotFoundError:
            return []

    # -- writing --------------------------------------------------------------------------------

    def _write_targets(self) -> list[str]:
        self.ensure_ready()
        return self._current(self.alias) + self._current(self.building_alias)

    def _bulk(self, actions: list[dict]) -> None:
        if not actions:
            return
        try:
            helpers.bulk(self.client.options(request_timeout=120), actions, chunk_size=500, max_retries=3,
                         initial_backoff=0.5, refresh=self.refresh, raise_on_error=True, raise_on_exception=True)
        except helpers.BulkIndexError as exc:
            # 404: deleting what is gone; 409: `create` of a document a drain wrote first. Both are fine.
            real = [e for e in exc.errors if next(iter(e.values())).get("status") not in (404, 409)]
            if real:
                raise SearchUnavailable(f"elasticsearch bulk: {real[:3]}") from exc
        except _ERRORS as exc:
            raise SearchUnavailable(f"elasticsearch bulk: {exc}") from exc

    def index(self, documents: Iterable[dict]) -> int:
        docs = [_source(validate_document(doc)) for doc in documents]
        if docs:
            self._bulk([{"_index": index, "_id": doc["id"], "_source": doc}
                        for index in self._write_targets() for doc in docs])
        return len(docs)

    def prepare(self, documents: Iterable[dict]) -> list[dict]:
        return [_source(validate_document(doc)) for doc in documents]

    def write_prepared(self, target: str, sources: list[dict]) -> int:
        """Bulk load into a rebuild target with `create`: a document a drain already wrote during the
        rebuild is at least as new, and the conflict (409) leaves it as it is."""
        self._bulk([{"_op_type": "create", "_index": target, "_id": doc["id"], "_source": doc} for doc in sources])
        return len(sources)

    def index_into(self, target: str, documents: Iterable[dict]) -> int:
        return self.write_prepared(target, self.prepare(documents))

    def delete(self, ids: Iterable[int]) -> int:
        keys = [int(i) for i in ids]
        if keys:
            self._bulk([{"_op_type": "delete", "_index": index, "_id": key}
                        for index in self._write_targets() for key in keys])
        return len(keys)

    # -- rebuilds -------------------------------------------------------------------------------

    def begin_rebuild(self) -> str:
        self.ensure_ready()
        for stale in self._current(self.building_alias):
            self._call(self.client.indices.delete, index=stale)
        target = self._call(self._new_index)
        self._call(self.client.indices.put_alias, index=target, name=self.building_alias)
        return target

    def finish_rebuild(self, target: str) -> None:
        old = self._current(self.alias)
        actions = [{"remove": {"index": index, "alias": self.alias}} for index in old]
        actions += [{"add": {"index": target, "alias": self.alias}},
                    {"remove": {"index": target, "alias": self.building_alias}}]
        self._call(self.client.indices.update_aliases, actions=actions)
        for index in old:
            if index != target:
                self._call(self.client.indices.delete, index=index)
        self._call(self.client.indices.refresh, index=target)

    def abort_rebuild(self, target: str) -> None:
        try:
            self._call(self.client.indices.delete, index=target)
        except NotFoundError:
            pass

    def reset(self) -> None:
        for index in self._call(self.client.indices.get, index=self.pattern).body:
            self._call(self.client.indices.delete, index=index)
        self.ensure_ready()

    # -- reading --------------------------------------------------------------------------------

    def count(self) -> int:
        self.ensure_ready()
        return self._call(self.client.count, index=self.alias)["count"]

    def health(self) -> dict:
        indices = self._current(self.alias)
        return {"engine": self.name, "ok": True, "index": indices[0] if indices else None,
                "rebuilding": bool(self._current(self.building_alias)), "documents": self.count()}

    def search(self, query: Query) -> Result:
        started = time.perf_counter()
        self.ensure_ready()
        phrases, rest = analysis.phrases(query.text or "")
        terms = analysis.query_terms(rest if phrases else (query.text or ""))
        must: list[dict] = [_term_clause(term) for term in terms]
        must += [{"multi_match": {"query": phrase, "fields": TEXT_FIELDS, "type": "phrase"}} for phrase in phrases]
        highlight_terms = terms + [t for phrase in phrases for t in analysis.query_terms(phrase)]
        body: dict[str, Any] = {
            "query": {"bool": {"must": must or [{"match_all": {}}], "filter": _filters(query)}},
            "from": query.offset, "size": query.size, "track_total_hits": True,
            "sort": (["_score", {"listed_at": {"order": "desc", "missing": "_last"}}, {"id": "desc"}]
                     if must and query.sort == "relevance" else SORTS.get(query.sort, SORTS["newest"])),
        }
        if query.facets:
            body["aggs"] = {name: {"terms": {"field": field, "size": 20 if name == "price_band" else query.facet_size}}
                            for name, field in TERMS_FACETS.items()}
        if query.highlight and highlight_terms:
            body["highlight"] = {"pre_tags": ["<em>"], "post_tags": ["</em>"],
                                 "fields": {"title": {"number_of_fragments": 0},
                                            "abstract": {"fragment_size": 60, "number_of_fragments": 3}}}
        response = self._call(self.client.search, index=self.alias, **body)
        hits = []
        for raw in response["hits"]["hits"]:
            source = _public(raw["_source"])
            highlight = {}
            if query.highlight and highlight_terms:
                # Fragments from our own highlighter, so both engines mark the same words; the engine's
                # own fragments are the fallback (e.g. for phrases it matched differently).
                highlight = {key: analysis.highlight(source.get(key), highlight_terms)
                             or raw.get("highlight", {}).get(key, []) for key in ("title", "abstract")}
            hits.append(Hit(id=int(raw["_id"]), score=round(float(raw.get("_score") or 0.0), 6), source=source,
                            highlight=highlight))
        facets = _facets(response.get("aggregations", {})) if query.facets else {}
        return Result(total=response["hits"]["total"]["value"], hits=hits, facets=facets,
                      took_ms=(time.perf_counter() - started) * 1000)

    def match(self, terms: list[tuple[str, float]], statuses: tuple[str, ...] | None = None,
              size: int = 100) -> list[tuple[int, float]]:
        """Candidates for matching: any of the weighted words (a word is the phrase of its bigrams),
        best first by BM25 with each word's weight as its boost. Ids and scores only."""
        self.ensure_ready()
        should = [{"multi_match": {"query": word, "fields": MATCH_FIELDS, "type": "phrase",
                                   "boost": round(max(weight, 0.01), 4)}} for word, weight in terms if word]
        if not should:
            return []
        filters = _filters(Query(statuses=statuses))
        body = {"query": {"bool": {"should": should, "minimum_should_match": 1, "filter": filters}},
                "size": size, "_source": False, "track_total_hits": False}
        response = self._call(self.client.search, index=self.alias, **body)
        return [(int(raw["_id"]), float(raw.get("_score") or 0.0)) for raw in response["hits"]["hits"]]

    def rank_text(self, text: str, statuses: tuple[str, ...] | None = None,
                  size: int = 50) -> list[tuple[int, float]]:
        """The engine's own ranking of a free text: a `match` of the text's tokens (any of them) over
        title (boost 2) and abstract, fields combined as best_fields, Elasticsearch's default. What
        matching falls back to without a model it can trust."""
        if not (text or "").strip():
            return []
        self.ensure_ready()
        body = {"query": {"bool": {"must": {"multi_match": {"query": text, "fields": RANK_TEXT_FIELDS,
                                                              "type": "best_fields"}},
                                   "filter": _filters(Query(statuses=statuses))}},
                "size": size, "_source": False, "track_total_hits": False}
        response = self._call(self.client.search, index=self.alias, **body)
        return [(int(raw["_id"]), float(raw.get("_score") or 0.0)) for raw in response["hits"]["hits"]]

    def suggest(self, prefix: str, limit: int = 10, statuses: tuple[str, ...] | None = None) -> list[Suggestion]:
        norm = analysis.normalise(prefix).strip()
        if not norm:
            return []
        self.ensure_ready()
        visible = [{"terms": {"status": list(statuses)}}] if statuses else []
        aggs = {
            "title": {"filter": {"prefix": {"title_keys": norm}},
                      "aggs": {"values": {"terms": {"field": "title.raw", "size": limit}}}},
            "owner": {"filter": {"prefix": {"owner_norm": norm}},
                      "aggs": {"values": {"terms": {"field": "owner_name.raw", "size": limit}}}},
            "ipc": {"filter": {"prefix": {"ipc_codes": norm.upper()}},
                    "aggs": {"values": {"terms": {"field": "ipc_codes", "size": 50}}}},
        }
        response = self._call(self.client.search, index=self.alias, size=0,
                              query={"bool": {"filter": visible}}, aggs=aggs)
        found: list[tuple[int, int, str, str]] = []
        for kind in ("title", "owner", "ipc"):
            for bucket in response["aggregations"][kind]["values"]["buckets"]:
                key = bucket["key"]
                if kind == "ipc" and not key.upper().startswith(norm.upper()):
                    continue
                found.append((-bucket["doc_count"], len(key), key, kind))
        seen, out = set(), []
        for _, _, key, kind in sorted(found):
            if key not in seen:
                seen.add(key)
                out.append(Suggestion(key, kind))
        return out[:limit]


def _source(doc: dict) -> dict:
    source = dict(doc)
    source["price_band"] = price_band(doc.get("price_fen"), bool(doc.get("negotiable")))
    source["owner_key"] = f"{doc['owner_id']}|{doc.get('owner_name') or ''}"
    source["title_keys"] = analysis.completion_keys(doc.get("title") or "")
    source["owner_norm"] = analysis.normalise(doc.get("owner_name") or "")
    return source


def _public(source: dict) -> dict:
    return {key: value for key, value in source.items()
            if key not in ("price_band", "owner_key", "title_keys", "owner_norm")}


def _term_clause(term: dict) -> dict:
    if term.get("prefix"):
        return {"multi_match": {"query": term["word"], "fields": TEXT_FIELDS, "type": "phrase_prefix"}}
    clause = {"multi_match": {"query": term["word"], "fields": TEXT_FIELDS, "operator": "and"}}
    if len(term["word"]) > 2:
        # The whole word, in order, scores above the same bigrams scattered.
        phrase = {"multi_match": {"query": term["word"], "fields": TEXT_FIELDS, "type": "phrase"}}
        return {"bool": {"must": [clause], "should": [phrase]}}
    return clause


def _filters(query: Query) -> list[dict]:
    filters: list[dict] = []
    if query.statuses is not None:
        visible: list[dict] = [{"terms": {"status": list(query.statuses)}}]
        if query.also_owner_id is not None:
            visible.append({"term": {"owner_id": query.also_owner_id}})
        filters.append({"bool": {"should": visible, "minimum_should_match": 1}})
    f = query.filters
    for key, field in KEYWORD_FILTERS.items():
        if f.get(key) is not None:
            filters.append({"term": {field: f[key]}})
    if f.get("ipc"):
        filters.append({"term": {"ipc_levels": f["ipc"]}})
    price: dict = {}
    if f.get("price_min_fen") is not None:
        price["gte"] = f["price_min_fen"]
    if f.get("price_max_fen") is not None:
        price["lte"] = f["price_max_fen"]
    if price:
        filters.append({"range": {"price_fen": price}})
    if f.get("negotiable") is not None:
        filters.append({"term": {"negotiable": bool(f["negotiable"])}})
    if f.get("listed_since"):
        filters.append({"range": {"listed_at": {"gte": f["listed_since"]}}})
    for key in ("application_number", "publication_number"):
        if f.get(key):
            filters.append({"term": {key: f[key]}})
    return filters


def _facets(aggregations: dict) -> dict[str, list[FacetValue]]:
    facets: dict[str, list[FacetValue]] = {}
    for name in TERMS_FACETS:
        buckets = aggregations.get(name, {}).get("buckets", [])
        values = []
        for bucket in buckets:
            key = str(bucket.get("key_as_string", bucket["key"]))
            if name == "owner":
                owner_id, _, label = key.partition("|")
                values.append(FacetValue(owner_id, bucket["doc_count"], label))
            else:
                values.append(FacetValue(key, bucket["doc_count"]))
        facets[name] = values
    order = [label for label, _, _ in PRICE_BANDS] + [NEGOTIABLE_BAND]
    facets["price_band"].sort(key=lambda fv: order.index(fv.value) if fv.value in order else 99)
    return facets
