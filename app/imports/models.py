from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, deferred, mapped_column

from app import clock
from app.db import UTCDateTime, enum_column
from app.extensions import db

IMPORT_STATUSES = ("queued", "running", "done", "failed")


class ImportJob(db.Model):
    """One uploaded inventory and how far its import has come; the rows themselves are upserted by
    the `imports.run` job in committed batches, so progress survives a worker's death."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(enum_column(*IMPORT_STATUSES, name="import_status"), default="queued",
                                        index=True)
    file_name: Mapped[str] = mapped_column(sa.String(255))
    file_format: Mapped[str] = mapped_column(sa.String(10))
    file_size: Mapped[int] = mapped_column(sa.BigInteger)
    owner_organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    outlet_codes: Mapped[list] = mapped_column(sa.JSON, default=list)
    list_mode: Mapped[str | None] = mapped_column(sa.String(32))
    publish: Mapped[bool] = mapped_column(default=False)
    job_id: Mapped[int | None] = mapped_column(sa.ForeignKey("jobs.id", ondelete="SET NULL"))
    total_rows: Mapped[int | None] = mapped_column()
    processed_rows: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    listed: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ImportFile(db.Model):
    """The uploaded bytes, in the database so that any worker on any machine can run the job; deleted
    when the import is done."""

    __tablename__ = "import_files"

    import_id: Mapped[int] = mapped_column(sa.ForeignKey("imports.id", ondelete="CASCADE"), primary_key=True)
    content: Mapped[bytes] = deferred(mapped_column(sa.LargeBinary))


class ImportRowError(db.Model):
    __tablename__ = "import_row_errors"
    __table_args__ = (sa.Index("ix_import_row_errors_import_row", "import_id", "row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(sa.ForeignKey("imports.id", ondelete="CASCADE"))
    row: Mapped[int] = mapped_column()
    field: Mapped[str | None] = mapped_column(sa.String(64))
    reason: Mapped[str] = mapped_column(sa.String(64))
    message: Mapped[str] = mapped_column(sa.Text)
