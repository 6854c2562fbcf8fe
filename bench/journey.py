"""A new exchange's first hour, against a running server: the demo's matches, then the real inventory
imported, and matching watched while the model catches up.

    make run                                   # in another terminal (a fresh instance/)
    .venv/bin/python -m bench.journey http://localhost:8000 --import --watch 600

Logs in as the demo enterprise and staff, times the enterprise's demand matches (over HTTP, as a client
sees them) and prints `/readyz`'s matching check; with --import, uploads ../shared/data/cn_patents.jsonl
as an import (publish on, assignment) for the demo university, follows the import, then for --watch
seconds prints every 20 s the jobs backlog, the matching check (`ranked_by`, coverage, retrain due) and
a timed match, until the retrain has replaced the model. Results go to bench/results/journey.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "cn_patents.jsonl"
PASSWORD = "demo-pass-2026"


class Client:
    def __init__(self, base: str):
        self.base = base.rstrip("/")

    def call(self, method: str, path: str, token: str | None = None, body=None, raw: bytes | None = None,
             content_type: str = "application/json"):
        data = json.dumps(body).encode() if body is not None else raw
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("content-type", content_type)
        if token:
            request.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def login(self, email: str) -> str:
        status, body = self.call("POST", "/api/v1/auth/login", body={"email": email, "password": PASSWORD})
        if status != 200:
            raise SystemExit(f"login as {email}: {status} {body}")
        return body["access_token"]

    def timed_match(self, token: str, demand_id: int) -> dict:
        started = time.perf_counter()
        status, body = self.call("GET", f"/api/v1/demands/{demand_id}/matches?limit=5", token)
        ms = round((time.perf_counter() - started) * 1000, 1)
        if status != 200:
            return {"status": status, "ms": ms}
        return {"status": status, "ms": ms, "ranked_by": body["ranked_by"], "model": body["model"],
                "top": [(i["listing"]["title"][:24], i["score"], i["strong_match"]) for i in body["items"][:3]]}


def upload(client: Client, token: str, owner_id: int, records: Path) -> dict:
    boundary = "----bench-journey"
    fields = {"owner_organization_id": str(owner_id), "list_mode": "assignment", "publish": "true"}
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                    for k, v in fields.items())
    body += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="cn_patents.jsonl"\r\n'
             "Content-Type: application/octet-stream\r\n\r\n").encode() + records.read_bytes()
    body += f"\r\n--{boundary}--\r\n".encode()
    status, job = client.call("POST", "/api/v1/imports", token, raw=body,
                              content_type=f"multipart/form-data; boundary={boundary}")
    if status != 202:
        raise SystemExit(f"import refused: {status} {job}")
    return job


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", help="the running server, e.g. http://localhost:8000")
    parser.add_argument("--import", dest="do_import", action="store_true", help="import the shared records")
    parser.add_argument("--watch", type=int, default=0, help="seconds to follow the model catching up")
    parser.add_argument("--records", type=Path, default=SHARED, help="the records to import (JSON Lines)")
    args = parser.parse_args()
    client = Client(args.base)
    enterprise, staff = client.login("enterprise@example.com"), client.login("staff@example.com")
    _, demands = client.call("GET", "/api/v1/demands?page_size=10", enterprise)
    demand = demands["items"][0]
    report: dict = {"base": args.base, "demand": demand["title"],
                    "before": client.timed_match(enterprise, demand["id"]),
                    "readyz_before": client.call("GET", "/readyz")[1]["checks"].get("matching")}
    print(json.dumps(report, ensure_ascii=False), flush=True)
    if args.do_import:
        if not args.records.exists():
            print(f"{args.records} is absent: nothing to import")
            return 0
        _, me = client.call("GET", "/api/v1/auth/me", client.login("university@example.com"))
        job = upload(client, staff, me["organization_id"], args.records)
        while True:
            time.sleep(5)
            _, state = client.call("GET", f"/api/v1/imports/{job['id']}", staff)
            if state["status"] in ("done", "failed"):
                break
        report["import"] = {k: state.get(k) for k in ("status", "processed_rows", "created", "listed", "failed")}
        print(json.dumps(report["import"]), flush=True)
    report["watch"] = []
    deadline = time.monotonic() + args.watch
    first_model = (report["readyz_before"] or {}).get("model")
    while time.monotonic() < deadline:
        time.sleep(20)
        checks = client.call("GET", "/readyz")[1]["checks"]
        row = {"jobs": checks.get("jobs"), "search_backlog": checks["search"].get("backlog"),
               "matching": checks.get("matching"), "match": client.timed_match(enterprise, demand["id"])}
        report["watch"].append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)
        if checks["matching"]["model"] != first_model and checks["matching"]["ranked_by"] == "model":
            break  # the retrain has replaced the model
    out = ROOT / "bench" / "results" / "journey.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
