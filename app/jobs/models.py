from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.db import UTCDateTime, enum_column
from app.extensions import db

JOB_STATUSES = ("queued", "running", "done", "failed")
LIVE_STATUSES = ("queued", "running")


class Job(db.Model):
    """Work that happens after a commit: written in the business transaction, run by the request (best
    effort) or by the worker, retried with backoff; failures are kept."""

    __tablename__ = "jobs"
    __table_args__ = (
        sa.Index("ix_jobs_due", "status", "run_after"),
        # A schedule or a per-entity job (closing one lot) exists at most once while it waits or runs.
        sa.Index("uq_jobs_live_dedupe_key", "dedupe_key", unique=True,
                 postgresql_where=sa.text("status IN ('queued', 'running') AND dedupe_key IS NOT NULL"),
                 sqlite_where=sa.text("status IN ('queued', 'running') AND dedupe_key IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(80), index=True)
    payload: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    status: Mapped[str] = mapped_column(enum_column(*JOB_STATUSES, name="job_status"), default="queued")
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(200))
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=5)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    locked_by: Mapped[str | None] = mapped_column(sa.String(200))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    progress_done: Mapped[int | None] = mapped_column()
    progress_total: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
