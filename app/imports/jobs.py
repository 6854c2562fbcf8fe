"""The `imports.run` job: the job boundary of an import, which commits batch by batch."""

from __future__ import annotations

import itertools
import logging
import tempfile
from collections.abc import Callable

import sqlalchemy as sa
from flask import current_app

from app import clock, events
from app.auth.models import SYSTEM, User
from app.errors import DomainError
from app.extensions import db
from app.jobs import job
from app.patents.importer import import_records

from . import files
from .files import FileTooLarge
from .models import ImportFile, ImportJob, ImportRowError

log = logging.getLogger(__name__)
TERMINAL = ("done", "failed")


@job("imports.run", max_attempts=3, lease_seconds=300)
def run(payload: dict, ctx) -> None:
    import_id = payload["import_id"]
    try:
        # Each committed batch renews the lease, so a long file is not taken over while it runs.
        run_import(import_id, progress=lambda done, total: _beat(ctx, done, total))
    except Exception as exc:
        db.session.rollback()
        if ctx.attempt >= ctx.max_attempts:
            mark_failed(import_id, f"the import job failed: {type(exc).__name__}")
        raise


def _beat(ctx, done: int, total: int | None) -> None:
    ctx.progress(done, total)
    db.session.commit()


def run_import(import_id: int, *, progress: Callable[[int, int | None], None] | None = None) -> ImportJob:
    """Run (or resume) an import: rows in batches of IMPORT_BATCH_ROWS, each batch committed with its
    counters, so a worker that dies loses at most the batch in hand and a rerun resumes after the last
    committed one (rows are upserts: a repeated row changes nothing). This is a job boundary: it commits."""
    record = db.session.get(ImportJob, import_id, with_for_update=True, populate_existing=True)
    if record is None or record.status in TERMINAL:
        db.session.rollback()
        return record
    actor = db.session.get(User, record.created_by_user_id) if record.created_by_user_id else SYSTEM
    if record.status == "queued":
        record.status, record.started_at = "running", clock.now()
    db.session.commit()
    upload = _spooled_file(import_id)
    if record.total_rows is None and record.file_format == "xlsx":
        try:
            record.total_rows = files.count_xlsx_rows(upload)
        except Exception:  # noqa: BLE001 - the count is for progress only; reading the rows decides
            log.warning("could not count the rows of import %s", import_id)
        db.session.commit()
    batch_size = current_app.config["IMPORT_BATCH_ROWS"]
    max_rows = current_app.config["IMPORT_MAX_ROWS"]
    try:
        upload.seek(0)
        rows = files.read_rows(record.file_name, upload)
        rows = itertools.islice(rows, record.processed_rows, None)
        while True:
            batch = list(itertools.islice(rows, batch_size))
            if not batch:
                break
            if record.processed_rows + len(batch) > max_rows:
                raise FileTooLarge("too_many_rows", f"the file has more than {max_rows} rows", field="file")
            _import_batch(actor, record, batch)
            if progress:
                progress(record.processed_rows, record.total_rows)
    except DomainError as exc:
        db.session.rollback()
        return _finish(import_id, "failed", exc.message)
    except (OSError, ValueError, KeyError, EOFError) as exc:
        # A file that passed the upload checks can still break mid-way (a truncated workbook).
        db.session.rollback()
        return _finish(import_id, "failed", f"the file could not be read past row {record.processed_rows}: "
                                            f"{type(exc).__name__}")
    finally:
        upload.close()
    return _finish(import_id, "done", None)


def _spooled_file(import_id: int, chunk: int = 4 << 20):
    """The upload copied from the database into a temporary file, a slice at a time: fetched whole, a
    45 MB file costs the worker its size several times over (bytea travels as hex text)."""
    upload = tempfile.TemporaryFile()
    content = ImportFile.content
    start = 1
    while True:
        piece = db.session.scalar(sa.select(sa.func.substr(content, start, chunk))
                                  .where(ImportFile.import_id == import_id))
        if not piece:
            break
        upload.write(piece)
        start += len(piece)
        if len(piece) < chunk:
            break
    db.session.commit()
    upload.seek(0)
    return upload


def _import_batch(actor, record: ImportJob, batch: list[tuple[int, dict]]) -> None:
    report = import_records(actor, record.owner_organization_id, batch, outlet_codes=record.outlet_codes,
                            list_mode=record.list_mode, publish=record.publish)
    db.session.add_all(ImportRowError(import_id=record.id, row=e["row"], field=(e["field"] or "")[:64] or None,
                                      reason=e["reason"][:64], message=e["message"]) for e in report["errors"])
    if report["published_ids"]:
        events.emit("listing.published", actor, listing_ids=report["published_ids"])
    record.processed_rows += len(batch)
    record.created += report["created"]
    record.updated += report["updated"]
    record.unchanged += report["unchanged"]
    record.listed += report["listed"]
    record.failed += len(report["errors"])
    if record.total_rows is not None and record.processed_rows > record.total_rows:
        record.total_rows = record.processed_rows
    db.session.commit()


def _finish(import_id: int, status: str, error: str | None) -> ImportJob:
    record = db.session.get(ImportJob, import_id, populate_existing=True)
    record.status, record.error, record.finished_at = status, error, clock.now()
    if status == "done":
        record.total_rows = record.processed_rows
    db.session.execute(sa.delete(ImportFile).where(ImportFile.import_id == import_id))
    events.emit("import.finished", None, import_id=import_id, status=status, processed_rows=record.processed_rows,
                failed=record.failed)
    db.session.commit()
    return record


def mark_failed(import_id: int, message: str) -> None:
    """The job gave up (its retries ran out): the import says so instead of staying `running`."""
    record = db.session.get(ImportJob, import_id)
    if record is not None and record.status not in TERMINAL:
        _finish(import_id, "failed", message)
