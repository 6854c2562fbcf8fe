"""Auction benchmark: bids on one hot lot, and bids spread over many lots, through a real gunicorn server on
PostgreSQL, then the correctness checks of the contention test over everything that was accepted; beside
it, the bid's own transaction (and two reference ones) through pgbench, the database's own ceiling on one row.

    .venv/bin/python -m bench.auction --database postgresql://postgres@127.0.0.1/test
    .venv/bin/python -m bench.auction --database postgresql://postgres@127.0.0.1/test --workers 3 --threads 4

A fresh database is built by the migrations; this process writes the setup (an open session, one hot lot
and --lots other lots, --bidders confirmed registrations with tokens), starts gunicorn (the project's
gunicorn.conf.py, --workers x --threads: with one thread its sync worker) and sends bids from --clients
threads, each over a connection of its own (kept alive by gthread; the sync worker closes it after each
answer and the client connects again, inside the measured time) for --seconds per phase. A client bids
the lowest next amount it knows of (from the last accepted bid any client saw) plus 0 to 2 increments,
as a bidder racing others does; refused bids (`bid_too_low`, mostly) read the lot as accepted ones do
(without its lock) and are counted as bid requests.

1. hot: every bid on the one hot lot;
2. spread: every bid on a random one of the other lots;
3. ceiling: GET /healthz (no database, no auth) from the same clients: what this server and this load
   generator reach on this machine for a request that does nothing.

Reported per phase: bid requests/s, accepted bids/s, p50/p95/p99 latency, statuses; then per lot: amounts
strictly increasing in acceptance order, on the grid, never twice, the price equal to the highest bid, the
bid count equal to the bids, no 5xx. Results go to stdout and bench/results/auction-<database>.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.deals import Client, _wait_for, percentiles, start_gunicorn  # noqa: E402

STEP = 10_000  # ¥100 increments: a long run stays far below any band change
START = 1_000_000


def setup(url: str, work: Path, lots: int, bidders: int) -> dict:
    from flask_migrate import upgrade

    from app import clock, create_app
    from app.auctions import services as auctions
    from app.auth import services as accounts
    from app.auth.models import SYSTEM
    from app.demo.generator import application_number
    from app.extensions import db
    from app.outlets import services as outlets
    from app.patents import listings
    from app.patents import services as patent_services
    from tests.factories import token_for

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SEARCH_PATH": str(work / "search.sqlite3"),
                      "MATCHING_MODEL_DIR": None, "JOBS_RUN_AFTER_REQUEST": False})
    with app.app_context():
        upgrade()
        outlets.create_outlet(SYSTEM, {"code": "baoshan", "name": "宝山店", "city": "上海", "province": "上海",
                                       "kind": "regional", "operator": None})
        uni = accounts.create_organization(SYSTEM, "沪东理工大学", "university", "上海")
        now = clock.now()
        auction = auctions.create_auction(SYSTEM, {"title": "基准拍卖会", "outlet_code": "baoshan",
                                                   "starts_at": now - timedelta(minutes=5),
                                                   "ends_at": now + timedelta(days=1), "anti_sniping_seconds": 300})
        lot_ids = []
        for index in range(lots + 1):
            patent = patent_services.create_patent(SYSTEM, {
                "application_number": application_number(2021, "1", 60_000 + index), "title": f"拍卖基准专利 {index}",
                "ipc_codes": ["H01M 10/0525"], "legal_status": "valid", "owner_organization_id": uni.id})
            listing = listings.create_listing(SYSTEM, {"patent_id": patent.id, "mode": "assignment",
                                                       "negotiable": True}, status="listed")
            lot = auctions.add_lot(SYSTEM, auction.id, {"listing_id": listing.id, "starting_price_fen": START,
                                                        "increment_fen": STEP, "deposit_fen": 0})
            lot_ids.append(lot.id)
        tokens = []
        for index in range(bidders):
            org = accounts.create_organization(SYSTEM, f"竞买企业{index}", "enterprise", "上海")
            user = accounts.create_user(SYSTEM, f"b{index}@bench.cn", "bench-pass-2026", "enterprise", org.id)
            registration = auctions.register(user, auction.id, {})
            auctions.confirm_registration(SYSTEM, registration.id, {})
            tokens.append(token_for(user))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return {"hot": lot_ids[0], "others": lot_ids[1:], "tokens": tokens}


class Known:
    """The lowest next amount each lot is known to take, from the accepted bids clients saw."""

    def __init__(self):
        self.next = {}
        self.lock = threading.Lock()

    def amount(self, lot_id: int, rng: random.Random) -> int:
        with self.lock:
            base = self.next.get(lot_id, START)
        return base + rng.choice((0, 0, 1, 2)) * STEP

    def saw(self, lot: dict) -> None:
        with self.lock:
            if lot["min_next_bid_fen"] and lot["min_next_bid_fen"] > self.next.get(lot["id"], 0):
                self.next[lot["id"]] = lot["min_next_bid_fen"]


def run_phase(name: str, pick_lot, data: dict, client: Client, clients: int, seconds: float) -> dict:
    known = Known()
    stop_at = time.monotonic() + seconds
    results = []
    lock = threading.Lock()

    def loop(seed: int):
        rng = random.Random(seed)
        mine = []
        while time.monotonic() < stop_at:
            lot_id = pick_lot(rng)
            token = rng.choice(data["tokens"])
            status, body, ms = client.post(f"/api/v1/lots/{lot_id}/bids", {"amount_fen": known.amount(lot_id, rng)},
                                           {"Authorization": f"Bearer {token}"})
            if status == 201:
                known.saw(body["lot"])
            mine.append((status, body.get("reason") if status != 201 else None, ms))
        with lock:
            results.extend(mine)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(loop, range(clients)))
    elapsed = time.perf_counter() - started
    statuses, reasons = {}, {}
    for status, reason, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
        if reason:
            reasons[reason] = reasons.get(reason, 0) + 1
    summary = {"bid_requests": len(results), "seconds": round(elapsed, 2),
               "bid_requests_per_s": round(len(results) / elapsed, 1),
               "accepted_per_s": round(statuses.get(201, 0) / elapsed, 1), "statuses": statuses,
               "refusals": reasons, **percentiles([ms for _, _, ms in results])}
    print(f"{name:>8}: {json.dumps(summary, ensure_ascii=False)}", flush=True)
    return summary


def ceiling(client: Client, clients: int, seconds: float) -> dict:
    stop_at = time.monotonic() + seconds
    times, lock = [], threading.Lock()

    def loop(_):
        mine = []
        while time.monotonic() < stop_at:
            mine.append(client.get("/healthz", {})[2])
        with lock:
            times.extend(mine)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(loop, range(clients)))
    elapsed = time.perf_counter() - started
    summary = {"requests": len(times), "requests_per_s": round(len(times) / elapsed, 1), **percentiles(times)}
    print(f"{'ceiling':>8}: {json.dumps(summary)}", flush=True)
    return summary


def check(url: str) -> dict:
    """The contention test's checks over every lot: what the run left in the database is consistent."""
    import sqlalchemy as sa

    from app.config import database_url

    engine = sa.create_engine(database_url(url))
    problems = []
    with engine.connect() as conn:
        lots = conn.execute(sa.text("SELECT id, current_price_fen, bid_count FROM lots")).all()
        bids = {}
        for lot_id, amount, registration_id in conn.execute(
                sa.text("SELECT lot_id, amount_fen, registration_id FROM bids ORDER BY id")):
            bids.setdefault(lot_id, []).append((amount, registration_id))
    engine.dispose()
    for lot_id, price, count in lots:
        history = bids.get(lot_id, [])
        amounts = [amount for amount, _ in history]
        if amounts != sorted(set(amounts)):
            problems.append(f"lot {lot_id}: amounts not strictly increasing")
        if any((amount - START) % STEP for amount in amounts):
            problems.append(f"lot {lot_id}: an amount off the grid")
        if (price or None) != (amounts[-1] if amounts else None) or count != len(amounts):
            problems.append(f"lot {lot_id}: price {price} / count {count} against {len(amounts)} bids")
        if any(a[1] == b[1] for a, b in zip(history, history[1:], strict=False)):
            problems.append(f"lot {lot_id}: a bidder outbid itself")
    return {"lots": len(lots), "bids": sum(len(h) for h in bids.values()), "problems": problems}


# The same transactions without Python, by pgbench on the hot lot. `app`: what an accepted bid sends (the lot
# and the bidder's registration read without a lock; then one statement that updates the lot while it is as
# read and inserts the bid and the outbid job from that update). `three_statements`: lock, insert, update
# (the reference). `one_statement`: the lock held for a single statement (the UPDATE takes it) in
# autocommit.
PGBENCH_SCRIPTS = {
    "app": """\\set registration random(1, {bidders})
BEGIN;
SELECT l.*, r.* FROM lots l LEFT JOIN auction_registrations r ON r.auction_id = l.auction_id AND r.id = :registration
  WHERE l.id = {lot};
WITH u AS (UPDATE lots SET current_price_fen = coalesce(current_price_fen, {start}) + {step},
    bid_count = bid_count + 1, leader_registration_id = :registration, updated_at = now()
    WHERE id = {lot} AND status = 'open' RETURNING id, current_price_fen),
  b AS (INSERT INTO bids (lot_id, registration_id, amount_fen, automatic, created_at)
    SELECT id, :registration, current_price_fen, false, now() FROM u RETURNING id),
  j AS (INSERT INTO jobs (kind, payload, status, run_after, max_attempts, attempts, created_at)
    SELECT 'auctions.notify_outbid', '{{}}', 'queued', now(), 5, 0, now() FROM u RETURNING id)
SELECT id FROM b;
COMMIT;
""",
    "three_statements": """\\set registration random(1, {bidders})
BEGIN;
SELECT current_price_fen FROM lots WHERE id = {lot} FOR UPDATE;
INSERT INTO bids (lot_id, registration_id, amount_fen, automatic, created_at)
  SELECT id, :registration, coalesce(current_price_fen, {start}) + {step}, false, now() FROM lots WHERE id = {lot};
UPDATE lots SET current_price_fen = coalesce(current_price_fen, {start}) + {step}, bid_count = bid_count + 1,
  leader_registration_id = :registration, updated_at = now() WHERE id = {lot};
COMMIT;
""",
    "one_statement": """\\set registration random(1, {bidders})
WITH u AS (UPDATE lots SET current_price_fen = coalesce(current_price_fen, {start}) + {step},
    bid_count = bid_count + 1, leader_registration_id = :registration, updated_at = now() WHERE id = {lot}
    RETURNING id, current_price_fen)
INSERT INTO bids (lot_id, registration_id, amount_fen, automatic, created_at)
  SELECT id, :registration, current_price_fen, false, now() FROM u;
""",
}


def pgbench(url: str, work: Path, lot_id: int, bidders: int, clients: int, seconds: int, script_name: str) -> dict:
    """One of PGBENCH_SCRIPTS by pgbench on one lot: what PostgreSQL itself does on one hot row on this
    machine, with no Python at all."""
    import sqlalchemy as sa

    from app.config import database_url

    script = work / f"{script_name}.sql"
    script.write_text(PGBENCH_SCRIPTS[script_name].format(lot=lot_id, bidders=bidders, start=START, step=STEP))
    target = sa.make_url(database_url(url))
    command = ["pgbench", "-n", "-h", target.host or "127.0.0.1", "-p", str(target.port or 5432), "-U",
               target.username or "postgres", "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds),
               "-f", str(script), target.database]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    figures = {}
    for line in output.splitlines():
        if line.startswith("tps"):
            figures["tps"] = round(float(line.split("=")[1].split()[0]), 1)
        elif "latency average" in line:
            figures["latency_avg_ms"] = float(line.split("=")[1].split()[0])
    return {"clients": clients, "seconds": seconds, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="a PostgreSQL server URL; default: a SQLite file")
    parser.add_argument("--lots", type=int, default=50, help="lots besides the hot one")
    parser.add_argument("--bidders", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()

    scratch_database = importlib.import_module("bench.import").scratch_database
    work = Path(tempfile.mkdtemp(prefix="bench-auction-"))
    url, drop = scratch_database(args.database, work)
    try:
        data = setup(url, work, args.lots, args.bidders)
        server, port = start_gunicorn(url, work, args.workers, args.threads)
        report = {"database": "postgresql" if args.database else "sqlite", "lots": args.lots + 1,
                  "bidders": args.bidders, "clients": args.clients, "gunicorn": f"{args.workers}x{args.threads}",
                  "seconds_per_phase": args.seconds}
        client = Client(port)
        try:
            _wait_for(port)
            warm = [data["others"][i % len(data["others"])] for i in range(8 * args.workers * args.threads)]
            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(lambda lot_id: client.get(f"/api/v1/lots/{lot_id}", {}), warm))
            report["hot"] = run_phase("hot", lambda rng: data["hot"], data, client, args.clients, args.seconds)
            report["spread"] = run_phase("spread", lambda rng: rng.choice(data["others"]), data, client,
                                         args.clients, args.seconds)
            report["ceiling"] = ceiling(client, args.clients, args.seconds)
        finally:
            server.terminate()
            server.wait(timeout=30)
        report["check"] = check(url)
        print(f"{'check':>8}: {json.dumps(report['check'], ensure_ascii=False)}")
        if args.database:
            report["pgbench"] = {name: {n: pgbench(url, work, data["hot"], args.bidders, n, 10, name) for n in (1, 8)}
                                 for name in PGBENCH_SCRIPTS}
            for name, figures in report["pgbench"].items():
                print(f"{'pgbench':>8}: {name}: {json.dumps(figures)}")
        report["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                             "platform": platform.platform()}
        out = ROOT / "bench" / "results" / f"auction-{report['database']}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
        print(f"written to {out.relative_to(ROOT)}")
        if report["check"]["problems"] or any(code >= 500 for phase in ("hot", "spread")
                                              for code in report[phase]["statuses"]):
            raise SystemExit("the run left inconsistencies or 5xx answers: see the check")
    finally:
        drop()


if __name__ == "__main__":
    main()
