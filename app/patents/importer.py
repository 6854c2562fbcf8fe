"""Bulk import of a university's inventory: records (already read from CSV, XLSX or JSONL by
app.imports.files) become patents, and optionally listings.

Upserts by application number, so a rerun changes nothing; every bad row is reported
(row, field, reason, message) and the good rows are kept. Each row runs in a savepoint; the caller
(the import job, in batches) commits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app import clock, events
from app.audit.models import AuditLog
from app.audit.services import record as audit
from app.auth.models import User
from app.db import bulk_insert
from app.errors import DomainError, Forbidden, Invalid
from app.extensions import db
from app.indexing.outbox import enqueue_many, enqueue_patent
from app.outlets.services import outlets_by_codes

from . import listings, rules, terms
from .models import Listing, ListingOutlet, Patent, PatentIpc
from .numbers import InvalidNumber, parse_application_number
from .services import build_patent, patent_values, update_patent

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


class RowError(Exception):
    def __init__(self, field: str | None, reason: str, message: str):
        super().__init__(message)
        self.field, self.reason, self.message = field, reason, message


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
    if year + terms.term_years(patent_type, date(year, 1, 1)) < clock.today().year:
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
) -> dict:
    """Import `rows` ((row number, raw record) pairs); the report counts what happened and lists the
    bad rows and the ids of listings published (the caller announces them once per batch)."""
    check_options(actor, outlet_codes, list_mode, publish)
    report = {"created": 0, "updated": 0, "unchanged": 0, "listed": 0, "errors": [], "published_ids": []}
    rows = list(rows)
    try:
        with db.session.begin_nested():
            one_by_one = _insert_new_patents(actor, owner_id, rows, report, outlet_codes, list_mode, publish)
    except IntegrityError:
        # A racing writer registered one of these numbers first: take the careful path for the batch.
        report = {"created": 0, "updated": 0, "unchanged": 0, "listed": 0, "errors": [], "published_ids": []}
        one_by_one = rows
    for row_number, record in one_by_one:
        try:
            with db.session.begin_nested():
                _import_one(actor, owner_id, record, report, outlet_codes, list_mode, publish)
        except (RowError, DomainError) as exc:
            report["errors"].append(_row_error(row_number, exc))
    report["errors"].sort(key=lambda error: error["row"])
    return report


def _row_error(row_number: int, exc: RowError | DomainError) -> dict:
    if isinstance(exc, RowError):
        field = exc.field
    else:
        field = next(iter(exc.errors), None) if exc.errors else None
    return {"row": row_number, "field": field, "reason": exc.reason, "message": exc.message}


def _normalised(owner_id: int, record: dict) -> tuple[dict, Any]:
    """A raw record as the fields build_patent takes, and its price."""
    record = _lowered(record)
    data = normalise_record(record)
    price = data.pop("price_fen", None)
    data["owner_organization_id"] = owner_id
    if "legal_status" not in data:
        data["legal_status"] = _default_status(data["application_number"], data["patent_type"] or
                                               _type_of(data["application_number"]), _pick(record, "patent_type"))
    return data, price


def _insert_new_patents(actor, owner_id, rows, report, outlet_codes, list_mode, publish) -> list[tuple[int, dict]]:
    """The common case of an inventory import, set-based: patents not yet registered, with their listings,
    are validated in Python by the services' own rules (patent_values, check_patent_can_be_offered) and
    written with one multi-row INSERT per table. Rows naming a registered patent (an update, or another
    organisation's) or repeated in the batch are returned for the row-by-row path."""
    prepared: list[tuple[int, dict, dict, list[str], Any]] = []
    later: list[tuple[int, dict]] = []
    seen: set[str] = set()
    for row_number, record in rows:
        try:
            data, price = _normalised(owner_id, record)
            values, codes, _ = patent_values(actor, data)
            if list_mode:
                listings.check_patent_can_be_offered(Patent(**values), list_mode)
        except (RowError, DomainError) as exc:
            report["errors"].append(_row_error(row_number, exc))
            continue
        if values["application_number"] in seen:
            later.append((row_number, record))
            continue
        seen.add(values["application_number"])
        prepared.append((row_number, record, values, codes, price))
    registered = set(db.session.scalars(sa.select(Patent.application_number)
                                        .where(Patent.application_number.in_(seen)))) if seen else set()
    new = []
    for row_number, record, values, codes, price in prepared:
        if values["application_number"] in registered:
            later.append((row_number, record))
        else:
            new.append((values, codes, price))
    if not new:
        return sorted(later)
    now, actor_id = clock.now(), getattr(actor, "id", None)
    # Bulk inserts, then the new ids by their unique keys: INSERT ... RETURNING in parameter order costs a
    # statement per row on SQLite, and COPY returns nothing.
    bulk_insert(db.session, Patent,
                [{**values, "pledged": False, "created_at": now, "updated_at": now} for values, _, _ in new])
    id_of = dict(db.session.execute(sa.select(Patent.application_number, Patent.id).where(
        Patent.application_number.in_([values["application_number"] for values, _, _ in new]))).all())
    patent_ids = [id_of[values["application_number"]] for values, _, _ in new]
    bulk_insert(db.session, PatentIpc, [
        {"patent_id": pid, "position": position, "code": code}
        for pid, (_, codes, _) in zip(patent_ids, new, strict=True) for position, code in enumerate(codes)])
    bulk_insert(db.session, AuditLog, [
        {"entity": "patent", "entity_id": pid, "action": "import", "actor_user_id": actor_id,
         "to_status": values["legal_status"], "created_at": now}
        for pid, (values, _, _) in zip(patent_ids, new, strict=True)])
    report["created"] += len(new)
    if not list_mode:
        enqueue_many("patent", patent_ids)
        return sorted(later)
    status = "listed" if publish else "draft"
    bulk_insert(db.session, Listing, [
        {"patent_id": pid, "mode": list_mode, "price_fen": price, "negotiable": price is None, "status": status,
         "created_by_user_id": actor_id, "listed_at": now if publish else None,
         "listed_on": clock.business_date(now) if publish else None, "version": 1, "created_at": now,
         "updated_at": now} for pid, (_, _, price) in zip(patent_ids, new, strict=True)])
    # These patents were created in this transaction: each has exactly the one listing just written.
    listing_of = dict(db.session.execute(sa.select(Listing.patent_id, Listing.id)
                                         .where(Listing.patent_id.in_(patent_ids))).all())
    listing_ids = [listing_of[pid] for pid in patent_ids]
    shelves = outlets_by_codes(outlet_codes or [])
    if shelves:
        bulk_insert(db.session, ListingOutlet, [{"listing_id": lid, "outlet_id": outlet.id}
                                     for lid in listing_ids for outlet in shelves])
    bulk_insert(db.session, AuditLog, [
        {"entity": "listing", "entity_id": lid, "action": "create", "actor_user_id": actor_id, "to_status": status,
         "changes": {"patent_id": pid, "mode": list_mode}, "created_at": now}
        for lid, pid in zip(listing_ids, patent_ids, strict=True)])
    enqueue_many("listing", listing_ids)
    # Bulk rows pass no ORM flush, whose hooks tell the statistics what changed.
    events.emit("listings.bulk_written", actor,
                listed_on=[clock.business_date(now).isoformat() if publish else None])
    report["listed"] += len(listing_ids)
    if publish:
        report["published_ids"] += listing_ids
    return sorted(later)



def check_options(actor: User | None, outlet_codes: list[str] | None, list_mode: str | None, publish: bool) -> None:
    """What fails the whole import up front, before any row."""
    if publish and not actor.is_staff:
        raise Forbidden("publish_requires_staff", "only staff may publish listings without review")
    if publish and not list_mode:
        raise Invalid("list_mode_required", "publish needs a listing mode", field="list_mode")
    if list_mode == "open_license":
        raise Invalid("open_license_terms_required", "open licences state their terms one by one, not by bulk "
                      "import", field="list_mode")
    if outlet_codes:
        outlets_by_codes(outlet_codes)  # an unknown code fails the whole import up front


def _import_one(actor, owner_id, record, report, outlet_codes, list_mode, publish) -> None:
    data, price = _normalised(owner_id, record)
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
    listing = listings.create_listing(actor, data, status="listed" if publish else "draft", announce=False)
    report["listed"] += 1
    if publish:
        report["published_ids"].append(listing.id)
