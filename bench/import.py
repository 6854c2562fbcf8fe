"""Import benchmark: a 100,000-row inventory through the import job, as XLSX and as CSV, on SQLite and on
PostgreSQL: rows per second and the peak memory of the process that runs the job.

    .venv/bin/python -m bench.import --rows 100000 --publish
    .venv/bin/python -m bench.import --rows 100000 --publish --databases postgresql://postgres@127.0.0.1/test

Each file is written once into --work. Each run uses a fresh database built by the migrations and two
processes, as a deployment does: one uploads the file through the API as staff (POST /api/v1/imports
answers 202 at once), then another runs the worker's own code (app.jobs.run_due) for the job while a
thread polls GET /api/v1/imports/<id> as a client would. Rows/s counts the job from its start to its
end; the peak RSS figures are each process's own (the job's includes the app, ~200 MB of it numpy,
scipy, the encoder's runtime and jieba, loaded by every process of the app).
Results go to stdout and bench/results/import-<rows>.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEADER = ["申请号", "专利名称", "摘要", "分类号", "法律状态", "申请日", "授权公告日", "发明人"]


def rows(count: int):
    """Generated inventions (the project's own generator), filed 2016-2025 so that every one is in force."""
    from app.demo.generator import application_number, generate_patent

    for index in range(count):
        record = generate_patent(index, seed=77)
        year = 2016 + index % 10
        filing = date(year, 1 + index % 12, 1 + index % 28)
        granted = index % 5 != 0
        yield [application_number(year, "1", index), record["title"], record["abstract"],
               "; ".join(record["ipc_codes"]), "有效" if granted else "审中", filing.isoformat(),
               date(min(year + 2, 2026), 6, 1).isoformat() if granted else "", "、".join(record["inventors"])]


def write_files(count: int, work: Path) -> dict[str, Path]:
    work.mkdir(parents=True, exist_ok=True)
    paths = {"csv": work / f"inventory-{count}.csv", "xlsx": work / f"inventory-{count}.xlsx",
             "xlsx-inline": work / f"inventory-{count}-inline.xlsx"}
    if not paths["csv"].exists():
        with paths["csv"].open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            writer.writerows(rows(count))
    if not paths["xlsx"].exists():
        # As Excel and WPS save a workbook: strings in the shared-strings table (XlsxWriter writes it so).
        import xlsxwriter

        book = xlsxwriter.Workbook(str(paths["xlsx"]))
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, HEADER)
        for number, row in enumerate(rows(count), start=1):
            sheet.write_row(number, 0, row)
        book.close()
    if not paths["xlsx-inline"].exists():
        # As openpyxl and other streaming writers save it: every string inline in the sheet, with no
        # <dimension> (so the job counts the rows first), which openpyxl parses more slowly.
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet()
        sheet.append(HEADER)
        for row in rows(count):
            sheet.append(row)
        book.save(paths["xlsx-inline"])
    return paths


def scratch_database(server: str | None, work: Path) -> tuple[str, callable]:
    import sqlalchemy as sa

    from app.config import database_url

    if not server or server.startswith("sqlite"):
        path = work / f"bench-{uuid.uuid4().hex[:8]}.db"
        return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)
    url = sa.make_url(database_url(server))
    name = f"bench_import_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return url.set(database=name).render_as_string(hide_password=False), drop


def _app(url: str, work: Path):
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SEARCH_PATH": str(work / f"search-{uuid.uuid4().hex[:8]}"),
                       "MATCHING_MODEL_DIR": None, "JOBS_RUN_AFTER_REQUEST": False})


def upload(url: str, path: Path, publish: bool, work: Path) -> dict:
    """What a gunicorn worker does: migrate (first), then staff upload the file; 202 with the job."""
    from flask_migrate import upgrade

    from app.auth import services as accounts
    from app.auth.models import SYSTEM
    from app.extensions import db
    from app.outlets import services as outlets
    from tests.factories import token_for

    app = _app(url, work)
    with app.app_context():
        upgrade()
        uni = accounts.create_organization(SYSTEM, "沪东理工大学", "university", "上海")
        exchange = accounts.create_organization(SYSTEM, "交易中心", "exchange", "上海")
        staff = accounts.create_user(SYSTEM, "staff@bench.cn", "bench-pass-2026", "staff", exchange.id)
        outlets.create_outlet(SYSTEM, {"code": "baoshan", "name": "宝山", "city": "上海", "province": "上海",
                                       "kind": "regional", "operator": None})
        db.session.commit()
        token, uni_id = token_for(staff), uni.id
        db.session.remove()
    form = {"file": (path.open("rb"), path.name), "owner_organization_id": str(uni_id),
            "outlet_codes": ["baoshan"], "list_mode": "assignment"}
    if publish:
        form["publish"] = "true"
    started = time.perf_counter()
    response = app.test_client().post("/api/v1/imports", headers={"Authorization": f"Bearer {token}"}, data=form,
                                      content_type="multipart/form-data")
    assert response.status_code == 202, response.get_json()
    return {"import_id": response.get_json()["id"], "token": token,
            "upload_answered_s": round(time.perf_counter() - started, 2),
            "upload_peak_rss_mb": peak_rss_mb()}


def run_job(url: str, import_id: int, token: str, work: Path) -> dict:
    """What `flask worker` does, in a process of its own (its peak RSS is the job's), while a client polls."""
    from app.extensions import db
    from app.jobs import backlog, run_due

    app = _app(url, work)
    headers = {"Authorization": f"Bearer {token}"}
    with app.app_context():
        db.session.remove()
    baseline = peak_rss_mb()
    seen: list = []
    stop = threading.Event()
    started = time.perf_counter()

    def poll():
        with app.test_client() as watcher:
            while not stop.wait(2.0):
                body = watcher.get(f"/api/v1/imports/{import_id}", headers=headers).get_json()
                seen.append((round(time.perf_counter() - started, 1), body["processed_rows"], body["total_rows"]))

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    with app.app_context():
        run_due(kinds=["imports.run"])
        db.session.remove()
    elapsed = time.perf_counter() - started
    stop.set()
    watcher.join()
    final = app.test_client().get(f"/api/v1/imports/{import_id}", headers=headers).get_json()
    with app.app_context():
        waiting = backlog()["queued"]
        db.session.remove()
        db.engine.dispose()
    return {"rows": final["processed_rows"], "created": final["created"], "listed": final["listed"],
            "failed": final["failed"], "status": final["status"], "job_seconds": round(elapsed, 1),
            "rows_per_s": round(final["processed_rows"] / elapsed),
            "job_peak_rss_mb": peak_rss_mb(), "worker_baseline_rss_mb": baseline, "progress_seen": seen[:2] + seen[-2:],
            "jobs_queued_after": waiting}


def peak_rss_mb() -> int:
    """This process's peak resident memory (VmHWM: ru_maxrss would carry the parent's from before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.import", *args], cwd=ROOT, check=True, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(database: str, file_format: str, path: Path, publish: bool, work: Path) -> dict:
    url, drop = scratch_database(database, work)
    try:
        uploaded = _child(["--work", str(work), "--upload", url, str(path)] + (["--publish"] if publish else []))
        ran = _child(["--work", str(work), "--job", url, str(uploaded["import_id"]), uploaded["token"]])
    finally:
        drop()
    return {"database": url.split(":")[0], "format": file_format, "file_mb": round(path.stat().st_size / 2**20, 1),
            **{k: v for k, v in uploaded.items() if k not in ("token", "import_id")}, **ran}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--formats", default="xlsx,csv,xlsx-inline")
    parser.add_argument("--databases", default="sqlite", help="comma-separated: sqlite and/or postgresql:// URLs")
    parser.add_argument("--publish", action="store_true", help="staff import reviewed inventory: listings go live")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench-import")
    parser.add_argument("--upload", nargs=2, metavar=("URL", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--job", nargs=3, metavar=("URL", "IMPORT_ID", "TOKEN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upload:
        print(json.dumps(upload(args.upload[0], Path(args.upload[1]), args.publish, args.work)))
        return
    if args.job:
        print(json.dumps(run_job(args.job[0], int(args.job[1]), args.job[2], args.work)))
        return
    paths = write_files(args.rows, args.work)
    results = []
    for database in args.databases.split(","):
        for file_format in args.formats.split(","):
            result = measure(database, file_format, paths[file_format], args.publish, args.work)
            results.append(result)
            print(json.dumps(result, ensure_ascii=False))
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
               f"Python {platform.python_version()}")
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / f"import-{args.rows}.json").write_text(
        json.dumps({"machine": machine, "publish": args.publish, "results": results}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
