from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from app.audit.services import record
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.indexing.outbox import enqueue_outlet

from .models import Outlet


def outlets_query(kind: str | None = None, province: str | None = None) -> sa.Select:
    stmt = sa.select(Outlet).order_by(Outlet.kind, Outlet.id)
    if kind:
        stmt = stmt.where(Outlet.kind == kind)
    if province:
        stmt = stmt.where(Outlet.province == province)
    return stmt


def get_outlet(code: str) -> Outlet:
    outlet = db.session.scalar(sa.select(Outlet).where(Outlet.code == code))
    if outlet is None:
        raise NotFound("outlet_not_found", f"no outlet '{code}'")
    return outlet


def outlets_by_codes(codes: Iterable[str], field: str = "outlet_codes") -> list[Outlet]:
    """Resolve codes in one query; an unknown code is the caller's input error."""
    wanted = list(dict.fromkeys(codes))
    if not wanted:
        return []
    found = {o.code: o for o in db.session.scalars(sa.select(Outlet).where(Outlet.code.in_(wanted)))}
    missing = [code for code in wanted if code not in found]
    if missing:
        raise Invalid("outlet_not_found", f"unknown outlet code(s): {', '.join(missing)}", field=field)
    return [found[code] for code in wanted]


def create_outlet(actor, data: dict) -> Outlet:
    if db.session.scalar(sa.select(Outlet.id).where(Outlet.code == data["code"])) is not None:
        raise Conflict("outlet_exists", f"an outlet with code '{data['code']}' exists", field="code")
    outlet = Outlet(**data)
    db.session.add(outlet)
    db.session.flush()
    record("outlet", outlet.id, "create", actor, changes=data)
    return outlet


def update_outlet(actor, code: str, changes: dict) -> Outlet:
    outlet = get_outlet(code)
    before = {key: getattr(outlet, key) for key in changes}
    for key, value in changes.items():
        setattr(outlet, key, value)
    db.session.flush()
    record("outlet", outlet.id, "update", actor, changes={"before": before, "after": changes})
    enqueue_outlet(outlet.id)
    return outlet
