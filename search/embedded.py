"""The embedded engine: SQLite FTS5 in a file of its own, the default when no cluster is configured.

Safe with several gunicorn workers: every thread has its own connection, SQLite's file locks
serialise writers, WAL lets searches run while the indexer writes. Tables are versioned by a
generation number; `meta.active` names the one searches read, and a rebuild fills the next
generation while index()/delete() write to both, then switches `meta.active` in one statement.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

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

SCHEMA_VERSION = 3  # bump when the tables below change: older files are rebuilt, not misread
# BM25 weights of the FTS columns: title, abstract, claims, owner, inventors.
WEIGHTS = (10.0, 3.0, 1.0, 2.0, 2.0)
SUGGEST_SCAN = 3000
# Matching: BM25 weights of title, abstract, claims (owner and inventors do not count), and how many
# of the demand's words take part.
MATCH_WEIGHTS = (3.0, 2.0, 1.0, 0.0, 0.0)
MATCH_TERMS = 24
# rank_text: Elasticsearch's best_fields BM25 over title (boost 2) and abstract, as a cluster with the
# cjk analyzer ranks a free text. FTS5 chooses RANK_POOL candidates per field (the best of two fields is
# in the top of one of them) by the text's RANK_QUERY_TOKENS heaviest tokens (those in more than
# RANK_COMMON_SHARE of the documents, and more than RANK_POOL, rank little and cost most); each
# candidate is then scored exactly, with every token of the text. On the benchmark's demand sets
# (15,556 patents) its top 10 holds 92% of the exact ranking's, and it finds each set's patents at least
# as well (docs/benchmarks.md); a pool that matched the exact ranking (500 per field, 60 tokens, 10%)
# cost twice as much at 100,000 listings.
RANK_K1, RANK_B, RANK_TITLE_BOOST = 1.2, 0.75, 2.0
RANK_POOL = 300  # per field
RANK_QUERY_TOKENS = 30
RANK_COMMON_SHARE = 0.05
RANK_STATS_SECONDS = 600  # the average field lengths, from a sample, are worked out again this often
RANK_STATS_SAMPLE = 2000
# Row layout of the search read: id, rank, listed_at, price_fen, expires_on, then the facet columns.
SCALAR_FACETS = {"field": 5, "patent_type": 6, "mode": 7, "price_band": 8}
MULTI_FACETS = {"ipc_section": 11, "ipc_class": 12, "ipc_subclass": 13, "outlet": 14}


def _desc(value: str | None) -> tuple:
    """A sort key that puts later ISO dates first."""
    return tuple(-ord(ch) for ch in value) if value else ()


_SORT_KEYS = {
    "relevance": lambda r: (r[1], _desc(r[2]), -r[0]),
    "newest": lambda r: (r[2] is None, _desc(r[2]), -r[0]),
    "price_asc": lambda r: (r[3] is None, r[3] or 0, -r[0]),
    "price_desc": lambda r: (r[3] is None, -(r[3] or 0), -r[0]),
    "remaining_life": lambda r: (r[4] is None, _desc(r[4]), -r[0]),
}


class EmbeddedBackend:
    name = "embedded"

    def __init__(self, path: str):
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()

    # -- connections and generations -----------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=15, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA temp_store=MEMORY")
                conn.execute("PRAGMA cache_size=-65536")
            except sqlite3.Error as exc:
                raise SearchUnavailable(f"cannot open the search file {self.path}: {exc}") from exc
            self._local.conn = conn
        return conn

    def _meta(self, conn: sqlite3.Connection) -> dict[str, int]:
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER)")
        return dict(conn.execute("SELECT key, value FROM meta").fetchall())

    def _generations(self, conn: sqlite3.Connection) -> tuple[int, int | None]:
        meta = self._meta(conn)
        if meta.get("schema") != SCHEMA_VERSION:
            # A file written by an older layout: the index is derived data, so start it afresh
            # (`flask search reindex`, or `flask search ensure` as `make run` does, fills it again).
            with _write(conn):
                meta = self._meta(conn)
                if meta.get("schema") != SCHEMA_VERSION:
                    meta = self._start_afresh(conn, meta)
        return meta["active"], meta.get("building")

    def _start_afresh(self, conn: sqlite3.Connection, meta: dict) -> dict:
        for g in {meta.get("active"), meta.get("building")} - {None}:
            self._drop_generation(conn, g)
        conn.execute("DELETE FROM meta")
        self._create_generation(conn, 1)
        conn.execute("INSERT INTO meta VALUES ('active', 1)")
        conn.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        return {"active": 1, "schema": SCHEMA_VERSION}

    @staticmethod
    def _create_generation(conn: sqlite3.Connection, g: int) -> None:
        # Statement by statement: executescript() would COMMIT the caller's transaction.
        script = f"""
            CREATE TABLE IF NOT EXISTS docs_{g} (
                id INTEGER PRIMARY KEY, status TEXT, mode TEXT, field TEXT, patent_type TEXT, legal_status TEXT,
                owner_id INTEGER, owner_name TEXT, price_fen INTEGER, negotiable INTEGER, price_band TEXT,
                listed_at TEXT, expires_on TEXT, application_number TEXT, publication_number TEXT,
                ipc_section TEXT, ipc_class TEXT, ipc_subclass TEXT, outlets TEXT);
            CREATE TABLE IF NOT EXISTS bodies_{g} (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS ix_docs_{g}_field ON docs_{g} (field, price_fen);
            CREATE INDEX IF NOT EXISTS ix_docs_{g}_price ON docs_{g} (price_fen);
            CREATE INDEX IF NOT EXISTS ix_docs_{g}_status ON docs_{g} (status, owner_id);
            CREATE INDEX IF NOT EXISTS ix_docs_{g}_listed ON docs_{g} (listed_at);
            CREATE INDEX IF NOT EXISTS ix_docs_{g}_number ON docs_{g} (application_number);
            CREATE INDEX IF NOT EXISTS ix_docs_{g}_pub ON docs_{g} (publication_number);
            CREATE TABLE IF NOT EXISTS terms_{g} (id INTEGER NOT NULL, facet TEXT NOT NULL, value TEXT NOT NULL,
                depth INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS ix_terms_{g}_lookup ON terms_{g} (facet, value, id);
            CREATE INDEX IF NOT EXISTS ix_terms_{g}_id ON terms_{g} (id, facet, depth, value);
            CREATE TABLE IF NOT EXISTS sugg_{g} (id INTEGER NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL,
                norm TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS ix_sugg_{g}_norm ON sugg_{g} (norm);
            CREATE INDEX IF NOT EXISTS ix_sugg_{g}_id ON sugg_{g} (id);
            CREATE VIRTUAL TABLE IF NOT EXISTS fts_{g} USING fts5(
                title, abstract, claims, owner, inventors, tokenize = 'unicode61 remove_diacritics 0');
        """
        for statement in filter(str.strip, script.split(";")):
            conn.execute(statement)

    @staticmethod
    def _drop_generation(conn: sqlite3.Connection, g: int) -> None:
        for table in ("docs", "bodies", "terms", "sugg", "fts"):
            conn.execute(f"DROP TABLE IF EXISTS {table}_{g}")

    def ensure_ready(self) -> None:
        self._generations(self._conn())

    def _targets(self, conn) -> list[int]:
        active, building = self._generations(conn)
        return [active] + ([building] if building else [])

    # -- writing --------------------------------------------------------------------------------

    def index(self, documents: Iterable[dict]) -> int:
        conn = self._conn()
        docs = [validate_document(doc) for doc in documents]
        if not docs:
            return 0
        rows = [_rows_for(doc) for doc in docs]
        with _write(conn):
            for g in self._targets(conn):
                self._write_rows(conn, g, rows)
        return len(docs)

    def prepare(self, documents: Iterable[dict]) -> list[tuple]:
        """The rows to write for `documents`: pure, so a reindex can run it in another process."""
        return [_rows_for(validate_document(doc)) for doc in documents]

    def write_prepared(self, target: str, rows: list[tuple]) -> int:
        """Bulk load into a rebuild target, adding only documents it does not have yet: a drain that
        ran during the rebuild wrote a state at least as new, and must not be overwritten."""
        conn = self._conn()
        g = int(target)
        with _write(conn):
            ids = [row[0][0] for row in rows]
            present = {doc_id for (doc_id,) in conn.execute(
                f"SELECT id FROM docs_{g} WHERE id IN ({','.join('?' * len(ids))})", ids)} if ids else set()
            fresh = [row for row in rows if row[0][0] not in present]
            self._write_rows(conn, g, fresh, replace=False)
        return len(fresh)

    def index_into(self, target: str, documents: Iterable[dict]) -> int:
        return self.write_prepared(target, self.prepare(documents))

    @staticmethod
    def _write_rows(conn, g: int, rows: list[tuple], replace: bool = True) -> None:
        if replace:
            ids = [(row[0][0],) for row in rows]
            conn.executemany(f"DELETE FROM fts_{g} WHERE rowid = ?", ids)
            conn.executemany(f"DELETE FROM terms_{g} WHERE id = ?", ids)
            conn.executemany(f"DELETE FROM sugg_{g} WHERE id = ?", ids)
        conn.executemany(f"INSERT OR REPLACE INTO docs_{g} VALUES ({','.join('?' * 19)})",
                         [row[0][:1] + row[0][2:] for row in rows])
        conn.executemany(f"INSERT OR REPLACE INTO bodies_{g} VALUES (?, ?)", [row[0][:2] for row in rows])
        conn.executemany(f"INSERT INTO fts_{g} (rowid, title, abstract, claims, owner, inventors) "
                         "VALUES (?, ?, ?, ?, ?, ?)", [row[1] for row in rows])
        conn.executemany(f"INSERT INTO terms_{g} VALUES (?, ?, ?, ?)", [t for row in rows for t in row[2]])
        conn.executemany(f"INSERT INTO sugg_{g} VALUES (?, ?, ?, ?)", [s for row in rows for s in row[3]])

    def delete(self, ids: Iterable[int]) -> int:
        conn = self._conn()
        keys = [(int(i),) for i in ids]
        if not keys:
            return 0
        with _write(conn):
            for g in self._targets(conn):
                for table, column in (("fts", "rowid"), ("terms", "id"), ("sugg", "id"), ("docs", "id"),
                                      ("bodies", "id")):
                    conn.executemany(f"DELETE FROM {table}_{g} WHERE {column} = ?", keys)
        return len(keys)

    # -- rebuilds -------------------------------------------------------------------------------

    def begin_rebuild(self) -> str:
        conn = self._conn()
        with _write(conn):
            active, building = self._generations(conn)
            if building:
                self._drop_generation(conn, building)
            target = max(active, building or 0) + 1
            self._create_generation(conn, target)
            # No incremental merging while bulk loading; finish_rebuild optimises once at the end.
            conn.execute(f"INSERT INTO fts_{target} (fts_{target}, rank) VALUES ('automerge', 0)")
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('building', ?)", (target,))
        return str(target)

    def finish_rebuild(self, target: str) -> None:
        conn = self._conn()
        g = int(target)
        with _write(conn):
            conn.execute(f"INSERT INTO fts_{g} (fts_{g}) VALUES ('optimize')")
            conn.execute(f"INSERT INTO fts_{g} (fts_{g}, rank) VALUES ('automerge', 4)")
        with _write(conn):
            active, _ = self._generations(conn)
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('active', ?)", (int(target),))
            conn.execute("DELETE FROM meta WHERE key = 'building'")
            self._drop_generation(conn, active)

    def abort_rebuild(self, target: str) -> None:
        conn = self._conn()
        with _write(conn):
            self._drop_generation(conn, int(target))
            conn.execute("DELETE FROM meta WHERE key = 'building' AND value = ?", (int(target),))

    def reset(self) -> None:
        conn = self._conn()
        with _write(conn):
            self._start_afresh(conn, self._meta(conn))

    # -- reading --------------------------------------------------------------------------------

    def count(self) -> int:
        conn = self._conn()
        active, _ = self._generations(conn)
        return conn.execute(f"SELECT count(*) FROM docs_{active}").fetchone()[0]

    def health(self) -> dict:
        conn = self._conn()
        active, building = self._generations(conn)
        return {"engine": self.name, "ok": True, "path": self.path, "generation": active,
                "rebuilding": building is not None, "documents": self.count()}

    def search(self, query: Query) -> Result:
        started = time.perf_counter()
        conn = self._conn()
        g, _ = self._generations(conn)
        where, params = _where(query, g)
        phrases, rest = analysis.phrases(query.text or "")
        terms = analysis.query_terms(rest) if rest.strip() else []
        # A quoted phrase is the FTS phrase of its bigrams: adjacent and in order.
        match = " AND ".join(filter(None, [_match_expression(terms)] + [_phrase(p) for p in phrases]))
        terms += [t for p in phrases for t in analysis.query_terms(p)]
        if match:
            # bm25() in the outer query is computed only for rows that pass the filters, and only
            # when the order needs it.
            source = f"fts_{g} JOIN docs_{g} d ON d.id = fts_{g}.rowid"
            where.insert(0, f"fts_{g} MATCH ?")
            params = [match] + params
            rank = f"bm25(fts_{g}, {', '.join(map(str, WEIGHTS))})" if query.sort == "relevance" else "0.0"
        else:
            source, rank = f"docs_{g} d", "0.0"
        sql_where = (" WHERE " + " AND ".join(where)) if where else ""
        try:
            # One read of the matching rows gives the total, the sort keys and every facet's values;
            # the page's bodies come after. No temporary table, no GROUP BY per facet.
            rows = conn.execute(
                f"SELECT d.id, {rank}, d.listed_at, d.price_fen, d.expires_on, d.field, d.patent_type, d.mode, "
                "d.price_band, d.owner_id, d.owner_name, d.ipc_section, d.ipc_class, d.ipc_subclass, d.outlets "
                f"FROM {source}{sql_where}", params).fetchall()
            rows.sort(key=_SORT_KEYS["relevance" if match and query.sort == "relevance" else query.sort])
            page = rows[query.offset:query.offset + query.size]
            bodies = dict(conn.execute(
                f"SELECT id, body FROM bodies_{g} WHERE id IN ({','.join('?' * len(page))})",
                [row[0] for row in page]).fetchall()) if page else {}
        except sqlite3.OperationalError as exc:
            raise SearchUnavailable(f"embedded search failed: {exc}") from exc
        hits = []
        for row in page:
            source_doc = json.loads(bodies[row[0]])
            highlight = {}
            if query.highlight and terms:
                highlight = {"title": analysis.highlight(source_doc.get("title"), terms),
                             "abstract": analysis.highlight(source_doc.get("abstract"), terms)}
            hits.append(Hit(id=row[0], score=round(-row[1], 6) if row[1] else 0.0, source=source_doc,
                            highlight=highlight))
        facets = _facets(rows, query.facet_size) if query.facets else {}
        return Result(total=len(rows), hits=hits, facets=facets, took_ms=(time.perf_counter() - started) * 1000)

    def rank_text(self, text: str, statuses: tuple[str, ...] | None = None,
                  size: int = 50) -> list[tuple[int, float]]:
        """The engine's own ranking of a free text, as Elasticsearch's default `multi_match` ranks it
        (see RANK_*): what matching falls back to without a model it can trust."""
        counts = Counter(t for t in analysis.index_text(text).split() if t)
        if not counts:
            return []
        conn = self._conn()
        g, _ = self._generations(conn)
        n, avg_title, avg_abstract = self._field_stats(conn, g)
        if not n:
            return []
        conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.vocab_{g} USING fts5vocab(main, fts_{g}, 'col')")
        df = {t: self._token_df(conn, g, t) for t in counts}
        idf = {t: (_idf(n, title), _idf(n, abstract)) for t, (title, abstract) in df.items()}
        present = [t for t in counts if max(df[t]) > 0]
        if not present:
            return []
        rare = [t for t in present if max(df[t]) <= max(RANK_POOL, RANK_COMMON_SHARE * n)] or present
        chosen = sorted(rare, key=lambda t: (-counts[t] * max(idf[t]), t))[:RANK_QUERY_TOKENS]
        # The best of two fields is in the top of one of them: candidates are the top of each field.
        query = " OR ".join(_quote(t) for t in chosen)
        visible = f" AND d.status IN ({','.join('?' * len(statuses))})" if statuses else ""
        pools, params = [], []
        for column, weights in (("title", "1.0, 0.0"), ("abstract", "0.0, 1.0")):
            pools.append(f"SELECT * FROM (SELECT d.id FROM fts_{g} JOIN docs_{g} d ON d.id = fts_{g}.rowid "
                         f"WHERE fts_{g} MATCH ?{visible} ORDER BY bm25(fts_{g}, {weights}, 0.0, 0.0, 0.0) LIMIT ?)")
            params.extend(["{" + column + "} : (" + query + ")", *(statuses or ()), RANK_POOL])
        try:
            rows = conn.execute(f"SELECT rowid, title, abstract FROM fts_{g} WHERE rowid IN "
                                f"({' UNION '.join(pools)})", params).fetchall()
        except sqlite3.OperationalError as exc:
            raise SearchUnavailable(f"embedded search failed: {exc}") from exc
        scored = []
        title_idf = {t: v[0] for t, v in idf.items()}
        abstract_idf = {t: v[1] for t, v in idf.items()}
        for doc_id, title, abstract in rows:
            title_tokens = _title_tokens(title)
            abstract_tokens = (abstract or "").split()
            best = max(RANK_TITLE_BOOST * _bm25_field(counts, Counter(title_tokens), len(title_tokens), avg_title,
                                                      title_idf),
                       _bm25_field(counts, Counter(abstract_tokens), len(abstract_tokens), avg_abstract, abstract_idf))
            if best > 0:
                scored.append((doc_id, round(best, 6)))
        scored.sort(key=lambda item: (-item[1], item[0]))
        return scored[:size]

    def _token_df(self, conn: sqlite3.Connection, g: int, token: str) -> tuple[int, int]:
        """How many documents hold the token in their title, and in their abstract (temp.vocab_{g} exists)."""
        found = dict(conn.execute(f"SELECT col, doc FROM temp.vocab_{g} WHERE term = ?", (token,)).fetchall())
        return int(found.get("title", 0)), int(found.get("abstract", 0))

    def _field_stats(self, conn: sqlite3.Connection, g: int) -> tuple[int, float, float]:
        """(documents, average title length, average abstract length) in the analyzer's tokens; the
        averages from a sample, kept a while per process (they move slowly with the catalogue)."""
        n = conn.execute(f"SELECT count(*) FROM docs_{g}").fetchone()[0]
        cache = getattr(self._local, "field_stats", None)
        if cache and cache[0] == g and time.monotonic() - cache[1] < RANK_STATS_SECONDS \
                and abs(cache[2] - n) <= 0.05 * max(n, 1):
            return n, cache[3], cache[4]
        rows = conn.execute(f"SELECT title, abstract FROM fts_{g} WHERE rowid IN "
                            f"(SELECT id FROM docs_{g} ORDER BY random() LIMIT ?)", (RANK_STATS_SAMPLE,)).fetchall()
        titles = [len(_title_tokens(title)) for title, _ in rows]
        abstracts = [len((abstract or "").split()) for _, abstract in rows]
        avg_title = (sum(titles) / len(titles)) if titles else 1.0
        avg_abstract = (sum(abstracts) / len(abstracts)) if abstracts else 1.0
        self._local.field_stats = (g, time.monotonic(), n, max(avg_title, 1.0), max(avg_abstract, 1.0))
        return n, self._local.field_stats[3], self._local.field_stats[4]

    def match(self, terms: list[tuple[str, float]], statuses: tuple[str, ...] | None = None,
              size: int = 100) -> list[tuple[int, float]]:
        """Candidates for matching: any of the words (a CJK word is the phrase of its bigrams), best
        first by BM25 over title, abstract and claims. FTS5 has no per-term boost, so the caller's
        weights choose which words take part: the MATCH_TERMS heaviest."""
        chosen = [word for word, _ in sorted(terms, key=lambda t: -t[1]) if word][:MATCH_TERMS]
        parts = []
        for word in chosen:
            norm = analysis.normalise(word)
            if analysis.is_cjk(norm) and len(norm) >= 2:
                parts.append(_quote(" ".join(analysis.bigrams(norm))))
            elif norm.strip():
                parts.append(_quote(norm.strip()))
        if not parts:
            return []
        conn = self._conn()
        g, _ = self._generations(conn)
        # Only the texts: an owner's name is in every one of its listings, and a demand word that
        # names it (大学, 农业, 测试) would make each a candidate, at zero weight and great cost.
        where, params = f"fts_{g} MATCH ?", ["{title abstract claims} : (" + " OR ".join(parts) + ")"]
        if statuses:
            where += f" AND d.status IN ({','.join('?' * len(statuses))})"
            params.extend(statuses)
        try:
            rows = conn.execute(
                f"SELECT d.id, bm25(fts_{g}, {', '.join(map(str, MATCH_WEIGHTS))}) r FROM fts_{g} "
                f"JOIN docs_{g} d ON d.id = fts_{g}.rowid WHERE {where} ORDER BY r LIMIT ?",
                (*params, size)).fetchall()
        except sqlite3.OperationalError as exc:
            raise SearchUnavailable(f"embedded search failed: {exc}") from exc
        return [(doc_id, -rank) for doc_id, rank in rows]

    def suggest(self, prefix: str, limit: int = 10, statuses: tuple[str, ...] | None = None) -> list[Suggestion]:
        norm = analysis.normalise(prefix).strip()
        if not norm:
            return []
        conn = self._conn()
        g, _ = self._generations(conn)
        visible, params = "", [norm, norm + "\U0010ffff"]
        if statuses:
            visible = f" AND d.status IN ({','.join('?' * len(statuses))})"
            params.extend(statuses)
        # Candidates come from the prefix range of the index, at most SUGGEST_SCAN of them, so a
        # one-character prefix costs no more than a long one; counts rank within those candidates.
        rows = conn.execute(
            f"SELECT c.text, c.kind, count(*) n FROM (SELECT s.id, s.text, s.kind FROM sugg_{g} s "
            f"WHERE s.norm >= ? AND s.norm < ? LIMIT {SUGGEST_SCAN}) c CROSS JOIN docs_{g} d ON d.id = c.id "
            f"WHERE 1 = 1{visible} GROUP BY c.kind, c.text ORDER BY n DESC, length(c.text), c.text LIMIT ?",
            (*params, limit * 2)).fetchall()
        seen, out = set(), []
        for text_value, kind, _ in rows:
            if text_value not in seen:
                seen.add(text_value)
                out.append(Suggestion(text_value, kind))
        return out[:limit]


class _write:
    """BEGIN IMMEDIATE: take the write lock up front so that two writers never deadlock."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self):
        if self.conn.in_transaction:
            self.nested = True
            return self
        self.nested = False
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise SearchUnavailable(f"the search file is locked or unavailable: {exc}") from exc
        return self

    def __exit__(self, exc_type, *_):
        if self.nested:
            return
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")


def _facets(rows: list, size: int) -> dict[str, list[FacetValue]]:
    facets: dict[str, list[FacetValue]] = {}
    for name, column in SCALAR_FACETS.items():
        counts = Counter(row[column] for row in rows if row[column] is not None)
        facets[name] = _top(counts, None if name == "price_band" else size)
    for name, column in MULTI_FACETS.items():
        counts = Counter(value for row in rows if row[column] for value in row[column].split(" "))
        facets[name] = _top(counts, size)
    owners = Counter(row[9] for row in rows)
    names = {row[9]: row[10] for row in rows}
    facets["owner"] = [FacetValue(str(owner), count, names[owner])
                       for owner, count in sorted(owners.items(), key=lambda item: (-item[1], item[0]))[:size]]
    order = [label for label, _, _ in PRICE_BANDS] + [NEGOTIABLE_BAND]
    facets["price_band"].sort(key=lambda fv: order.index(fv.value) if fv.value in order else 99)
    return facets


def _top(counts: Counter, size: int | None) -> list[FacetValue]:
    ordered = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    return [FacetValue(str(value), count) for value, count in ordered[:size]]


def _rows_for(doc: dict) -> tuple:
    doc_id = int(doc["id"])
    band = price_band(doc.get("price_fen"), bool(doc.get("negotiable")))
    title, abstract, claims = (analysis.normalise(doc.get(key) or "") for key in ("title", "abstract", "claims"))
    docs_row = (doc_id, json.dumps(doc, ensure_ascii=False), doc.get("status"), doc.get("mode"), doc.get("field"),
                doc.get("patent_type"), doc.get("legal_status"), doc.get("owner_id"), doc.get("owner_name"),
                doc.get("price_fen"),
                1 if doc.get("negotiable") else 0, band, doc.get("listed_at"), doc.get("expires_on"),
                doc.get("application_number"), doc.get("publication_number"),
                # Facet values, space-separated, so one read of the hits' rows counts every facet.
                " ".join(doc.get("ipc_section") or []), " ".join(doc.get("ipc_class") or []),
                " ".join(doc.get("ipc_subclass") or []), " ".join(doc.get("outlet_codes") or []))
    fts_row = (doc_id, analysis.index_text(title, words=True, normalised=True),
               analysis.index_text(abstract, normalised=True), analysis.index_text(claims, normalised=True),
               analysis.index_text(doc.get("owner_name")), analysis.index_text(" ".join(doc.get("inventors") or [])))
    # IPC: one row per level of every code, with its depth, for any-level filters and per-level facets.
    terms = [(doc_id, "ipc", level, _ipc_depth(level)) for level in doc.get("ipc_levels") or []]
    terms.extend((doc_id, "outlet", code, 0) for code in doc.get("outlet_codes") or [])
    title_text = doc.get("title") or ""
    suggestions = [(doc_id, "title", title_text, key) for key in analysis.completion_keys(title_text)]
    if doc.get("owner_name"):
        suggestions.append((doc_id, "owner", doc["owner_name"], analysis.normalise(doc["owner_name"])))
    for code in doc.get("ipc_codes") or []:
        suggestions.append((doc_id, "ipc", code, analysis.normalise(code)))
    return docs_row, fts_row, terms, suggestions


def _ipc_depth(level: str) -> int:
    """1 section, 2 class, 3 subclass, 4 main group, 5 subgroup (canonical codes only)."""
    if " " in level:
        return 4 if level.endswith("/00") else 5
    return {1: 1, 3: 2, 4: 3}.get(len(level), 0)


def _where(query: Query, g: int) -> tuple[list[str], list]:
    where: list[str] = []
    params: list = []
    if query.statuses is not None:
        marks = ",".join("?" * len(query.statuses))
        if query.also_owner_id is not None:
            where.append(f"(d.status IN ({marks}) OR d.owner_id = ?)")
            params.extend([*query.statuses, query.also_owner_id])
        else:
            where.append(f"d.status IN ({marks})")
            params.extend(query.statuses)
    f = query.filters
    for key, column in KEYWORD_FILTERS.items():
        value = f.get(key)
        if value is None:
            continue
        if key == "outlet":
            where.append(f"EXISTS (SELECT 1 FROM terms_{g} t WHERE t.id = d.id AND t.facet = 'outlet' "
                         "AND t.value = ?)")
        else:
            where.append(f"d.{'owner_id' if key == 'owner' else column} = ?")
        params.append(value)
    if f.get("ipc"):
        where.append(f"EXISTS (SELECT 1 FROM terms_{g} t WHERE t.id = d.id AND t.facet = 'ipc' AND t.value = ?)")
        params.append(f["ipc"])
    if f.get("price_min_fen") is not None:
        where.append("d.price_fen >= ?")
        params.append(f["price_min_fen"])
    if f.get("price_max_fen") is not None:
        where.append("d.price_fen <= ?")
        params.append(f["price_max_fen"])
    if f.get("negotiable") is not None:
        where.append("d.negotiable = ?")
        params.append(1 if f["negotiable"] else 0)
    if f.get("listed_since"):
        where.append("d.listed_at >= ?")
        params.append(f["listed_since"])
    for key in ("application_number", "publication_number"):
        if f.get(key):
            where.append(f"d.{key} = ?")
            params.append(f[key])
    return where, params


def _title_tokens(stored: str | None) -> list[str]:
    """A stored title's tokens as the cjk analyzer has them: the column also holds whole words
    (index_text(words=True)), which the analyzer does not make."""
    return [t for t in (stored or "").split() if not (len(t) > 2 and analysis.is_cjk(t))]


def _idf(n: int, df: int) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5)) if df else 0.0


def _bm25_field(query: Counter, tf: Counter, length: int, avg: float, idf: dict[str, float]) -> float:
    """One field's BM25 for a `match` query: one clause per query token, repeats included."""
    norm = RANK_K1 * (1 - RANK_B + RANK_B * length / avg)
    score = 0.0
    for token in tf.keys() & query.keys():
        f = tf[token]
        score += query[token] * idf[token] * f * (RANK_K1 + 1) / (f + norm)
    return score


def _quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def _phrase(phrase: str) -> str:
    return _quote(analysis.index_text(phrase, normalised=True))


def _match_expression(terms: list[dict]) -> str:
    """All terms are required. A CJK word is the phrase of its bigrams (adjacent, in order); a long
    word may also match jieba's whole-word token in titles, which adds score; a lone character is a
    prefix of the bigrams that start with it."""
    parts = []
    for term in terms:
        word = term["word"]
        if not analysis.is_cjk(word):
            parts.append(_quote(word))
        elif len(word) == 1:
            parts.append(_quote(word) + "*")
        else:
            grams = _quote(" ".join(analysis.bigrams(word)))
            parts.append(f"({_quote(word)} OR {grams})" if len(word) > 2 else grams)
    return " AND ".join(parts)
