"""The after-commit job queue: written with the change, run after it, retried, visible, schedulable."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from app import clock
from app.extensions import db
from app.indexing.outbox import OutboxEvent
from app.jobs import enqueue, job, run_due
from app.jobs.models import Job
from app.jobs.queue import claim, ensure_schedules, execute
from app.jobs.registry import KINDS

from . import factories

CALLS: list = []


@job("test.record", max_attempts=3)
def _record(payload, ctx):
    CALLS.append(payload["n"])


@job("test.flaky", max_attempts=3)
def _flaky(payload, ctx):
    CALLS.append(ctx.attempt)
    if ctx.attempt < payload["succeed_on"]:
        raise RuntimeError(f"attempt {ctx.attempt} failed")


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()
    clock.freeze(datetime(2026, 6, 1, 2, 0, tzinfo=UTC))
    yield
    clock.unfreeze()


def jobs_of(kind: str) -> list[Job]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Job).where(Job.kind == kind).order_by(Job.id)))


def test_a_job_exists_exactly_when_its_transaction_committed(session):
    enqueue("test.record", {"n": 1})
    session.rollback()
    assert jobs_of("test.record") == []
    enqueue("test.record", {"n": 2})
    session.commit()
    assert run_due(kinds=["test.record"]) == 1
    assert CALLS == [2] and jobs_of("test.record")[0].status == "done"


def test_failures_are_retried_with_backoff_then_kept(session, app):
    enqueue("test.flaky", {"succeed_on": 3})
    enqueue("test.flaky", {"succeed_on": 99})
    session.commit()
    assert run_due(kinds=["test.flaky"]) == 2
    first, second = jobs_of("test.flaky")
    assert (first.status, first.attempts) == ("queued", 1) and "attempt 1 failed" in first.last_error
    assert first.run_after > clock.now()  # not before its backoff
    assert run_due(kinds=["test.flaky"]) == 0
    clock.advance(seconds=10)
    run_due(kinds=["test.flaky"])
    clock.advance(seconds=30)
    run_due(kinds=["test.flaky"])
    first, second = jobs_of("test.flaky")
    assert (first.status, first.attempts) == ("done", 3)
    assert (second.status, second.attempts) == ("failed", 3) and "attempt 3 failed" in second.last_error
    status = app.test_cli_runner().invoke(args=["jobs", "status"])
    assert '"failed": 1' in status.output and f"failed job {second.id} (test.flaky" in status.output
    assert "1 job(s) queued again" in app.test_cli_runner().invoke(args=["jobs", "retry", str(second.id)]).output
    assert jobs_of("test.flaky")[1].status == "queued"


def test_a_dead_workers_job_is_taken_over_when_its_lease_runs_out(session):
    enqueue("test.record", {"n": 7})
    session.commit()
    [job_id] = claim(1, kinds=["test.record"], worker="dead-worker")
    assert run_due(kinds=["test.record"]) == 0  # leased
    clock.advance(seconds=KINDS["test.record"].lease_seconds + 1)
    assert run_due(kinds=["test.record"]) == 1
    assert CALLS == [7]
    # The dead worker comes back to life: its claim is gone, it runs nothing.
    assert execute(job_id, "dead-worker") == "lost" and CALLS == [7]


def test_a_crash_between_commit_and_delivery_loses_nothing(app, client, world, session):
    """The request's own after-commit run is best effort; with it gone, the worker delivers."""
    app.config["JOBS_RUN_AFTER_REQUEST"] = False
    try:
        patent = factories.patent(world.uni.org, title="一种蚯蚓粪分拣筛网装置", ipc_codes=["A01K 67/033"])
        listing_id = factories.listing(patent, "pending_review").id
        assert client.post(f"/api/v1/listings/{listing_id}/approve", headers=world.staff.headers).status_code == 200
    finally:
        app.config["JOBS_RUN_AFTER_REQUEST"] = True
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent)) > 0
    assert [j.status for j in jobs_of("search.drain")][-1] == "queued"
    assert client.get("/api/v1/search/listings?q=蚯蚓粪分拣").get_json()["total"] == 0
    ready = client.get("/readyz").get_json()["checks"]
    assert ready["jobs"]["due"] >= 2
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent)) == 0
    assert [item["listing_id"] for item in client.get("/api/v1/search/listings?q=蚯蚓粪分拣").get_json()["items"]] == [
        listing_id]
    # What is left queued is the next scheduled sweep, not yet due.
    assert {j.status for j in jobs_of("search.drain") if j.run_after <= clock.now()} == {"done"}


def test_catch_up_jobs_coalesce(session):
    for _ in range(3):
        enqueue("search.drain")
    session.commit()
    assert run_due(kinds=["search.drain"]) == 1
    assert [(j.status, j.last_error is not None) for j in jobs_of("search.drain")] == [
        ("done", False), ("done", True), ("done", True)]


def test_each_schedule_is_queued_once_whatever_the_number_of_workers(session):
    ensure_schedules()
    ensure_schedules()
    expiry = [j for j in jobs_of("listings.expire") if j.status == "queued"]
    assert len(expiry) == 1
    # 02:00 UTC is 10:00 in Shanghai: the next run is at 00:10 tomorrow there.
    assert expiry[0].run_after == datetime(2026, 6, 1, 16, 10, tzinfo=UTC)
    clock.freeze(datetime(2026, 6, 1, 16, 11, tzinfo=UTC))
    assert run_due(kinds=["listings.expire"]) == 1
    ensure_schedules()
    assert [j.status for j in jobs_of("listings.expire")] == ["done", "queued"]


def test_an_unknown_kind_cannot_be_queued(session):
    with pytest.raises(LookupError):
        enqueue("no.such.kind")


def test_a_worker_can_leave_long_kinds_to_another(session):
    """make run starts one worker for everything but the retrain, and one for the retrain."""
    from app.jobs.worker import Worker

    enqueue("test.record", {"n": 1})
    enqueue("test.flaky", {"succeed_on": 1})
    session.commit()
    general = claim(5, skip_kinds=["test.flaky"])
    assert [session.get(Job, i).kind for i in general] == ["test.record"]
    assert claim(5, skip_kinds=["test.flaky"], kinds=["test.record", "test.flaky"]) == []
    assert [session.get(Job, i).kind for i in claim(5, kinds=["test.flaky"])] == ["test.flaky"]
    assert Worker(skip_kinds=["matching.train"]).skip_kinds == ["matching.train"]
