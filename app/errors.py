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
    payload = {"code": code, "status": HTTPStatus(code).phrase, "message": message}
    payload["reason"] = reason or snake(HTTPStatus(code).phrase)
    if errors:
        payload["errors"] = errors
    return payload


def flatten_validation_messages(messages: dict) -> dict:
    """webargs nests messages by location ({"json": {...}}); clients want {"field": [...]}."""
    flat: dict = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            for name, msgs in fields.items():
                flat.setdefault(name, []).extend(msgs if isinstance(msgs, list) else [msgs])
        else:
            flat.setdefault(location, []).extend(fields if isinstance(fields, list) else [fields])
    return flat


def register_error_handlers(app: Flask) -> None:
    from app.extensions import db

    @app.errorhandler(DomainError)
    def handle_domain_error(error: DomainError):
        db.session.rollback()
        response = jsonify(error_payload(error.status_code, error.message, error.reason, error.errors))
        response.status_code = error.status_code
        if error.status_code == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.errorhandler(IntegrityError)
    def handle_integrity_error(error: IntegrityError):
        # A unique or foreign-key race that the services' own checks could not see.
        db.session.rollback()
        log.warning("integrity error: %s", error.orig)
        return jsonify(error_payload(409, "the change conflicts with existing data", "integrity_conflict")), 409

    @app.errorhandler(OperationalError)
    def handle_operational_error(error: OperationalError):
        db.session.rollback()
        log.exception("database unavailable")
        return jsonify(error_payload(503, "the database is unavailable", "database_unavailable")), 503
