"""Writing, claiming and running jobs.

A job row is written in the business transaction (`enqueue`), so it exists exactly when the change
that caused it was committed. It is claimed by one runner at a time: `FOR UPDATE SKIP LOCKED` on
PostgreSQL lets several workers on several machines take different jobs; on SQLite the claiming
transaction holds the database's write lock from its BEGIN IMMEDIATE. A claim is a lease: a worker
that dies mid-job leaves it `running` until the lease runs out, and another worker takes it over.
A job that fails is retried with exponential backoff up to its kind's `max_attempts`, then kept as
`failed` with its error for `flask jobs status`.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import traceback
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from app import clock
from app.extensions import db

from .models import LIVE_STATUSES, Job
from .registry import KINDS, JobContext, Retry, kind

log = logging.getLogger(__name__)
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_MAX_SECONDS = 3600.0
EAGER_KEY = "jobs.eager"


def enqueue(name: str, payload: dict | None = None, *, run_after=None, dedupe_key: str | None = None) -> Job | None:
    """Write a job in the current transaction; it runs once the transaction has committed.

    With a `dedupe_key`, nothing is written while a job with that key is queued or running (the
    database's partial unique index decides between racing writers); None is returned then.
    """
    spec = kind(name)
    job = Job(**_row(spec, payload, run_after), dedupe_key=dedupe_key)
    if dedupe_key is not None:
        exists = db.session.scalar(sa.select(Job.id).where(Job.dedupe_key == dedupe_key,
                                                           Job.status.in_(LIVE_STATUSES)))
        if exists is not None:
            return None
        try:
            with db.session.begin_nested():
                db.session.add(job)
        except IntegrityError:
            return None
    else:
        db.session.add(job)
    if spec.eager and job.run_after <= clock.now():
        db.session.info.setdefault(EAGER_KEY, []).append(job)
    return job


def _row(spec, payload: dict | None, run_after) -> dict:
    now = clock.now()
    return {"kind": spec.name, "payload": payload or {}, "status": "queued", "run_after": run_after or now,
            "max_attempts": spec.max_attempts, "attempts": 0, "created_at": now}


def job_row(name: str, payload: dict | None = None, *, run_after=None) -> dict:
    """The column values of a job that the caller writes in a statement of its own, in its transaction (a
    hot path that writes all its rows in one statement): the same row as `enqueue` writes. Not for eager
    kinds (nothing runs them after the commit) nor deduplicated ones."""
    spec = kind(name)
    if spec.eager:
        raise ValueError(f"{name} is eager: enqueue it")
    return _row(spec, payload, run_after)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _due():
    now = clock.now()
    waiting = sa.and_(Job.status == "queued", Job.run_after <= now)
    abandoned = sa.and_(Job.status == "running", Job.locked_until < now)
    return sa.or_(waiting, abandoned)


def claim(limit: int = 1, *, ids: list[int] | None = None, kinds: list[str] | None = None,
          skip_kinds: list[str] | None = None, worker: str | None = None) -> list[int]:
    """Take up to `limit` due jobs (only `ids` when given; only `kinds`, none of `skip_kinds`) for
    `worker`; committed before returning."""
    worker = worker or worker_name()
    stmt = sa.select(Job.id, Job.kind).where(_due())
    if ids is not None:
        stmt = stmt.where(Job.id.in_(ids))
    if kinds:
        stmt = stmt.where(Job.kind.in_(kinds))
    if skip_kinds:
        stmt = stmt.where(Job.kind.not_in(skip_kinds))
    stmt = stmt.where(Job.kind.in_(list(KINDS))).order_by(Job.run_after, Job.id).limit(limit)
    if db.engine.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=Job)
    rows = db.session.execute(stmt).all()
    now = clock.now()
    claimed = []
    for job_id, job_kind in rows:
        lease = timedelta(seconds=kind(job_kind).lease_seconds)
        db.session.execute(sa.update(Job).where(Job.id == job_id).values(
            status="running", attempts=Job.attempts + 1, locked_by=worker, locked_until=now + lease,
            started_at=now))
        claimed.append(job_id)
        if kind(job_kind).coalesce:
            _coalesce(job_kind, job_id, now)
    db.session.commit()
    return claimed


def _coalesce(job_kind: str, job_id: int, now) -> None:
    others = sa.select(Job.id).where(Job.kind == job_kind, Job.status == "queued", Job.run_after <= now,
                                     Job.id != job_id)
    if db.engine.dialect.name == "postgresql":
        others = others.with_for_update(skip_locked=True)
    other_ids = list(db.session.scalars(others))
    if other_ids:
        db.session.execute(sa.update(Job).where(Job.id.in_(other_ids)).values(
            status="done", finished_at=now, last_error=f"coalesced into job {job_id}"))


def execute(job_id: int, worker: str | None = None) -> str:
    """Run one claimed job in its own transaction; returns its new status."""
    worker = worker or worker_name()
    job = db.session.get(Job, job_id, populate_existing=True)
    if job is None or job.status != "running" or job.locked_by != worker:
        db.session.rollback()
        return "lost"
    spec = kind(job.kind)
    payload, attempts, max_attempts = dict(job.payload or {}), job.attempts, job.max_attempts
    if attempts > max_attempts:
        return _finish_failed(job_id, worker, "the job's lease ran out too often (its worker died?)")
    # The handler begins its own transactions: on SQLite, one left open here would hold the write lock
    # through all of the handler's reading.
    db.session.commit()

    def heartbeat(done, total):
        values = {"locked_until": clock.now() + timedelta(seconds=spec.lease_seconds)}
        if done is not None:
            values["progress_done"] = done
        if total is not None:
            values["progress_total"] = total
        db.session.execute(sa.update(Job).where(Job.id == job_id, Job.locked_by == worker).values(**values))

    try:
        spec.func(payload, JobContext(job_id, worker, heartbeat, attempt=attempts, max_attempts=max_attempts))
        db.session.flush()
        finished = db.session.execute(sa.update(Job).where(Job.id == job_id, Job.locked_by == worker).values(
            status="done", finished_at=clock.now(), locked_until=None, last_error=None))
        if finished.rowcount != 1:
            # Another worker took the job over while this one ran past its lease: its work is undone.
            db.session.rollback()
            return "lost"
        db.session.commit()
        # Jobs this job wrote are the worker's to claim like any other; nothing runs them "after" it.
        db.session.info.pop(EAGER_KEY, None)
        return "done"
    except Retry as exc:
        db.session.rollback()
        return _retry(job_id, worker, str(exc), exc.delay_seconds, counts=False)
    except Exception as exc:  # noqa: BLE001 - a job's failure is recorded, never fatal to the runner
        db.session.rollback()
        log.exception("job %s (%s) failed on attempt %s", job_id, spec.name, attempts)
        message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        if attempts >= max_attempts:
            return _finish_failed(job_id, worker, message)
        return _retry(job_id, worker, message, backoff_seconds(attempts), counts=True)


def backoff_seconds(attempts: int) -> float:
    delay = min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)
    return delay * random.uniform(0.8, 1.2)


def _retry(job_id: int, worker: str, message: str, delay: float, *, counts: bool) -> str:
    values = {"status": "queued", "run_after": clock.now() + timedelta(seconds=delay), "locked_by": None,
              "locked_until": None, "last_error": message[:4000]}
    if not counts:
        values["attempts"] = Job.attempts - 1
    db.session.execute(sa.update(Job).where(Job.id == job_id, Job.locked_by == worker).values(**values))
    db.session.commit()
    return "queued"


def _finish_failed(job_id: int, worker: str, message: str) -> str:
    db.session.execute(sa.update(Job).where(Job.id == job_id, Job.locked_by == worker).values(
        status="failed", finished_at=clock.now(), locked_until=None, last_error=message[:4000]))
    db.session.commit()
    return "failed"


def run_due(limit: int | None = None, *, kinds: list[str] | None = None) -> int:
    """Claim and run due jobs one at a time until none is due (or `limit` have run); the worker's loop
    body, and what tests call to let the background happen."""
    ran = 0
    worker = worker_name()
    while limit is None or ran < limit:
        claimed = claim(1, kinds=kinds, worker=worker)
        if not claimed:
            return ran
        execute(claimed[0], worker)
        ran += 1
    return ran


def run_after_commit() -> None:
    """Run the eager jobs the committed transaction wrote (best effort: the worker runs what is left)."""
    written = db.session.info.pop(EAGER_KEY, [])
    if not written or not current_app.config.get("JOBS_RUN_AFTER_REQUEST", True):
        return
    ids = [identity[0] for identity in (sa.inspect(job).identity for job in written) if identity]
    if not ids:
        return
    worker = worker_name()
    try:
        for job_id in claim(len(ids), ids=ids, worker=worker):
            execute(job_id, worker)
    except Exception:  # noqa: BLE001 - the request itself has already succeeded
        db.session.rollback()
        log.exception("running jobs after the commit failed; the worker will run them")


def ensure_schedules() -> int:
    """Every scheduled kind has its next run queued (once, whatever the number of workers)."""
    written = 0
    now = clock.now()
    for spec in KINDS.values():
        if spec.schedule is None:
            continue
        if enqueue(spec.name, {}, run_after=spec.schedule.next_after(now), dedupe_key=f"schedule:{spec.name}"):
            written += 1
    db.session.commit()
    return written


def prune(retention_hours: int | None = None) -> int:
    hours = retention_hours if retention_hours is not None else current_app.config.get("JOB_RETENTION_HOURS", 48)
    cutoff = clock.now() - timedelta(hours=hours)
    result = db.session.execute(sa.delete(Job).where(Job.status == "done", Job.finished_at < cutoff))
    db.session.commit()
    return result.rowcount or 0


def requeue_failed(job_id: int | None = None) -> int:
    stmt = sa.update(Job).where(Job.status == "failed")
    if job_id is not None:
        stmt = stmt.where(Job.id == job_id)
    result = db.session.execute(stmt.values(status="queued", attempts=0, run_after=clock.now(), finished_at=None,
                                            locked_by=None, locked_until=None))
    db.session.commit()
    return result.rowcount or 0


def backlog() -> dict:
    """What /readyz and `flask jobs status` show."""
    now = clock.now()
    counts = dict(db.session.execute(sa.select(Job.status, sa.func.count()).group_by(Job.status)).all())
    oldest_due = db.session.scalar(sa.select(sa.func.min(Job.run_after)).where(Job.status == "queued",
                                                                               Job.run_after <= now))
    return {
        "queued": counts.get("queued", 0),
        "due": db.session.scalar(sa.select(sa.func.count()).where(Job.status == "queued", Job.run_after <= now)),
        "running": counts.get("running", 0),
        "failed": counts.get("failed", 0),
        "oldest_due": oldest_due.isoformat() if oldest_due else None,
    }
