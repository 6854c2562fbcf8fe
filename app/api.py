"""Api, Blueprint and Schema bases shared by every blueprint, and pagination."""

from __future__ import annotations

import itertools
import json
import math
import re
import time
from http import HTTPStatus

import marshmallow as ma
import sqlalchemy as sa
from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint
from marshmallow import validate
from webargs.core import missing
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from app.errors import error_payload, flatten_validation_messages, snake
from app.fields import BIGINT_MAX, BIGINT_MIN, Integer, Text


class Schema(ma.Schema):
    """Unknown fields are rejected: a misspelt field must never be silently ignored."""

    class Meta:
        unknown = ma.RAISE
        ordered = True


class PatchSchema(Schema):
    """A PATCH body: it must change something (an empty object is a 422, not a silent no-op)."""

    @ma.validates_schema
    def _changes_something(self, data, **kwargs):
        if not data:
            raise ma.ValidationError("nothing to change", "_schema")


class Fen(Integer):
    """Money in integer fen (分): a JSON integer or a string of ASCII digits within BIGINT (money columns are
    BIGINT); 12.5 (or 12.0) is refused, never rounded."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("minimum", BIGINT_MIN)
        kwargs.setdefault("maximum", BIGINT_MAX)
        super().__init__(*args, **kwargs)


class ErrorSchema(Schema):
    code = Integer(metadata={"description": "HTTP status code"})
    status = Text(metadata={"description": "HTTP status phrase"})
    message = Text(multiline=True, metadata={"description": "What went wrong, for people"})
    reason = Text(metadata={"description": "Stable snake_case reason, for programs"})
    errors = ma.fields.Dict(
        keys=Text(),
        values=ma.fields.List(Text()),
        metadata={"description": "Messages per field at fault (validation errors), keyed by dotted paths"},
    )
    request_id = Text(metadata={"description": "The request's id, as in the X-Request-ID response header"})


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
            # Flask has logged the traceback (once) before it asked for this response.
            message = "an unexpected error occurred; it has been logged"
            reason = "internal_error"
        headers = data.get("headers") or {}
        if code == 429:
            headers["Retry-After"] = str(_retry_after())
        if code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            headers["Allow"] = ", ".join(error.valid_methods)
        return error_payload(code, message, reason, errors), code, headers


def _retry_after() -> int:
    """Seconds until the breached per-address limit's window resets (flask-limiter's current limit)."""
    from app.extensions import limiter

    current = limiter.current_limit
    reset_at = getattr(current, "reset_at", None)
    return max(1, math.ceil(reset_at - time.time())) if reset_at else 60


MAX_JSON_DEPTH = 32


class _Parser(FlaskParser):
    # webargs ignores unknown query parameters by default; a misspelt filter must not be ignored either.
    DEFAULT_UNKNOWN_BY_LOCATION = {"headers": ma.EXCLUDE, "cookies": ma.EXCLUDE, "files": ma.EXCLUDE}

    def _raw_load_json(self, req):
        """JSON bodies only (415 otherwise), no deeper than MAX_JSON_DEPTH (checked before parsing: a
        10,000-deep array is a RecursionError in json.loads), and standard JSON only (NaN, Infinity refused)."""
        body = req.get_data(cache=True)
        if not body.strip():
            return missing
        if not is_json_request(req):
            raise UnsupportedMediaType("send the body as JSON, with Content-Type: application/json")
        if json_depth(body) > MAX_JSON_DEPTH:
            raise BadRequest(f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels")
        text = body.decode("utf-8")  # UnicodeDecodeError: webargs answers 400 malformed_json
        return json.loads(text, parse_constant=_refuse_constant)


def _refuse_constant(name: str):
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text, brackets inside strings left out (regular
    expressions and accumulate run in C: a megabyte of brackets is checked in milliseconds)."""
    brackets = _BRACKETS.findall(_JSON_STRING.sub(b'""', body))
    return max(itertools.accumulate(_STEP[b[0]] for b in brackets), default=0)


class Blueprint(_Blueprint):
    ARGUMENTS_PARSER = _Parser()

    def arguments(self, schema, *, location: str = "json", **kwargs):
        """Also document what reading a body can answer: 400 (not JSON), 413 (too large), 415 (not sent as
        JSON); an upload, 413."""
        codes = {"json": (400, 413, 415), "form": (413,), "files": (413,)}.get(location, ())
        # One instance per view: given a class, webargs would build a schema on every request.
        parse = super().arguments(schema() if isinstance(schema, type) else schema, location=location, **kwargs)

        def decorator(func):
            return self.errors(*codes)(parse(func))

        return decorator

    def errors(self, *codes: int):
        """Document the error responses a view can give, in the one error format."""

        def decorator(func):
            for code in codes:
                func = self.alt_response(code, schema=ErrorSchema, description=HTTPStatus(code).phrase)(func)
            return func

        return decorator


class PageArgs(Schema):
    # A page past the millionth is never browsed; unbounded, page x page_size overflows the OFFSET.
    page = Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = Integer(load_default=20, validate=validate.Range(min=1, max=100))


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    return type(
        name,
        (Schema,),
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "total": Integer(required=True),
            "page": Integer(required=True),
            "page_size": Integer(required=True),
        },
    )


def paginate(stmt: sa.Select, page: int, page_size: int) -> dict:
    from app.extensions import db

    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
    items = db.session.scalars(stmt.limit(page_size).offset((page - 1) * page_size)).unique().all()
    return {"items": items, "total": total or 0, "page": page, "page_size": page_size}
