"""Patents: creation with number and IPC validation, updates, visibility."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from app import events
from app.audit.services import record
from app.auth.models import Organization, User
from app.db import lock_row
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.indexing.outbox import enqueue_patent

from . import rules
from .fields import field_for_ipc
from .ipc import InvalidIPC, normalise_ipc, normalise_patent_ipc_codes
from .models import Listing, Patent, PatentIpc
from .numbers import InvalidNumber, normalise_publication_number, parse_application_number

OWNER_KINDS = ("university", "institute", "enterprise")
EDITABLE_FIELDS = (
    "title", "abstract", "claims", "ipc_codes", "legal_status", "filing_date", "grant_date", "inventors",
    "field", "expires_on", "publication_number", "owner_organization_id", "preserved", "evaluation_report",
)
# Facts of the patent register (CNIPA, the courts): once a patent exists only staff change them, or an
# import staff run. An owner may only record that its patent lapsed (fees unpaid, abandoned, expired):
# otherwise a university could clear a court's preservation (保全) or revive a lapsed patent and list it.
REGISTER_FACTS = ("legal_status", "preserved", "evaluation_report", "expires_on")


def can_manage_organization(user: User | None, organization_id: int) -> bool:
    return user is not None and (user.is_staff or user.organization_id == organization_id)


def owner_for(actor: User | None, requested: int | None) -> Organization:
    """The organisation that will own patents written by `actor`: its own, or the one staff name."""
    if actor is not None and not actor.is_staff:
        if requested is not None and requested != actor.organization_id:
            raise Forbidden("not_your_organization", "you may only add patents of your own organisation")
        requested = actor.organization_id
    if requested is None:
        raise Invalid("owner_required", "owner_organization_id is required", field="owner_organization_id")
    org = db.session.get(Organization, requested)
    if org is None:
        raise Invalid("organization_not_found", "no organisation with this id", field="owner_organization_id")
    if org.kind not in OWNER_KINDS:
        raise Invalid("owner_kind_not_allowed", f"a {org.kind} cannot own patents here",
                      field="owner_organization_id")
    return org


def _ipc_codes(raw: list[str]) -> list[str]:
    try:
        codes = normalise_patent_ipc_codes(raw)
    except InvalidIPC as exc:
        raise Invalid("invalid_ipc", str(exc), field="ipc_codes") from None
    if not codes:
        raise Invalid("ipc_required", "at least one IPC code is required", field="ipc_codes")
    return codes


def find_by_application_number(number: str) -> Patent | None:
    return db.session.scalar(sa.select(Patent).where(Patent.application_number == number))


def parse_number_field(text: str, field: str = "application_number"):
    try:
        return parse_application_number(text)
    except InvalidNumber as exc:
        raise Invalid("invalid_application_number", str(exc), field=field) from None


def _check_dates_and_status(filing_date: date | None, grant_date: date | None, legal_status: str,
                            number_year: int | None, via_pct: bool) -> None:
    if filing_date and grant_date and grant_date < filing_date:
        raise Invalid("invalid_dates", "the grant date is before the filing date", field="grant_date")
    if filing_date and number_year and not via_pct and filing_date.year != number_year:
        # PCT national-phase numbers carry the year of entry, not of the international filing.
        raise Invalid("filing_date_mismatch",
                      f"the number was given in {number_year} but the filing date is {filing_date}",
                      field="filing_date")
    if legal_status == "pending" and grant_date is not None:
        raise Invalid("invalid_legal_status", "a pending application has no grant date", field="legal_status")


def _set_ipc(patent: Patent, codes: list[str]) -> None:
    patent.ipc_rows = [PatentIpc(position=i, code=code) for i, code in enumerate(codes)]
    patent.ipc_main = codes[0]
    if not patent.field_overridden:
        patent.field = field_for_ipc(codes)


def _publication(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return normalise_publication_number(text)
    except InvalidNumber as exc:
        raise Invalid("invalid_publication_number", str(exc), field="publication_number") from None


def patent_values(actor: User | None, data: dict) -> tuple[dict, list[str], Organization]:
    """Validate `data` into a new patent's column values, its IPC codes (main first) and its owner, without
    building an ORM object (the bulk import writes thousands at a time)."""
    number = parse_number_field(data["application_number"])
    if data.get("patent_type") and data["patent_type"] != number.patent_type:
        raise Invalid("patent_type_mismatch",
                      f"the number says {number.patent_type}, not {data['patent_type']}", field="patent_type")
    owner = owner_for(actor, data.get("owner_organization_id"))
    codes = _ipc_codes(data.get("ipc_codes") or [])
    legal_status = data.get("legal_status") or ("valid" if data.get("grant_date") else "pending")
    values = dict(
        application_number=number.canonical,
        publication_number=_publication(data.get("publication_number")),
        title=data["title"].strip(),
        abstract=data.get("abstract"),
        claims=data.get("claims"),
        patent_type=number.patent_type,
        legal_status=legal_status,
        filing_date=data.get("filing_date"),
        grant_date=data.get("grant_date"),
        expires_on_override=data.get("expires_on"),
        owner_organization_id=owner.id,
        inventors=[name.strip() for name in data.get("inventors") or [] if name.strip()],
        field=data.get("field") or field_for_ipc(codes),
        field_overridden=bool(data.get("field")),
        preserved=bool(data.get("preserved", False)),
        evaluation_report=bool(data.get("evaluation_report", False)),
        ipc_main=codes[0],
    )
    _check_dates_and_status(values["filing_date"], values["grant_date"], legal_status, number.filing_year,
                            number.via_pct)
    return values, codes, owner


def build_patent(actor: User | None, data: dict) -> Patent:
    """Validate `data` into a new, unsaved Patent (shared by the API and the bulk import)."""
    values, codes, owner = patent_values(actor, data)
    patent = Patent(**values)
    patent.owner = owner
    _set_ipc(patent, codes)
    return patent


def create_patent(actor: User | None, data: dict) -> Patent:
    patent = build_patent(actor, data)
    if find_by_application_number(patent.application_number) is not None:
        raise Conflict("duplicate_patent", f"{patent.application_number} is already registered",
                       field="application_number")
    db.session.add(patent)
    db.session.flush()
    record("patent", patent.id, "create", actor, to_status=patent.legal_status,
           changes={"application_number": patent.application_number})
    enqueue_patent(patent.id)
    return patent


def get_patent(patent_id: int, user: User | None = None) -> Patent:
    patent = db.session.get(Patent, patent_id)
    if patent is None or not _may_see(user, patent):
        raise NotFound("patent_not_found", f"no patent {patent_id}")
    return patent


def lock_patent(patent_id: int) -> Patent | None:
    """Load the patent with a row lock held to the end of the transaction: every rule that reads the
    patent's other offers, licences or pledges before writing takes this first, so two racing writers
    of one patent run one after the other (SQLite: the writer's BEGIN IMMEDIATE already serialises)."""
    return lock_row(db.session, Patent, patent_id)


def get_patent_to_edit(patent_id: int, user: User | None, *, lock: bool = False) -> Patent:
    """A patent the user may change (its organisation's, or any for staff), optionally row-locked."""
    patent = get_patent(patent_id, user)
    if not can_manage_organization(user, patent.owner_organization_id):
        raise Forbidden("not_your_organization", "this patent belongs to another organisation")
    return lock_patent(patent_id) if lock else patent


def _check_register_facts(actor: User | None, patent: Patent, changes: dict) -> None:
    if actor is None or actor.is_staff:
        return
    for key in REGISTER_FACTS:
        if key not in changes:
            continue
        current = patent.expires_on_override if key == "expires_on" else getattr(patent, key)
        if changes[key] == current:
            continue
        if key == "legal_status" and changes[key] == "lapsed":
            continue
        raise Forbidden("register_fact_staff_only",
                        f"{key} is a fact of the patent register: exchange staff change it "
                        "(an owner may only record that its patent lapsed)", field=key)


def _published_listing_exists():
    return (
        sa.select(Listing.id)
        .where(Listing.patent_id == Patent.id, Listing.status.in_(rules.PUBLISHED_STATUSES))
        .exists()
    )


def _may_see(user: User | None, patent: Patent) -> bool:
    if can_manage_organization(user, patent.owner_organization_id):
        return True
    published = sa.select(Listing.id).where(Listing.patent_id == patent.id,
                                            Listing.status.in_(rules.PUBLISHED_STATUSES)).limit(1)
    return db.session.scalar(published) is not None


def patents_query(user: User | None, filters: dict) -> sa.Select:
    """Staff see every patent; others see their own organisation's and those on offer."""
    stmt = sa.select(Patent).order_by(Patent.id.desc())
    if user is None or not user.is_staff:
        visible = _published_listing_exists()
        if user is not None and user.organization_id is not None:
            visible = sa.or_(visible, Patent.owner_organization_id == user.organization_id)
        stmt = stmt.where(visible)
    for key in ("owner_organization_id", "legal_status", "patent_type", "field"):
        if filters.get(key) is not None:
            stmt = stmt.where(getattr(Patent, key) == filters[key])
    if filters.get("application_number"):
        stmt = stmt.where(Patent.application_number == parse_number_field(filters["application_number"]).canonical)
    if filters.get("ipc"):
        try:
            prefix = normalise_ipc(filters["ipc"]).removesuffix("/00")
        except InvalidIPC as exc:
            raise Invalid("invalid_ipc", str(exc), field="ipc") from None
        stmt = stmt.where(
            sa.select(PatentIpc.patent_id)
            .where(PatentIpc.patent_id == Patent.id, PatentIpc.code.startswith(prefix, autoescape=True))
            .exists()
        )
    if filters.get("q"):
        stmt = stmt.where(Patent.title.contains(filters["q"].strip(), autoescape=True))
    return stmt


def update_patent(actor: User | None, patent_id: int, changes: dict) -> Patent:
    patent = get_patent_to_edit(patent_id, actor, lock=True)
    _check_register_facts(actor, patent, changes)
    if "owner_organization_id" in changes and changes["owner_organization_id"] != patent.owner_organization_id:
        if actor is None or not actor.is_staff:
            raise Forbidden("owner_change_not_allowed", "ownership moves by a recorded assignment, or by staff")
        patent.owner = owner_for(actor, changes["owner_organization_id"])
    before = {}
    for key, value in changes.items():
        if key == "owner_organization_id":
            continue
        if key == "ipc_codes":
            before[key] = patent.ipc_codes
            _set_ipc(patent, _ipc_codes(value))
        elif key == "field":
            before[key] = patent.field
            patent.field_overridden = value is not None
            patent.field = value if value is not None else field_for_ipc(patent.ipc_codes)
        elif key == "expires_on":
            before[key] = patent.expires_on_override
            patent.expires_on_override = value
        elif key == "publication_number":
            before[key] = patent.publication_number
            patent.publication_number = _publication(value)
        else:
            before[key] = getattr(patent, key)
            setattr(patent, key, value.strip() if key == "title" else value)
    number = parse_application_number(patent.application_number)
    _check_dates_and_status(patent.filing_date, patent.grant_date, patent.legal_status, number.filing_year,
                            number.via_pct)
    db.session.flush()
    record("patent", patent.id, "update", actor, from_status=before.get("legal_status"),
           to_status=changes.get("legal_status"), changes={"before": _jsonable(before), "after": _jsonable(changes)})
    enqueue_patent(patent.id)
    if not patent.in_force:
        events.emit("patent.out_of_force", actor, patent_id=patent.id, reason="the patent is no longer in force")
    return patent


def _jsonable(values: dict) -> dict:
    return {key: value.isoformat() if isinstance(value, date) else value for key, value in values.items()}
