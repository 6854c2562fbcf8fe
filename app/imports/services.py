"""Imports as background jobs: an upload is checked and stored (here), a job runs it in committed batches
(jobs.py), anyone entitled follows its progress and pages through its row errors (here)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app

from app import jobs
from app.auth.models import User
from app.errors import Invalid, NotFound
from app.extensions import db
from app.patents.importer import ALIASES, check_options
from app.patents.services import can_manage_organization, owner_for

from . import files
from .files import FileTooLarge, UnreadableFile
from .models import ImportFile, ImportJob, ImportRowError


def create_import(actor: User, filename: str, raw: bytes, options: dict, *, queue: bool = True) -> ImportJob:
    """Check the upload (type, size, rows, columns) and queue its import; nothing is read row by row here.
    With `queue` False no job is written: the caller runs it in-process (the CLI)."""
    config = current_app.config
    owner_id = owner_for(actor, options.get("owner_organization_id")).id
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
