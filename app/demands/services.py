"""Enterprise demands (技术需求): who may post, change, close and see them."""

from __future__ import annotations

import sqlalchemy as sa

from app import clock, jobs
from app.audit.services import record
from app.auth.models import Organization, User
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db
from app.patents.fields import known_fields
from app.patents.ipc import InvalidIPC, parse_ipc
from app.patents.models import LISTING_MODES
from app.patents.services import can_manage_organization

from .models import Demand

EDITABLE = ("title", "description", "fields", "ipc_hints", "budget_min_fen", "budget_max_fen", "modes", "region",
            "deadline")


def may_see_budget(user: User | None, demand: Demand) -> bool:
    """The posting enterprise and staff: they see the budget, change the demand and see its matches."""
    return can_manage_organization(user, demand.organization_id)


def _may_see(user: User | None, demand: Demand) -> bool:
    # Universities and institutes browse live demands to offer their patents; other enterprises do
    # not read a competitor's needs.
    return may_see_budget(user, demand) or (user is not None and user.role == "university" and demand.is_live)


def _organization_for(actor: User, requested: int | None) -> Organization:
    if not actor.is_staff:
        if requested is not None and requested != actor.organization_id:
            raise Forbidden("not_your_organization", "you may only post demands of your own organisation")
        requested = actor.organization_id
    if requested is None:
        raise Invalid("organization_required", "organization_id is required", field="organization_id")
    org = db.session.get(Organization, requested)
    if org is None:
        raise Invalid("organization_not_found", "no organisation with this id", field="organization_id")
    if org.kind != "enterprise":
        raise Invalid("organization_kind_not_allowed", "demands are posted by enterprises", field="organization_id")
    return org


def _clean(data: dict) -> dict:
    """Canonical field values; rules that span fields are checked on the demand after the change."""
    out = dict(data)
    if "fields" in out:
        unknown = sorted(set(out["fields"]) - set(known_fields()))
        if unknown:
            raise Invalid("unknown_field", f"unknown fields: {', '.join(unknown)}", field="fields")
        out["fields"] = list(dict.fromkeys(out["fields"]))
    if "ipc_hints" in out:
        try:
            out["ipc_hints"] = list(dict.fromkeys(parse_ipc(code).canonical for code in out["ipc_hints"]))
        except InvalidIPC as exc:
            raise Invalid("invalid_ipc", str(exc), field="ipc_hints") from None
    if "modes" in out:
        unknown = sorted(set(out["modes"]) - set(LISTING_MODES))
        if unknown:
            raise Invalid("unknown_mode", f"unknown modes: {', '.join(unknown)}", field="modes")
        out["modes"] = list(dict.fromkeys(out["modes"]))
    if out.get("deadline") is not None and out["deadline"] < clock.today():
        raise Invalid("deadline_in_past", "the deadline has already passed", field="deadline")
    for key in ("title", "description", "region"):
        if isinstance(out.get(key), str):
            out[key] = out[key].strip() or None
    if "title" in out and not out["title"]:
        raise Invalid("title_required", "a demand needs a title", field="title")
    if "description" in out and not out["description"]:
        raise Invalid("description_required", "describe the problem to solve", field="description")
    return out


def _check_budget(demand: Demand) -> None:
    low, high = demand.budget_min_fen, demand.budget_max_fen
    if low is not None and high is not None and low > high:
        raise Invalid("budget_range_inverted", "budget_min_fen is above budget_max_fen", field="budget_min_fen")


def create_demand(actor: User, data: dict) -> Demand:
    data = _clean(data)
    org = _organization_for(actor, data.pop("organization_id", None))
    demand = Demand(organization_id=org.id, created_by_user_id=actor.id, status="open",
                    **{key: data[key] for key in EDITABLE if key in data})
    _check_budget(demand)
    db.session.add(demand)
    db.session.flush()
    _encode_after_commit(demand)
    record("demand", demand.id, "create", actor, to_status="open")
    return demand


def _encode_after_commit(demand: Demand) -> None:
    """The encoder's vector of the demand's text (~50 ms) is made by a job right after the commit, not in
    the write transaction; until then matching encodes the text itself, never reads a stale vector."""
    demand.text_vector = demand.text_encoder = None
    jobs.enqueue("demands.encode", {"demand_id": demand.id})


def get_demand(demand_id: int, user: User | None) -> Demand:
    demand = db.session.get(Demand, demand_id)
    if demand is None or not _may_see(user, demand):
        raise NotFound("demand_not_found", f"no demand {demand_id}")
    return demand


def get_managed_demand(actor: User, demand_id: int) -> Demand:
    """A demand the actor may see and act on: its enterprise's, or any for staff."""
    demand = get_demand(demand_id, actor)
    if not may_see_budget(actor, demand):
        raise Forbidden("not_your_demand", "only the enterprise that posted a demand (or staff) may do this")
    return demand


def demands_query(user: User, args: dict) -> sa.Select:
    stmt = sa.select(Demand)
    if user.is_staff:
        if args.get("organization_id") is not None:
            stmt = stmt.where(Demand.organization_id == args["organization_id"])
    elif user.role == "enterprise":
        stmt = stmt.where(Demand.organization_id == user.organization_id)
    else:
        return stmt.where(Demand.is_live).order_by(Demand.id.desc())
    if args.get("status"):
        stmt = stmt.where(Demand.status == args["status"])
    return stmt.order_by(Demand.id.desc())


def update_demand(actor: User, demand_id: int, changes: dict) -> Demand:
    demand = get_managed_demand(actor, demand_id)
    if demand.status != "open":
        raise Conflict("demand_closed", "a closed demand cannot be changed")
    changes = _clean(changes)
    before = {key: getattr(demand, key) for key in changes}
    for key, value in changes.items():
        setattr(demand, key, value)
    _check_budget(demand)
    if {"title", "description"} & set(changes):
        _encode_after_commit(demand)
    db.session.flush()
    record("demand", demand.id, "update", actor,
           changes={key: [str(before[key]), str(value)] for key, value in changes.items() if before[key] != value})
    return demand


def close_demand(actor: User, demand_id: int, reason: str | None = None) -> Demand:
    demand = get_managed_demand(actor, demand_id)
    if demand.status == "closed":
        raise Conflict("demand_closed", "the demand is already closed")
    demand.status = "closed"
    demand.closed_at = clock.now()
    db.session.flush()
    record("demand", demand.id, "close", actor, from_status="open", to_status="closed", reason=reason)
    return demand
