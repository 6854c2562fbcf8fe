"""Every race the core claims to handle, with truly concurrent requests (see conftest)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.inquiries.models import Inquiry
from app.jobs import enqueue, job, run_due
from app.jobs.models import Job
from app.patents.models import Listing

from .. import factories
from .conftest import concurrently, race

N = 20


def test_one_assignment_listing_per_patent(live, live_world):
    patent_id, headers = factories.patent(live_world.uni.org).id, live_world.uni.headers

    results = race(live, N, "POST", "/api/v1/listings", headers,
                   lambda _i: {"patent_id": patent_id, "mode": "assignment", "negotiable": True})
    assert sorted(code for code, _ in results) == [201] + [409] * (N - 1), results
    assert {reason for code, reason in results if code == 409} == {"listing_conflict"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Listing)
                             .where(Listing.patent_id == patent_id)) == 1


def test_one_open_inquiry_per_buyer_and_listing(live, live_world):
    listing_id = factories.listing(factories.patent(live_world.uni.org), "listed").id
    headers = live_world.enterprise.headers

    results = race(live, N, "POST", f"/api/v1/listings/{listing_id}/inquiries", headers,
                   lambda i: {"message": f"请报价 {i}"})
    assert sorted(code for code, _ in results) == [201] + [409] * (N - 1), results
    assert {reason for code, reason in results if code == 409} == {"inquiry_exists"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Inquiry)) == 1


def test_concurrent_edits_of_one_listing_are_409_never_500(live, live_world):
    listing_id = factories.listing(factories.patent(live_world.uni.org), "draft").id
    headers = live_world.uni.headers

    results = race(live, N, "PATCH", f"/api/v1/listings/{listing_id}", headers,
                   lambda i: {"description": f"第 {i} 版说明", "price_fen": 1000 + i})
    codes = Counter(code for code, _ in results)
    assert set(codes) <= {200, 409}, results
    assert {reason for code, reason in results if code == 409} <= {"concurrent_update"}
    db.session.expire_all()
    final = db.session.get(Listing, listing_id)
    # Every accepted edit is counted in the version, and no refused one: nothing was half-written.
    assert final.version == 1 + codes[200]
    assert final.description == f"第 {final.price_fen - 1000} 版说明"


def test_racing_approvals_publish_once(live, live_world):
    listing_id = factories.listing(factories.patent(live_world.uni.org), "pending_review").id
    headers = live_world.staff.headers

    results = race(live, 8, "POST", f"/api/v1/listings/{listing_id}/approve", headers)
    assert sorted(code for code, _ in results) == [200] + [409] * 7, results
    published = db.session.scalars(sa.select(Job).where(Job.kind == "demands.notify_matching")).all()
    assert len(published) == 1


_RUNS: Counter = Counter()
_RUNS_LOCK = threading.Lock()


@job("test.count_run", max_attempts=1)
def _count_run(payload, ctx):
    with _RUNS_LOCK:
        _RUNS[payload["n"]] += 1


def test_workers_claim_each_job_exactly_once(live):
    _RUNS.clear()
    for n in range(60):
        enqueue("test.count_run", {"n": n})
    db.session.commit()

    def work(_i):
        with live.app_context():
            try:
                return run_due(kinds=["test.count_run"])
            finally:
                db.session.remove()

    ran = concurrently(4, work)
    assert sum(ran) == 60
    assert _RUNS == Counter(range(60))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job).where(Job.status == "done")) == 60


@pytest.mark.parametrize("writers", [12])
def test_concurrent_writers_never_fail_for_the_database(live, live_world, writers):
    """On SQLite a deferred writer that meets another could only fail (503); BEGIN IMMEDIATE makes it wait."""
    patent_ids = [factories.patent(live_world.uni.org).id for _ in range(writers)]
    headers = live_world.uni.headers

    results = race(live, writers, "POST", "/api/v1/listings", headers,
                   lambda i: {"patent_id": patent_ids[i], "mode": "equity", "negotiable": True})
    assert [code for code, _ in results] == [201] * writers
