"""Durable after-commit work: job rows written in the business transaction, run after the commit by
the request (eager kinds, best effort) and by `flask worker`; retried, visible, schedulable."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import orm

from .queue import backlog, enqueue, job_row, run_after_commit, run_due
from .registry import DailyAt, Every, JobContext, Retry, job

__all__ = ["DailyAt", "Every", "JobContext", "Retry", "backlog", "enqueue", "job", "job_row", "run_after_commit",
           "run_due", "install_session_hooks", "request_at_commit"]

_installed = False


_AT_COMMIT = "jobs.at_commit."


def request_at_commit(kind: str) -> None:
    """Ask for one `kind` job, written by the outermost commit of the current transaction however often
    this is called in it (catch-up work such as draining the search outbox)."""
    from app.extensions import db

    db.session.info[_AT_COMMIT + kind] = True


def install_session_hooks() -> None:
    """The outermost commit writes the jobs `request_at_commit` asked for; a rollback forgets them (and the
    eager jobs it listed)."""
    global _installed
    if _installed:
        return
    _installed = True

    @sa.event.listens_for(orm.Session, "before_commit")
    def _write_requested_jobs(session: orm.Session) -> None:
        if session.in_nested_transaction():
            return
        for key in [key for key in session.info if key.startswith(_AT_COMMIT)]:
            if session.info.pop(key):
                from app.extensions import db

                if db.session.registry.has() and db.session() is session:
                    enqueue(key.removeprefix(_AT_COMMIT))

    @sa.event.listens_for(orm.Session, "after_soft_rollback")
    def _forget_on_rollback(session: orm.Session, previous_transaction) -> None:
        if previous_transaction.parent is None and not previous_transaction.nested:
            for key in [key for key in session.info if key.startswith("jobs.")]:
                session.info.pop(key, None)
