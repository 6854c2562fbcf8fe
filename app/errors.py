"""The DomainError family and the one error format every response uses.

    {"code": 409, "status": "Conflict", "message": "...", "reason": "bid_too_low",
     "errors": {"field": ["..."]}}
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus

from flask import Flask, jsonify
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

log = logging.getLogger(__name__)


class DomainError(Exception):
    status_code = 400

    def __init__(self, reason: str, message: str, *, errors: dict | None = None, field: str | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.errors = errors if errors is not None else ({field: [message]} if field else None)


class BadRequest(DomainError):
    status_code = 400


class Unauthorized(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Invalid(DomainError):
    """Input that is well-formed but breaks a rule about one field (422)."""

    status_code = 422


class ServiceUnavailable(DomainError):
    status_code = 503


def snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def error_payload(code: int, message: str, reason: str | None = None, errors: dict | None = None) -> dict:
    from app.guards import current_request_id

    payload = {"code": code, "status": HTTPStatus(code).phrase, "message": message}
    payload["reason"] = reason or snake(HTTPStatus(code).phrase)
    if errors:
        payload["errors"] = errors
    request_id = current_request_id()
    if request_id:
        payload["request_id"] = request_id
    return payload


def flatten_validation_messages(messages: dict) -> dict:
    """webargs nests messages by location ({"json": {"open_license": {"royalty_rate": [...]}}}); clients get
    one flat map keyed by dotted paths ({"open_license.royalty_rate": [...]}, list items by index)."""
    flat: dict = {}

    def walk(prefix: str, node) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), child)
        else:
            flat.setdefault(prefix or "_schema", []).extend(
                str(message) for message in (node if isinstance(node, list) else [node]))

    for location, fields in messages.items():
        walk("" if isinstance(fields, dict) else location, fields)
    return flat


# Database guards of "at most one" rules, as the reason a client sees when a race reaches them.
CONSTRAINT_REASONS = {
    "uq_listings_one_active_assignment": ("listing_conflict", "the patent already has an active assignment listing"),
    "uq_listings_one_active_exclusive": ("listing_conflict",
                                         "the patent already has an active exclusive or sole licence listing"),
    "uq_listings_one_active_open_license": ("listing_conflict", "the patent already has an open-licence declaration"),
    "uq_inquiries_one_open_per_buyer": ("inquiry_exists", "your organisation already has an inquiry open here"),
}
# serialization_failure, deadlock_detected: the transaction lost a race and may simply be retried.
RETRYABLE_SQLSTATES = {"40001", "40P01"}


def _constraint_name(error: IntegrityError) -> str | None:
    diag = getattr(error.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


def register_error_handlers(app: Flask) -> None:
    from app.extensions import db

    @app.errorhandler(DomainError)
    def handle_domain_error(error: DomainError):
        db.session.rollback()
        response = jsonify(error_payload(error.status_code, error.message, error.reason, error.errors))
        response.status_code = error.status_code
        if error.status_code == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        if getattr(error, "retry_after", None):
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.errorhandler(IntegrityError)
    def handle_integrity_error(error: IntegrityError):
        # A unique or foreign-key race that the services' own checks (and locks) could not see.
        db.session.rollback()
        log.warning("integrity error: %s", error.orig)
        reason, message = CONSTRAINT_REASONS.get(_constraint_name(error),
                                                 ("integrity_conflict", "the change conflicts with existing data"))
        return jsonify(error_payload(409, message, reason)), 409

    @app.errorhandler(StaleDataError)
    def handle_stale_data(error: StaleDataError):
        # A versioned row changed under this request (optimistic concurrency): the client reloads.
        db.session.rollback()
        return jsonify(error_payload(409, "the record was changed meanwhile; reload and retry",
                                     "concurrent_update")), 409

    @app.errorhandler(OperationalError)
    def handle_operational_error(error: OperationalError):
        db.session.rollback()
        if getattr(error.orig, "sqlstate", None) in RETRYABLE_SQLSTATES:
            log.warning("transaction conflict: %s", error.orig)
            return jsonify(error_payload(409, "a concurrent change got in the way; retry",
                                         "concurrent_update")), 409
        log.exception("database unavailable")
        return jsonify(error_payload(503, "the database is unavailable", "database_unavailable")), 503
