"""Imports as background jobs: an upload is checked and stored, a job runs it in committed batches,
anyone entitled follows its progress and pages through its row errors."""

from __future__ import annotations

import io
import itertools
import logging
from collections.abc import Callable

import sqlalchemy as sa
from flask import current_app

from app import clock, events, jobs
from app.auth.models import SYSTEM, User
from app.errors import DomainError, Forbidden, Invalid, NotFound
from app.extensions import db
from app.patents.importer import ALIASES, check_options, import_records
from app.patents.services import can_manage_organization

from . import files
from .files import FileTooLarge, UnreadableFile
from .models import ImportFile, ImportJob, ImportRowError

log = logging.getLogger(__name__)
TERMINAL = ("done", "failed")


def _owner_id(actor: User, requested: int | None) -> int:
    """A university imports into its own organisation; staff name the owner."""
    if actor.is_staff:
        if requested is None:
            raise Invalid("owner_required", "staff name the owner organisation", field="owner_organization_id")
        from app.auth.models import Organization

        if db.session.get(Organization, requested) is None:
            raise Invalid("organization_not_found", "no organisation with this id", field="owner_organization_id")
        return requested
    if requested not in (None, actor.organization_id):
        raise Forbidden("not_your_organization", "you may only import your own organisation's patents")
    if actor.organization_id is None:
        raise Forbidden("organization_required", "your account belongs to no organisation")
    return actor.organization_id


def create_import(actor: User, filename: str, raw: bytes, options: dict, *, queue: bool = True) -> ImportJob:
    """Check the upload (type, size, rows, columns) and queue its import; nothing is read row by row here.
    With `queue` False no job is written: the caller runs it in-process (the CLI)."""
    config = current_app.config
    owner_id = _owner_id(actor, options.get("owner_organization_id"))
    outlet_codes = list(options.get("outlet_codes") or [])
    list_mode, publish = options.get("list_mode"), bool(options.get("publish"))
    check_options(actor, outlet_codes, list_mode, publish)
    if len(raw) > config["IMPORT_MAX_BYTES"]:
        raise FileTooLarge("file_too_large", f"the file has {len(raw)} bytes; at most {config['IMPORT_MAX_BYTES']}",
                           field="file")
    if not raw.strip():
        raise UnreadableFile("the file is empty")
    seen = files.inspect(filename, raw, max_inflated=config["IMPORT_MAX_INFLATED_BYTES"])
    if seen.estimated_rows is not None and seen.estimated_rows > config["IMPORT_MAX_ROWS"]:
        raise FileTooLarge("too_many_rows", f"the file has {seen.estimated_rows} rows; at most "
                           f"{config['IMPORT_MAX_ROWS']} per import (split it)", field="file")
    columns = {column.lower() for column in seen.columns}
    if seen.file_format != "jsonl" and not columns & set(ALIASES["application_number"]):
        raise Invalid("missing_columns", "no column names the application number (one of: "
                      + ", ".join(ALIASES["application_number"]) + ")", field="file")
    record = ImportJob(file_name=filename[:255], file_format=seen.file_format, file_size=len(raw),
                       owner_organization_id=owner_id, created_by_user_id=getattr(actor, "id", None),
                       outlet_codes=outlet_codes, list_mode=list_mode, publish=publish,
                       total_rows=seen.estimated_rows, status="queued")
    db.session.add(record)
    db.session.flush()
    db.session.add(ImportFile(import_id=record.id, content=raw))
    if queue:
        job = jobs.enqueue("imports.run", {"import_id": record.id})
        db.session.flush()
        record.job_id = job.id
    return record


def _visible(user: User, record: ImportJob) -> bool:
    return can_manage_organization(user, record.owner_organization_id) or (
        user.id is not None and record.created_by_user_id == user.id)


def get_import(user: User, import_id: int) -> ImportJob:
    record = db.session.get(ImportJob, import_id)
    if record is None or not _visible(user, record):
        raise NotFound("import_not_found", f"no import {import_id}")
    return record


def imports_query(user: User, args: dict) -> sa.Select:
    stmt = sa.select(ImportJob).order_by(ImportJob.id.desc())
    if not user.is_staff:
        stmt = stmt.where(ImportJob.owner_organization_id == user.organization_id)
    elif args.get("owner_organization_id") is not None:
        stmt = stmt.where(ImportJob.owner_organization_id == args["owner_organization_id"])
    if args.get("status"):
        stmt = stmt.where(ImportJob.status == args["status"])
    return stmt


def errors_query(user: User, import_id: int) -> sa.Select:
    record = get_import(user, import_id)
    return sa.select(ImportRowError).where(ImportRowError.import_id == record.id).order_by(
        ImportRowError.row, ImportRowError.id)


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
    content = db.session.scalar(sa.select(ImportFile.content).where(ImportFile.import_id == import_id))
    if record.total_rows is None and record.file_format == "xlsx" and content:
        try:
            record.total_rows = files.count_xlsx_rows(content)
        except Exception:  # noqa: BLE001 - the count is for progress only; reading the rows decides
            log.warning("could not count the rows of import %s", import_id)
        db.session.commit()
    batch_size = current_app.config["IMPORT_BATCH_ROWS"]
    max_rows = current_app.config["IMPORT_MAX_ROWS"]
    try:
        rows = files.read_rows(record.file_name, io.BytesIO(content or b""))
        del content
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
    return _finish(import_id, "done", None)


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
