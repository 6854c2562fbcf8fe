"""Deals benchmark: recording deals and granting open licences through a real gunicorn server under
concurrent clients, with every request retried once with its Idempotency-Key (a client that lost the
answer), then checked for exactly-once.

    .venv/bin/python -m bench.deals                       # SQLite file
    .venv/bin/python -m bench.deals --database postgresql://postgres@127.0.0.1/test

A fresh database is built by the migrations; this process writes the setup (a university with --patents
patents, an exchange, staff, --enterprises enterprises with tokens, one open-licence declaration), then
starts gunicorn (the project's gunicorn.conf.py: --workers processes x THREADS threads) and sends from
--clients threads over keep-alive HTTP connections:

1. record: one assignment deal per patent (a distinct key each), then the same request again (a replay);
2. accept: every enterprise accepts the one open licence at once (all contend for one patent's lock).

It reports requests/s and latency percentiles of each phase, then counts deals and keys in the database.
Results go to stdout and bench/results/deals-<database>.json.
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def setup(url: str, work: Path, patents: int, enterprises: int) -> dict:
    from flask_migrate import upgrade

    from app import create_app
    from app.auth import services as accounts
    from app.auth.models import SYSTEM
    from app.demo.generator import application_number
    from app.extensions import db
    from app.patents import listings
    from app.patents import services as patent_services
    from tests.factories import token_for

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SEARCH_PATH": str(work / "search.sqlite3"),
                      "MATCHING_MODEL_DIR": None, "JOBS_RUN_AFTER_REQUEST": False})
    with app.app_context():
        upgrade()
        uni = accounts.create_organization(SYSTEM, "沪东理工大学", "university", "上海")
        exchange = accounts.create_organization(SYSTEM, "交易中心", "exchange", "上海")
        staff = accounts.create_user(SYSTEM, "staff@bench.cn", "bench-pass-2026", "staff", exchange.id)
        patent_ids = []
        for index in range(patents + 1):
            patent = patent_services.create_patent(SYSTEM, {
                "application_number": application_number(2021, "1", 50_000 + index), "title": f"基准专利 {index}",
                "ipc_codes": ["H01M 10/0525"], "legal_status": "valid", "filing_date": date(2021, 3, 1),
                "grant_date": date(2023, 5, 9), "owner_organization_id": uni.id})
            patent_ids.append(patent.id)
        declared = listings.create_listing(SYSTEM, {"patent_id": patent_ids.pop(), "mode": "open_license",
                                                    "open_license": {"payment_method": "lump_sum",
                                                                     "fee_fen": 3_000_000, "term_months": 24}},
                                           status="listed")
        buyer = accounts.create_organization(SYSTEM, "受让企业", "enterprise", "上海")
        tokens = []
        for index in range(enterprises):
            org = accounts.create_organization(SYSTEM, f"基准企业{index}", "enterprise", "上海")
            tokens.append(token_for(accounts.create_user(SYSTEM, f"e{index}@bench.cn", "bench-pass-2026",
                                                         "enterprise", org.id)))
        db.session.commit()
        result = {"staff_token": token_for(staff), "uni": uni.id, "buyer": buyer.id, "patent_ids": patent_ids,
                  "listing_id": declared.id, "enterprise_tokens": tokens}
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return result


class Client(threading.local):
    """One keep-alive connection per client thread."""

    def __init__(self, port: int):
        self.port = port
        self.conn = None

    def get(self, path: str, headers: dict) -> tuple[int, dict, float]:
        return self.request("GET", path, None, headers)

    def post(self, path: str, body: dict | None, headers: dict) -> tuple[int, dict, float]:
        return self.request("POST", path, body, headers)

    def request(self, method: str, path: str, body: dict | None, headers: dict) -> tuple[int, dict, float]:
        payload = json.dumps(body).encode() if body is not None else b""
        headers = {**headers, "Content-Type": "application/json"} if body is not None else headers
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            started = time.perf_counter()
            try:
                self.conn.request(method, path, body=payload, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
            except (ConnectionError, http.client.HTTPException):
                self.conn = None
                if attempt == 2:
                    raise
                continue
            return response.status, json.loads(data or b"{}"), (time.perf_counter() - started) * 1000
        raise RuntimeError("unreachable")


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)

    def at(share):
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99), "max_ms": round(ordered[-1], 1),
            "mean_ms": round(statistics.fmean(ordered), 1)}


def run_phase(name: str, calls: list, clients: int, client: Client) -> dict:
    results = []
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for outcome in pool.map(lambda call: call(client), calls):
            results.append(outcome)
    elapsed = time.perf_counter() - started
    codes: dict[int, int] = {}
    for status, _, _ in results:
        codes[status] = codes.get(status, 0) + 1
    summary = {"requests": len(results), "seconds": round(elapsed, 2),
               "requests_per_s": round(len(results) / elapsed, 1), "statuses": codes,
               **percentiles([ms for _, _, ms in results])}
    print(f"{name:>18}: {json.dumps(summary, ensure_ascii=False)}", flush=True)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="a PostgreSQL server URL; default: a SQLite file")
    parser.add_argument("--patents", type=int, default=2000)
    parser.add_argument("--enterprises", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    # One scratch-database helper for every benchmark (`import` is a keyword, hence import_module).
    scratch_database = importlib.import_module("bench.import").scratch_database

    work = Path(tempfile.mkdtemp(prefix="bench-deals-"))
    url, drop = scratch_database(args.database, work)
    try:
        data = setup(url, work, args.patents, args.enterprises)
        server, port = start_gunicorn(url, work, args.workers, args.threads)
        try:
            _wait_for(port)
            report = measure(data, port, args, url)
        finally:
            server.terminate()
            server.wait(timeout=30)
        report["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                             "platform": platform.platform()}
        out = ROOT / "bench" / "results" / f"deals-{'postgresql' if args.database else 'sqlite'}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
        print(f"written to {out.relative_to(ROOT)}")
    finally:
        drop()


def start_gunicorn(url: str, work: Path, workers: int, threads: int) -> tuple[subprocess.Popen, int]:
    """The project's gunicorn.conf.py on a free local port, logging to work/gunicorn.log."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "SEARCH_PATH": str(work / "search.sqlite3"),
           "JSON_LOGS": "false", "THREADS": str(threads), "MATCHING_MODEL_DIR": "",
           "GUNICORN_CMD_ARGS": "--error-logfile=-"}
    server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "--config", "gunicorn.conf.py",
                               "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "wsgi:app"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=(work / "gunicorn.log").open("wb"))
    return server, port


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not start")


def measure(data: dict, port: int, args, url: str) -> dict:
    client = Client(port)
    staff = {"Authorization": f"Bearer {data['staff_token']}"}
    today = date.today().isoformat()
    keys = [str(uuid.uuid4()) for _ in data["patent_ids"]]

    def record(index):
        body = {"kind": "assignment", "patent_ids": [data["patent_ids"][index]], "seller_organization_id": data["uni"],
                "buyer_organization_id": data["buyer"], "amount_fen": 10_000_000 + index, "signed_on": today,
                "source": "negotiation", "contract_number": f"B-{index}"}
        return lambda c: c.post("/api/v1/deals", body, {**staff, "Idempotency-Key": keys[index]})

    report = {"database": "postgresql" if args.database else "sqlite", "patents": args.patents,
              "enterprises": args.enterprises, "clients": args.clients, "gunicorn": f"{args.workers}x{args.threads}"}
    indexes = range(len(data["patent_ids"]))
    # Every worker thread loads the app's lazy parts on its first requests: not part of the figures.
    warm = [lambda c: c.get("/api/v1/deals?page_size=1", staff) for _ in range(8 * args.workers * args.threads)]
    with ThreadPoolExecutor(args.clients) as pool:
        list(pool.map(lambda call: call(client), warm))
    report["record"] = run_phase("record", [record(i) for i in indexes], args.clients, client)
    report["replay"] = run_phase("replay (same key)", [record(i) for i in indexes], args.clients, client)

    def accept(token):
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
        return lambda c: c.post(f"/api/v1/listings/{data['listing_id']}/open-license/accept", None, headers)

    report["open_license_accept"] = run_phase("open-licence accept", [accept(t) for t in data["enterprise_tokens"]],
                                              args.clients, client)
    report["check"] = count(url)
    print(f"{'check':>18}: {json.dumps(report['check'])}")
    expected = {"assignment_deals": len(data["patent_ids"]), "open_license_deals": len(data["enterprise_tokens"])}
    assert {k: report["check"][k] for k in expected} == expected, report["check"]
    return report


def count(url: str) -> dict:
    import sqlalchemy as sa

    from app.config import database_url

    engine = sa.create_engine(database_url(url))
    with engine.connect() as conn:
        kinds = dict(conn.execute(sa.text("SELECT kind, count(*) FROM deals GROUP BY kind")).all())
        keys = conn.execute(sa.text("SELECT count(*) FROM idempotency_keys")).scalar()
    engine.dispose()
    return {"assignment_deals": kinds.get("assignment", 0), "open_license_deals": kinds.get("open_license", 0),
            "idempotency_keys": keys}


if __name__ == "__main__":
    main()
