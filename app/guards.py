"""What every request passes through before and after its view: a request id, bounded headers and bodies,
authentication before the body is even parsed, security headers, CORS, and one JSON log line."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import traceback
import uuid

from flask import Flask, current_app, g, has_request_context, request
from werkzeug.exceptions import BadRequest, HTTPException, RequestHeaderFieldsTooLarge

log = logging.getLogger("app.requests")
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
MAX_HEADER_BYTES = 8192
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# The API answers JSON only; the docs page and the dashboard load their own scripts and styles.
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def current_request_id() -> str | None:
    try:
        return g.get("request_id")
    except RuntimeError:  # outside a request
        return None


def register(app: Flask) -> None:
    app.before_request(_start)
    app.before_request(_bounded_headers)
    app.before_request(_bounded_streamed_body)
    app.before_request(_authenticate_before_parsing)
    app.after_request(_finish)


def _start() -> None:
    g.started = time.perf_counter()
    offered = request.headers.get("X-Request-ID", "")
    g.request_id = offered if REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex


def _bounded_headers() -> None:
    for name, value in request.headers.items():
        if len(name) + len(value) > MAX_HEADER_BYTES:
            raise RequestHeaderFieldsTooLarge(f"the {name} header is longer than {MAX_HEADER_BYTES} bytes")


def _bounded_streamed_body() -> None:
    """A body sent without Content-Length (chunked) is cut at the limit by Werkzeug without a word: the view
    would then parse a truncated body (400). Read it here, and answer 413 when there is more."""
    if request.content_length is not None or not request.environ.get("wsgi.input_terminated"):
        return
    limit = request.max_content_length
    try:
        data = request.get_data(cache=True, parse_form_data=False)
        if limit is not None and len(data) >= limit:
            request.stream.read(1)  # past the limit: Werkzeug raises RequestEntityTooLarge
    except HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001 - the server's own error for a malformed chunked body
        raise BadRequest(f"the request body could not be read ({type(exc).__name__})") from None


def _authenticate_before_parsing() -> None:
    """Who is calling is decided before the body is parsed: an anonymous call to a protected endpoint is a
    401, and a role that may not call it a 403, whatever its body (schemas are not an oracle)."""
    view = current_app.view_functions.get(request.endpoint or "")
    method = getattr(getattr(view, "view_class", None), request.method.lower(), None)
    check = getattr(method, "_authorize", None)
    if check is not None:
        check()


def _finish(response):
    request_id = g.get("request_id")
    if request_id:
        response.headers["X-Request-ID"] = request_id
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/api/") or request.path in ("/healthz", "/readyz"):
        response.headers.setdefault("Content-Security-Policy", API_CSP)
        response.headers.setdefault("Cache-Control", "no-store")
    _cors(response)
    _log(response)
    return response


def _cors(response) -> None:
    origin = request.headers.get("Origin")
    allowed = current_app.config.get("CORS_ORIGINS") or ()
    if origin and origin in allowed:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, Idempotency-Key, X-Request-ID"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, PATCH, DELETE, OPTIONS"
        response.headers["Access-Control-Expose-Headers"] = "X-Request-ID, ETag, Retry-After"


def _log(response) -> None:
    from app.auth.permissions import cached_user_id

    started = g.get("started")
    entry = {
        "request_id": g.get("request_id"),
        "user_id": cached_user_id(),
        "method": request.method,
        "route": request.url_rule.rule if request.url_rule else None,
        "path": request.path,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
    }
    log.info(json.dumps(entry, ensure_ascii=False), extra={"json": entry})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: what log collectors index without a parser of their own."""

    def format(self, record: logging.LogRecord) -> str:
        entry = getattr(record, "json", None)
        out = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"), "level": record.levelname,
               "logger": record.name}
        if entry is not None:
            out.update(entry)
        else:
            out["message"] = record.getMessage()
        if "request_id" not in out and has_request_context() and current_request_id():
            out["request_id"] = current_request_id()
        if record.exc_info:
            out["traceback"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
