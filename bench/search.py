"""Search benchmark: indexing throughput and query latency, per engine, through the engine and the HTTP API.

    .venv/bin/python -m bench.search --listings 100000 --engines embedded,elasticsearch

Loads N listed listings into a scratch database (the real records of ../shared/data/cn_patents.jsonl
when that file is present, then the project's own generator up to N), indexes them with the app's
own reindex (database -> documents -> engine), then runs a fixed query mix through the engine and
through a gunicorn-served API on loopback. Results go to bench/results/search-<N>.json and stdout.
The Elasticsearch figures come from osmem-server, a functional double: they show the code path,
never what a real cluster would do.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "cn_patents.jsonl"
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.demo.generator import application_number, generate_patent  # noqa: E402
from app.demo.seed import OUTLETS  # noqa: E402
from app.extensions import db  # noqa: E402
from app.indexing.indexer import reindex  # noqa: E402
from app.patents.fields import field_for_ipc  # noqa: E402
from app.patents.ipc import InvalidIPC, normalise_patent_ipc_codes  # noqa: E402
from app.patents.numbers import InvalidNumber, parse_application_number  # noqa: E402
from search import Query  # noqa: E402

FULL_TEXT = ["电池", "钠离子电池正极", "盾构机", "图像缺陷检测", "水稻", "投饵机", "污水处理", "可降解", "石墨烯",
             "光伏", "机器人", "基因", "中药", "农药", "收割机", "传感器", "催化剂", "复合材料", "控制方法", "温室",
             "锂离子电池负极", "激光切割", "区块链", "养殖", "发酵", "土壤", "种子", "肥料", "灌溉", "储能"]
SUGGEST = ["一种", "钠", "电池", "盾构", "智能", "水稻", "H01", "A01K", "沪东", "基于", "图像", "污水"]
FIELDS = ["新能源", "新材料", "现代农业", "新一代信息技术", "智能制造", "生物医药", "节能环保"]
OUTLET_CODES = [code for code, *_ in OUTLETS]
MODES = ["assignment", "nonexclusive_license", "exclusive_license", "equity"]
# The 4,097 mixed-field records (CCF-BDCI few-shot classification) carry an industry class label, not
# IPC codes. Each label is given, by hand, the one IPC subclass most typical of its industry (read
# from its titles): a coarse label standing for a classification the records do not have.
LABEL_IPC = {
    0: "H04W", 1: "A01H", 2: "F16H", 3: "H04L", 4: "G06F", 5: "C08L", 6: "G06N", 7: "B01D", 8: "A61B",
    9: "G06T", 10: "H01L", 11: "G05B", 12: "G09G", 13: "C01B", 14: "B09B", 15: "H02J", 16: "H02S",
    17: "H01M", 18: "C04B", 19: "F03D", 20: "A61K", 21: "B82Y", 22: "G01N", 23: "C21D", 24: "B61L",
    25: "D01F", 26: "G01S", 27: "G01V", 28: "F27B", 29: "B60L", 30: "C12P", 31: "G21C", 32: "G06Q",
    33: "B63B", 34: "B64C", 35: "G09F",
}


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)

    def pick(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))], 2)

    return {"n": len(ordered), "p50": pick(50), "p95": pick(95), "p99": pick(99),
            "mean": round(statistics.fmean(ordered), 2)}


def real_records(limit: int):
    if not SHARED.exists():
        return
    with SHARED.open(encoding="utf-8") as fh:
        for count, line in enumerate(fh):
            if count >= limit:
                return
            yield json.loads(line)


def load_catalogue(n: int, seed: int = 7) -> dict:
    """Bulk-insert n listed listings with their patents (Core inserts: the services are not what is measured)."""
    rng = random.Random(seed)
    meta = db.metadata.tables
    now = time.time()
    conn = db.session.connection()
    org_ids = []
    for i in range(60):
        row = meta["organizations"].insert().values(name=f"基准测试大学{i:02d}", region="上海",
                                                   kind="university" if i % 3 else "institute")
        org_ids.append(conn.execute(row).inserted_primary_key[0])
    outlet_ids = {}
    for code, name, city, province, kind in OUTLETS:
        outlet_ids[code] = conn.execute(meta["outlets"].insert().values(
            code=code, name=name, city=city, province=province, kind=kind)).inserted_primary_key[0]
    used: set[str] = set()
    serial = 9_000_000
    real = 0
    used_numbers: dict[str, str] = {}  # record id -> application number, for demands written for a record

    def rows():
        nonlocal serial, real
        for record in real_records(n):
            codes = []
            try:
                codes = normalise_patent_ipc_codes(record.get("ipc") or [])
            except InvalidIPC:
                codes = []
            if not codes and record.get("label_source") in ("gold", "pseudo"):
                codes = [LABEL_IPC[int(record["label"])]]
            if not codes or not record.get("title"):
                continue
            number, patent_type = None, "invention"
            try:
                parsed = parse_application_number(record["app_number"]) if record.get("app_number") else None
                if parsed:
                    number, patent_type = parsed.canonical, parsed.patent_type
            except InvalidNumber:
                pass
            if number is None or number in used:
                serial += 1
                number = application_number(2019, "1", serial)
            # Real records carry no legal status or dates: give them plausible recent ones (stated in the report).
            filing = date(2016, 1, 1) + timedelta(days=rng.randrange(3000))
            if patent_type != "invention":
                filing = date(2020, 1, 1) + timedelta(days=rng.randrange(1000))
            real += 1
            used_numbers[record["id"]] = number
            yield number, record["title"], record.get("abstract"), codes, patent_type, filing
        index = 0
        while True:
            generated = generate_patent(index, seed=seed)
            index += 1
            yield (generated["application_number"], generated["title"], generated["abstract"],
                   generated["ipc_codes"], generated["patent_type"], generated["filing_date"])

    batch_p, batch_i, batch_l, batch_o = [], [], [], []
    made = 0
    patent_id = 0
    for number, title, abstract, codes, patent_type, filing in rows():
        if made >= n:
            break
        if number in used:
            continue
        used.add(number)
        patent_id += 1
        made += 1
        owner = rng.choice(org_ids)
        batch_p.append({"id": patent_id, "application_number": number, "title": title[:500], "abstract": abstract,
                        "patent_type": patent_type, "legal_status": "valid", "filing_date": filing,
                        "grant_date": filing + timedelta(days=700), "owner_organization_id": owner,
                        "inventors": [], "ipc_main": codes[0], "field": field_for_ipc(codes),
                        "field_overridden": False, "pledged": False, "preserved": False,
                        "evaluation_report": False})
        batch_i.extend({"patent_id": patent_id, "position": p, "code": c} for p, c in enumerate(codes))
        negotiable = rng.random() < 0.2
        batch_l.append({"id": patent_id, "patent_id": patent_id, "mode": rng.choice(MODES),
                        "price_fen": None if negotiable else rng.randint(1, 800) * 1_000_000,
                        "negotiable": negotiable, "status": "listed", "version": 1,
                        "listed_at": _aware(now - rng.randrange(400 * 86400))})
        batch_o.extend({"listing_id": patent_id, "outlet_id": outlet_ids[code]}
                       for code in rng.sample(OUTLET_CODES, rng.randint(1, 3)))
        if len(batch_p) >= 5000:
            _flush(conn, meta, batch_p, batch_i, batch_l, batch_o)
    _flush(conn, meta, batch_p, batch_i, batch_l, batch_o)
    db.session.commit()
    return {"listings": made, "real_records": real, "generated": made - real, "record_numbers": used_numbers}


def _aware(ts: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC)


def _flush(conn, meta, *batches) -> None:
    for table, batch in zip(("patents", "patent_ipc_codes", "listings", "listing_outlets"), batches, strict=True):
        if batch:
            conn.execute(meta[table].insert(), batch)
            batch.clear()


def query_mix(rng: random.Random, count: int) -> dict[str, list[dict]]:
    """The same arguments for every engine: (kind -> list of API query parameters)."""
    mix: dict[str, list[dict]] = {"full_text": [], "text_2_filters_facets": [], "filters_only": [], "suggest": []}
    for i in range(count):
        q = FULL_TEXT[i % len(FULL_TEXT)]
        mix["full_text"].append({"q": q})
        mix["text_2_filters_facets"].append({"q": q, "patent_type": "invention", "outlet": rng.choice(OUTLET_CODES)})
        mix["filters_only"].append({"field": rng.choice(FIELDS), "price_min_fen": 10_000_000,
                                    "price_max_fen": 300_000_000})
        mix["suggest"].append({"q": SUGGEST[i % len(SUGGEST)]})
    return mix


def engine_query(args: dict) -> Query:
    filters = {key: value for key, value in args.items() if key != "q"}
    return Query(text=args.get("q"), filters=filters, statuses=("in_auction", "in_negotiation", "listed"), size=20)


def engine_indexing(backend, batch: int = 2000) -> dict:
    """The engine alone: documents already built, timed from begin_rebuild to the switch."""
    from app.indexing.documents import all_listing_ids, documents_for

    batches = [documents_for(ids)[0] for ids in all_listing_ids(batch)]
    db.session.commit()
    started = time.perf_counter()
    target = backend.begin_rebuild()
    count = sum(backend.index_into(target, docs) for docs in batches)
    backend.finish_rebuild(target)
    seconds = time.perf_counter() - started
    return {"listings": count, "seconds": round(seconds, 1), "per_second": round(count / seconds)}


def run_engine(backend, mix: dict) -> dict:
    results = {}
    for kind, calls in mix.items():
        samples = []
        for args in calls:
            started = time.perf_counter()
            if kind == "suggest":
                backend.suggest(args["q"], 10, ("in_auction", "in_negotiation", "listed"))
            else:
                backend.search(engine_query(args))
            samples.append((time.perf_counter() - started) * 1000)
        results[kind] = percentiles(samples)
    return results


def run_api(port: int, mix: dict) -> dict:
    results = {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for kind, calls in mix.items():
        path = "/api/v1/search/suggest" if kind == "suggest" else "/api/v1/search/listings"
        samples = []
        for args in calls:
            url = f"{path}?{urlencode(args)}"
            started = time.perf_counter()
            conn.request("GET", url, headers={"Connection": "keep-alive"})
            response = conn.getresponse()
            body = response.read()
            samples.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                raise RuntimeError(f"{url}: {response.status} {body[:200]!r}")
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        results[kind] = percentiles(samples)
    conn.close()
    return results


def start_api(env: dict, port: int, log: Path) -> subprocess.Popen:
    # The server's log goes to a file: a pipe nobody reads fills up (the Elasticsearch client logs
    # every request) and then blocks the worker, which is what made earlier osmem runs time out.
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--threads", "1", "--keep-alive", "30", "--worker-class", "gthread", "wsgi:app"],
        cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=log.open("ab"))
    for _ in range(100):
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/healthz")
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "sqlite": __import__("sqlite3").sqlite_version}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--engines", default="embedded,elasticsearch")
    parser.add_argument("--queries", type=int, default=300, help="calls per query kind")
    parser.add_argument("--no-api", action="store_true", help="engine figures only")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--work", type=Path, help="keep the scratch files here and reuse a catalogue loaded before")
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-search-"))
    work.mkdir(parents=True, exist_ok=True)
    reuse = (work / "bench.db").exists()
    db_url = f"sqlite:///{work / 'bench.db'}"
    report: dict = {"listings": args.listings, "machine": machine(), "engines": {}, "command": " ".join(sys.argv)}
    model_dir = str(work / "matching-model")
    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "SEARCH_PATH": str(work / "search.sqlite3"),
                      "MATCHING_MODEL_DIR": model_dir})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        started = time.perf_counter()
        if reuse:
            report["data"] = {"reused": str(work)}
        else:
            report["data"] = load_catalogue(args.listings)
            report["data"].pop("record_numbers")
            report["data"]["load_seconds"] = round(time.perf_counter() - started, 1)
        print(f"loaded {report['data']}", flush=True)
    mix = query_mix(random.Random(11), args.queries)

    for engine in args.engines.split(","):
        env = {"DATABASE_URL": db_url, "SEARCH_PATH": str(work / "search.sqlite3"), "MATCHING_MODEL_DIR": model_dir}
        server = None
        if engine == "elasticsearch":
            from osmem_server import OsmemServer

            server = OsmemServer.start(japanese=False)
            env.update({"ELASTICSEARCH_URL": server.url, "ELASTICSEARCH_INDEX_PREFIX": "bench",
                        "ELASTICSEARCH_NODE_CLASS": "tests.search.osmem_transport:PlainJsonNode"})
        try:
            config = {"SQLALCHEMY_DATABASE_URI": db_url, "SEARCH_PATH": env["SEARCH_PATH"],
                      "MATCHING_MODEL_DIR": model_dir,
                      "ELASTICSEARCH_URL": env.get("ELASTICSEARCH_URL"), "ELASTICSEARCH_INDEX_PREFIX": "bench",
                      "ELASTICSEARCH_NODE_CLASS": env.get("ELASTICSEARCH_NODE_CLASS")}
            engine_app = create_app(config)
            with engine_app.app_context():
                backend = engine_app.extensions["search_backend"]
                started = time.perf_counter()
                indexed = reindex(batch=2000)
                seconds = time.perf_counter() - started
                if hasattr(backend, "client"):
                    backend.client.indices.refresh(index=backend.alias)
                entry = {"reindex": {"listings": indexed, "seconds": round(seconds, 1),
                                     "per_second": round(indexed / seconds)}}
                if engine == "embedded":
                    entry["engine_indexing"] = engine_indexing(backend)
                entry["engine"] = run_engine(backend, mix)
            print(f"{engine}: indexed {indexed} in {seconds:.1f}s", flush=True)
            if not args.no_api:
                process = start_api(env, args.port, work / f"gunicorn-{engine}.log")
                try:
                    run_api(args.port, {k: v[:10] for k, v in mix.items()})  # warm up
                    entry["api"] = run_api(args.port, mix)
                finally:
                    process.terminate()
                    try:
                        process.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
            report["engines"][engine] = entry
        finally:
            if server is not None:
                server.close()

    out = ROOT / "bench" / "results" / f"search-{args.listings}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
