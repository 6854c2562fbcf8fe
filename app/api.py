"""Api, Blueprint and Schema bases shared by every blueprint, and pagination."""

from __future__ import annotations

from http import HTTPStatus

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app
from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint
from marshmallow import validate
from webargs.flaskparser import FlaskParser

from app.errors import error_payload, flatten_validation_messages, snake


class Schema(ma.Schema):
    """Unknown fields are rejected: a misspelt field must never be silently ignored."""

    class Meta:
        unknown = ma.RAISE
        ordered = True


class Fen(ma.fields.Integer):
    """Money in integer fen (分): a JSON integer or a string of digits; 12.5 (or 12.0) is refused, never rounded."""

    def _validated(self, value):
        if isinstance(value, bool | float) or (isinstance(value, str) and not value.strip().lstrip("-").isdigit()):
            raise self.make_error("invalid")
        return super()._validated(value)


class ErrorSchema(Schema):
    code = ma.fields.Integer(metadata={"description": "HTTP status code"})
    status = ma.fields.String(metadata={"description": "HTTP status phrase"})
    message = ma.fields.String(metadata={"description": "What went wrong, for people"})
    reason = ma.fields.String(metadata={"description": "Stable snake_case reason, for programs"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Messages per field at fault (validation errors)"},
    )


class Api(_Api):
    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error):
        """Routing errors, webargs validation, bad JSON, 413 and 500 all share the one format."""
        from app.extensions import db

        db.session.rollback()
        data = getattr(error, "data", None) or {}
        code = error.code or 500
        reason = snake(HTTPStatus(code).phrase)
        errors = None
        message = data.get("message") or error.description or HTTPStatus(code).phrase
        messages = data.get("errors") or data.get("messages")
        if code == 422 and messages:
            errors = flatten_validation_messages(messages)
            reason = "validation_error"
            message = "the request has invalid fields: " + ", ".join(sorted(errors))
        elif code == 400 and messages and "json" in messages:
            reason = "malformed_json"
            message = "the request body is not valid JSON"
        elif code == 500:
            original = getattr(error, "original_exception", None)
            if original is not None:
                current_app.logger.exception("unhandled exception", exc_info=original)
            message = "an unexpected error occurred; it has been logged"
            reason = "internal_error"
        headers = data.get("headers") or {}
        if code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            headers["Allow"] = ", ".join(error.valid_methods)
        return error_payload(code, message, reason, errors), code, headers


class _Parser(FlaskParser):
    # webargs ignores unknown query parameters by default; a misspelt filter must not be ignored either.
    DEFAULT_UNKNOWN_BY_LOCATION = {"headers": ma.EXCLUDE, "cookies": ma.EXCLUDE, "files": ma.EXCLUDE}


class Blueprint(_Blueprint):
    ARGUMENTS_PARSER = _Parser()

    def errors(self, *codes: int):
        """Document the error responses a view can give, in the one error format."""

        def decorator(func):
            for code in codes:
                func = self.alt_response(code, schema=ErrorSchema, description=HTTPStatus(code).phrase)(func)
            return func

        return decorator


class PageArgs(Schema):
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1))
    page_size = ma.fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    return type(
        name,
        (Schema,),
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "total": ma.fields.Integer(required=True),
            "page": ma.fields.Integer(required=True),
            "page_size": ma.fields.Integer(required=True),
        },
    )


def paginate(stmt: sa.Select, page: int, page_size: int) -> dict:
    from app.extensions import db

    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
    items = db.session.scalars(stmt.limit(page_size).offset((page - 1) * page_size)).unique().all()
    return {"items": items, "total": total or 0, "page": page, "page_size": page_size}
