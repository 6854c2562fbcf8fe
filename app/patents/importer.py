"""Bulk import of a university's inventory from CSV, XLSX or JSONL.

Upserts by application number, so a rerun changes nothing; every bad row is reported
(row, field, reason, message) and the good rows are kept. Each row runs in a savepoint.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from typing import IO, Any

import sqlalchemy as sa

from app.audit.services import record as audit
from app.auth.models import User
from app.db import today
from app.errors import BadRequest, DomainError, Forbidden, Invalid
from app.extensions import db
from app.indexing.outbox import enqueue_patent

from . import listings, rules, terms
from .models import Listing, Patent
from .numbers import InvalidNumber, parse_application_number
from .services import build_patent, update_patent

# Accepted column names (lower-cased) for each field; the JSONL keys of ../shared/data are among them.
ALIASES = {
    "application_number": ("application_number", "app_number", "申请号", "专利号"),
    "title": ("title", "名称", "专利名称", "发明名称"),
    "abstract": ("abstract", "摘要"),
    "claims": ("claims", "权利要求"),
    "ipc_codes": ("ipc_codes", "ipc", "分类号", "ipc分类号"),
    "ipc_main": ("ipc_main", "主分类号"),
    "patent_type": ("patent_type", "专利类型", "type"),
    "legal_status": ("legal_status", "法律状态"),
    "filing_date": ("filing_date", "app_date", "申请日"),
    "grant_date": ("grant_date", "授权日", "授权公告日"),
    "publication_number": ("publication_number", "pub_number", "公开号", "公告号"),
    "inventors": ("inventors", "发明人", "inventor"),
    "field": ("field", "领域"),
    "price_fen": ("price_fen",),
}
TYPE_WORDS = {"发明": "invention", "实用新型": "utility_model", "外观设计": "design", "invention": "invention",
              "utility_model": "utility_model", "design": "design"}
STATUS_WORDS = {"有效": "valid", "审中": "pending", "在审": "pending", "失效": "lapsed", "valid": "valid",
                "pending": "pending", "lapsed": "lapsed"}
BATCH = 500


class RowError(Exception):
    def __init__(self, field: str | None, reason: str, message: str):
        super().__init__(message)
        self.field, self.reason, self.message = field, reason, message


def read_rows(filename: str, stream: IO[bytes]) -> Iterator[tuple[int, dict]]:
    """Yield (row number as a person counts it, raw record) from a CSV, XLSX or JSONL file."""
    name = filename.lower()
    if name.endswith((".jsonl", ".ndjson", ".json")):
        for number, line in enumerate(io.TextIOWrapper(stream, encoding="utf-8-sig"), start=1):
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, {"__error__": f"line {number} is not JSON: {exc.msg}"}
                    continue
                yield number, record if isinstance(record, dict) else {"__error__": "a line must be an object"}
    elif name.endswith(".csv"):
        raw = stream.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("gb18030")  # Excel on Chinese Windows saves CSV in GBK
        for number, record in enumerate(csv.DictReader(io.StringIO(text)), start=2):
            yield number, record
    elif name.endswith(".xlsx"):
        from openpyxl import load_workbook

        workbook = load_workbook(io.BytesIO(stream.read()), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = [str(cell).strip() if cell is not None else "" for cell in next(rows, [])]
        for number, values in enumerate(rows, start=2):
            if any(value not in (None, "") for value in values):
                yield number, dict(zip(header, values, strict=False))
        workbook.close()
    else:
        raise BadRequest("unsupported_file_type", "upload a .csv, .xlsx or .jsonl file", field="file")


def _lowered(record: dict) -> dict:
    return {str(key).strip().lower(): value for key, value in record.items()}


def _pick(record: dict, field: str) -> Any:
    """The first non-empty value under any alias of `field`; `record` has lower-cased keys."""
    for alias in ALIASES[field]:
        value = record.get(alias)
        if value not in (None, "", []):
            return value
    return None


def _date(value: Any, field: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    match = re.match(r"^\s*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?\s*$", str(value))
    if not match:
        raise RowError(field, "invalid_date", f"'{value}' is not a date (YYYY-MM-DD)")
    try:
        return date(*map(int, match.groups()))
    except ValueError:
        raise RowError(field, "invalid_date", f"'{value}' is not a date") from None


def _list(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return [str(item).strip() for item in value if str(item).strip()]
    return [part.strip() for part in re.split(r"[;；,，|、\n]", str(value)) if part.strip()]


def _default_status(number_text: str, patent_type: str, raw_type: str | None) -> str:
    """No legal status in the file: a published application is pending; a term that has surely
    run out (by the filing year in the number) is lapsed; otherwise the inventory is taken as valid."""
    if raw_type and "公开" in raw_type:
        return "pending"
    try:
        year = parse_application_number(number_text).filing_year
    except InvalidNumber:
        return "valid"
    if year + terms.term_years(patent_type, date(year, 1, 1)) < today().year:
        return "lapsed"
    return "valid"


def normalise_record(record: dict) -> dict:
    """One raw record (keys lower-cased) as the fields build_patent takes; RowError names what is wrong."""
    if "__error__" in record:
        raise RowError(None, "malformed_row", record["__error__"])
    number = _pick(record, "application_number")
    if number is None:
        raise RowError("application_number", "missing_application_number",
                       "the record has no application number; none is ever invented")
    number = str(number).strip()
    title = _pick(record, "title")
    if not title:
        raise RowError("title", "missing_title", "the record has no title")
    raw_type = _pick(record, "patent_type")
    patent_type = None
    if raw_type is not None:
        patent_type = TYPE_WORDS.get(re.sub(r"[（(].*$", "", str(raw_type)).strip())
        if patent_type is None:
            raise RowError("patent_type", "invalid_patent_type", f"unknown patent type '{raw_type}'")
    codes = _list(_pick(record, "ipc_codes"))
    main = _pick(record, "ipc_main")
    if main:
        codes = [str(main)] + [code for code in codes if code != main]
    raw_status = _pick(record, "legal_status")
    data: dict[str, Any] = {
        "application_number": number,
        "title": str(title).strip(),
        "abstract": _pick(record, "abstract"),
        "claims": _pick(record, "claims"),
        "ipc_codes": codes,
        "patent_type": patent_type,
        "filing_date": _date(_pick(record, "filing_date"), "filing_date"),
        "grant_date": _date(_pick(record, "grant_date"), "grant_date"),
        "publication_number": _pick(record, "publication_number"),
        "inventors": _list(_pick(record, "inventors")),
    }
    if _pick(record, "field"):
        data["field"] = str(_pick(record, "field"))
    if raw_status is not None:
        status = STATUS_WORDS.get(str(raw_status).strip())
        if status is None:
            raise RowError("legal_status", "invalid_legal_status", f"unknown legal status '{raw_status}'")
        data["legal_status"] = status
    price = _pick(record, "price_fen")
    if price is not None:
        try:
            data["price_fen"] = int(str(price))
        except ValueError:
            raise RowError("price_fen", "invalid_price", "price_fen is a whole number of fen") from None
    return data


_COMPARED = ("title", "abstract", "claims", "filing_date", "grant_date", "inventors", "legal_status",
             "publication_number")


def _differences(existing: Patent, fresh: Patent) -> dict:
    changes = {key: getattr(fresh, key) for key in _COMPARED if getattr(fresh, key) != getattr(existing, key)}
    if fresh.ipc_codes != existing.ipc_codes:
        changes["ipc_codes"] = fresh.ipc_codes
    if fresh.field_overridden and fresh.field != existing.field:
        changes["field"] = fresh.field
    return changes


def import_records(
    actor: User | None,
    owner_id: int,
    rows: Iterable[tuple[int, dict]],
    *,
    outlet_codes: list[str] | None = None,
    list_mode: str | None = None,
    publish: bool = False,
    progress: Callable[[int], None] | None = None,
    commit_every: int | None = None,
) -> dict:
    if publish and not actor.is_staff:
        raise Forbidden("publish_requires_staff", "only staff may publish listings without review")
    if publish and not list_mode:
        raise Invalid("list_mode_required", "--publish needs a listing mode", field="list_mode")
    if outlet_codes:
        from app.outlets.services import outlets_by_codes

        outlets_by_codes(outlet_codes)  # an unknown code fails the whole import up front
    report = {"created": 0, "updated": 0, "unchanged": 0, "listed": 0, "errors": []}
    done = 0
    for row_number, record in rows:
        try:
            with db.session.begin_nested():
                _import_one(actor, owner_id, record, report, outlet_codes, list_mode, publish)
        except RowError as exc:
            report["errors"].append({"row": row_number, "field": exc.field, "reason": exc.reason,
                                     "message": exc.message})
        except DomainError as exc:
            field = next(iter(exc.errors), None) if exc.errors else None
            report["errors"].append({"row": row_number, "field": field, "reason": exc.reason,
                                     "message": exc.message})
        done += 1
        if progress:
            progress(1)
        if commit_every and done % commit_every == 0:
            db.session.commit()
    return report


def _import_one(actor, owner_id, record, report, outlet_codes, list_mode, publish) -> None:
    record = _lowered(record)
    data = normalise_record(record)
    price = data.pop("price_fen", None)
    data["owner_organization_id"] = owner_id
    if "legal_status" not in data:
        data["legal_status"] = _default_status(data["application_number"], data["patent_type"] or
                                               _type_of(data["application_number"]), _pick(record, "patent_type"))
    fresh = build_patent(actor, data)
    existing = db.session.scalar(sa.select(Patent).where(Patent.application_number == fresh.application_number))
    if existing is None:
        db.session.add(fresh)
        db.session.flush()
        audit("patent", fresh.id, "import", actor, to_status=fresh.legal_status)
        enqueue_patent(fresh.id)
        patent = fresh
        report["created"] += 1
    else:
        if existing.owner_organization_id != owner_id:
            raise RowError("application_number", "owned_by_another_organization",
                           f"{existing.application_number} belongs to another organisation")
        changes = _differences(existing, fresh)
        if changes:
            update_patent(actor, existing.id, changes)
            report["updated"] += 1
        else:
            report["unchanged"] += 1
        patent = existing
    if list_mode:
        _ensure_listing(actor, patent, list_mode, price, outlet_codes, publish, report)


def _type_of(number: str) -> str:
    try:
        return parse_application_number(number).patent_type
    except InvalidNumber:
        return "invention"


def _ensure_listing(actor, patent: Patent, mode: str, price, outlet_codes, publish, report) -> None:
    exists = db.session.scalar(
        sa.select(Listing.id).where(Listing.patent_id == patent.id, Listing.mode == mode,
                                    Listing.status.in_(rules.ACTIVE_STATUSES | {"sold", "licensed"}))
    )
    if exists is not None:
        return
    data = {"patent_id": patent.id, "mode": mode, "outlet_codes": outlet_codes or []}
    if price is not None:
        data["price_fen"] = price
    else:
        data["negotiable"] = True
    if mode == "open_license":
        raise RowError("list_mode", "open_license_terms_required",
                       "open licences state their terms one by one, not by bulk import")
    listings.create_listing(actor, data, status="listed" if publish else "draft")
    report["listed"] += 1


def import_upload(actor: User, filename: str, stream: IO[bytes], form: dict) -> dict:
    """A university imports into its own organisation; staff name the owner."""
    owner_id = form.get("owner_organization_id") if actor.is_staff else actor.organization_id
    if owner_id is None:
        raise Invalid("owner_required", "staff name the owner organisation", field="owner_organization_id")
    if not actor.is_staff and form.get("owner_organization_id") not in (None, owner_id):
        raise Forbidden("not_your_organization", "you may only import your own organisation's patents")
    return import_records(actor, owner_id, read_rows(filename, stream), outlet_codes=form.get("outlet_codes"),
                          list_mode=form.get("list_mode"), publish=form.get("publish", False))
