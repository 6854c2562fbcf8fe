"""The `Idempotency-Key` protocol of money-moving POSTs (deals, open-licence acceptances).

The key's row is inserted first, in the business transaction, with INSERT ... ON CONFLICT DO NOTHING on
the unique (user, key): a concurrent request with the same key waits on that row until the first
transaction ends (PostgreSQL; on SQLite writers are serialised from BEGIN IMMEDIATE), then finds it
committed, with the response, and answers the same. A request that fails rolls back, key and all, so
a retry does the work afresh.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from copy import deepcopy
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, request
from sqlalchemy.dialects import postgresql, sqlite

from app import clock
from app.api import ErrorSchema
from app.auth.permissions import current_user
from app.errors import BadRequest, Conflict, Unauthorized
from app.extensions import db
from app.jobs import Every, job

from .models import IdempotencyKey

HEADER = "Idempotency-Key"
# Printable ASCII without spaces at the ends: UUIDs, ULIDs, "deal-2026-0042".
_KEY = re.compile(r"^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$")


def _key_from_header() -> str:
    key = request.headers.get(HEADER)
    if key is None or not key.strip():
        raise BadRequest("idempotency_key_required", f"send an {HEADER} header (a UUID, say) so that a "
                         "retry cannot record the deal twice", field=HEADER)
    if not _KEY.match(key):
        raise BadRequest("invalid_idempotency_key", f"{HEADER} is 1 to 255 printable ASCII characters",
                         field=HEADER)
    return key


def _fingerprint() -> str:
    """The request as the key remembers it: method, path and the JSON body in canonical form (the same
    object sent with other spacing or key order is the same request)."""
    body = request.get_json(silent=True)
    canonical = json.dumps([request.method, request.path, body], sort_keys=True, ensure_ascii=False,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _insert_statement(values: dict):
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (insert(IdempotencyKey).values(**values)
            .on_conflict_do_nothing(index_elements=["user_id", "key"]).returning(IdempotencyKey.id))


def _existing(user_id: int, key: str) -> IdempotencyKey | None:
    return db.session.scalars(sa.select(IdempotencyKey).where(IdempotencyKey.user_id == user_id,
                                                              IdempotencyKey.key == key)
                              .execution_options(populate_existing=True)).one_or_none()


def reserve(user_id: int, key: str, request_hash: str) -> tuple[IdempotencyKey, bool]:
    """The key's row, and whether this request owns it (True: do the work; False: answer from the row)."""
    now = clock.now()
    ttl = timedelta(hours=current_app.config["IDEMPOTENCY_KEY_HOURS"])
    values = {"user_id": user_id, "key": key, "request_hash": request_hash, "created_at": now,
              "expires_at": now + ttl}
    new_id = db.session.scalar(_insert_statement(values))
    if new_id is not None:
        return db.session.get(IdempotencyKey, new_id), True
    row = _existing(user_id, key)
    if row is not None and row.expires_at <= now:
        # Kept past its time and not yet pruned: the key is free again.
        db.session.delete(row)
        db.session.flush()
        return db.session.get(IdempotencyKey, db.session.scalar(_insert_statement(values))), True
    return row, False


def idempotent(schema, status: int = 201, *, required: bool = True):
    """Make a POST view idempotent per user and `Idempotency-Key`: the first call runs the view and stores
    its response (dumped with `schema`); the same key and body answer that response again with 200; the
    same key with another body is 409 idempotency_conflict; no key is 400 idempotency_key_required, or,
    where the key is optional (a bid: its amount already makes a repeat harmless), a call without one."""

    def decorator(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            user = current_user()
            if user is None:  # the role check below would say so too; no key is kept for nobody
                raise Unauthorized("authentication_required", "this call needs a bearer token")
            if not required and HEADER not in request.headers:
                return func(*args, **kwargs)
            key = _key_from_header()
            fingerprint = _fingerprint()
            row, fresh = reserve(user.id, key, fingerprint)
            if not fresh:
                if row.request_hash != fingerprint:
                    raise Conflict("idempotency_conflict", f"this {HEADER} was used for a different request",
                                   field=HEADER)
                return _respond(row.response, 200, replayed=True)
            body = schema().dump(func(*args, **kwargs))
            row.status_code, row.response = status, body
            db.session.flush()
            return _respond(body, status, replayed=False)

        _document(wrapper, schema, required)
        return wrapper

    return decorator


def _respond(body: dict, status: int, *, replayed: bool):
    response = current_app.response_class(json.dumps(body, ensure_ascii=False), status=status,
                                          mimetype="application/json")
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _document(wrapper, schema, required: bool) -> None:
    doc = deepcopy(getattr(wrapper, "_apidoc", {}))
    manual = doc.setdefault("manual_doc", {})
    manual.setdefault("parameters", []).append({
        "in": "header", "name": HEADER, "required": required,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        "description": "A key unique to this request (a UUID): a retry with the same key and body answers "
                       "the original result (200) instead of doing it again; kept at least 24 hours"})
    responses = doc.setdefault("response", {}).setdefault("responses", {})
    responses.setdefault(200, []).append({"schema": schema, "content_type": None,
                                          "description": "A retry: the original response, replayed"})
    for code, description in ((400, "No or malformed Idempotency-Key"),
                              (409, "The key was used for another request, or a rule refused the change")):
        responses.setdefault(code, []).append({"schema": ErrorSchema, "description": description,
                                               "content_type": None})
    wrapper._apidoc = doc


def prune_expired() -> int:
    result = db.session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.expires_at <= clock.now()))
    return result.rowcount or 0


@job("idempotency.prune", schedule=Every(3600), coalesce=True)
def _prune(payload: dict, ctx) -> None:
    """Hourly: keys past their retention are deleted."""
    prune_expired()
