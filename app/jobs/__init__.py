"""Durable after-commit work: job rows written in the business transaction, run after the commit by
the request (eager kinds, best effort) and by `flask worker`; retried, visible, schedulable."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import orm

from .queue import backlog, enqueue, run_after_commit, run_due
from .registry import DailyAt, Every, JobContext, Retry, job

__all__ = ["DailyAt", "Every", "JobContext", "Retry", "backlog", "enqueue", "job", "run_after_commit", "run_due",
           "install_session_hooks", "after_commit_key"]

_installed = False


def after_commit_key(name: str) -> str:
    return f"jobs.before_commit.{name}"


def install_session_hooks() -> None:
    """Kinds that catch up on a table (the search outbox) get one job per transaction that wrote to it:
    `db.session.info[after_commit_key(kind)] = True` asks for it, the outermost commit writes it."""
    global _installed
    if _installed:
        return
    _installed = True

    @sa.event.listens_for(orm.Session, "before_commit")
    def _write_requested_jobs(session: orm.Session) -> None:
        if session.in_nested_transaction():
            return
        for key in [key for key in session.info if key.startswith("jobs.before_commit.")]:
            if session.info.pop(key):
                from app.extensions import db

                if db.session.registry.has() and db.session() is session:
                    enqueue(key.removeprefix("jobs.before_commit."))

    @sa.event.listens_for(orm.Session, "after_soft_rollback")
    def _forget_on_rollback(session: orm.Session, previous_transaction) -> None:
        if previous_transaction.parent is None and not previous_transaction.nested:
            for key in [key for key in session.info if key.startswith("jobs.")]:
                session.info.pop(key, None)
