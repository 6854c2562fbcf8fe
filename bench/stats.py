"""Statistics benchmark on PostgreSQL: the overview over 1,000,000 listings and 100,000 deals, and a full
XLSX (and CSV) export of the deals, with time and peak memory.

    .venv/bin/python -m bench.stats --database postgresql://postgres@127.0.0.1/test
    .venv/bin/python -m bench.stats --database postgresql://postgres@127.0.0.1/test --listings 100000 --deals 10000

A fresh database is built by the migrations; the catalogue is generated in the database itself
(INSERT ... SELECT generate_series: patents, listings across 11 outlets and two years, deals over two
years with 5% cancelled and one in twenty a package of two patents, 2,000 auction lots, 20,000 demands),
then the statistics' cells are built from them (`cells.rebuild`, timed: the rows went in past the app's
hooks) and the tables ANALYZEd. The overview is called through the app (Flask's test client, in this
process) with five filter sets, --repeat times each: p50/p95/max; then again with today's day and month
marked as a write marks them before the refresh job has run (those read from the rows); then two filter
sets are computed from the rows alone and compared with the cells' figures. Each export runs in a child
process of its own (the app, then one export streamed to a file), which reports its wall time and its
peak RSS (getrusage ru_maxrss), beside the same child's RSS before the export. Results go to stdout and
bench/results/stats-postgresql.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

UNIVERSITIES, ENTERPRISES = 60, 300
FIELDS = ("新能源", "现代农业", "新一代信息技术", "生物医药", "高端装备", "新材料", "集成电路", "节能环保")
KINDS = ("assignment", "assignment", "assignment", "exclusive_license", "nonexclusive_license", "open_license",
         "equity", "sole_license")
SOURCES = ("negotiation", "matching", "auction", "open_license")


def _app(url: str, work: Path):
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SEARCH_PATH": str(work / "search.sqlite3"),
                       "MATCHING_MODEL_DIR": None, "JOBS_RUN_AFTER_REQUEST": False, "JSON_LOGS": False})


def setup(url: str, work: Path, listings: int, deals: int) -> dict:
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app.auth import services as accounts
    from app.auth.models import SYSTEM
    from app.demo.seed import OUTLETS
    from app.extensions import db
    from app.outlets import services as outlets
    from tests.factories import token_for

    app = _app(url, work)
    with app.app_context():
        upgrade()
        outlet_ids = [outlets.create_outlet(SYSTEM, {"code": code, "name": name, "city": city, "province": province,
                                                     "kind": kind, "operator": None}).id
                      for code, name, city, province, kind in OUTLETS]
        unis = [accounts.create_organization(SYSTEM, f"基准大学{i:03d}", "university", "上海").id
                for i in range(UNIVERSITIES)]
        firms = [accounts.create_organization(SYSTEM, f"基准企业{i:03d}", "enterprise", "江苏").id
                 for i in range(ENTERPRISES)]
        exchange = accounts.create_organization(SYSTEM, "基准交易中心", "exchange", "上海")
        staff = accounts.create_user(SYSTEM, "staff@bench.cn", "bench-pass-2026", "staff", exchange.id)
        token = token_for(staff)
        db.session.commit()
        started = time.perf_counter()
        params = {"unis": unis, "firms": firms, "outlets": outlet_ids, "fields": list(FIELDS), "kinds": list(KINDS),
                  "sources": list(SOURCES), "n": listings, "d": deals}
        from sqlalchemy.dialects.postgresql import ARRAY

        arrays = [sa.bindparam(name, type_=ARRAY(sa.Integer if name in ("unis", "firms", "outlets") else sa.Text))
                  for name in ("unis", "firms", "outlets", "fields", "kinds", "sources")]
        for statement in GENERATE:
            text = sa.text(statement)
            text = text.bindparams(*[array for array in arrays if f":{array.key}" in statement])
            db.session.execute(text, {key: value for key, value in params.items() if f":{key}" in statement})
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
        generated = round(time.perf_counter() - started, 1)
        # The rows went in by SQL, past the ORM's hooks: every day and month is worked out, as
        # `flask stats rebuild` does after a bulk load.
        from app.stats import cells

        started = time.perf_counter()
        units = cells.rebuild()
        built = round(time.perf_counter() - started, 1)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
        db.session.remove()
        db.engine.dispose()
    return {"token": token, "generated_s": generated, "cells_s": built, "units": units,
            "first_outlet": OUTLETS[1][0]}


GENERATE = [
    """INSERT INTO patents (id, application_number, title, patent_type, legal_status, owner_organization_id,
           inventors, ipc_main, field, field_overridden, pledged, preserved, evaluation_report, created_at, updated_at)
       SELECT g, 'B' || lpad(g::text, 12, '0'), '基准专利 ' || g || ' 一种装置及其方法', 'invention', 'valid',
              (:unis)[1 + g % cardinality(:unis)], '[]', 'H01M', (:fields)[1 + g % cardinality(:fields)],
              false, false, false, false, now(), now()
       FROM generate_series(1, :n) AS g""",
    """INSERT INTO listings (id, patent_id, mode, price_fen, negotiable, status, listed_at, version, created_at,
           updated_at)
       SELECT g, g, (ARRAY['assignment','assignment','exclusive_license','nonexclusive_license','equity'])[1 + g % 5],
              (g % 500 + 5) * 1000000, g % 4 = 0,
              (ARRAY['listed','listed','listed','listed','sold','licensed','withdrawn','expired'])[1 + g % 8],
              now() - ((g % 730) || ' days')::interval - ((g % 24) || ' hours')::interval, 1, now(), now()
       FROM generate_series(1, :n) AS g""",
    "UPDATE listings SET listed_on = (listed_at AT TIME ZONE 'Asia/Shanghai')::date",
    """INSERT INTO listing_outlets (listing_id, outlet_id)
       SELECT g, (:outlets)[1 + g % cardinality(:outlets)] FROM generate_series(1, :n) AS g""",
    """INSERT INTO deals (id, kind, status, source, listing_id, outlet_id, seller_organization_id,
           buyer_organization_id, amount_fen, contract_number, signed_on, after_event, license_starts_on,
           license_ends_on, payment_status, amount_received_fen, created_at, updated_at, filing_overdue_notified)
       SELECT d, (:kinds)[1 + d % cardinality(:kinds)],
              CASE WHEN d % 20 = 7 THEN 'cancelled' WHEN d % 3 = 0 THEN 'recorded' ELSE 'completed' END,
              (:sources)[1 + d % cardinality(:sources)], (d * 10 - 1) % :n + 1,
              (:outlets)[1 + ((d * 10 - 1) % :n + 1) % cardinality(:outlets)],
              (:unis)[1 + ((d * 10 - 1) % :n + 1) % cardinality(:unis)], (:firms)[1 + d % cardinality(:firms)],
              (d % 900 + 10) * 1000000 + d, 'HT-' || d, current_date - (d % 730), d % 50 = 0,
              CASE WHEN d % 8 IN (3, 4, 5, 7) THEN current_date - (d % 730) END,
              CASE WHEN d % 8 IN (3, 4, 5, 7) THEN current_date - (d % 730) + 365 END,
              'paid', 0, now(), now(), false
       FROM generate_series(1, :d) AS d""",
    """INSERT INTO deal_patents (deal_id, patent_id)
       SELECT d, (d * 10 - 1) % :n + 1 FROM generate_series(1, :d) AS d
       UNION ALL
       SELECT d, (d * 10) % :n + 1 FROM generate_series(1, :d) AS d WHERE d % 20 = 0""",
    """INSERT INTO auctions (id, title, outlet_id, starts_at, ends_at, anti_sniping_seconds, closed_at,
           bidder_numbers_issued, created_at, updated_at)
       SELECT a, '基准拍卖会 ' || a, (:outlets)[1 + a % cardinality(:outlets)], now() - (a * 30 || ' days')::interval,
              now() - (a * 30 - 1 || ' days')::interval, 300, now() - (a * 30 - 1 || ' days')::interval, 0, now(), now()
       FROM generate_series(1, 20) AS a""",
    """INSERT INTO lots (auction_id, listing_id, patent_ids, seller_organization_id, title, deal_kind,
           starting_price_fen, increment_bands, deposit_fen, opens_at, scheduled_ends_at, ends_at, window_seconds,
           status, bid_count, proxies_placed, closed_at, final_price_fen, created_at, updated_at)
       SELECT 1 + l % 20, NULL, '[]', (:unis)[1 + l % cardinality(:unis)], '基准拍品 ' || l, 'assignment',
              1000000, '[[0, 100000]]', 0, now() - ((1 + l % 20) * 30 || ' days')::interval,
              now() - ((1 + l % 20) * 30 - 1 || ' days')::interval,
              now() - ((1 + l % 20) * 30 - 1 || ' days')::interval,
              300, CASE WHEN l % 3 = 0 THEN 'sold' ELSE 'unsold' END, l % 7, 0,
              now() - ((1 + l % 20) * 30 - 1 || ' days')::interval, CASE WHEN l % 3 = 0 THEN 1500000 END,
              now(), now()
       FROM generate_series(1, 2000) AS l""",
    """INSERT INTO demands (organization_id, title, description, fields, ipc_hints, modes, status, created_at,
           updated_at)
       SELECT (:firms)[1 + g % cardinality(:firms)], '基准需求 ' || g, '求购相关技术', '[]', '[]', '[]', 'open',
              now() - ((g % 700) || ' days')::interval, now()
       FROM generate_series(1, 20000) AS g""",
    "SELECT setval(pg_get_serial_sequence('patents', 'id'), :n)",
    "SELECT setval(pg_get_serial_sequence('listings', 'id'), :n)",
    "SELECT setval(pg_get_serial_sequence('deals', 'id'), :d)",
    "SELECT setval(pg_get_serial_sequence('auctions', 'id'), 20)",
]


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
            "max_ms": round(ordered[-1], 1)}


def measure_overview(url: str, work: Path, token: str, repeat: int, outlet: str) -> dict:
    from datetime import date, timedelta

    app = _app(url, work)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    today = date.today()
    variants = {
        "all time": {},
        "last 12 months": {"from": (today - timedelta(days=365)).isoformat(), "to": today.isoformat()},
        "one month": {"from": (today - timedelta(days=30)).isoformat(), "to": today.isoformat()},
        "one outlet": {"outlet": outlet},
        "one field": {"field": FIELDS[0]},
    }
    report = {}
    for pending in (False, True):
        if pending:
            _write_pending(app)
        for name, args in variants.items():
            times = []
            for _ in range(repeat + 1):
                started = time.perf_counter()
                response = client.get("/api/v1/stats/overview", query_string=args, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.get_json()
            totals = response.get_json()["totals"]
            label = f"{name}, a write pending" if pending else name
            report[label] = {**percentiles(times[1:]), "deals": totals["deals"], "listings_published":
                             totals["listings_published"]}
            print(f"overview {label:>35}: {json.dumps(report[label], ensure_ascii=False)}", flush=True)
    report["same as the rows"] = _same_as_rows(app, variants["one month"], outlet)
    print(f"cells and rows agree: {report['same as the rows']}", flush=True)
    return report


def _write_pending(app) -> None:
    """Today's day and this month marked as a listing and a deal written now would, before the refresh job
    has run: the overview reads those from the rows."""
    from datetime import date

    from app.extensions import db
    from app.stats import cells

    with app.app_context():
        cells.mark(cells.LISTING, [date.today()])
        cells.mark(cells.DEAL, [date.today()])
        db.session.commit()


def _same_as_rows(app, one_month: dict, outlet: str) -> dict:
    """The overview from the cells against the same figures computed from the rows themselves."""
    from datetime import date

    from app.extensions import db
    from app.outlets.models import Outlet
    from app.stats import queries, rollup

    out = {}
    with app.app_context():
        import sqlalchemy as sa

        outlet_id = db.session.scalar(sa.select(Outlet.id).where(Outlet.code == outlet))
        for name, f in {"one month": queries.Filters(start=date.fromisoformat(one_month["from"]),
                                                     end=date.fromisoformat(one_month["to"])),
                        "one outlet": queries.Filters(outlet_id=outlet_id)}.items():
            out[name] = rollup.overview(f) == queries.overview_from_rows(f)
    return out


def export_child(url: str, work: Path, token: str, report: str, fmt: str) -> None:
    """In a child process: the app, then one export streamed to a file; prints its figures as JSON."""
    app = _app(url, work)
    client = app.test_client()
    client.get("/healthz")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    response = client.get("/api/v1/stats/export", query_string={"report": report, "format": fmt},
                          headers={"Authorization": f"Bearer {token}"}, buffered=False)
    size = 0
    with (work / f"export.{fmt}").open("wb") as out:
        for chunk in response.response:
            size += len(chunk)
            out.write(chunk)
    response.close()
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows = None
    if fmt == "csv":
        rows = sum(1 for _ in (work / "export.csv").open(encoding="utf-8-sig")) - 1
    print(json.dumps({"status": response.status_code, "seconds": round(elapsed, 1), "bytes": size, "rows": rows,
                      "rss_before_mb": round(before / 1024), "peak_rss_mb": round(peak / 1024)}))


def measure_export(url: str, work: Path, token: str, fmt: str) -> dict:
    child = subprocess.run([sys.executable, "-m", "bench.stats", "--export-child", fmt, "--database", url,
                            "--work", str(work), "--token", token], cwd=ROOT, capture_output=True, text=True)
    if child.returncode:
        raise SystemExit(f"the {fmt} export failed:\n{child.stderr[-3000:]}")
    output = child.stdout
    figures = json.loads(output.strip().splitlines()[-1])
    if fmt == "xlsx":
        from openpyxl import load_workbook

        sheet = load_workbook(work / "export.xlsx", read_only=True).active
        figures["rows"] = sum(1 for _ in sheet.iter_rows(values_only=True)) - 1
    print(f"export deals {fmt:>4}: {json.dumps(figures)}", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", required=True, help="a PostgreSQL server URL")
    parser.add_argument("--listings", type=int, default=1_000_000)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--export-child", choices=("csv", "xlsx"), help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        export_child(args.database, Path(args.work), args.token, "deals", args.export_child)
        return

    scratch_database = importlib.import_module("bench.import").scratch_database
    work = Path(tempfile.mkdtemp(prefix="bench-stats-"))
    url, drop = scratch_database(args.database, work)
    try:
        data = setup(url, work, args.listings, args.deals)
        print(f"generated {args.listings} listings and {args.deals} deals in {data['generated_s']} s; "
              f"cells of {data['units']} days and months built in {data['cells_s']} s", flush=True)
        report = {"listings": args.listings, "deals": args.deals, "generated_s": data["generated_s"],
                  "cells_s": data["cells_s"],
                  "overview": measure_overview(url, work, data["token"], args.repeat, data["first_outlet"]),
                  "export_csv": measure_export(url, work, data["token"], "csv"),
                  "export_xlsx": measure_export(url, work, data["token"], "xlsx"),
                  "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                              "platform": platform.platform()}}
        out = ROOT / "bench" / "results" / "stats-postgresql.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
        print(f"written to {out.relative_to(ROOT)}")
    finally:
        drop()


if __name__ == "__main__":
    main()
